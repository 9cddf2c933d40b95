"""Two talking heads side by side, taking turns (left, right, left; the silent one's picture
frozen and its sound muted): the real analysis scores who speaks, the reframe follows them,
and a rendered clip shows the speaking face."""

import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.reframe import ReframeConfig, crop_path
from clipray.clips.render import RenderSpec, render_clip
from clipray.pipelines.analyze import AnalyzeConfig, build_analysis, collect
from clipray.pipelines.stages.decode import probe
from clipray.schemas import VideoRow
from tests.frames import gray_frames

pytestmark = pytest.mark.integration

HEADS = Path(__file__).resolve().parents[2].parent / "shared" / "media" / "talking_head"
LEFT = HEADS / "sadtalker_hdtf" / "WDA_AlexandriaOcasioCortez_000.mp4"
RIGHT = HEADS / "sadtalker_hdtf" / "WDA_KatieHill_000.mp4"
TURNS = [(0.0, 4.0, 0), (4.0, 8.0, 1), (8.0, 12.0, 0)]
"""(start, end, side): who speaks when (0 left, 1 right)."""


@pytest.fixture(scope="module")
def two_heads(tmp_path_factory) -> Path:
    """1024x512, 12 s: the left speaks its first 4 s, then freezes while the right speaks
    its first 4 s (frozen on its first frame before, on its last after), then the left
    speaks its next 4 s; the sound is only the speaker's."""
    out = tmp_path_factory.mktemp("speakers") / "two.mp4"
    graph = (
        "[0:v]trim=0:4,setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop_duration=4[l1];"
        "[0:v]trim=4:8,setpts=PTS-STARTPTS[l2];[l1][l2]concat=n=2:v=1:a=0[left];"
        "[1:v]trim=0:4,setpts=PTS-STARTPTS,"
        "tpad=start_mode=clone:start_duration=4:stop_mode=clone:stop_duration=4[right];"
        "[left][right]hstack=inputs=2,fps=25,format=yuv420p[v];"
        "[0:a]atrim=0:4,asetpts=PTS-STARTPTS[a1];[1:a]atrim=0:4,asetpts=PTS-STARTPTS[a2];"
        "[0:a]atrim=4:8,asetpts=PTS-STARTPTS[a3];[a1][a2][a3]concat=n=3:v=0:a=1[a]"
    )
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(LEFT), "-i", str(RIGHT),
                    "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", "libx264",
                    "-preset", "veryfast", "-g", "50", "-c:a", "aac", "-t", "12", str(out)],
                   check=True)  # fmt: skip
    return out


def _analyse(path: Path, settings, window_s: float):
    info = probe(path)
    row = VideoRow(source_id=uuid.uuid4().hex, uri=str(path), duration=info.duration,
                   has_audio=True, width=info.width, height=info.height)  # fmt: skip
    cfg = AnalyzeConfig(window_s=window_s)
    (done,) = collect(build_analysis([row], cfg, settings).iter_rows(), {row["source_id"]: row},
                      cfg)  # fmt: skip
    assert done.error is None, done.error
    return done.result


@pytest.fixture(scope="module")
def analysed(two_heads, settings, ray_local):
    return _analyse(two_heads, settings, 60.0)


def _speaker(t: np.ndarray) -> np.ndarray:
    return np.select([(t >= a) & (t < b) for a, b, _ in TURNS], [s for *_, s in TURNS], -1)


def test_each_face_track_has_speaking_scores_that_follow_the_turns(analysed):
    tracks = [t for t in analysed.tracks if len(t.detections) >= 10]
    assert len(tracks) == 2
    for track in tracks:
        assert len(track.speaking) == len(track.detections)
        side = 0 if track.detections[0].box[0] < 512 else 1
        t = np.array([d.t for d in track.detections])
        s = np.array(track.speaking)
        mine = _speaker(t) == side
        assert s[mine].mean() > 3 * max(s[~mine].mean(), 0.02), (side, track.speaking)


def test_windows_change_no_speaking_score(analysed, two_heads, settings):
    """Cut into 2-second windows (a keyframe every 2 s), every sample's motion still sees
    the frames around it: the scores are the one-window analysis' to the bit."""
    windowed = _analyse(two_heads, settings, 2.0)
    assert [t.speaking for t in windowed.tracks] == [t.speaking for t in analysed.tracks]
    assert [len(t.detections) for t in windowed.tracks] == [
        len(t.detections) for t in analysed.tracks
    ]


@pytest.mark.parametrize("layout", ["speaker", "auto"])
def test_the_crop_follows_the_speaker_without_flicker(analysed, layout):
    path = crop_path(1024, 512, 0.0, 12.0, analysed.tracks, [s.start for s in analysed.scenes
                     if s.kind == "cut"], ReframeConfig(layout=layout))  # fmt: skip
    ts = np.arange(0.0, 12.0, 0.04)
    side = np.where(path.at(ts)[:, 0] + path.crop_size[0] / 2 < 512, 0, 1)
    if path.overlay_spans:  # a split shows both: count it as not on the speaker
        for a, b in path.overlay_spans:
            side[(ts >= a) & (ts <= b)] = -2
    lag = np.zeros(ts.size, bool)
    for a, *_ in TURNS[1:]:
        lag |= (ts >= a) & (ts < a + 0.5)
    on = side[~lag] == _speaker(ts)[~lag]
    assert on.mean() >= 0.9, (layout, on.mean())
    switches = ts[1:][np.diff(side) != 0]
    assert np.all(np.diff(switches) >= 1.5 - 0.05), switches


def test_a_rendered_clip_shows_the_speaking_face(analysed, two_heads, tmp_path):
    path = crop_path(1024, 512, 0.0, 12.0, analysed.tracks, [], ReframeConfig(layout="auto"))
    spec = RenderSpec(source_id="two", start=0.0, end=12.0, reframe_filter=path.to_ffmpeg_filter(),
                      captions="none", layout="auto")  # fmt: skip
    done = render_clip(spec, str(two_heads), (1024, 512), True, tmp_path)
    out = gray_frames(done.video, (54, 96))
    src = gray_frames(two_heads, (1024, 512))
    fps_out, fps_src = 30, 25
    for t in (2.0, 6.0, 10.0):
        frame = out[round(t * fps_out)]
        picture = src[round(t * fps_src)]
        halves = [picture[:, 112:400], picture[:, 624:912]]  # each face's 9:16 middle
        small = [_shrink(h, 54, 96) for h in halves]
        err = [float(np.mean(np.abs(frame - s))) for s in small]
        want = int(_speaker(np.array([t]))[0])
        assert err[want] < err[1 - want], (t, err)


def _shrink(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """Box-average ``img`` down to ``h`` x ``w`` (both sides cut to multiples first)."""
    H, W = img.shape
    img = img[: H - H % h, : W - W % w]
    return img.reshape(h, img.shape[0] // h, w, img.shape[1] // w).mean(axis=(1, 3))
