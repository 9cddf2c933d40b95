"""The encoders of a search query: sentence embeddings for the transcript, CLIP's text (or
image) tower for frames. Serve runs them as their own deployment
(:mod:`clipray.serve.encoders`); the CLI loads them in process.

    >>> enc = QueryEncoders.load(TextEmbedConfig(), EmbedConfig())       # doctest: +SKIP
    >>> enc.sentences(["a speech about the moon"]).shape                   # doctest: +SKIP
    (1, 384)
    >>> enc.visual_available                                                # doctest: +SKIP
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from clipray.models.embed import EmbedConfig, WeightsUnavailableError
from clipray.models.text_embed import TextEmbedConfig, TextEncoder

if TYPE_CHECKING:
    from clipray.config import Settings
    from clipray.models.embed import EmbedModel


class QueryEncoders:
    """Both encoders, loaded once; CLIP is None when no CLIP weights are configured (visual
    search is then reported unavailable, never answered with nothing)."""

    def __init__(self, sentence: TextEncoder, clip: EmbedModel | None) -> None:
        self.sentence = sentence
        self.clip = clip

    @classmethod
    def load(cls, text: TextEmbedConfig, clip: EmbedConfig) -> QueryEncoders:
        from clipray.models.embed import EmbedModel

        try:
            visual: EmbedModel | None = EmbedModel.load(clip)
        except WeightsUnavailableError:
            visual = None
        return cls(TextEncoder.load(text), visual)

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryEncoders:
        return cls.load(
            TextEmbedConfig(model=settings.text_embed_model),
            EmbedConfig(model_name=settings.clip_model, pretrained=settings.clip_pretrained),
        )

    @property
    def visual_available(self) -> bool:
        return self.clip is not None

    def sentences(self, texts: list[str]) -> np.ndarray:
        return self.sentence.embed(texts)

    def clip_texts(self, texts: list[str]) -> np.ndarray:
        """CLIP text embeddings, comparable with the indexed frames'."""
        if self.clip is None:
            raise WeightsUnavailableError("no CLIP weights configured: visual search is off")
        return self.clip.embed_texts(texts)

    def clip_images(self, frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """CLIP image embeddings of RGB frames: search by an example picture (a sequence:
        pictures of different sizes, as a batch of queries brings)."""
        if self.clip is None:
            raise WeightsUnavailableError("no CLIP weights configured: visual search is off")
        return self.clip.embed_images(frames)
