"""The pure parts of the ingest: which URLs need resolving, copy or transcode, the ffmpeg
arguments and the segment list's lines."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from clipray.streams.resolve import is_media_url, resolve
from clipray.streams.ring import WindowEvicted, WindowNotReceived
from clipray.streams.segmenter import (
    EncodeOptions,
    SourceProbe,
    audio_mode,
    choose_video_mode,
    error_text,
    input_args,
    parse_list_line,
    segment_args,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("url", [
    pytest.param("https://cdn.example.com/live/index.m3u8?token=1", id="hls"),
    pytest.param("https://cdn.example.com/live/manifest.mpd", id="dash"),
    pytest.param("rtmp://ingest.example.com/app/key", id="rtmp"),
    pytest.param("srt://203.0.113.5:9000?streamid=x", id="srt"),
    pytest.param("/var/media/talk.mp4", id="file"),
])  # fmt: skip
def test_media_urls_pass_through(url: str):
    assert is_media_url(url)
    assert resolve(url) == url


@pytest.mark.parametrize("url", [
    pytest.param("https://www.twitch.tv/somechannel", id="twitch"),
    pytest.param("https://www.youtube.com/watch?v=abc", id="youtube"),
])  # fmt: skip
def test_platform_pages_need_resolving(url: str):
    assert not is_media_url(url)


@pytest.mark.parametrize(("probe", "mode"), [
    pytest.param(SourceProbe("h264", "aac", 2.0), "copy", id="twitch-2s-gop"),
    pytest.param(SourceProbe("hevc", "aac", 4.0), "copy", id="hevc-4s"),
    pytest.param(SourceProbe("h264", "aac", 8.3), "transcode", id="obs-auto-gop"),
    pytest.param(SourceProbe("h264", "aac", None), "transcode", id="one-keyframe-seen"),
    pytest.param(SourceProbe("vp9", "opus", 1.0), "transcode", id="not-ts-codec"),
])  # fmt: skip
def test_copy_when_the_gop_allows_it(probe: SourceProbe, mode: str):
    assert choose_video_mode(probe, segment_s=2.0, max_copy_gop_s=4.0) == mode


def test_a_gop_as_long_as_the_segment_is_copied_even_past_the_limit():
    assert choose_video_mode(SourceProbe("h264", "aac", 6.0), segment_s=6.0,
                             max_copy_gop_s=4.0) == "copy"  # fmt: skip


def test_audio_is_copied_only_when_it_is_aac():
    assert audio_mode(SourceProbe("h264", "aac", 2.0)) == "copy"
    assert audio_mode(SourceProbe("h264", None, 2.0)) == "copy"  # no audio: the map is optional
    assert audio_mode(SourceProbe("h264", "opus", 2.0)) == "transcode"
    assert audio_mode(None) == "copy"


def test_transcoding_forces_a_keyframe_every_segment():
    args = segment_args(Path("/s"), 7, segment_s=2.0, video="transcode", audio="transcode",
                        encode=EncodeOptions())  # fmt: skip
    assert args[args.index("-force_key_frames") + 1] == "expr:gte(t,n_forced*2)"
    assert args[args.index("-sc_threshold") + 1] == "0"
    assert args[args.index("-c:a") + 1] == "aac"
    assert args[args.index("-reset_timestamps") + 1] == "1"
    assert args[args.index("-segment_list") + 1] == "pipe:1"
    assert args[-1] == "/s/r0007_%06d.ts"


def test_copying_encodes_nothing():
    args = segment_args(Path("/s"), 1, segment_s=2.0, video="copy", audio="copy",
                        encode=EncodeOptions())  # fmt: skip
    assert args[args.index("-c:v") + 1] == "copy"
    assert args[args.index("-c:a") + 1] == "copy"
    assert "-force_key_frames" not in args


def test_input_args_per_source_kind():
    assert input_args("/m/talk.mp4", rw_timeout_s=5) == ["-re", "-i", "/m/talk.mp4"]
    assert input_args("https://x/live.m3u8?t=1", rw_timeout_s=2.5) == [
        "-rw_timeout", "2500000", "-live_start_index", "-1", "-i",
        "https://x/live.m3u8?t=1"]  # fmt: skip
    assert input_args("srt://x:9000", rw_timeout_s=1) == [
        "-rw_timeout", "1000000", "-i", "srt://x:9000"]  # fmt: skip
    assert input_args("rtmp://0.0.0.0:1935/live/k", rw_timeout_s=5, listen=True) == [
        "-listen", "1", "-i", "rtmp://0.0.0.0:1935/live/k"]  # fmt: skip


@pytest.mark.parametrize(("line", "parsed"), [
    pytest.param("r0001_000003.ts,6.000000,8.040000\n", ("r0001_000003.ts", 2.04), id="csv"),
    pytest.param("r0001_000000.ts,0.000000,0.000000", None, id="empty-segment"),
    pytest.param("[segment @ 0x1] Opening 'x' for writing", None, id="not-a-list-line"),
])  # fmt: skip
def test_segment_list_lines(line: str, parsed: tuple[str, float] | None):
    got = parse_list_line(line)
    if parsed is None:
        assert got is None
    else:
        assert got is not None
        assert got[0] == parsed[0]
        assert got[1] == pytest.approx(parsed[1])


@pytest.mark.parametrize("exc", [
    pytest.param(WindowEvicted("gone", detail={"span": [4.0, 8.0]}), id="evicted"),
    pytest.param(WindowNotReceived("later"), id="not-received"),
])  # fmt: skip
def test_buffer_refusals_keep_their_code_across_a_pickle(exc):
    """The worker is a Ray actor: its refusals travel pickled to the caller."""
    back = pickle.loads(pickle.dumps(exc))  # noqa: S301 (our own bytes)
    assert type(back) is type(exc)
    assert (back.code, back.status, back.retryable, back.detail) == (
        exc.code, exc.status, exc.retryable, exc.detail)  # fmt: skip


@pytest.mark.parametrize(("line", "text"), [
    pytest.param("[srt @ 0x5598476d4300] [error] Connection to srt://h:1 failed: Input/output "
                 "error", "Connection to srt://h:1 failed: Input/output error", id="component"),
    pytest.param("[fatal] http://h/live.m3u8: Server returned 5XX Server Error reply",
                 "http://h/live.m3u8: Server returned 5XX Server Error reply", id="fatal"),
])  # fmt: skip
def test_error_lines_become_reasons_without_addresses(line: str, text: str):
    assert error_text(line) == text
