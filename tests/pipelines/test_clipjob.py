"""The main job end to end on a composite: real analysis, selection, Ray render tasks."""

import itertools
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from clipray.cluster.services import ensure_workspace, open_database
from clipray.pipelines.clipjob import RunOptions, copy_out, run_main_job
from clipray.pipelines.demo import make_demo_video
from clipray.pipelines.ingest import IngestContext
from clipray.storage import migrate
from clipray.storage.repos import ClipRepo

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


def test_json_result_has_the_documented_shape(job):
    _, first, *_ = job
    doc = json.loads(json.dumps(first.to_json()))
    assert set(doc) == {"source_id", "clips"}
    keys = {"id", "start", "end", "score", "title", "reasons", "video", "thumbnail", "fcpxml",
            "edl", "render_spec"}  # fmt: skip
    for clip in doc["clips"]:
        assert set(clip) == keys
        assert clip["render_spec"]["aspect"] == "9:16"


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
    store = buckets.clips.scoped(ctx.workspace_id)
    for c in first.clips:
        for uri in c.files.values():
            assert uri.startswith(f"s3://{buckets.clips.bucket}/{ctx.workspace_id}/clips/")
            assert store.head(uri.split("/", 3)[3]) is not None


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_demo_sample_has_speech_and_scenes(tmp_path):
    out = make_demo_video(tmp_path / "demo.mp4")
    info = _probe(str(out))
    kinds = sorted(s["codec_type"] for s in info["streams"])
    assert kinds == ["audio", "video"]
    assert 30.0 < float(info["format"]["duration"]) < 120.0
