"""The warm model services: one Serve application of model deployments shared by every job.

Each model stage of the analysis (ASR, faces, frame embeddings) and the transcript's
sentence embeddings runs here in long-lived replicas that load their model once; the
service path's thin stages (:mod:`clipray.pipelines.warm`) send them each window or chunk
batch. A replica runs the very per-window function the batch pipeline's actor pool runs
(:func:`~clipray.pipelines.analyze.detect_window`, ``embed_window``, ``transcribe_batch``),
request by request: ``@serve.batch`` gathers the requests of concurrent jobs into one pass
of the replica's thread, but never mixes two requests' inputs in one forward pass, so an
analysis does not depend on which other jobs ran beside it (its cache key says it cannot).

Replicas, autoscaling bounds, CPUs and GPU fractions come from the ``*_service`` stages of
the settings (``CLIPRAY_STAGES__ASR_SERVICE__NUM_GPUS=0.5``) or, deployed with
``serve deploy serve_config.yaml``, from its ``clipray-models`` application.

    >>> ensure_model_services(settings)        # deploys them where they are not running
    True
    >>> model_stats()["Asr"]["loads"]          # doctest: +SKIP
    1

Each replica counts its queue (requests received and not yet answered, batched or waiting
for a batch) and its recent answers, and reports both to the application's root
(``ModelServices``) whenever they change: :meth:`ModelServices.queues` is every service's
depth summed over its replicas, in one call, which job admission (``services/admission``)
reads; the root exports the sums as ``clipray_model_queue_depth{service}`` beside the
soft limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from ray import serve

from clipray.config import Settings, StageResources, get_settings
from clipray.domain.errors import Conflict
from clipray.models.asr import DecodeOptions
from clipray.models.asr_whisperx import WhisperXConfig
from clipray.models.asr_whisperx import runtime_env as whisperx_runtime_env
from clipray.models.embed import EmbedConfig
from clipray.models.faces import FacesConfig
from clipray.models.text_embed import TextEmbedConfig
from clipray.observability import metrics
from clipray.pipelines.analyze import (
    AnalyzeConfig,
    analyze_config,
    detect_window,
    embed_window,
    load_asr,
)
from clipray.pipelines.warm import ASR, EMBED, FACES, MODELS_APP, ROOT, TEXT_EMBED

__all__ = ["ensure_model_services", "model_stats", "models_app"]

BATCH = {"max_batch_size": 8, "batch_wait_timeout_s": 0.01}
"""Up to 8 requests (windows or chunk batches of any jobs) per pass, waiting at most 10 ms
for them: a request costs tens of milliseconds to seconds, so the wait is noise."""
MAX_ONGOING = 16
"""Requests a replica holds at once: two batches' worth, so the next batch is queued while
one runs; more wait at the router, which then scales replicas out. A replica takes at least
the hard queue limit (``model_queue_hard_limit``) though, so that every request up to it is
counted by the replicas, not held unseen in the callers' routers."""
REPORT_EVERY_S = 0.5
"""How often a replica looks whether its queue changed and, if so, reports it to the root:
admission reads a depth at most this late."""
HEARTBEAT_S = 5.0
"""A replica whose queue did not change reports anyway this often..."""
REPORT_TTL_S = 15.0
"""...and one silent for this long is taken as gone (killed, scaled in): its report no
longer counts."""
THROUGHPUT_WINDOW_S = 30.0
"""A replica's throughput is its answers of this last half minute, per second."""

log = logging.getLogger(__name__)


def config_key(cfg: Any) -> str:
    """A short hash of a model config: what the running services must match."""
    data = json.dumps(asdict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


class _Counted:
    """The load, request and queue counters of one replica, and the config it loaded.

    A request counts in ``pending`` from its arrival (before ``@serve.batch`` holds it for a
    batch) until it is answered or fails; every public method goes through :meth:`_queued`.
    """

    def _loaded(self, cfg: Any) -> None:
        self.config = config_key(cfg)
        self.loads = getattr(self, "loads", 0) + 1
        self.requests = 0
        self.pending = 0
        self._answers: deque[float] = deque()
        self._since = time.monotonic()
        self._reporter: asyncio.Task[None] | None = None

    async def _run(self, fn: Callable[[], list[Any]], n: int) -> list[Any]:
        """``fn`` off the event loop (the router keeps queueing meanwhile)."""
        self.requests += n
        return await asyncio.to_thread(fn)

    async def _queued(self, call: Awaitable[Any]) -> Any:
        """``call`` (one request's share of a batch), counted in the queue until answered."""
        if self._reporter is None:  # the replica's event loop runs now: report from it
            self._reporter = asyncio.get_running_loop().create_task(self._report())
        self.pending += 1
        try:
            answer = await call
        finally:  # answered, failed or cancelled by its caller: out of the queue
            self.pending -= 1
        self._answers.append(time.monotonic())
        return answer

    def answered_per_s(self) -> float:
        """Answers per second over the last :data:`THROUGHPUT_WINDOW_S` (or since load)."""
        now = time.monotonic()
        while self._answers and self._answers[0] < now - THROUGHPUT_WINDOW_S:
            self._answers.popleft()
        return len(self._answers) / max(1.0, min(THROUGHPUT_WINDOW_S, now - self._since))

    async def _report(self) -> None:
        """Tell the root this replica's queue whenever it changes (and as a heartbeat)."""
        ctx = serve.get_replica_context()
        root = serve.get_deployment_handle(ROOT, app_name=ctx.app_name)
        sent: tuple[int, float] | None = None
        last = 0.0
        while True:
            state = (self.pending, round(self.answered_per_s(), 2))
            if state != sent or time.monotonic() - last >= HEARTBEAT_S:
                try:
                    await asyncio.wait_for(root.report.remote(
                        ctx.deployment, ctx.replica_id.unique_id, *state), HEARTBEAT_S)
                    sent, last = state, time.monotonic()
                except Exception as exc:  # the root restarting: the next round tries again
                    log.debug("queue report to %s failed: %s", ROOT, exc)
            await asyncio.sleep(REPORT_EVERY_S)

    def stats(self) -> dict[str, Any]:
        """How often this replica loaded its model, how many requests it answered, which
        replica it is and which config it loaded."""
        import ray

        return {"loads": self.loads, "requests": self.requests, "config": self.config,
                "pending": self.pending,
                "replica": serve.get_replica_context().replica_id.unique_id,
                "actor": ray.get_runtime_context().get_actor_name(),
                "pid": os.getpid()}  # fmt: skip


@serve.deployment(name=ASR, max_ongoing_requests=MAX_ONGOING)
class AsrDeployment(_Counted):
    """faster-whisper (or WhisperX, in its runtime env), loaded once for every job."""

    def __init__(self, cfg: Any) -> None:
        self.model = load_asr(cfg)
        self._loaded(cfg)

    async def transcribe(self, chunks: list[tuple[np.ndarray, float]],
                         options: DecodeOptions | None = None) -> Any:  # fmt: skip
        """One transcript per chunk; ``options`` are this request's decoding settings over
        the loaded config's (the live pipeline's beam 1), None keeps the config's."""
        return await self._queued(self._transcribe(chunks, options))

    @serve.batch(**BATCH)
    async def _transcribe(self, requests: list[list[tuple[np.ndarray, float]]],
                          options: list[DecodeOptions | None]) -> list[Any]:  # fmt: skip
        # One transcribe_batch per request, with that request's own options: the chunks a
        # batch-pipeline actor would get, never decoded beside another request's.
        return await self._run(
            lambda: [self.model.transcribe_batch(chunks, opts) if opts is not None
                     else self.model.transcribe_batch(chunks)
                     for chunks, opts in zip(requests, options, strict=True)],
            len(requests),
        )  # fmt: skip


@serve.deployment(name=FACES, max_ongoing_requests=MAX_ONGOING)
class FacesDeployment(_Counted):
    """The face detector, loaded once for every job."""

    def __init__(self, cfg: FacesConfig) -> None:
        from clipray.models.faces import FaceDetector

        self.detector = FaceDetector.load(cfg)
        self._loaded(cfg)

    async def detect(self, samples: np.ndarray, times: np.ndarray) -> Any:
        return await self._queued(self._detect(samples, times))

    @serve.batch(**BATCH)
    async def _detect(self, samples: list[np.ndarray], times: list[np.ndarray]) -> list[Any]:
        return await self._run(
            lambda: [detect_window(self.detector, s, t) for s, t in zip(samples, times,
                                                                         strict=True)],
            len(samples),
        )  # fmt: skip


@serve.deployment(name=EMBED, max_ongoing_requests=MAX_ONGOING)
class FrameEmbedDeployment(_Counted):
    """open_clip's image tower, loaded once for every job."""

    def __init__(self, cfg: EmbedConfig) -> None:
        from clipray.models.embed import EmbedModel

        self.model = EmbedModel.load(cfg)
        self._loaded(cfg)

    async def embed(self, samples: np.ndarray) -> np.ndarray:
        return await self._queued(self._embed(samples))

    @serve.batch(**BATCH)
    async def _embed(self, samples: list[np.ndarray]) -> list[np.ndarray]:
        return await self._run(lambda: [embed_window(self.model, s) for s in samples],
                               len(samples))  # fmt: skip


@serve.deployment(name=TEXT_EMBED, max_ongoing_requests=MAX_ONGOING)
class TextEmbedDeployment(_Counted):
    """The sentence encoder of transcript segments, loaded once for every job."""

    def __init__(self, cfg: TextEmbedConfig) -> None:
        from clipray.models.text_embed import TextEncoder

        self.model = TextEncoder.load(cfg)
        self._loaded(cfg)

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await self._queued(self._embed(texts))

    @serve.batch(**BATCH)
    async def _embed(self, texts: list[list[str]]) -> list[np.ndarray]:
        return await self._run(lambda: [self.model.embed(t) for t in texts], len(texts))


@serve.deployment(name=ROOT, ray_actor_options={"num_cpus": 0})
class ModelServices:
    """The application's root: the other deployments' state in one answer. It must stay one
    replica (``serve_config.yaml`` says so): the model replicas' queue reports meet here."""

    def __init__(self, soft_limit: int = 8, **handles: Any) -> None:
        self.handles = {name: h for name, h in handles.items() if h is not None}
        self.soft_limit = soft_limit
        self._reports: dict[str, dict[str, tuple[int, float, float]]] = {
            name: {} for name in self.handles}  # fmt: skip

    async def stats(self) -> dict[str, dict[str, Any]]:
        """One replica's counters per deployment (loads, requests, config)."""
        return {name: await h.stats.remote() for name, h in self.handles.items()}

    # report and queues are coroutines so that they run on the replica's event loop, one at
    # a time (a plain method could run on a thread pool beside another).
    async def report(self, service: str, replica: str, depth: int, answered_per_s: float
                     ) -> None:  # fmt: skip
        """A model replica's queue now (see ``_Counted._report``); exported at once."""
        self._reports.setdefault(service, {})[replica] = (depth, answered_per_s,
                                                          time.monotonic())  # fmt: skip
        self._export()

    async def queues(self) -> dict[str, dict[str, Any]]:
        """Every service's queue summed over its live replicas: ``depth`` (requests received
        and not yet answered), ``answered_per_s`` (recent throughput) and ``replicas`` (how
        many reported). A service that was never called has depth 0."""
        return self._sums()

    def _sums(self) -> dict[str, dict[str, Any]]:
        out = {}
        for service, reports in self._reports.items():
            now = time.monotonic()
            for replica in [r for r, (*_, at) in reports.items() if now - at > REPORT_TTL_S]:
                del reports[replica]  # killed or scaled in; its requests went elsewhere
            out[service] = {"depth": sum(d for d, _, _ in reports.values()),
                            "answered_per_s": sum(r for _, r, _ in reports.values()),
                            "replicas": len(reports)}  # fmt: skip
        return out

    def _export(self) -> None:
        for service, queue in self._sums().items():
            metrics.model_queue(service, queue["depth"], self.soft_limit)


FREE_FOR_JOBS_CPUS = 2.0
"""CPUs the services never reserve on the cluster they start on: the pipeline's own tasks
(a render takes 1, a decode window 0.5, audio 0.25) and the API's replicas must still fit,
or every job would wait forever behind replicas that outlive it (a 1-CPU head with 0.7
reserved left a decode task pending for good)."""


def cpu_share(reserved: float, cluster_cpus: float | None) -> float:
    """The factor the services' CPU reservations are scaled by on a cluster of
    ``cluster_cpus`` (None: as configured), so that they leave ``FREE_FOR_JOBS_CPUS`` free.
    On a small machine that is 0: the replicas then run unreserved, sharing the CPUs."""
    if cluster_cpus is None or reserved <= 0:
        return 1.0
    budget = max(0.0, cluster_cpus - FREE_FOR_JOBS_CPUS)
    return min(1.0, budget / reserved)


def _options(res: StageResources, share: float = 1.0, soft_limit: int = 8,
             hard_limit: int = MAX_ONGOING, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """Deployment options of a ``*_service`` stage: a fixed replica count, or autoscaling
    between ``pool_size`` and ``max_pool_size`` replicas aiming at ``soft_limit`` requests
    per replica (so Serve adds one as the queue passes the soft limit); CPUs scaled by
    ``share``."""
    cpus = round(res.num_cpus * share, 3)
    actor = {"num_cpus": cpus, "num_gpus": res.num_gpus, **extra}
    ongoing = {"max_ongoing_requests": max(MAX_ONGOING, hard_limit)}
    if res.max_pool_size is not None and res.max_pool_size > res.pool_size:
        scale = {"min_replicas": res.pool_size, "max_replicas": res.max_pool_size,
                 "target_ongoing_requests": soft_limit}  # fmt: skip
        return {"autoscaling_config": scale, "ray_actor_options": actor, **ongoing}
    return {"num_replicas": res.pool_size, "ray_actor_options": actor, **ongoing}


def _configs(settings: Settings, cfg: AnalyzeConfig) -> dict[str, Any]:
    """Each deployment's model config (frame embeddings only where they are on)."""
    asr = cfg.whisperx if cfg.asr_backend == "whisperx" else cfg.asr
    configs: dict[str, Any] = {ASR: asr, FACES: cfg.faces,
                               TEXT_EMBED: TextEmbedConfig(model=settings.text_embed_model)}
    if cfg.embeddings_on:
        configs[EMBED] = cfg.embed
    return configs


def models_app(settings: Settings, cfg: AnalyzeConfig | None = None,
               cluster_cpus: float | None = None) -> Any:  # fmt: skip
    """The ``clipray-models`` application for ``settings`` (and the analysis config ``cfg``,
    by default the one the settings describe); on a cluster of ``cluster_cpus`` the CPU
    reservations leave room for jobs (:func:`cpu_share`)."""
    cfg = cfg or analyze_config(settings)
    configs = _configs(settings, cfg)
    options = service_options(settings, list(configs), cluster_cpus)
    if isinstance(configs[ASR], WhisperXConfig):
        options[ASR]["ray_actor_options"]["runtime_env"] = whisperx_runtime_env(configs[ASR])
    kinds = {ASR: AsrDeployment, FACES: FacesDeployment, TEXT_EMBED: TextEmbedDeployment,
             EMBED: FrameEmbedDeployment}  # fmt: skip
    handles = {name: kinds[name].options(**options[name]).bind(c) for name, c in configs.items()}
    return ModelServices.bind(soft_limit=settings.model_queue_soft_limit, **handles)


STAGES = {ASR: "asr_service", FACES: "faces_service", EMBED: "embed_service",
          TEXT_EMBED: "text_embed_service"}  # fmt: skip
"""The settings stage of each service."""


def service_options(settings: Settings, names: list[str], cluster_cpus: float | None = None
                    ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Each named service's deployment options, CPUs scaled by :func:`cpu_share`."""
    res = {n: settings.stage(STAGES[n]) for n in names}
    share = cpu_share(sum(r.num_cpus * r.pool_size for r in res.values()), cluster_cpus)
    limits = {"soft_limit": settings.model_queue_soft_limit,
              "hard_limit": settings.model_queue_hard_limit}  # fmt: skip
    return {n: _options(r, share, **limits) for n, r in res.items()}


def _app_status() -> Any:
    """The model application's status on the connected cluster, None where it has none."""
    try:
        app = serve.status().applications.get(MODELS_APP)
    except Exception:  # no Serve instance on this cluster
        return None
    return None if app is None else app.status


def model_stats(timeout_s: float = 30.0, *, settle_s: float = 0.0
                ) -> dict[str, dict[str, Any]] | None:  # fmt: skip
    """Each running model service's counters (one replica's answer per deployment); None
    where the application is not running on the connected cluster.

    ``settle_s``: how long to wait for an application that is still deploying (its replicas
    loading, or GPU nodes coming up) before calling it not running, so that a caller does
    not deploy a second time over services that are about to answer.
    """
    from ray.serve.schema import ApplicationStatus

    status = _app_status()
    deadline = time.monotonic() + settle_s
    while status == ApplicationStatus.DEPLOYING and time.monotonic() < deadline:
        time.sleep(1.0)
        status = _app_status()
    if status != ApplicationStatus.RUNNING:
        return None
    return serve.get_app_handle(MODELS_APP).stats.remote().result(timeout_s=timeout_s)


def ensure_model_services(
    settings: Settings,
    cfg: AnalyzeConfig | None = None,
    *,
    on_start: Callable[[], None] | None = None,
) -> bool:
    """Make sure the model services of ``cfg`` run on the connected cluster; True where
    they were (re)deployed now (``on_start`` is called first: loading takes a while), False
    where they already ran.

    On a remote cluster (``CLIPRAY_RAY_ADDRESS``) services that run with other models are
    its operator's: they are used as deployed, and a mismatch is refused rather than
    replaced under other users' jobs. Services still deploying (replicas loading, GPU
    nodes coming up) are waited for, up to ``model_service_timeout_s``, not deployed again.

    Raises:
        Conflict: ``MODEL_SERVICES_MISMATCH``, the remote services load other models.
    """
    cfg = cfg or analyze_config(settings)
    want = {name: config_key(c) for name, c in _configs(settings, cfg).items()}
    running = model_stats(settle_s=settings.model_service_timeout_s)
    if running is not None:
        have = {name: s["config"] for name, s in running.items()}
        if have == want:
            return False
        if settings.ray_address:
            raise Conflict(
                "MODEL_SERVICES_MISMATCH",
                f"the cluster's model services ({MODELS_APP}) load other models than these "
                "settings ask for: deploy serve_config.yaml with the same model settings, "
                "or set CLIPRAY_WARM_MODELS=false",
                detail={"running": have, "wanted": want},
            )
    if on_start is not None:
        on_start()
    _start_serve(settings)
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 0.0))
    serve.run(models_app(settings, cfg, cpus), name=MODELS_APP, route_prefix=None)
    return True


def _start_serve(settings: Settings) -> None:
    """Serve on the connected cluster, as ``clipray serve`` would start it (its proxy on
    ``serve_host:serve_port``), so that a later ``clipray serve`` finds it as it expects.
    A Ray living in this process only (no head, no cluster) gets no proxy: its Serve dies
    with the process, and nothing else could reach it."""
    from clipray.cluster.services import local_ray_head

    if settings.ray_address is None and local_ray_head(settings).address() is None:
        serve.start(proxy_location="Disabled")
        return
    serve.start(http_options={"host": settings.serve_host, "port": settings.serve_port})


app = models_app(get_settings())
"""``serve deploy serve_config.yaml``'s ``clipray-models`` import path."""
