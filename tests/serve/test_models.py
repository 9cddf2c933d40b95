"""The warm model services on a real Ray and Serve: the service path's analysis equals the
batch pipeline's, a second job reuses the loaded models (their load counters say so), and a
replica killed mid-job costs a retry, not the job."""

import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from clipray.cluster.services import ensure_workspace, open_database
from clipray.models.wer import word_error_rate
from clipray.pipelines.analyze import analyze_config, build_analysis, collect
from clipray.pipelines.index import build_segment_embeddings
from clipray.pipelines.ingest import IngestContext, ingest
from clipray.pipelines.stages.decode import probe
from clipray.pipelines.warm import ASR, EMBED, FACES, MODELS_APP, TEXT_EMBED
from clipray.schemas import VideoRow
from clipray.serve.models import ensure_model_services, model_stats
from clipray.services.main_job import analyse
from clipray.storage import migrate

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
JFK = ("and so my fellow americans ask not what your country can do for you "
       "ask what you can do for your country")  # fmt: skip


@pytest.fixture(scope="module")
def warm_settings(settings, s3_server, random_clip, ray_local):
    """The session's settings with image embeddings on; Serve shut down after the module,
    so that the services' reservations do not outlive it."""
    from ray import serve

    migrate.upgrade(settings.resolved_database_url)
    yield settings.model_copy(update=random_clip)
    serve.shutdown()


def _stop_models() -> None:
    from ray import serve

    if model_stats() is not None:
        serve.delete(MODELS_APP)


def _row(path: Path) -> VideoRow:
    info = probe(path)
    return VideoRow(source_id=uuid.uuid4().hex, uri=str(path), duration=info.duration,
                    has_audio=info.has_audio, width=info.width, height=info.height)  # fmt: skip


def _analysis(row: VideoRow, settings, *, warm: bool):
    cfg = analyze_config(settings)
    (done,) = collect(build_analysis([row], cfg, settings, warm=warm).iter_rows(),
                      {row["source_id"]: row}, cfg)  # fmt: skip
    assert done.error is None, done.error
    return done.result


def _text(result) -> str:
    return " ".join(w.word for s in result.transcript.segments for w in s.words)


def test_the_service_path_gives_the_batch_pipelines_analysis(warm_settings, short_talk):
    _stop_models()  # whatever an earlier test left: this one starts them
    settings = warm_settings
    row = _row(short_talk)
    batch = _analysis(row, settings, warm=False)  # the batch pipeline's own actor pools
    assert ensure_model_services(settings) is True
    warm = _analysis(row, settings, warm=True)

    # What is compared is worth comparing: JFK's words, both heads, one embedding a sample.
    assert word_error_rate(JFK, _text(warm)) < 0.15
    assert len(warm.tracks) >= 2
    assert warm.embeddings is not None
    assert warm.embeddings.shape[0] == len(warm.embedding_times) >= 16 * 2 - 2
    assert warm.scenes == batch.scenes
    assert warm.transcript == batch.transcript
    assert warm.tracks == batch.tracks
    assert warm.peaks == batch.peaks
    assert np.array_equal(warm.rms, batch.rms)
    assert np.array_equal(warm.embeddings, batch.embeddings)
    assert np.array_equal(warm.embedding_times, batch.embedding_times)
    assert warm.n_frames == batch.n_frames

    rows = [{"key": f"s:{i}", "text": s.text} for i, s in enumerate(warm.transcript.segments)]
    vectors = {}
    for warm_path in (False, True):
        ds = build_segment_embeddings(rows, _text_cfg(settings), settings, warm=warm_path)
        got = {str(k): v for b in ds.iter_batches(batch_format="numpy", batch_size=None)
               for k, v in zip(b["key"], b["vector"], strict=True)}  # fmt: skip
        vectors[warm_path] = np.stack([got[r["key"]] for r in rows])
    assert vectors[True].shape == (len(rows), 384)
    assert np.array_equal(vectors[True], vectors[False])


def _text_cfg(settings):
    from clipray.models.text_embed import TextEmbedConfig

    return TextEmbedConfig(model=settings.text_embed_model)


def _context(settings, buckets):
    db = open_database(settings)
    ws = ensure_workspace(db, f"warm-{uuid.uuid4().hex[:6]}")
    return db, IngestContext(buckets, db, ws.id)


def test_a_second_job_uses_the_models_the_first_loaded(warm_settings, buckets, short_talk):
    _stop_models()  # a fresh start: the first job finds no services
    settings = warm_settings
    db, ctx = _context(settings, buckets)
    heads = MEDIA / "talking_head" / "sadtalker_hdtf"
    stages: list[list[str]] = []
    stats = []
    for video in (short_talk, heads / "WDA_KatieHill_000.mp4"):
        said: list[str] = []
        outcome = analyse(settings, ctx, ingest(ctx, str(video)), str(video),
                          on_stage=said.append)  # fmt: skip
        assert not outcome.cached
        assert outcome.analysis.faces.tracks
        assert outcome.analysis.embeddings.count > 0
        stages.append(said)
        stats.append(model_stats())
    db.dispose()

    assert stages == [["starting model services", "analysing"], []]
    first, second = stats
    assert set(first) == {ASR, FACES, EMBED, TEXT_EMBED}
    for name in first:
        # One load each, by the same replica, which answered the second job's requests too.
        assert first[name]["loads"] == second[name]["loads"] == 1, name
        assert first[name]["replica"] == second[name]["replica"], name
        assert second[name]["requests"] > first[name]["requests"] > 0, name
    assert ensure_model_services(settings) is False



def test_services_still_deploying_are_waited_for_not_deployed_again(warm_settings):
    import ray
    from ray import serve
    from ray.serve.schema import ApplicationStatus

    from clipray.serve.models import models_app

    _stop_models()
    settings = warm_settings
    cpus = float(ray.cluster_resources().get("CPU", 0.0))
    # What another job (or `serve deploy`) started a moment ago: replicas still loading.
    serve._run(models_app(settings, analyze_config(settings), cpus), name=MODELS_APP,
               route_prefix=None, _blocking=False)  # fmt: skip
    assert serve.status().applications[MODELS_APP].status == ApplicationStatus.DEPLOYING
    assert ensure_model_services(settings) is False  # it waited, and found them running
    stats = model_stats()
    assert stats is not None
    assert {name: s["loads"] for name, s in stats.items()} == dict.fromkeys(stats, 1)

# Four windows (faces) and several speech chunks (ASR): the job is still sending the
# service work when its replica dies, in the middle of a batch it had started.
@pytest.mark.parametrize("service", [pytest.param(FACES, id="faces"), pytest.param(ASR, id="asr")])
def test_a_replica_killed_mid_job_costs_a_retry_not_the_job(warm_settings, short_talk, service):
    import ray

    settings = warm_settings.model_copy(update={"model_service_timeout_s": 60.0,
                                                "analysis_window_s": 4.0})  # fmt: skip
    ensure_model_services(settings)
    before = model_stats()
    assert before is not None
    result: dict[str, object] = {}

    def job() -> None:
        try:
            result["analysis"] = _analysis(_row(short_talk), settings, warm=True)
        except Exception as exc:  # reported below
            result["error"] = exc

    worker = threading.Thread(target=job)
    worker.start()
    # Kill the service's replica once the job's first request reached it: a replica counts
    # a batch's requests as it starts running them, so the kill lands mid-batch.
    deadline = time.monotonic() + 300
    while model_stats()[service]["requests"] == before[service]["requests"]:
        assert time.monotonic() < deadline, f"the job never reached the {service} service"
        assert worker.is_alive(), result
        time.sleep(0.2)
    ray.kill(ray.get_actor(before[service]["actor"], namespace="serve"), no_restart=True)
    # Each call waits at most its timeout per attempt: a request lost with the replica is
    # retried by then, so the job ends within every attempt's wait and the rest of its work.
    bound = settings.model_service_timeout_s * settings.model_service_attempts + 240
    worker.join(timeout=bound)
    assert not worker.is_alive(), f"the job hung for {bound:.0f} s after its replica died"
    assert "error" not in result, result.get("error")
    analysis = result["analysis"]
    assert word_error_rate(JFK, _text(analysis)) < 0.15
    assert len(analysis.tracks) >= 2
    after = model_stats()
    assert after[service]["replica"] != before[service]["replica"]  # Serve replaced it
    assert after[service]["loads"] == 1
    assert after[service]["requests"] >= 1  # the retried request went to the new replica
