"""Audio energy on real speech and on signals whose answer is known."""

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest

from clipray.pipelines.stages.audio import AudioConfig, find_peaks, rms_curve, split_on_silence

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
CFG = AudioConfig()


def test_rms_of_a_sine_is_amplitude_over_root_two():
    t = np.arange(CFG.sample_rate * 3) / CFG.sample_rate
    curve = rms_curve(0.5 * np.sin(2 * np.pi * 440 * t), CFG)
    assert curve.shape == (30,)
    np.testing.assert_allclose(curve, 0.5 / np.sqrt(2), rtol=1e-3)


def test_chunks_on_hop_boundaries_concatenate_to_the_whole_curve():
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, CFG.sample_rate * 7 + 123)
    whole = rms_curve(audio, CFG)
    cut = CFG.hop * 23
    parts = np.concatenate([rms_curve(audio[:cut], CFG), rms_curve(audio[cut:], CFG)])
    np.testing.assert_array_equal(whole, parts)
    assert whole.size == 71  # 70 full hops and one partial


def test_bursts_are_the_peaks():
    rng = np.random.default_rng(1)
    audio = rng.normal(0, 0.01, CFG.sample_rate * 20)
    for start_s in (4.0, 12.5):
        i = int(start_s * CFG.sample_rate)
        audio[i : i + CFG.sample_rate // 5] += rng.normal(0, 0.5, CFG.sample_rate // 5)
    peaks = find_peaks(rms_curve(audio, CFG), CFG)
    assert len(peaks) == 2
    for peak, start_s in zip(peaks, (4.0, 12.5), strict=True):
        assert start_s - 1e-9 <= peak.t <= start_s + 0.1 + 1e-9  # one of the burst's 2 hops


def test_silence_has_no_peaks():
    assert find_peaks(rms_curve(np.zeros(CFG.sample_rate * 5), CFG), CFG) == []
    assert find_peaks(np.zeros(0, dtype=np.float32), CFG) == []


def test_speech_pauses_are_quieter_than_speech():
    """LJSpeech sentences are joined with 0.3 s of silence: those hops are the quiet ones."""
    flac = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032.flac"
    if not flac.exists():
        pytest.fail(f"shared media missing: {flac}")
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(flac), "-t", "60",
         "-ac", "1", "-ar", str(CFG.sample_rate), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    curve = rms_curve(np.frombuffer(raw, dtype=np.float32), CFG)
    tsv = flac.with_suffix(".segments.tsv").read_text().splitlines()
    rows = [line.split("\t") for line in tsv[1:] if line]
    gaps = [(float(a[2]), float(b[1])) for a, b in itertools.pairwise(rows)]
    gaps = [(e, s) for e, s in gaps if s < 60 and s - e >= 0.25]
    assert len(gaps) >= 5
    speech_level = float(np.median(curve))
    for end, start in gaps:
        mid = int(((end + start) / 2) / CFG.hop_s)
        assert curve[mid] < 0.2 * speech_level


def test_chunks_cut_at_pauses_and_rebuild_the_stream():
    cfg = AudioConfig(chunk_s=5.0, chunk_search_s=2.0)
    rng = np.random.default_rng(2)
    audio = rng.normal(0, 0.2, cfg.sample_rate * 23).astype(np.float32)
    pauses = (4.2, 8.6, 13.1)  # a quiet 0.3 s inside each search range
    for p in pauses:
        i = int(p * cfg.sample_rate)
        audio[i : i + int(0.3 * cfg.sample_rate)] *= 0.01
    blocks = np.array_split(audio, 17)  # uneven blocks, as a pipe delivers them
    chunks = list(split_on_silence(blocks, cfg))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), audio)
    np.testing.assert_array_equal(np.concatenate([c.rms for c in chunks]), rms_curve(audio, cfg))
    cuts = [c.offset for c in chunks[1:]]
    for cut, pause in zip(cuts, pauses, strict=False):
        assert pause <= cut <= pause + 0.3  # inside the pause
    assert all(len(c.samples) <= cfg.chunk_s * cfg.sample_rate for c in chunks)
