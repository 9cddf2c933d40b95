"""The main job end to end on a composite: real analysis, selection, Ray render tasks."""

import itertools
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from clipray.clips.render import ENCODER_RESULT, LOUDNESS_RESULT, RenderSpec
from clipray.cluster.services import ensure_workspace, open_database
from clipray.pipelines.clipjob import RunOptions, copy_out, spec_hash
from clipray.pipelines.demo import make_demo_video
from clipray.pipelines.ingest import IngestContext
from clipray.services.main_job import run_main_job
from clipray.storage import migrate
from clipray.storage.repos import ClipRepo
from tests.loudness import assert_on_target

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"


@pytest.fixture(scope="module")
def talk(tmp_path_factory) -> Path:
    """65 s: a talking head, testvideo.mp4's shots, another head; LJSpeech as the sound."""
    out = tmp_path_factory.mktemp("talk") / "talk.mp4"
    fit = "scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:-1:-1,fps=30,setsar=1"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-i", str(MEDIA / "talking_head/liveportrait/d6.mp4"),
         "-i", str(MEDIA / "scene_cuts/pyscenedetect/testvideo.mp4"),
         "-i", str(MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4"),
         "-i", str(MEDIA / "speech/ljspeech/ljspeech_LJ001-0001_0032.flac"),
         "-filter_complex", f"[0:v]{fit}[a];[1:v]{fit}[b];[2:v]{fit}[c];"
         "[a][b][c]concat=n=3:v=1:a=0[v]",
         "-map", "[v]", "-map", "3:a", "-t", "65", "-c:v", "libx264", "-preset", "veryfast",
         "-g", "60", "-c:a", "aac", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def job(settings, s3_server, buckets, ray_local, talk, tmp_path_factory):
    migrate.upgrade(settings.resolved_database_url)
    db = open_database(settings)
    ws = ensure_workspace(db, f"run-{uuid.uuid4().hex[:6]}")
    ctx = IngestContext(buckets, db, ws.id)
    opts = RunOptions(max_clips=2, min_duration=10.0, max_duration=30.0)
    first = run_main_job(settings, ctx, str(talk), opts)
    again = run_main_job(settings, ctx, str(talk), opts)
    other = run_main_job(settings, ctx, str(talk), RunOptions(2, 10.0, 30.0, captions="none"))
    local = copy_out(first, buckets, ws.id, tmp_path_factory.mktemp("out"))
    yield ctx, first, again, other, local
    db.dispose()


def _probe(path: str) -> dict:
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format"]
    out = subprocess.run([*cmd, path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_clips_are_portrait_within_bounds_and_apart(job):
    _, first, _, _, local = job
    assert 1 <= len(first.clips) <= 2
    spans = sorted((c.start, c.end) for c in first.clips)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start
    for c in local.clips:
        assert 10.0 <= c.end - c.start <= 30.0
        info = _probe(c.files["video"])
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == (1080, 1920)
        assert abs(float(info["format"]["duration"]) - (c.end - c.start)) < 0.2
        assert Path(c.files["thumbnail"]).read_bytes()[:2] == b"\xff\xd8"
        assert "TITLE:" in Path(c.files["edl"]).read_text()
        assert c.reasons


def test_every_rendered_clip_is_at_minus_14_lufs(job, buckets):
    """Both versions of every moment, measured on the stored files; each clip's record says
    the target was reached."""
    ctx, first, _, other, _ = job
    store = buckets.generated.scoped(ctx.workspace_id)
    for c in [*first.clips, *other.clips]:
        measured = assert_on_target(store.presign_get(c.files["video"].split("/", 3)[3]))
        record = c.render_spec[LOUDNESS_RESULT]
        assert record["reached"] is True
        assert record["output_i"] == pytest.approx(measured, abs=0.05)


def test_every_stored_spec_records_its_encoder_outside_the_hash(job):
    """Rendered without a usable NVENC here: libx264, recorded beside the spec; the hash the
    clip is found by is the spec's without it."""
    ctx, first, _, other, _ = job
    for c in [*first.clips, *other.clips]:
        assert c.render_spec[ENCODER_RESULT] == "libx264"
        with ctx.db.session() as s:
            row = ClipRepo(s, ctx.workspace_id).get(c.id)
            assert spec_hash(RenderSpec.from_json(c.render_spec)) == row.spec_hash


def test_json_result_has_the_documented_shape(job):
    _, first, *_ = job
    doc = json.loads(json.dumps(first.to_json()))
    assert set(doc) == {"source_id", "clips"}
    keys = {"id", "start", "end", "score", "title", "reasons", "video", "thumbnail", "fcpxml",
            "edl", "render_spec", "generated_clip_id"}  # fmt: skip
    for clip in doc["clips"]:
        assert set(clip) == keys
        assert clip["render_spec"]["aspect"] == "9:16"
        assert clip["generated_clip_id"]  # a rendered clip names its generated clip


def test_a_run_without_a_clip_says_why(job, settings, talk):
    """No run of sentences can last 100 s in 65 s of speech: the result says so, with a
    code, instead of an empty success (the analysis is the cached one)."""
    ctx, *_ = job
    result = run_main_job(settings, ctx, str(talk), RunOptions(2, 100.0, 120.0))
    assert result.clips == []
    assert result.no_clips is not None
    assert result.no_clips.code == "SPEECH_TOO_SHORT"
    assert json.loads(json.dumps(result.to_json()))["no_clips"] == result.no_clips.to_json()


def test_the_same_spec_is_reused_and_other_settings_add_a_version(job):
    ctx, first, again, other, _ = job
    assert [c.id for c in again.clips] == [c.id for c in first.clips]
    assert all(c.reused for c in again.clips)
    assert all(not c.reused for c in other.clips)
    with ctx.db.session() as s:
        for c in first.clips:
            versions = ClipRepo(s, ctx.workspace_id).versions(c.moment_id)
            assert [v.version for v in versions] == [1, 2]
            assert versions[0].render_spec["captions"] == "highlight_word"
            assert versions[1].render_spec["captions"] == "none"
            assert versions[0].render_spec["versions"]["clipray"]


def test_files_are_on_the_app_owned_bucket(job, buckets):
    ctx, first, *_ = job
    store = buckets.generated.scoped(ctx.workspace_id)
    for c in first.clips:
        for uri in c.files.values():
            assert uri.startswith(f"s3://{buckets.generated.bucket}/{ctx.workspace_id}/clips/")
            assert store.head(uri.split("/", 3)[3]) is not None


def _generated(ctx) -> list:
    from sqlalchemy import select

    from clipray.storage.orm import GeneratedClip

    with ctx.db.session() as s:
        q = select(GeneratedClip).where(GeneratedClip.workspace_id == ctx.workspace_id)
        return list(s.scalars(q.order_by(GeneratedClip.created_at)))


def test_each_rendered_clip_is_one_generated_clip_that_expires(job, buckets, settings):
    from clipray.storage.orm import GeneratedKind, GeneratedStatus, as_utc, utcnow

    ctx, first, _, other, _ = job
    rows = {g.candidate_id: g for g in _generated(ctx)}
    assert set(rows) == {c.id for c in [*first.clips, *other.clips]}
    store = buckets.generated.scoped(ctx.workspace_id)
    for c in first.clips:
        g = rows[c.id]
        assert (g.status, g.kind) == (GeneratedStatus.AVAILABLE, GeneratedKind.HEURISTIC)
        assert g.storage_key == c.files["video"].split("/", 3)[3]
        assert g.size_bytes == store.head(g.storage_key).size
        assert g.duration_s == pytest.approx(c.end - c.start, abs=1e-3)
        left = (as_utc(g.expires_at) - utcnow()).total_seconds() / 86400
        assert (
            settings.generated_clip_retention_days - 0.1
            < left
            <= settings.generated_clip_retention_days
        )
        with ctx.db.session() as s:
            assert ClipRepo(s, ctx.workspace_id).get(c.id).generated_clip_id == g.id
        assert c.generated_clip_id == g.id  # what `clipray run` prints links the two


def test_generating_the_same_candidate_again_gives_one_row_and_one_object(job, buckets, settings):
    from clipray.pipelines.clipjob import render_clips
    from clipray.storage.orm import Source

    ctx, first, *_ = job
    clip = first.clips[0]
    before = {g.candidate_id: g.id for g in _generated(ctx)}
    with ctx.db.session() as s:
        source = s.get(Source, first.source_id)
    done = render_clips(settings, ctx, source, [clip.id])
    assert (done.rendered, done.failed, done.skipped) == (1, 0, None)
    after = _generated(ctx)
    assert {g.candidate_id: g.id for g in after} == before
    prefix = f"{ctx.workspace_id}/clips/{clip.id}/"
    files = sorted(
        o.key.rsplit("/", 1)[1] for o in buckets.generated.scoped(ctx.workspace_id).list(prefix)
    )
    assert files == ["clip.edl", "clip.fcpxml", "clip.mp4", "thumbnail-1.jpg", "thumbnail-2.jpg",
                     "thumbnail.jpg"]  # fmt: skip


def test_a_rendered_clip_queues_clip_ready_for_its_subscribers(job, settings):
    """The services pass ``webhooks.clip_ready`` as ``on_ready``: each clip recorded as
    rendered queues one ``clip.ready`` delivery per subscription, in that transaction."""
    from sqlalchemy import select

    from clipray.pipelines.clipjob import render_clips
    from clipray.services import webhooks
    from clipray.storage.orm import Source, WebhookDelivery
    from clipray.storage.webhooks import SubscriptionRepo

    ctx, first, *_ = job
    clip = first.clips[0]
    with ctx.db.session() as s:
        source = s.get(Source, first.source_id)
        sub = SubscriptionRepo(s, ctx.workspace_id).add("https://hooks.example.com/in",
                                                        ["clip.ready"], "whsec_t", None)
    done = render_clips(settings, ctx, source, [clip.id], on_ready=webhooks.clip_ready)
    assert done.rendered == 1
    with ctx.db.session() as s:
        rows = s.scalars(select(WebhookDelivery)
                         .where(WebhookDelivery.subscription_id == sub.id)).all()
        assert [(r.event, r.payload["clip_id"]) for r in rows] == [("clip.ready", clip.id)]
        assert rows[0].payload["generated_clip_id"] == clip.generated_clip_id
        s.delete(s.get(type(sub), sub.id))


def test_at_its_storage_quota_a_workspace_still_generates_and_keeps_its_sources(
    job, buckets, settings, talk, tmp_path
):
    from sqlalchemy import select

    from clipray.pipelines.ingest import StorageQuotaError, ingest
    from clipray.storage.orm import Source, Workspace
    from clipray.storage.repos import SourceRepo

    ctx, *_ = job
    with ctx.db.session() as s:
        used = SourceRepo(s, ctx.workspace_id).stored_bytes()
        s.get(Workspace, ctx.workspace_id).max_storage_bytes = used  # exactly at the quota
        sources = [(r.id, r.storage_key, r.size_bytes) for r in s.scalars(
            select(Source).where(Source.workspace_id == ctx.workspace_id))]  # fmt: skip
    try:
        other = tmp_path / "other.mp4"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(talk), "-t", "3",
                        "-c", "copy", str(other)], check=True)  # fmt: skip
        with pytest.raises(StorageQuotaError, match="would bring the workspace's sources"):
            ingest(ctx, str(other))
        generated_before = len(_generated(ctx))
        square = run_main_job(settings, ctx, str(talk), RunOptions(2, 10.0, 30.0, aspect="1:1"))
        assert square.clips
        assert all(c.files["video"] for c in square.clips)
        for c in square.clips:
            assert_on_target(buckets.generated.scoped(ctx.workspace_id).presign_get(
                c.files["video"].split("/", 3)[3]))  # fmt: skip
        assert len(_generated(ctx)) == generated_before + len(square.clips)
        with ctx.db.session() as s:
            assert SourceRepo(s, ctx.workspace_id).stored_bytes() == used
            after = [(r.id, r.storage_key, r.size_bytes) for r in s.scalars(
                select(Source).where(Source.workspace_id == ctx.workspace_id))]  # fmt: skip
        assert after == sources
        media = buckets.media.scoped(ctx.workspace_id)
        assert all(media.head(key).size == size for _, key, size in sources)
    finally:
        with ctx.db.session() as s:
            s.get(Workspace, ctx.workspace_id).max_storage_bytes = None


def test_at_the_live_cap_generation_is_refused_with_a_clear_error(job, settings, talk):
    from clipray.storage.generated import GeneratedRepo

    ctx, *_ = job
    with ctx.db.session() as s:
        live = GeneratedRepo(s, ctx.workspace_id).live_count()
    capped = settings.model_copy(update={"generated_clips_max_live": live})
    result = run_main_job(capped, ctx, str(talk), RunOptions(2, 10.0, 30.0, aspect="16:9"))
    assert result.clips
    with ctx.db.session() as s:
        repo = ClipRepo(s, ctx.workspace_id)
        rows = [repo.get(c.id) for c in result.clips]
        assert all(r.status.value == "failed" for r in rows)
        assert all(r.error.startswith("GENERATED_CLIP_LIMIT") for r in rows)
        assert GeneratedRepo(s, ctx.workspace_id).live_count() == live


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_demo_sample_has_speech_and_scenes(tmp_path):
    out = make_demo_video(tmp_path / "demo.mp4")
    info = _probe(str(out))
    kinds = sorted(s["codec_type"] for s in info["streams"])
    assert kinds == ["audio", "video"]
    assert 30.0 < float(info["format"]["duration"]) < 120.0


def test_the_job_runners_step_chooses_what_clipray_run_rendered(job, settings):
    """`clipray run` and the job runner's analyze step are doors onto one service: the same
    cached analysis gives the same moments with the same render specs."""
    from clipray.actors.steps import run_step
    from clipray.storage.orm import Job, JobStatus

    ctx, first, *_ = job
    opts = {"max_clips": 2, "min_duration": 10.0, "max_duration": 30.0}
    with ctx.db.session() as s:
        row = Job(workspace_id=ctx.workspace_id, kind="clips", status=JobStatus.ANALYZING,
                  source_id=first.source_id, params={"source": {"kind": "id",
                  "value": first.source_id}, "settings": opts})  # fmt: skip
        s.add(row)
        s.flush()
        job_id = row.id
    detail = run_step(settings, job_id, ctx.workspace_id, "analyze")
    assert (detail["cached"], detail["clips"]) == (True, len(first.clips))
    with ctx.db.session() as s:
        repo = ClipRepo(s, ctx.workspace_id)
        chosen = sorted((c.start_s, c.end_s, c.spec_hash) for c in repo.for_job(job_id))
        rendered = sorted((c.start, c.end, repo.get(c.id).spec_hash) for c in first.clips)
    assert chosen == rendered
