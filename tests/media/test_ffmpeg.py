"""The one ffmpeg/ffprobe runner, with real processes: a failed run is one error type with
the end of its log, a missing or unrunnable binary is DEPENDENCY_MISSING with the fix."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest

from clipray.clips.proxy import ProxyError, probe_streams
from clipray.clips.render import RenderError, ffmpeg_version, still
from clipray.domain.errors import CodedError, DependencyMissing
from clipray.media.ffmpeg import (
    TAIL_CHARS,
    FfmpegError,
    ffprobe_json,
    run,
    run_ffmpeg,
    tail,
    version,
)
from clipray.pipelines.stages.decode import ProbeError, probe
from clipray.pipelines.validate import MediaLimits, MediaRejectedError, validate_file

BAD_FILTER = ["-f", "lavfi", "-i", "color=c=black:s=64x64:d=0.2", "-vf", "nosuchfilter",
              "-f", "null", "-"]  # fmt: skip


@pytest.fixture
def not_video(tmp_path: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("these are notes, not a video\n" * 20)
    return path


@pytest.fixture
def tiny_video(tmp_path: Path) -> Path:
    out = tmp_path / "tiny.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=1", "-c:v", "libx264",
                "-pix_fmt", "yuv420p", str(out)])  # fmt: skip
    return out


# --- a failed run ----------------------------------------------------------------------
def test_a_bad_filter_is_an_ffmpeg_error_with_the_cause_from_the_log():
    with pytest.raises(FfmpegError) as err:
        run_ffmpeg(BAD_FILTER, what="null encode")
    exc = err.value
    assert (exc.code, exc.status, exc.retryable) == ("FFMPEG_FAILED", 500, False)
    assert exc.message.startswith("null encode failed (exit status ")
    assert "No such filter: 'nosuchfilter'" in exc.message
    assert exc.detail["returncode"] != 0


def test_a_callers_subclass_keeps_its_type_and_code():
    with pytest.raises(RenderError) as err:
        run_ffmpeg(BAD_FILTER, what="encode", error=RenderError)
    assert isinstance(err.value, FfmpegError)
    assert err.value.code == "RENDER_FAILED"
    assert "nosuchfilter" in err.value.message


def test_a_long_log_is_cut_to_its_end_at_a_line_start():
    # At debug level ffmpeg logs pages before the reason it failed, which comes last.
    args = ["-v", "debug", *BAD_FILTER]
    full = run(["ffmpeg", "-nostdin", "-hide_banner", *args]).stderr
    assert len(full) > TAIL_CHARS  # the case under test
    with pytest.raises(ProxyError) as err:
        run_ffmpeg(args, what="debug run", error=ProxyError, quiet=False)
    kept = err.value.message.split(": ", 1)[1]
    assert kept.startswith("...\n")
    assert TAIL_CHARS * 3 // 4 <= len(kept) <= TAIL_CHARS + 3
    lines = [" ".join(x.split()) for x in full.splitlines() if x.strip()]
    assert kept.endswith("\n".join(lines[-3:]))  # Conversion failed! and the two before
    assert kept[4:].splitlines()[0] in lines  # the first line kept is whole
    assert "No such filter: 'nosuchfilter'" in kept


@pytest.mark.parametrize(
    ("log", "limit", "expected"),
    [
        pytest.param("", 10, "", id="empty"),
        pytest.param("\n  one  \n\n two\n", 100, "one\ntwo", id="blank-lines-dropped"),
        pytest.param("a" * 30 + "\nbbbb\ncccc", 12, "...\nbbbb\ncccc", id="cut-at-a-line"),
        pytest.param("x" * 50, 10, "..." + "x" * 10, id="one-long-line"),
    ],
)
def test_tail(log: str, limit: int, expected: str):
    assert tail(log, limit) == expected


def test_a_probe_of_what_is_not_a_video_is_the_files_fault(not_video: Path):
    with pytest.raises(ProbeError) as err:
        probe(not_video)
    assert (err.value.code, err.value.status) == ("MEDIA_NOT_A_VIDEO", 422)
    assert "Invalid data found" in err.value.message


def test_ffprobe_json_reads_streams(tiny_video: Path):
    data = ffprobe_json(tiny_video, "-show_streams", "-select_streams", "v:0")
    (stream,) = data["streams"]
    assert (stream["width"], stream["height"], stream["codec_name"]) == (160, 90, "h264")
    assert probe(tiny_video).duration == pytest.approx(1.0, abs=0.05)


def test_versions():
    assert version("ffmpeg").startswith("ffmpeg version ")
    assert version("ffprobe").startswith("ffprobe version ")
    assert ffmpeg_version() == version("ffmpeg").split()[2]


# --- a missing tool ----------------------------------------------------------------------
def _assert_missing(exc: CodedError, tool: str, env: str) -> None:
    assert isinstance(exc, DependencyMissing)
    assert (exc.code, exc.status, exc.retryable) == ("DEPENDENCY_MISSING", 503, False)
    assert exc.detail["tool"] == tool
    assert "apt-get install -y ffmpeg" in exc.message
    assert env in exc.message


@pytest.fixture
def nowhere(tmp_path: Path) -> Path:
    return tmp_path / "not-installed" / "ffprobe"


@pytest.fixture
def not_executable(tmp_path: Path) -> Path:
    path = tmp_path / "ffmpeg"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o644)
    return path


def test_a_missing_ffprobe_is_dependency_missing(nowhere: Path, tiny_video: Path):
    with pytest.raises(DependencyMissing) as err:
        ffprobe_json(tiny_video, "-show_streams", ffprobe=str(nowhere))
    _assert_missing(err.value, "ffprobe", "CLIPRAY_FFPROBE_BIN")
    assert err.value.detail["binary"] == str(nowhere)


def test_a_non_executable_ffmpeg_is_dependency_missing(not_executable: Path, tmp_path: Path):
    with pytest.raises(DependencyMissing) as err:
        run_ffmpeg(BAD_FILTER, ffmpeg=str(not_executable))
    _assert_missing(err.value, "ffmpeg", "CLIPRAY_FFMPEG_BIN")
    with pytest.raises(DependencyMissing):
        version(str(not_executable))


def test_every_caller_lets_a_missing_tool_through(nowhere: Path, tiny_video: Path,
                                                  tmp_path: Path):  # fmt: skip
    """Not swallowed as the caller's own refusal: a missing ffprobe is no reason to call the
    file corrupt (MediaRejectedError, also a ValueError) or the proxy broken."""
    for call in (
        lambda: probe(tiny_video, str(nowhere)),
        lambda: validate_file(tiny_video, MediaLimits(), ffprobe=str(nowhere)),
        lambda: probe_streams(tiny_video, str(nowhere)),
    ):
        with pytest.raises(DependencyMissing) as err:
            call()
        assert not isinstance(err.value, (MediaRejectedError, ProbeError, ProxyError))
        _assert_missing(err.value, "ffprobe", "CLIPRAY_FFPROBE_BIN")
    with pytest.raises(DependencyMissing) as err:
        validate_file(tiny_video, MediaLimits(), ffmpeg=str(nowhere.with_name("ffmpeg")))
    _assert_missing(err.value, "ffmpeg", "CLIPRAY_FFMPEG_BIN")
    with pytest.raises(DependencyMissing):
        still(str(nowhere.with_name("ffmpeg")), str(tiny_video), 0.5, tmp_path / "t.jpg")


def test_errors_survive_pickling(nowhere: Path):
    """Ray carries a task's exception to the driver by pickling it."""
    with pytest.raises(DependencyMissing) as err:
        run([str(nowhere), "-version"])
    back = pickle.loads(pickle.dumps(err.value))  # noqa: S301 (our own bytes)
    assert (type(back), back.code, back.message, back.detail) == (
        DependencyMissing, "DEPENDENCY_MISSING", err.value.message, err.value.detail)
    proxy = pickle.loads(pickle.dumps(ProxyError("cut failed")))  # noqa: S301
    assert (type(proxy), proxy.code, proxy.status) == (ProxyError, "PROXY_FAILED", 500)


def test_a_timeout_is_the_callers_error():
    with pytest.raises(FfmpegError, match=r"did not finish in 0\.5 s"):
        run_ffmpeg(["-re", "-f", "lavfi", "-i", "nullsrc=d=30", "-f", "null", "-"], timeout=0.5)
    with pytest.raises(subprocess.TimeoutExpired):
        run(["ffmpeg", "-nostdin", "-re", "-f", "lavfi", "-i", "nullsrc=d=30", "-f", "null", "-"],
            timeout=0.5)  # fmt: skip
