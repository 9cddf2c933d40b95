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
from clipray.clips.effects.graph import EffectsGraph
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
