"""Image and text embeddings with open_clip, for visual search.

Weights: an open_clip pretrained tag (``laion2b_s34b_b79k``, fetched from the hub in
production) or a local checkpoint file. No PyPI package ships CLIP weights, so with none
configured :meth:`EmbedModel.load` raises :class:`WeightsUnavailableError` and the pipeline
skips the stage (``clipray doctor`` says visual search is off). ``random_init=True`` builds
the same network with random weights: the tests drive the real open_clip code path with
it, and nothing else may.

    >>> model = EmbedModel.load(EmbedConfig(pretrained="/models/vit-b-32.bin"))  # doctest: +SKIP
    >>> vecs = model.embed_images(frames)   # (N, dim) float32, unit length     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clipray.domain.errors import CodedError
from clipray.models.torchvision_compat import import_torchvision


class WeightsUnavailableError(CodedError):
    """No CLIP weights are configured: visual search is off until some are (409
    ``VISUAL_SEARCH_UNAVAILABLE``, what the search API answers; not retryable until an
    operator configures weights)."""

    code = "VISUAL_SEARCH_UNAVAILABLE"
    status = 409

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(type(self).code, message, **kw)


@dataclass(frozen=True)
class EmbedConfig:
    model_name: str = "ViT-B-32"
    """open_clip architecture."""
    pretrained: str | None = None
    """open_clip pretrained tag or a local checkpoint path; None: no weights."""
    device: str = "auto"
    """``auto`` takes CUDA when torch sees it."""
    batch_size: int = 32
    """Frames per forward pass."""
    random_init: bool = False
    """Random weights, for testing the code path only."""


class EmbedModel:
    """One loaded open_clip model: embeds RGB frames and text queries into one space."""

    def __init__(self, cfg: EmbedConfig, model: Any, preprocess: Any, tokenizer: Any) -> None:
        self.cfg = cfg
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, cfg: EmbedConfig) -> EmbedModel:
        if cfg.pretrained is None and not cfg.random_init:
            raise WeightsUnavailableError(
                "no CLIP weights configured: visual search is off "
                "(set an open_clip pretrained tag or a local checkpoint)"
            )
        import_torchvision()  # before open_clip, which imports torchvision
        import open_clip
        import torch

        device = cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model, _, preprocess = open_clip.create_model_and_transforms(
            cfg.model_name, pretrained=cfg.pretrained, device=device
        )
        model.eval()
        return cls(cfg, model, preprocess, open_clip.get_tokenizer(cfg.model_name))

    @property
    def dim(self) -> int:
        return int(self.model.visual.output_dim)

    def embed_images(self, frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Unit-length embeddings of ``frames`` ((N, H, W, 3) uint8 RGB, or N such frames
        of different sizes: CLIP's preprocessing resizes each), in batches."""
        import torch
        from PIL import Image

        out: list[np.ndarray] = []
        for start in range(0, len(frames), self.cfg.batch_size):
            batch = torch.stack(
                [
                    self.preprocess(Image.fromarray(f))
                    for f in frames[start : start + self.cfg.batch_size]
                ]
            ).to(self.device)
            with torch.inference_mode():
                vecs = self.model.encode_image(batch)
            out.append(torch.nn.functional.normalize(vecs.float(), dim=-1).cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings of text queries, comparable with image embeddings."""
        import torch

        tokens = self.tokenizer(texts).to(self.device)
        with torch.inference_mode():
            vecs = self.model.encode_text(tokens)
        return torch.nn.functional.normalize(vecs.float(), dim=-1).cpu().numpy().astype(np.float32)
