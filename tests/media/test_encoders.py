"""The render's H.264 encoder: the argument lists of both encoders (pure), and the NVENC
probe against this machine's real ffmpeg, which has no usable NVIDIA GPU: ``auto`` falls
back to libx264 with the probe's reason, a forced ``h264_nvenc`` is ``ENCODER_UNAVAILABLE``."""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path

import pytest

from clipray.domain.errors import CodedError, DependencyMissing
from clipray.media.encoders import (
    GOP,
    NVENC,
    X264,
    EncoderUnavailable,
    choose,
    nvenc_listed,
    probe_args,
    probe_nvenc,
    video_args,
)
from clipray.media.ffmpeg import run

NVIDIA_DEVICE = Path("/dev/nvidiactl").exists()
no_gpu = pytest.mark.skipif(NVIDIA_DEVICE, reason="an NVIDIA device is present: NVENC may work")

# Two lines as ``ffmpeg -encoders`` prints them (flags, name, description).
LISTING = """Encoders:
 V..... = Video
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
"""


@pytest.fixture(autouse=True)
def _fresh_probe():
    """Each test probes anew (the probe is cached per process and binary)."""
    probe_nvenc.cache_clear()
    yield
    probe_nvenc.cache_clear()


@pytest.mark.unit
def test_x264_arguments_are_the_reproducible_path():
    assert video_args(X264, 20, "veryfast") == [
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-profile:v", "high",
        "-g", "250"]  # fmt: skip


@pytest.mark.unit
def test_nvenc_arguments_are_constant_quality_vbr_at_our_crf():
    assert video_args(NVENC, 23, "veryfast") == [
        "-c:v", "h264_nvenc", "-preset", "p5", "-tune", "hq", "-rc", "vbr", "-cq", "23",
        "-b:v", "0", "-profile:v", "high", "-g", "250"]  # fmt: skip


@pytest.mark.unit
@pytest.mark.parametrize("option", ["-profile:v", "-g"])
def test_both_encoders_share_profile_and_gop(option):
    x264, nvenc = video_args(X264, 20, "fast"), video_args(NVENC, 20, "fast")
    assert x264[x264.index(option) + 1] == nvenc[nvenc.index(option) + 1]
    assert nvenc[nvenc.index("-g") + 1] == str(GOP)


@pytest.mark.unit
def test_an_unknown_encoder_is_a_coded_error():
    with pytest.raises(CodedError) as err:
        video_args("libx265", 20, "fast")
    assert err.value.code == "ENCODER_INVALID"
    with pytest.raises(CodedError) as err:
        choose("gpu")
    assert err.value.code == "ENCODER_INVALID"


@pytest.mark.unit
def test_forced_libx264_needs_no_probe():
    assert choose(X264, ffmpeg="/nonexistent/ffmpeg").encoder == X264
    assert probe_nvenc.cache_info().currsize == 0


@pytest.mark.unit
@pytest.mark.parametrize(
    ("listing", "listed"),
    [
        pytest.param(LISTING, True, id="listed"),
        pytest.param(LISTING.replace("h264_nvenc ", "hevc_nvenc "), False, id="hevc-only"),
        pytest.param("NVIDIA NVENC h264_nvenc mentioned in a description only\n", False,
                     id="in-description"),
        pytest.param("", False, id="empty"),
    ],
)
def test_the_listing_is_read_by_its_name_column(listing, listed):
    assert nvenc_listed(listing) is listed


def test_the_real_listing_agrees_with_a_plain_search():
    out = run(["ffmpeg", "-hide_banner", "-encoders"]).stdout
    names = [line.split()[1] for line in out.splitlines() if len(line.split()) > 1]
    assert nvenc_listed(out) is (NVENC in names)
    assert X264 in names  # the reproducible path is always there


@no_gpu
def test_auto_picks_libx264_here_and_says_why(caplog):
    caplog.set_level(logging.INFO, logger="clipray.media.encoders")
    probe = probe_nvenc("ffmpeg")
    assert probe.usable is False
    listed = nvenc_listed(run(["ffmpeg", "-hide_banner", "-encoders"]).stdout)
    if listed:  # Debian's build: compiled in, no driver; the test encode is what fails
        assert "test encode failed" in probe.reason
        assert "\n" not in probe.reason
    else:
        assert "does not list h264_nvenc" in probe.reason
    choice = choose("auto")
    assert (choice.encoder, choice.reason) == (X264, probe.reason)
    assert any(probe.reason in r.getMessage() for r in caplog.records)


@no_gpu
def test_forced_nvenc_here_is_encoder_unavailable_naming_the_probe():
    with pytest.raises(EncoderUnavailable) as err:
        choose(NVENC)
    exc = err.value
    assert (exc.code, exc.status, exc.retryable) == ("ENCODER_UNAVAILABLE", 503, False)
    reason = probe_nvenc("ffmpeg").reason
    assert reason in exc.message
    assert exc.detail == {"encoder": NVENC, "reason": reason}


@no_gpu
def test_the_probe_encode_fails_here_as_a_render_would():
    proc = run(probe_args("ffmpeg"))
    assert proc.returncode != 0


def test_the_probe_runs_once_per_process_and_binary():
    first = probe_nvenc("ffmpeg")
    assert probe_nvenc.cache_info().misses == 1
    assert probe_nvenc("ffmpeg") is first
    assert choose("auto").reason == first.reason
    assert probe_nvenc.cache_info().misses == 1


def test_a_missing_ffmpeg_is_dependency_missing_and_not_remembered():
    with pytest.raises(DependencyMissing):
        choose("auto", ffmpeg="/nonexistent/ffmpeg")
    assert probe_nvenc.cache_info().currsize == 0


def _wrapper(tmp_path: Path, hide_nvenc: bool) -> tuple[str, Path]:
    """The real ffmpeg behind a script that logs each call and, with ``hide_nvenc``, leaves
    NVENC out of its listing: a build without it, which this machine does not have."""
    calls = tmp_path / "calls.log"
    script = tmp_path / "ffmpeg"
    real = shutil.which("ffmpeg")
    hide = f' | grep -v "{NVENC}"' if hide_nvenc else ""
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{calls}"\n'
        f'if [ "$2" = "-encoders" ]; then "{real}" "$@"{hide}; exit 0; fi\n'
        f'exec "{real}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), calls


def test_a_build_without_nvenc_is_not_test_encoded(tmp_path):
    ffmpeg, calls = _wrapper(tmp_path, hide_nvenc=True)
    probe = probe_nvenc(ffmpeg)
    assert probe.usable is False
    assert probe.reason == f"{ffmpeg} -encoders does not list h264_nvenc (not compiled in)"
    assert calls.read_text().splitlines() == ["-hide_banner -encoders"]


@no_gpu
def test_a_listed_nvenc_is_test_encoded_before_it_is_trusted(tmp_path):
    ffmpeg, calls = _wrapper(tmp_path, hide_nvenc=False)
    if not nvenc_listed(run([ffmpeg, "-hide_banner", "-encoders"]).stdout):
        pytest.skip("this ffmpeg has no h264_nvenc compiled in")
    os.remove(calls)
    probe = probe_nvenc(ffmpeg)
    assert probe.usable is False
    logged = calls.read_text().splitlines()
    assert len(logged) == 2
    assert "h264_nvenc" in logged[1]
    assert logged[1].endswith("-f null -")
