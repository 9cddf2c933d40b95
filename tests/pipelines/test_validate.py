"""The upload policy against real files: a real video, damaged copies of it, generated ones."""

import dataclasses
import pickle
import subprocess
from pathlib import Path

import pytest

from clipray.pipelines.stages.decode import VideoInfo, probe
from clipray.pipelines.validate import (
    MediaLimits,
    MediaRejectedError,
    RejectCode,
    check_media,
    validate_file,
)

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
# 10 s, 640x360, h264 + aac, its moov index after the media data.
VIDEO = MEDIA / "talking_head" / "face_recognition" / "short_hamilton_clip.mp4"
AUDIO = MEDIA / "speech" / "whisper_jfk" / "jfk.wav"


@pytest.fixture(scope="module")
def video() -> Path:
    assert VIDEO.is_file(), f"test media missing: {VIDEO}"
    return VIDEO


def _ffmpeg(*args: str | Path) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, timeout=120
    )


def _testsrc(path: Path, size: str, *codec: str, seconds: float = 0.2) -> Path:
    """A tiny generated video: lavfi testsrc of ``size``, encoded with ``codec`` args."""
    _ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate=25", "-t", seconds, *codec, path)
    return path


def _x264(path: Path, size: str) -> Path:
    return _testsrc(path, size, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


def _rejected(path: Path, limits: MediaLimits | None = None) -> MediaRejectedError:
    with pytest.raises(MediaRejectedError) as caught:
        validate_file(path, limits or MediaLimits())
    return caught.value


def test_a_real_video_passes_and_returns_its_info(video):
    info = validate_file(video, MediaLimits())
    assert info == probe(video)
    assert abs(info.duration - 10.0) < 0.1
    assert (info.width, info.height) == (640, 360)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")


def _text(tmp: Path) -> Path:
    path = tmp / "x.mp4"
    path.write_text("not a video, just a text file with a video's name\n" * 50)
    return path


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_text, id="text-named-mp4"),
    ],
)
def test_what_is_not_a_video_is_refused_as_such(tmp_path, make):
    err = _rejected(make(tmp_path))
    assert err.code == "MEDIA_NOT_A_VIDEO"


@pytest.mark.parametrize(
    ("ext", "cover", "codec"),
    [
        pytest.param("flac", False, "flac", id="flac"),
        pytest.param("mp3", True, "mp3", id="mp3/cover-art"),
        pytest.param("m4a", True, "aac", id="m4a/cover-art"),
    ],
)
def test_an_audio_only_file_is_a_source_without_a_picture(tmp_path, ext, cover, codec):
    from tests.podcast import episode

    info = validate_file(episode(tmp_path, ext, cover=cover), MediaLimits())
    assert (info.has_video, info.has_cover, info.has_audio) == (False, cover, True)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (0, 0, "", codec)
    assert abs(info.duration - 11.0) < 0.1


def test_a_wav_named_mp4_is_judged_by_its_bytes(tmp_path):
    assert AUDIO.is_file(), f"test media missing: {AUDIO}"
    path = tmp_path / "speech.mp4"
    path.write_bytes(AUDIO.read_bytes())
    info = validate_file(path, MediaLimits())
    assert (info.has_video, info.audio_codec) == (False, "pcm_s16le")


def test_a_truncated_audio_file_is_corrupt(tmp_path):
    from tests.podcast import episode

    whole = episode(tmp_path, "m4a", cover=False)  # moov after the data: cut, it is gone
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert _rejected(cut).code == "MEDIA_CORRUPT"


def test_an_audio_codec_outside_the_list_is_refused(tmp_path):
    from tests.podcast import episode

    limits = MediaLimits(audio_codecs=("aac",))
    assert _rejected(episode(tmp_path, "flac", cover=False), limits).code == (
        "MEDIA_CODEC_NOT_ALLOWED")  # fmt: skip


def _truncated(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


@pytest.mark.parametrize(
    "faststart",
    [
        # ffprobe recognises the MP4 from its ftyp box but finds no moov index: probe fails.
        pytest.param(False, id="truncated/moov-at-end"),
        # The index survives and points past the end: the head decodes, the tail is empty.
        pytest.param(True, id="truncated/faststart"),
    ],
)
def test_a_truncated_mp4_is_corrupt(video, tmp_path, faststart):
    src = video
    if faststart:
        src = tmp_path / "faststart.mp4"
        _ffmpeg("-i", video, "-c", "copy", "-movflags", "+faststart", src)
        assert validate_file(src, MediaLimits()).width == 640  # whole, it is fine
    err = _rejected(_truncated(src, tmp_path / "half.mp4"))
    assert err.code == "MEDIA_CORRUPT"


def test_audio_outlasting_the_picture_is_not_truncation(tmp_path):
    path = tmp_path / "long_audio.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=1",
        "-f", "lavfi", "-i", "sine=duration=3",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", path,
    )  # fmt: skip
    info = validate_file(path, MediaLimits())
    assert info.duration > 2.5


def test_a_video_longer_than_the_limit_is_too_long(video):
    err = _rejected(video, MediaLimits(max_duration_s=5))
    assert err.code == "MEDIA_TOO_LONG"
    assert "10.0 s" in err.message
    assert "5 s" in err.message


def test_resolution_is_limited_in_either_orientation(tmp_path):
    err = _rejected(_x264(tmp_path / "wide.mp4", "4096x2304"))
    assert err.code == "MEDIA_RESOLUTION_TOO_HIGH"
    assert "4096x2304" in err.message

    portrait = probe(_x264(tmp_path / "portrait.mp4", "2160x3840"))
    assert (portrait.width, portrait.height) == (2160, 3840)
    check_media(portrait, MediaLimits())


@pytest.mark.parametrize(
    ("name", "codec", "expected"),
    [
        pytest.param("clip.avi", ("-c:v", "mjpeg"), "mjpeg", id="mjpeg-in-avi"),
        pytest.param("clip.gif", (), "gif", id="gif"),
    ],
)
def test_a_codec_outside_the_list_is_refused(tmp_path, name, codec, expected):
    err = _rejected(_testsrc(tmp_path / name, "160x120", *codec))
    assert err.code == "MEDIA_CODEC_NOT_ALLOWED"
    assert repr(expected) in err.message


def test_a_missing_file_is_not_a_media_rejection(tmp_path):
    with pytest.raises(FileNotFoundError):
        validate_file(tmp_path / "absent.mp4", MediaLimits())


def test_the_error_survives_pickling():
    err = MediaRejectedError(RejectCode.TOO_LONG, "duration 5.0 s exceeds the limit of 1 s")
    back = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes, as Ray round-trips
    assert (back.code, back.message, str(back)) == (err.code, err.message, str(err))


HD = VideoInfo(
    duration=60.0,
    fps=30.0,
    base_fps=30.0,
    width=1920,
    height=1080,
    has_audio=True,
    n_frames=1800,
    video_codec="h264",
    audio_codec="aac",
    start_time=0.0,
    container="mov,mp4,m4a,3gp,3g2,mj2",
)


def _hd(**changes: object) -> VideoInfo:
    return dataclasses.replace(HD, **changes)


@pytest.mark.parametrize(
    ("info", "code"),
    [
        pytest.param(HD, None, id="1080p/ok"),
        pytest.param(_hd(width=3840, height=2160), None, id="4k-landscape/ok"),
        pytest.param(_hd(width=2160, height=3840), None, id="4k-portrait/ok"),
        pytest.param(_hd(duration=4 * 3600.0), None, id="exactly-4h/ok"),
        pytest.param(_hd(has_audio=False, audio_codec=None), None, id="silent/ok"),
        pytest.param(_hd(video_codec="prores", audio_codec="pcm_s24le"), None, id="prores/ok"),
        pytest.param(_hd(duration=0.0), "MEDIA_CORRUPT", id="no-duration"),
        pytest.param(_hd(duration=float("nan")), "MEDIA_CORRUPT", id="nan-duration"),
        pytest.param(_hd(width=0, height=0), "MEDIA_CORRUPT", id="no-picture-size"),
        pytest.param(_hd(duration=4 * 3600.0 + 1), "MEDIA_TOO_LONG", id="4h-and-1s"),
        pytest.param(_hd(width=4096, height=2160), "MEDIA_RESOLUTION_TOO_HIGH", id="dci-4k"),
        pytest.param(_hd(width=3840, height=2161), "MEDIA_RESOLUTION_TOO_HIGH", id="short-side"),
        pytest.param(_hd(width=2161, height=3840), "MEDIA_RESOLUTION_TOO_HIGH", id="portrait"),
        pytest.param(_hd(width=2160, height=3841), "MEDIA_RESOLUTION_TOO_HIGH", id="long-side"),
        pytest.param(_hd(video_codec="mjpeg"), "MEDIA_CODEC_NOT_ALLOWED", id="video/mjpeg"),
        pytest.param(_hd(video_codec=""), "MEDIA_CODEC_NOT_ALLOWED", id="video/unknown"),
        pytest.param(_hd(audio_codec="pcm_u8"), "MEDIA_CODEC_NOT_ALLOWED", id="audio/pcm_u8"),
    ],
)
def test_check_media(info, code):
    if code is None:
        check_media(info, MediaLimits())
        return
    with pytest.raises(MediaRejectedError) as caught:
        check_media(info, MediaLimits())
    assert caught.value.code == code


def test_check_media_names_the_value_and_the_limit():
    with pytest.raises(MediaRejectedError) as caught:
        check_media(_hd(duration=7200.0), MediaLimits(max_duration_s=3600))
    assert "7200.0 s" in str(caught.value)
    assert "3600 s" in str(caught.value)
