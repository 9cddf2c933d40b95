"""The whole analysis on a real Ray: a composite whose cuts and speech are known, windows
that change nothing, the cache, and batch mode with a corrupt video among real ones."""

import itertools
import json
import re
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from clipray.cluster.services import ensure_workspace, open_database
from clipray.domain.analysis import Analysis
from clipray.models.wer import word_error_rate
from clipray.pipelines.analyze import AnalyzeConfig, build_analysis, collect
from clipray.pipelines.batch import run_batch
from clipray.pipelines.ingest import IngestContext, ingest
from clipray.pipelines.runner import AnalysisRunner
from clipray.pipelines.stages.decode import probe
from clipray.schemas import VideoRow
from clipray.storage import migrate
from clipray.storage.repos import AnalysisRepo, JobRepo

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
SCENES = MEDIA / "scene_cuts" / "pyscenedetect"
HEADS = MEDIA / "talking_head"
JFK = MEDIA / "speech" / "whisper_jfk"
LJ = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032.flac"

# The composite: testvideo.mp4 (24 s; hard cuts at its frames 30, 180, 394 of 29.97 fps),
# then two talking heads of 8 s each; audio: JFK (11 s), then LJSpeech. Its cuts are
# therefore known in seconds, and so is the first 11 s of its transcript.
CUTS_S = [30 / 29.97, 180 / 29.97, 394 / 29.97, 24.0, 32.0]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def composite(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("composite") / "composite.mp4"
    scale = "scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:-1:-1,fps=30,setsar=1"
    inputs = [SCENES / "testvideo.mp4", *sorted((HEADS / "sadtalker_hdtf").glob("*.mp4"))]
    args: list[str] = []
    for path in inputs:
        args += ["-i", str(path)]
    args += ["-i", str(JFK / "jfk.wav"), "-i", str(LJ)]
    a = len(inputs)
    graph = "".join(f"[{i}:v]{scale}[v{i}];" for i in range(len(inputs)))
    graph += "".join(f"[v{i}]" for i in range(len(inputs))) + f"concat=n={len(inputs)}:v=1:a=0[v];"
    graph += f"[{a}:a][{a + 1}:a]concat=n=2:v=0:a=1,aresample=16000[a]"
    _ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-t", "40",
            "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p",
            "-c:a", "aac", str(out))  # fmt: skip
    return out


def _video_row(path: Path) -> VideoRow:
    info = probe(path)
    return VideoRow(
        source_id=uuid.uuid4().hex, uri=str(path), duration=info.duration,
        has_audio=info.has_audio, width=info.width, height=info.height,
    )  # fmt: skip


def _analyse(row: VideoRow, cfg: AnalyzeConfig, settings):
    (done,) = collect(
        build_analysis([row], cfg, settings).iter_rows(), {row["source_id"]: row}, cfg
    )
    assert done.error is None, done.error
    return done.result


@pytest.fixture(scope="module")
def windowed(composite, settings, ray_local):
    """The composite analysed in 8-second windows: five windows or more."""
    return _analyse(_video_row(composite), AnalyzeConfig(window_s=8.0), settings)


def test_cuts_of_the_composite_are_found(windowed, composite):
    """The known cuts are all found, and the whole list is PySceneDetect's on this file
    (re-encoding at 640x360 adds content changes it sees too). Frame-exact equality is
    asserted on PySceneDetect's own goldens (test_scenes.py); at this file's non-integer
    downscale (640 -> 256) the two sample different pixels, so here cuts agree to 0.1 s."""
    from scenedetect import ContentDetector, detect

    cuts = [s.start_frame for s in windowed.scenes if s.kind == "cut"]
    cut_times = [s.start for s in windowed.scenes if s.kind == "cut"]
    for want in CUTS_S:
        assert min(abs(t - want) for t in cut_times) <= 0.1, want
    reference = [start.frame_num for start, _ in detect(str(composite), ContentDetector())[1:]]
    assert len(cuts) == len(reference)
    for got, want in zip(cuts, reference, strict=True):
        assert abs(got - want) / 30.0 <= 0.1


def test_scenes_cover_the_whole_duration(windowed, composite):
    duration = probe(composite).duration
    scenes = windowed.scenes
    assert scenes[0].start == 0.0
    assert scenes[0].kind == "start"
    assert scenes[-1].end == pytest.approx(duration, abs=0.05)
    for a, b in itertools.pairwise(scenes):
        assert a.end == b.start
        assert a.end_frame == b.start_frame
    assert scenes[-1].end_frame == windowed.n_frames


def test_transcript_is_intact_and_consistent(windowed):
    segments = windowed.transcript.segments
    jfk_said = " ".join(s.text for s in segments if s.end <= 11.5)
    reference = (JFK / "REFERENCE.txt").read_text()
    assert word_error_rate(reference, jfk_said) <= 0.10
    words = [w for s in segments for w in s.words]
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    for s in segments:
        assert s.text == "".join(w.word for w in s.words)
        assert all(s.start <= w.start <= w.end <= s.end for w in s.words)
    assert any(re.search(r"\bprinting\b", s.text.lower()) for s in segments if s.start >= 11)


def test_faces_are_tracked_in_source_pixels(windowed):
    # Each talking head is one face on screen for 8 s, sampled at 2 fps.
    long_tracks = [t for t in windowed.tracks if t.end - t.start >= 6.0]
    assert len(long_tracks) >= 2
    for t in long_tracks:
        assert t.start >= 23.5
        for d in t.detections:
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 < x2 <= 640
            assert 0 <= y1 < y2 <= 360


def test_audio_energy_covers_the_file(windowed):
    assert windowed.rms.size == pytest.approx(400, abs=2)  # 40 s at a 100 ms hop
    assert np.all(windowed.rms >= 0)


def test_one_window_gives_the_same_analysis(windowed, composite, settings, ray_local):
    single = _analyse(_video_row(composite), AnalyzeConfig(window_s=1000.0), settings)
    assert [(s.start_frame, s.kind) for s in single.scenes] == [
        (s.start_frame, s.kind) for s in windowed.scenes
    ]
    assert single.n_frames == windowed.n_frames
    assert [len(t.detections) for t in single.tracks] == [
        len(t.detections) for t in windowed.tracks
    ]
    np.testing.assert_array_equal(single.rms, windowed.rms)


def test_a_silent_video_is_analysed_without_chunks(settings, ray_local):
    """No audio: the audio branch yields no chunk at all, and the merge does not wait for
    one. The scenes are PySceneDetect's goldens for this file (test_scenes.py)."""
    silent = _video_row(SCENES / "testvideo.mp4")
    assert not silent["has_audio"]
    result = _analyse(silent, AnalyzeConfig(window_s=8.0), settings)
    assert result.transcript is None
    assert result.rms.size == 0
    golden = json.loads((SCENES / "goldens" / "testvideo.mp4.ContentDetector.default.json")
                        .read_text())["cuts"]  # fmt: skip
    assert [s.start_frame for s in result.scenes if s.kind == "cut"] == golden


def test_an_audio_only_source_runs_the_audio_branch_only(settings, ray_local, tmp_path):
    """A podcast episode beside a video in one dataset: the episode has no windows (no
    scenes, faces or frame embeddings) and the merge does not wait for any; its transcript
    and energy are the audio branch's, as for a video."""
    from tests.podcast import episode

    podcast = episode(tmp_path, "flac", cover=False)
    info = probe(podcast)
    sound = VideoRow(source_id=uuid.uuid4().hex, uri=str(podcast), duration=info.duration,
                     has_audio=True, width=0, height=0, has_video=info.has_video)  # fmt: skip
    assert not sound["has_video"]
    silent = {**_video_row(SCENES / "testvideo.mp4"), "has_video": True}
    rows = {sound["source_id"]: sound, silent["source_id"]: silent}
    cfg = AnalyzeConfig(window_s=8.0)
    done = {d.source_id: d for d in collect(build_analysis(list(rows.values()), cfg, settings)
                                            .iter_rows(), rows, cfg)}  # fmt: skip
    assert all(d.error is None for d in done.values()), done
    heard = done[sound["source_id"]].result
    assert (heard.scenes, heard.tracks, heard.n_frames, heard.embeddings) == ([], [], 0, None)
    said = " ".join(s.text for s in heard.transcript.segments)
    assert word_error_rate((JFK / "REFERENCE.txt").read_text(), said) <= 0.10
    assert heard.rms.size == pytest.approx(110, abs=2)  # 11 s at a 100 ms hop
    seen = done[silent["source_id"]].result  # the video beside it is analysed as ever
    assert [s.kind for s in seen.scenes].count("cut") >= 3


@pytest.fixture
def migrated_settings(settings, s3_server):
    migrate.upgrade(settings.resolved_database_url)
    return settings


def test_the_same_bytes_are_analysed_once(migrated_settings, buckets, ray_local):
    settings = migrated_settings
    db = open_database(settings)
    ws = ensure_workspace(db, f"cache-{uuid.uuid4().hex[:6]}")
    ctx = IngestContext(buckets, db, ws.id)
    face = HEADS / "video_retalking" / "face_1.mp4"
    item = ingest(ctx, str(face))
    runner = AnalysisRunner(settings, ctx, AnalyzeConfig())
    (first,) = runner.run([(item, face)])
    assert first.error is None
    assert not first.cached
    doc = first.analysis.to_json()
    # what a later job reads back from the bucket is what this run computed
    assert Analysis.from_json(json.loads(json.dumps(doc))) == first.analysis
    assert set(doc) == {"source", "scenes", "transcript", "faces", "audio", "embeddings",
                        "timings"}  # fmt: skip
    assert doc["source"]["sha256"] == item.source.sha256
    assert doc["embeddings"] is None  # no CLIP weights configured
    with db.session() as s:
        row = AnalysisRepo(s, ws.id).find(item.source.id, runner.fingerprint)
        assert row is not None
        assert row.artifact_key.startswith(f"{ws.id}/analysis/{item.source.id}/")
    (second,) = runner.run([(ingest(ctx, str(face)), face)])
    assert second.cached
    assert second.analysis == first.analysis
    db.dispose()


def test_batch_records_a_corrupt_video_and_reruns_do_nothing(migrated_settings, buckets, ray_local):
    settings = migrated_settings.model_copy(update={"workspace": f"b-{uuid.uuid4().hex[:6]}"})
    landing = f"landing-{uuid.uuid4().hex[:8]}"
    client = buckets.media.client
    client.create_bucket(Bucket=landing)
    videos = [*sorted((HEADS / "sadtalker_hdtf").glob("*.mp4")), HEADS / "video_retalking" /
              "face_1.mp4", SCENES / "fades.mp4"]  # fmt: skip
    for i, path in enumerate(videos):
        client.upload_file(str(path), landing, f"in/{i}-{path.name}")
    whole = (SCENES / "testvideo.mp4").read_bytes()
    client.put_object(Bucket=landing, Key="in/broken.mp4", Body=whole[: len(whole) // 3])

    first = run_batch(settings, f"s3://{landing}/in/")
    assert len(first.analysed) == 4
    assert list(first.failed) == [f"s3://{landing}/in/broken.mp4"]
    assert "not a readable video" in first.failed[f"s3://{landing}/in/broken.mp4"]

    again = run_batch(settings, f"s3://{landing}/in/")
    assert again.analysed == []
    assert len(again.skipped) == 4
    assert len(again.failed) == 1

    db = open_database(settings)
    with db.session() as s:
        ws = ensure_workspace(db, settings.workspace)
        job = JobRepo(s, ws.id).get(first.job_id)
        steps = JobRepo(s, ws.id).steps(job)
        assert sorted(st.status.value for st in steps) == ["failed"] + ["succeeded"] * 4
    db.dispose()


def test_batch_takes_podcast_episodes_from_a_bucket(migrated_settings, buckets, ray_local,
                                                   tmp_path):  # fmt: skip
    """The batch door: audio files under a prefix become audio-only sources, analysed by
    the audio branch alone (the dataset starts no picture stage)."""
    from clipray.storage.orm import Source
    from tests.podcast import episode

    settings = migrated_settings.model_copy(update={"workspace": f"p-{uuid.uuid4().hex[:6]}"})
    landing = f"podcasts-{uuid.uuid4().hex[:8]}"
    client = buckets.media.client
    client.create_bucket(Bucket=landing)
    for path in (episode(tmp_path, "flac", cover=False), episode(tmp_path, "m4a", cover=True)):
        client.upload_file(str(path), landing, f"in/{path.name}")
    done = run_batch(settings, f"s3://{landing}/in/")
    assert (len(done.analysed), done.failed) == (2, {})
    db = open_database(settings)
    try:
        ws = ensure_workspace(db, settings.workspace)
        with db.session() as s:
            rows = s.query(Source).filter(Source.workspace_id == ws.id).all()
            assert sorted((r.audio_only, r.audio_codec, r.width) for r in rows) == [
                (True, "aac", None), (True, "flac", None)]  # fmt: skip
    finally:
        db.dispose()
