"""The encoder choice inside a render: ``auto`` on this GPU-less machine renders the same
bytes as libx264 (the encoder options add nothing x264 did not already do), the encoder
used is recorded beside the spec and outside its hash, and a forced ``h264_nvenc`` fails
before anything is written."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from clipray.clips.audiogram import AudiogramSpec, audiogram_args
from clipray.clips.loudness import Normalised
from clipray.clips.render import (
    BITEXACT,
    ENCODER_RESULT,
    LOUDNESS_RESULT,
    Rendered,
    RenderSpec,
    encode_args,
    render_clip,
    video_filter,
    with_results,
)
from clipray.media.encoders import NVENC, X264, Choice, EncoderUnavailable, probe_nvenc
from clipray.pipelines.clipjob import spec_hash

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
HEAD = MEDIA / "talking_head" / "liveportrait" / "d6.mp4"  # 33.6 s, 480x480, 30 fps, audio
JFK = MEDIA / "speech" / "whisper_jfk" / "jfk.wav"
NO_GPU = not Path("/dev/nvidiactl").exists()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def media():
    for path in (HEAD, JFK):
        if not path.exists():
            pytest.fail(f"shared media missing: {path}")


@pytest.mark.unit
def test_the_encode_takes_the_encoder_and_keeps_the_rest():
    spec = RenderSpec(source_id="a" * 32, start=1.0, end=3.0)
    x264 = encode_args("ffmpeg", "in.mp4", spec, "null", Path("a.wav"), Path("o.mp4"))
    nvenc = encode_args("ffmpeg", "in.mp4", spec, "null", Path("a.wav"), Path("o.mp4"),
                         encoder=NVENC)  # fmt: skip
    assert x264[x264.index("-c:v") + 1] == X264
    assert nvenc[nvenc.index("-c:v") + 1] == NVENC
    assert nvenc[nvenc.index("-cq") + 1] == str(spec.crf)
    for args in (x264, nvenc):  # frame rate, audio, bit-exact flags and faststart as before
        assert args[args.index("-r") + 1] == "30"
        assert args[args.index("-c:a") + 1] == "aac"
        joined = " ".join(args)
        assert " ".join(BITEXACT) in joined
        assert "-movflags +faststart" in joined
    audiogram = audiogram_args("ffmpeg", Path("a.wav"), None, "g", 2.0, 20, "veryfast",
                               "160k", Path("o.mp4"), NVENC)  # fmt: skip
    assert audiogram[audiogram.index("-c:v") + 1] == NVENC


@pytest.mark.unit
def test_the_encoder_is_recorded_beside_the_spec_not_in_its_hash():
    spec = RenderSpec(source_id="a" * 32, start=1.0, end=3.0, versions={"ffmpeg": "5.1"})
    planned = spec.to_json()
    assert ENCODER_RESULT not in planned
    loud = Normalised(-14.0, -20.0, -3.0, 6.0, False, -14.0, -1.6, True)
    stored = with_results(planned, Rendered(Path("c.mp4"), loud, Choice(NVENC, "probed")).results())
    assert stored[ENCODER_RESULT] == NVENC
    assert stored[LOUDNESS_RESULT] == loud.to_json()
    assert RenderSpec.from_json(stored) == spec
    assert spec_hash(RenderSpec.from_json(stored)) == spec_hash(spec)
    # a later render of the same clip replaces both results; one without audio drops loudness
    again = with_results(stored, Rendered(Path("c.mp4"), None, Choice(X264, "")).results())
    assert again == {**planned, ENCODER_RESULT: X264}


def test_auto_renders_the_same_bytes_as_libx264_and_records_it(media, tmp_path):
    spec = RenderSpec(source_id="a" * 32, start=4.0, end=6.0, captions="none")
    auto = [render_clip(spec, str(HEAD), (480, 480), True, tmp_path / f"auto{i}") for i in (0, 1)]
    forced = render_clip(spec, str(HEAD), (480, 480), True, tmp_path / "x264", encoder=X264)
    assert _sha(auto[0].video) == _sha(auto[1].video) == _sha(forced.video)
    if NO_GPU:
        assert auto[0].encoder == Choice(X264, probe_nvenc("ffmpeg").reason)
    assert forced.encoder.encoder == X264
    assert forced.results()[ENCODER_RESULT] == X264
    info = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,profile,pix_fmt,width,height", "-of", "json", str(forced.video)],
        capture_output=True, text=True, check=True).stdout)["streams"][0]  # fmt: skip
    assert info == {"codec_name": "h264", "profile": "High", "pix_fmt": "yuv420p",
                    "width": 1080, "height": 1920}  # fmt: skip


def test_the_gop_option_leaves_x264s_bytes_as_they_were(media, tmp_path):
    """``-g 250`` is x264's default written out: the encode without it gives the same
    bytes, so clips rendered before the encoder choice are reproduced exactly."""
    spec = RenderSpec(source_id="a" * 32, start=4.0, end=13.0, captions="none")  # > 250 frames
    now = encode_args("ffmpeg", str(HEAD), spec, video_filter(spec, 480, 480, None), None,
                      tmp_path / "now.mp4")  # fmt: skip
    g = now.index("-g")
    before = [*now[:g], *now[g + 2:-1], str(tmp_path / "before.mp4")]
    for args in (now, before):
        subprocess.run(args, check=True)
    assert _sha(tmp_path / "now.mp4") == _sha(tmp_path / "before.mp4")


def test_an_audiogram_records_its_encoder(media, tmp_path):
    spec = RenderSpec(source_id="a" * 32, start=1.0, end=3.0, captions="none",
                      audiogram=AudiogramSpec())  # fmt: skip
    done = render_clip(spec, str(JFK), (0, 0), True, tmp_path / "ag", encoder=X264)
    assert done.video.stat().st_size > 0
    assert done.results()[ENCODER_RESULT] == X264


@pytest.mark.skipif(not NO_GPU, reason="an NVIDIA device is present: NVENC may work")
def test_forced_nvenc_here_fails_before_anything_is_written(media, tmp_path):
    probe_nvenc.cache_clear()
    spec = RenderSpec(source_id="a" * 32, start=4.0, end=6.0)
    work = tmp_path / "never"
    with pytest.raises(EncoderUnavailable) as err:
        render_clip(spec, str(HEAD), (480, 480), True, work, encoder=NVENC)
    assert err.value.code == "ENCODER_UNAVAILABLE"
    assert not work.exists()
