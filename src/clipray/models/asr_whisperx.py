"""WhisperX as an optional ASR backend: forced word alignment (wav2vec2) and diarization.

WhisperX pins torch 2.8 and pyannote, which cannot share clipray's environment (torch
2.13). So it never runs in clipray's own processes: the ASR actor pool gets its own Ray
``runtime_env`` (:func:`runtime_env`) in which Ray installs WhisperX and its torch, and this
module is imported there. The actor offers the same interface as
:class:`clipray.models.asr.AsrModel` (``load``, ``transcribe_batch``) and returns the same
:class:`~clipray.schemas.Transcript`, so nothing downstream knows which backend ran.

Weights: ``model`` is a faster-whisper model name or a local CTranslate2 dir, as for the
default backend; the alignment model is WhisperX's default for the language or
``align_model``; diarization needs a Hugging Face token for pyannote in ``HF_TOKEN``.

    >>> cfg = WhisperXConfig(model="/models/large-v3", diarize=True)     # doctest: +SKIP
    >>> ds.map_batches(..., runtime_env=runtime_env(cfg))                 # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clipray.schemas import Segment, Transcript, Word


@dataclass(frozen=True)
class WhisperXConfig:
    model: str = "large-v3"
    """faster-whisper model name or local CTranslate2 dir."""
    device: str = "auto"
    """``auto`` takes CUDA when the runtime env's torch sees it."""
    compute_type: str = "default"
    """``default``: float16 on CUDA, int8 on CPU."""
    batch_size: int = 16
    """Audio windows per forward pass."""
    language: str | None = "en"
    """None detects it per chunk."""
    align_model: str | None = None
    """wav2vec2 alignment model (name or dir); None: WhisperX's default for the language."""
    diarize: bool = False
    """Label segments with speakers (pyannote; needs ``HF_TOKEN``)."""
    pip: tuple[str, ...] = ("whisperx==3.4.2",)
    """What the runtime env installs; WhisperX brings its own torch pin."""


def runtime_env(cfg: WhisperXConfig) -> dict[str, Any]:
    """The Ray runtime env of the WhisperX actors: its own packages, clipray's code."""
    return {"pip": list(cfg.pip), "env_vars": {"HF_HUB_DISABLE_TELEMETRY": "1"}}


def to_transcript(result: dict[str, Any], offset: float, model: str, language: str) -> Transcript:
    """WhisperX's aligned result -> clipray's Transcript, with clipray's invariants.

    Words WhisperX could not align (digits, symbols) have no times: they get the end of the
    word before (or the segment start), so words stay ordered and inside their segment.
    Word text gets the leading space whisper emits, so ``text == "".join(words)``.
    """
    segments: list[Segment] = []
    for seg in result.get("segments", []):
        s_start = float(seg.get("start", 0.0)) + offset
        s_end = max(float(seg.get("end", 0.0)) + offset, s_start)
        words: list[Word] = []
        cursor = s_start
        for w in seg.get("words", []):
            text = str(w.get("word", "")).strip()
            if not text:
                continue
            start = float(w["start"]) + offset if "start" in w else cursor
            end = float(w["end"]) + offset if "end" in w else start
            start = min(max(start, cursor, s_start), s_end)
            end = min(max(end, start), s_end)
            words.append(Word(start, end, " " + text, float(w.get("score", 0.0))))
            cursor = end
        if words:
            segments.append(
                Segment(
                    start=s_start,
                    end=s_end,
                    text="".join(w.word for w in words),
                    words=tuple(words),
                    speaker=seg.get("speaker"),
                )
            )
    return Transcript(language=language, model=model, segments=tuple(segments))


class WhisperXModel:
    """Runs inside the WhisperX runtime env (see the module docstring)."""

    def __init__(self, cfg: WhisperXConfig, asr: Any, align: Any, diarizer: Any, device: str):
        self.cfg = cfg
        self.asr = asr
        self.align = align  # (model, metadata) or None until the language is known
        self.diarizer = diarizer
        self.device = device

    @classmethod
    def load(cls, cfg: WhisperXConfig) -> WhisperXModel:
        import torch
        import whisperx

        device = cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        compute = cfg.compute_type
        if compute == "default":
            compute = "float16" if device == "cuda" else "int8"
        asr = whisperx.load_model(cfg.model, device, compute_type=compute, language=cfg.language)
        align = None
        if cfg.language:
            align = whisperx.load_align_model(
                language_code=cfg.language, device=device, model_name=cfg.align_model
            )
        diarizer = None
        if cfg.diarize:
            pipeline = getattr(whisperx, "DiarizationPipeline", None)
            if pipeline is None:
                from whisperx.diarize import DiarizationPipeline as pipeline
            diarizer = pipeline(use_auth_token=os.environ.get("HF_TOKEN"), device=device)
        return cls(cfg, asr, align, diarizer, device)

    def transcribe_batch(self, chunks: Sequence[tuple[np.ndarray, float]],
                         options: Any = None) -> list[Transcript]:  # fmt: skip
        """``AsrModel.transcribe_batch``'s contract; ``options`` (a ``DecodeOptions``) sets
        this call's beam on WhisperX's pipeline, which otherwise fixes it at load."""
        beam = getattr(options, "beam_size", None)
        if beam is None:
            return self._transcribe(chunks)
        loaded = self.asr.options
        self.asr.options = dataclasses.replace(loaded, beam_size=beam)
        try:
            return self._transcribe(chunks)
        finally:
            self.asr.options = loaded

    def _transcribe(self, chunks: Sequence[tuple[np.ndarray, float]]) -> list[Transcript]:
        import whisperx

        out: list[Transcript] = []
        for audio, offset in chunks:
            audio = np.asarray(audio, dtype=np.float32)
            result = self.asr.transcribe(audio, batch_size=self.cfg.batch_size)
            language = result.get("language") or self.cfg.language or ""
            align = self.align
            if align is None or (self.cfg.language is None and language):
                align = whisperx.load_align_model(
                    language_code=language, device=self.device, model_name=self.cfg.align_model
                )
            model_a, metadata = align
            result = whisperx.align(
                result["segments"], model_a, metadata, audio, self.device,
                return_char_alignments=False,
            )  # fmt: skip
            if self.diarizer is not None:
                assign = getattr(whisperx, "assign_word_speakers", None)
                if assign is None:
                    from whisperx.diarize import assign_word_speakers as assign
                result = assign(self.diarizer(audio), result)
            out.append(to_transcript(result, float(offset), self.cfg.model, language))
        return out
