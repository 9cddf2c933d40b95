"""All-intra proxies and frame-exact export by stream copy, with the real FFmpeg.

Frame identity is checked on pixels: counter.mp4 shows its own frame number in every frame,
so an exported frame must look like the source frame it claims to be, and less like the
frames either side of it (an off-by-one fails).
"""

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.proxy import (
    AUDIO_RATE,
    FrameGrid,
    ProxyError,
    ProxyInfo,
    export_range,
    frame_grid,
    make_proxy,
    probe_proxy,
    reencode_range,
)
from tests.conftest import MEDIA
from tests.frames import gray_frames

CUTS = MEDIA / "scene_cuts" / "pyscenedetect"
COUNTER = CUTS / "counter.mp4"  # 3 s, 1920x1080, 10 fps: frame N shows the number N
VFR = CUTS / "goldeneye-vfr-drop3.mp4"  # every 3rd frame dropped; a cut at frame 90 (23.976)
JFK = MEDIA / "speech" / "whisper_jfk" / "jfk.wav"  # 11 s, 16 kHz mono
SIZE = (192, 108)


def write_mp4(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def _samples(path: Path) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a", "-ac", "1",
         "-f", "f32le", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.float32)


def _durations(path: Path) -> dict[str, float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration", "-of", "json",
         str(path)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {s["codec_type"]: float(s["duration"]) for s in json.loads(out)["streams"]}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def assert_frames_are(clip: np.ndarray, source: np.ndarray, start: int) -> None:
    """Clip frame k is source frame ``start + k``: above 30 dB, and closer than to its
    neighbours in the source."""
    for k, frame in enumerate(clip):
        own = _psnr(frame, source[start + k])
        assert own > 30, f"frame {k}: {own:.1f} dB against source frame {start + k}"
        for other in (start + k - 1, start + k + 1):
            if 0 <= other < len(source):
                assert _psnr(frame, source[other]) < own, f"frame {k} looks like {other}"


@pytest.fixture(scope="module")
def source_frames() -> np.ndarray:
    return gray_frames(COUNTER, SIZE)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ProxyInfo]:
    out = tmp_path_factory.mktemp("proxy") / "counter.proxy.mp4"
    return out, make_proxy(COUNTER, out, frame_grid(COUNTER))


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """counter at 320x180 with the JFK speech under it (16 kHz: the proxy resamples)."""
    out = tmp_path_factory.mktemp("talk") / "talk.mp4"
    write_mp4("-i", COUNTER, "-i", JFK, "-map", "0:v", "-map", "1:a", "-vf", "scale=320:180",
            "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", out)  # fmt: skip
    return out


def test_grid_of_a_constant_rate_source_is_its_frames():
    grid = frame_grid(COUNTER)
    assert grid == FrameGrid(Fraction(10), 30)
    assert (grid.time_of(15), grid.frame_at(1.5), grid.frame_at(1.4999), grid.duration_s) == (
        1.5, 15, 14, 3.0,
    )  # fmt: skip


def test_proxy_is_all_intra_with_every_grid_frame(proxy, source_frames):
    path, info = proxy
    assert info == ProxyInfo(30, Fraction(10), 1920, 1080, has_audio=False, all_intra=True)
    assert probe_proxy(path) == info
    assert_frames_are(gray_frames(path, SIZE), source_frames, 0)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(10, 20, id="middle"),
        pytest.param(0, 7, id="first"),
        pytest.param(23, 30, id="last"),
        pytest.param(29, 30, id="last-frame"),
    ],
)
def test_export_copies_exactly_the_range(proxy, source_frames, tmp_path, start, end):
    path, info = proxy
    out = tmp_path / "clip.mp4"
    exported = export_range(path, info, start, end, out)
    assert (exported.method, exported.frames) == ("copy", end - start)
    assert exported.duration_s == pytest.approx((end - start) / 10)
    clip = gray_frames(out, SIZE)
    assert len(clip) == end - start
    assert_frames_are(clip, source_frames, start)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_export_keeps_the_audio_with_its_frames(talk, tmp_path):
    """The audio of a copied range lasts as long as its video (AAC is cut in 21 ms frames)
    and is the proxy's own audio over that range."""
    proxy = tmp_path / "talk.proxy.mp4"
    info = make_proxy(talk, proxy, frame_grid(talk))
    assert info.has_audio
    assert _durations(proxy) == pytest.approx({"video": 3.0, "audio": 3.0}, abs=1e-3)

    out = tmp_path / "clip.mp4"
    assert export_range(proxy, info, 10, 20, out).method == "copy"
    assert len(gray_frames(out, SIZE)) == 10
    durations = _durations(out)
    assert durations["video"] == pytest.approx(1.0, abs=1e-6)
    assert abs(durations["audio"] - durations["video"]) < 0.05
    samples, whole = _samples(out), _samples(proxy)
    assert abs(len(samples) / AUDIO_RATE - 1.0) < 0.05
    # Past the first AAC frame (decoded without the one before it) the samples are the proxy's.
    skip = 2048
    np.testing.assert_allclose(samples[skip:AUDIO_RATE], whole[AUDIO_RATE + skip : 2 * AUDIO_RATE],
                               atol=1e-4)  # fmt: skip
    assert np.abs(samples).max() > 0.05  # JFK is speaking


def test_export_from_a_long_gop_file_reencodes_exactly(source_frames, tmp_path):
    normal = tmp_path / "normal.mp4"
    write_mp4("-i", COUNTER, "-vf", "scale=320:180", "-c:v", "libx264", "-preset", "ultrafast",
            "-g", "250", normal)  # fmt: skip
    info = probe_proxy(normal)
    assert (info.all_intra, info.frame_count, info.fps) == (False, 30, 10)
    out = tmp_path / "clip.mp4"
    exported = export_range(normal, info, 10, 20, out)
    assert (exported.method, exported.frames) == ("reencode", 10)
    assert_frames_are(gray_frames(out, SIZE), source_frames, 10)


def test_reencode_from_the_original_is_frame_exact(talk, source_frames, tmp_path):
    out = tmp_path / "clip.mp4"
    exported = reencode_range(talk, frame_grid(talk), 12, 17, out)
    assert (exported.method, exported.frames) == ("reencode", 5)
    assert_frames_are(gray_frames(out, SIZE), source_frames, 12)
    durations = _durations(out)
    assert abs(durations["audio"] - durations["video"]) < 0.05


@pytest.mark.parametrize(
    ("start", "end"), [(5, 5), (6, 5), (-1, 3), (20, 31)], ids=["empty", "reversed", "neg", "past"]
)
def test_invalid_ranges_are_refused(proxy, tmp_path, start, end):
    path, info = proxy
    with pytest.raises(ValueError, match="frame range"):
        export_range(path, info, start, end, tmp_path / "clip.mp4")
    with pytest.raises(ValueError, match="frame range"):
        reencode_range(COUNTER, info.grid, start, end, tmp_path / "clip.mp4")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("src", [JFK, MEDIA / "README.md"], ids=["audio-only", "text"])
def test_proxy_of_a_non_video_fails_and_leaves_nothing(tmp_path, src):
    out = tmp_path / "proxy.mp4"
    with pytest.raises(ProxyError):
        make_proxy(src, out, FrameGrid(Fraction(10), 30))
    assert not list(tmp_path.iterdir())


def test_variable_frame_rate_source_is_put_on_its_timestamp_grid(tmp_path):
    """A dropped frame repeats the one before it, so the cut PySceneDetect numbers 90 (at
    23.976 fps) is between proxy frames 89 and 90. The first 4 s at 320x136, timestamps
    kept as they are (``-fps_mode passthrough``), keep the test fast."""
    assert frame_grid(VFR) == FrameGrid(Fraction(24000, 1001), 239)  # 9.968 s of slots
    vfr = tmp_path / "vfr.mp4"
    write_mp4("-i", VFR, "-t", "4", "-vf", "scale=320:136", "-fps_mode", "passthrough",
            "-c:v", "libx264", "-preset", "ultrafast", vfr)  # fmt: skip
    grid = frame_grid(vfr)
    assert grid.fps == Fraction(24000, 1001)
    info = make_proxy(vfr, tmp_path / "vfr.proxy.mp4", grid)
    assert (info.frame_count, info.all_intra) == (grid.frame_count, True)
    frames = gray_frames(tmp_path / "vfr.proxy.mp4", SIZE)
    assert len(frames) == grid.frame_count
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))
    assert int(change.argmax()) + 1 == 90
