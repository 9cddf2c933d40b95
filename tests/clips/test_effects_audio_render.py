"""The audio step rendered by the real FFmpeg: a censored word silenced (the synthetic
source of ``test_effects_render``, whose words sound as tones known to the sample) or
bleeped over real speech (the JFK recording, with noise under it, denoised in the same
render); the captions star the word; the loudness stays on target."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.captions import CaptionConfig, build_ass
from clipray.clips.effects.audio import BLEEP_HZ, CensorConfig, plan_audio, star_words
from clipray.clips.effects.graph import Audio, EffectsGraph
from clipray.clips.loudness import measure
from clipray.clips.render import RenderSpec, audio_effects_args, render_clip
from clipray.schemas import Word
from tests.clips.test_effects_render import MEDIA, SCRIPT, _synthetic

pytestmark = pytest.mark.integration

JFK = MEDIA / "speech" / "whisper_jfk" / "jfk.wav"
LEAD = 0.5
"""Seconds of noise alone before the speech in the JFK source: where the noise floor is
measured."""
RATE = 48000


def _pcm(path: Path) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
         "-ar", str(RATE), "-f", "f32le", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.float32)


def _rms(x: np.ndarray, a: float, b: float) -> float:
    return float(np.sqrt(np.mean(x[int(a * RATE):int(b * RATE)] ** 2)))


def _share_at(x: np.ndarray, a: float, b: float, hz: float) -> float:
    """The share of the energy of ``x[a:b]`` within 50 Hz of ``hz``."""
    seg = x[int(a * RATE):int(b * RATE)]
    power = np.abs(np.fft.rfft(seg * np.hanning(len(seg)))) ** 2
    freqs = np.fft.rfftfreq(len(seg), 1 / RATE)
    return float(power[np.abs(freqs - hz) <= 50].sum() / power.sum())


def _on_target(video: Path) -> None:
    got = measure("ffmpeg", video)
    assert abs(got.integrated - -14.0) <= 1.0, got


def test_a_censored_word_is_silent_and_starred(tmp_path):
    src = tmp_path / "source.mkv"
    _synthetic(src)
    words = [Word(a, b, f" {w}", 1.0) for a, b, w in SCRIPT]
    start, end = 0.0, 5.0
    step = plan_audio(words, end - start, CensorConfig(("THIS",), "silence"), denoise=False)
    assert step is not None
    assert step.spans == ((1.22, 1.65),)
    spec = RenderSpec(source_id="c" * 32, start=start, end=end, aspect="1:1",
                      effects=EffectsGraph((step,)))  # fmt: skip
    ass = build_ass(star_words(words, step.censor), start, end, 1080, 1080, CaptionConfig())
    assert "t***" in ass
    assert "this" not in ass
    done = render_clip(spec, str(src), (320, 240), True, tmp_path / "out", ass)
    x = _pcm(done.video)
    said = [_rms(x, a + 0.05, b - 0.05) for a, b, w in SCRIPT if b <= end and w != "this"]
    assert min(said) > 0.05
    muted = _rms(x, 1.27 + 0.03, 1.60 - 0.03)
    assert muted < min(said) / 1000, (muted, said)  # at least 60 dB down
    assert done.loudness is not None
    assert done.loudness.reached
    _on_target(done.video)


def test_real_speech_is_bleeped_and_denoised_at_the_target_loudness(tmp_path):
    if not JFK.exists():
        pytest.fail(f"shared media missing: {JFK}")
    src = tmp_path / "speech.mkv"
    # the speech LEAD s in, white noise at -40 dBFS under all of it, on a black picture
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", "color=c=black:s=320x240:r=30:d=5",
         "-f", "lavfi", "-i", "anoisesrc=a=0.01:c=white:r=48000:d=5:seed=7", "-i", str(JFK),
         "-filter_complex", f"[2:a]aresample=48000,adelay={int(LEAD * 1000)}:all=1,apad[s];"
         "[1:a][s]amix=inputs=2:normalize=0:duration=first[a]",
         "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "pcm_f32le", str(src)], check=True,
    )  # fmt: skip
    # "Americans" is said at about 1.8 s of the recording (the media's README)
    words = [Word(LEAD + 1.1, LEAD + 1.5, " fellow", 1.0),
             Word(LEAD + 1.6, LEAD + 2.3, " Americans,", 1.0)]  # fmt: skip
    step = plan_audio(words, 5.0, CensorConfig(("americans",)), denoise=True)
    assert step is not None
    args = audio_effects_args("ffmpeg", Path("in.wav"), step, Path("out.wav"))
    assert args is not None
    assert any(a.startswith("afftdn=") for a in args)
    spec = RenderSpec(source_id="j" * 32, start=0.0, end=5.0, aspect="1:1",
                      effects=EffectsGraph((step,)))  # fmt: skip
    ass = build_ass(star_words(words, step.censor), 0.0, 5.0, 1080, 1080, CaptionConfig())
    assert "A********," in ass
    assert "Americans" not in ass
    done = render_clip(spec, str(src), (320, 240), True, tmp_path / "out", ass)
    x, before = _pcm(done.video), _pcm(src)
    (a, b), = step.spans
    assert _share_at(x, a + 0.03, b - 0.03, BLEEP_HZ) > 0.95  # the word is the tone alone
    assert _share_at(x, LEAD + 0.4, LEAD + 1.4, BLEEP_HZ) < 0.2  # speech around it is not
    assert _share_at(before, a + 0.03, b - 0.03, BLEEP_HZ) < 0.2  # nor was the word
    # denoised: the noise floor fell against the speech (a ratio the loudness gain keeps)
    snr_in = _rms(before, LEAD, a) / _rms(before, 0.05, LEAD - 0.05)
    snr_out = _rms(x, LEAD, a) / _rms(x, 0.05, LEAD - 0.05)
    assert 20 * np.log10(snr_out / snr_in) > 5.0, (snr_in, snr_out)
    assert done.loudness is not None
    assert done.loudness.reached
    _on_target(done.video)


def _band(x: np.ndarray, a: float, b: float, hz: float) -> float:
    """The mean power of ``x[a:b]`` within 50 Hz of ``hz``."""
    seg = x[int(a * RATE):int(b * RATE)]
    power = np.abs(np.fft.rfft(seg * np.hanning(len(seg)))) ** 2 / len(seg)
    freqs = np.fft.rfftfreq(len(seg), 1 / RATE)
    return float(power[np.abs(freqs - hz) <= 50].sum())


def test_music_loops_under_the_clip_and_ducks_while_words_are_said(tmp_path):
    src = tmp_path / "source.mkv"
    _synthetic(src)
    music = tmp_path / "bed.wav"  # 2 s of 300 Hz: shorter than the clip, so it loops
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=300:sample_rate=44100:duration=2", str(music)],
                   check=True)  # fmt: skip
    words = [Word(a, b, f" {w}", 1.0) for a, b, w in SCRIPT]
    step = plan_audio(words, 5.0, None, denoise=False, music=str(music))
    assert step is not None
    spec = RenderSpec(source_id="m" * 32, start=0.0, end=5.0, aspect="1:1", captions="none",
                      effects=EffectsGraph((step,)))  # fmt: skip
    done = render_clip(spec, str(src), (320, 240), True, tmp_path / "out", None,
                       music=str(music))  # fmt: skip
    x = _pcm(done.video)
    # a pause from 2.0 s to 3.9 s (the music's second loop): the bed at its own level
    pause = _band(x, 2.7, 3.8, 300)
    said = [_band(x, a + 0.08, b - 0.03, 300) for a, b, w in SCRIPT if b <= 5.0 and a > 3.0]
    assert pause > 0
    for p in said:  # under every word it is pressed down at least 8 dB
        assert 10 * np.log10(pause / p) > 8.0, (pause, said)
    assert _share_at(x, 2.7, 3.8, 300) > 0.9  # the pause is the music alone
    assert done.loudness is not None
    assert done.loudness.reached
    _on_target(done.video)
    with pytest.raises(Exception, match="music"):
        render_clip(spec, str(src), (320, 240), True, tmp_path / "none", None)


def test_a_music_file_that_is_not_there_is_refused_with_a_code(tmp_path):
    from clipray.config import Settings
    from clipray.domain.errors import NotFound
    from clipray.pipelines.music import music_at

    bed = tmp_path / "bed.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=300:duration=0.5", str(bed)], check=True)  # fmt: skip
    spec = RenderSpec(source_id="m" * 32, start=0.0, end=3.0,
                      effects=EffectsGraph((Audio(music=str(bed)),)))  # fmt: skip
    assert music_at(spec, Settings(), "w" * 32) == str(bed)
    bed.unlink()
    with pytest.raises(NotFound) as err:
        music_at(spec, Settings(), "w" * 32)
    assert err.value.code == "MUSIC_NOT_FOUND"
    assert music_at(RenderSpec(source_id="m" * 32, start=0.0, end=3.0), Settings(), "w") is None
