"""Thin model stages of the service path: the batch goes to a warm model service.

On the service path (the API's jobs, ``clipray run``/``analyze``) the analysis keeps its
Ray Data pipeline for decoding, chunking and the merge, but the model stages do not load a
model: each window or chunk batch is sent to a long-lived Serve deployment
(:mod:`clipray.serve.models`) that loaded its model once for every job. The deployments run
the same per-window functions as the batch pipeline's actor pools
(:func:`~clipray.pipelines.analyze.detect_window` ...), so both paths give one analysis.

A call that a dead replica or a stuck one never answers is retried a bounded number of
times (``model_service_attempts``), each waiting at most ``model_service_timeout_s``; then
the window or chunk fails with ``MODEL_SERVICE_UNAVAILABLE`` in its message, and its video
with it, while the dataset goes on.

    >>> call = ServiceCall.of(settings, FACES, "detect")            # doctest: +SKIP
    >>> ds.map_batches(warm_faces, fn_kwargs={"call": call})        # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from clipray.config import Settings
from clipray.domain.errors import Unavailable
from clipray.pipelines.analyze import _each_window, transcribe_batch
from clipray.pipelines.merge import WindowResult

MODELS_APP = "clipray-models"
"""The Serve application of the model deployments (``serve_config.yaml`` deploys it too)."""
ASR, FACES, EMBED, TEXT_EMBED = "Asr", "Faces", "FrameEmbed", "TextEmbed"
"""Deployment names inside :data:`MODELS_APP`."""
ROOT = "ModelServices"
"""The application's root deployment: holds the others' handles, reports their state."""

log = logging.getLogger(__name__)
_handles: dict[tuple[str, str], Any] = {}
"""Handles per worker process: a handle sets up its router once and is then reused by
every batch the process runs."""


class ModelServiceError(Unavailable):
    """A model service did not answer within its attempts (503, retryable: a replacement
    replica may answer the next try of the step)."""

    code = "MODEL_SERVICE_UNAVAILABLE"


@dataclass(frozen=True)
class ServiceCall:
    """One method of one model deployment, with the patience the settings give it.
    Cheap and picklable: built on the driver, called in Ray Data tasks."""

    deployment: str
    method: str
    timeout_s: float
    attempts: int
    app: str = MODELS_APP

    @classmethod
    def of(cls, settings: Settings, deployment: str, method: str) -> ServiceCall:
        return cls(deployment, method, settings.model_service_timeout_s,
                   settings.model_service_attempts)  # fmt: skip

    def __call__(self, *args: Any) -> Any:
        """The deployment's answer; retried where a replica died or did not answer in time
        (Serve routes the retry to a live replica).

        Raises:
            ModelServiceError: no answer in ``attempts`` tries.
        """
        from ray.exceptions import RayTaskError

        last: BaseException | None = None
        for attempt in range(1, self.attempts + 1):
            response = None
            try:
                response = getattr(self._handle(), self.method).remote(*args)
                return response.result(timeout_s=self.timeout_s)
            except RayTaskError:  # the model's own failure: the same input fails again
                raise
            except TimeoutError as exc:  # Ray's GetTimeoutError is one too
                if response is not None:
                    response.cancel()
                last = exc
            except Exception as exc:  # a dead replica; Serve restarted or redeployed
                self._forget()
                last = exc
            log.warning("%s.%s: attempt %d of %d failed: %s", self.deployment, self.method,
                        attempt, self.attempts, last)  # fmt: skip
        raise ModelServiceError(
            "MODEL_SERVICE_UNAVAILABLE",
            f"the {self.deployment} model service gave no answer in {self.attempts} attempts "
            f"of {self.timeout_s:g} s: {type(last).__name__}: {last}",
            detail={"deployment": self.deployment, "attempts": self.attempts},
        )

    def _forget(self) -> None:
        """Drop this process's handle and Serve client: the next try looks the controller
        and the deployment up again (a handle outlives neither a Serve restart nor its app)."""
        _handles.pop((self.app, self.deployment), None)
        from ray.serve import context

        context._disconnect()  # no public call forgets a client of a Serve that is gone

    def _handle(self) -> Any:
        key = (self.app, self.deployment)
        if key not in _handles:
            from ray import serve

            _handles[key] = serve.get_deployment_handle(self.deployment, app_name=self.app)
        return _handles[key]


def _window_call(stage: str, field: str, call: ServiceCall, w: WindowResult) -> dict[str, Any]:
    try:
        if stage == "faces":
            return {field: call(w.samples, w.sample_times)}
        return {field: call(w.samples)}
    except ModelServiceError as exc:  # this window's video fails; the others go on
        return {"error": f"{stage}: {exc.code}: {exc.message}"}


def warm_faces(batch: dict[str, np.ndarray], call: ServiceCall) -> dict[str, np.ndarray]:
    """windows -> windows + face detections, from the warm face detector."""
    return _each_window(batch, "faces", lambda w: _window_call("faces", "faces", call, w))


def warm_embed(batch: dict[str, np.ndarray], call: ServiceCall) -> dict[str, np.ndarray]:
    """windows -> windows + frame embeddings, from the warm image encoder."""
    return _each_window(batch, "embed", lambda w: _window_call("embed", "embeddings", call, w))


def warm_asr(batch: dict[str, np.ndarray], call: ServiceCall) -> dict[str, np.ndarray]:
    """audio chunks -> the merge's transcribed parts, from the warm ASR model."""

    def transcribe(chunks: list[tuple[np.ndarray, float]]) -> list[Any]:
        try:
            return call(chunks)
        except ModelServiceError as exc:
            raise RuntimeError(f"{exc.code}: {exc.message}") from exc

    return transcribe_batch(batch, transcribe)


def warm_text_embed(batch: dict[str, np.ndarray], call: ServiceCall) -> dict[str, np.ndarray]:
    """segments -> segments + sentence embeddings, from the warm sentence encoder."""
    return {**batch, "vector": call([str(t) for t in batch["text"]])}
