"""The effects graph rendered by the real FFmpeg: filler cuts in sync, zooms that keep the
real face in frame (found by the real face detector), byte-identical renders."""

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.captions import CaptionConfig, build_ass, hook_event
from clipray.clips.effects.fillers import FillerConfig, plan_cut, retime
from clipray.clips.effects.graph import FPS, EffectsGraph, Hook
from clipray.clips.effects.plan import faces_on_output
from clipray.clips.effects.zooms import plan_zooms, window
from clipray.clips.reframe import ReframeConfig, crop_path
from clipray.clips.render import RenderSpec, render_clip
from clipray.schemas import Track, Word

pytestmark = pytest.mark.integration

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
HEAD = MEDIA / "talking_head" / "liveportrait" / "d6.mp4"  # 33.6 s, 480x480, 30 fps, audio

# (start, end, text): the synthetic source beeps and flashes white at each word's start
SCRIPT = [(0.40, 0.70, "So"), (0.83, 1.10, "um,"), (1.27, 1.60, "this"), (1.73, 2.00, "is"),
          (3.90, 4.20, "uh"), (4.37, 4.70, "quite"), (4.80, 5.10, "good."),
          (5.30, 5.60, "Really.")]  # fmt: skip
LENGTH = 6.5
FRAME = 1 / FPS


def _synthetic(path: Path) -> None:
    """A 320x240 black video flashing white for 0.1 s at each word start, and a 1 kHz tone
    sounding over each word: picture and sound of every word are known to the sample."""
    on = "+".join(f"between(t,{a},{b})" for a, b, _ in SCRIPT)
    flash = "+".join(f"between(t,{a},{a + 0.1})" for a, _, _ in SCRIPT)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"color=c=black:s=320x240:r=30:d={LENGTH}",
         "-f", "lavfi", "-i", f"aevalsrc='0.5*sin(2*PI*1000*t)*gt({on},0)':s=48000:d={LENGTH}",
         "-vf", f"drawbox=c=white:t=fill:enable='gt({flash},0)'",
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-c:a", "pcm_s16le",
         str(path)], check=True,
    )  # fmt: skip


def _audio_onsets(path: Path) -> list[float]:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
         "-ar", "48000", "-f", "f32le", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    x = np.abs(np.frombuffer(raw, np.float32))
    env = np.convolve(x, np.ones(96) / 96, mode="same")  # 2 ms
    loud = env > 0.5 * env.max()
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    out: list[float] = []
    for s in starts:  # a tone is one onset, however its envelope wobbles
        if not out or s / 48000 - out[-1] > 0.15:
            out.append(s / 48000)
    return out


def _flash_onsets(path: Path) -> list[float]:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-s", "64x64",
         "-pix_fmt", "gray", "-f", "rawvideo", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 64, 64).astype(float)
    bright = frames.mean(axis=(1, 2)) > 60
    return [i / FPS for i in np.flatnonzero(bright[1:] & ~bright[:-1]) + 1] + (
        [0.0] if bright[0] else [])  # fmt: skip


def _word_starts(ass: str) -> list[float]:
    """Where each word turns highlighted in the captions (``highlight_word``)."""
    out = []
    for line in ass.splitlines():
        m = re.match(r"Dialogue: 0,(\d):(\d\d):(\d\d)\.(\d\d),", line)
        if m and "\\1c" in line:
            h, mi, s, cs = (int(g) for g in m.groups())
            out.append(h * 3600 + mi * 60 + s + cs / 100)
    return out


@pytest.fixture(scope="module")
def cut_render(tmp_path_factory):
    base = tmp_path_factory.mktemp("fillers")
    src = base / "source.mkv"
    _synthetic(src)
    words = [Word(a, b, f" {w}", 1.0) for a, b, w in SCRIPT]
    cut = plan_cut(words, 0.0, LENGTH, FillerConfig())
    assert cut is not None
    spec = RenderSpec(source_id="f" * 32, start=0.0, end=LENGTH, aspect="9:16",
                      effects=EffectsGraph((cut,)))  # fmt: skip
    kept = retime(words, 0.0, cut)
    ass = build_ass(kept, 0.0, cut.duration, 1080, 1920, CaptionConfig())
    done = render_clip(spec, str(src), (320, 240), True, base / "out", ass)
    return spec, kept, ass, done


def test_fillers_and_pauses_are_gone_from_picture_and_sound(cut_render):
    spec, kept, _, done = cut_render
    assert [w.word.strip() for w in kept] == ["So", "this", "is", "quite", "good.", "Really."]
    heard = _audio_onsets(done.video)
    assert len(heard) == len(kept), heard
    seen = _flash_onsets(done.video)
    assert len(seen) == len(kept), seen
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(done.video)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert float(out) == pytest.approx(spec.output_duration, abs=2 * FRAME)
    assert spec.output_duration < LENGTH - 1.5


def test_captions_and_picture_stay_in_sync_with_the_sound_within_a_frame(cut_render):
    _, _, ass, done = cut_render
    heard = _audio_onsets(done.video)
    seen = _flash_onsets(done.video)
    captions = _word_starts(ass)
    assert len(captions) == len(heard)
    for c, a in zip(captions, heard, strict=True):
        assert abs(c - a) <= FRAME, (captions, heard)
    for v, a in zip(seen, heard, strict=True):
        assert abs(v - a) <= FRAME, (seen, heard)


def test_the_same_spec_renders_the_same_bytes(tmp_path, cut_render):
    spec, _, ass, _ = cut_render
    hooked = RenderSpec(**{**spec.__dict__, "effects": EffectsGraph(
        (*spec.effects.held, Hook("Same bytes every time", 2.0)))})  # fmt: skip
    text = ass + hook_event("Same bytes every time", 2.0, 1080, 1920, CaptionConfig())
    src = tmp_path / "source.mkv"
    _synthetic(src)
    digests = []
    for run in ("one", "two"):
        done = render_clip(hooked, str(src), (320, 240), True, tmp_path / run, text)
        digests.append(hashlib.sha256(done.video.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def _rgb_frames(path: Path, times: list[float], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    frames = []
    for t in times:
        raw = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path),
             "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        frames.append(np.frombuffer(raw, np.uint8).reshape(h, w, 3))
    return np.stack(frames)


@pytest.mark.parametrize("style", ["snap", "smooth"])
def test_zooms_keep_the_detected_face_in_frame(tmp_path, style):
    from clipray.models.faces import FaceDetector, FacesConfig

    if not HEAD.exists():
        pytest.fail(f"shared media missing: {HEAD}")
    # the talking head small on a wide frame, off centre: room to zoom, and a crop to follow
    source = tmp_path / "wide.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(HEAD), "-t", "14",
                    "-vf", "scale=300:300,pad=1280:720:260:300:color=0x305070", "-c:v",
                    "libx264", "-preset", "ultrafast", "-crf", "12", "-c:a", "copy",
                    str(source)], check=True)  # fmt: skip
    det = FaceDetector.load(FacesConfig(), threads=1)
    start, end = 4.0, 12.0
    ts = [start + k * 0.5 for k in range(17)]
    found = det.detect(_rgb_frames(source, ts, (1280, 720)), times=ts)
    track = Track(0, tuple(max(f, key=lambda b: b.score) for f in found if f))
    assert len(track.detections) >= 12, "the source's face is found"
    path = crop_path(1280, 720, start, end, [track], [], ReframeConfig(aspect="9:16"))
    zooms = plan_zooms([1.2, 6.0], end - start, style,
                       faces_on_output(path, [track], start))  # fmt: skip
    assert len(zooms.zooms) == 2
    assert all(z.scale > 1.1 for z in zooms.zooms)
    spec = RenderSpec(source_id="z" * 32, start=start, end=end, aspect="9:16",
                      reframe_filter=path.to_ffmpeg_filter(), captions="none",
                      effects=EffectsGraph((zooms,)))  # fmt: skip
    done = render_clip(spec, str(source), (1280, 720), True, tmp_path / "zoom", None)
    samples = [z.start + k * (z.end - z.start) / 6 for z in zooms.zooms for k in range(1, 6)]
    frames = _rgb_frames(done.video, samples, (1080, 1920))
    plain = _rgb_frames(done.video, [0.1], (1080, 1920))
    base = det.detect(plain)[0]
    assert base, "the face is found in the unzoomed clip"
    base_w = base[0].box[2] - base[0].box[0]
    for t, faces in zip(samples, det.detect(frames, times=samples), strict=True):
        assert faces, f"no face at {t:.2f} s"
        x1, y1, x2, y2 = faces[0].box
        # whole: not cut by the frame's edge (a detector box of a cut-off face touches it)
        assert min(x1, y1) > 2
        assert x2 < 1078
        assert y2 < 1918
        z = next(z for z in zooms.zooms if z.start <= t <= z.end)
        wx1, _, wx2, _ = window(style, z, t - 0.0)
        scale = 1 / (wx2 - wx1)
        if scale > 1.15:  # zoomed in: the face is that much larger, whole, not cut off
            assert x2 - x1 > 1.08 * base_w, (t, faces[0].box, base_w)
