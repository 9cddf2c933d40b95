"""The query encoders as their own Serve deployment, with request batching.

The ingress holds a ``DeploymentHandle`` to it (``Ingress.bind(encoders=...)``): the models
load once per encoder replica instead of once per ingress replica, scale on their own (and
onto GPUs) through ``serve/options.py`` and ``serve_config.yaml``, and concurrent searches
are encoded in one batch (``@serve.batch``). Without Serve (tests with a TestClient,
``create_api``) the same interface runs the encoders in process
(:class:`clipray.services.search.LocalEncoders`).

    >>> vec = await encoders.sentence("a speech about the moon")    # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from ray import serve

from clipray.config import Settings
from clipray.models.query import QueryEncoders
from clipray.serve.options import QUERY_ENCODERS, deployment_kwargs
from clipray.services.search import Encoders, LocalEncoders

__all__ = ["BATCH", "Encoders", "HandleEncoders", "LocalEncoders", "QueryEncoderDeployment"]

BATCH = {"max_batch_size": 32, "batch_wait_timeout_s": 0.005}
"""Up to 32 queries per forward pass, waiting at most 5 ms for them to gather: a query
costs a few ms on a CPU, so a longer wait would cost more than the batch saves."""


@serve.deployment(**deployment_kwargs(QUERY_ENCODERS))
class QueryEncoderDeployment:
    """Sentence and CLIP encoders of search queries (words, or an example picture),
    batched across requests."""

    def __init__(self, settings: Settings | None = None) -> None:
        from clipray.config import get_settings

        self.enc = QueryEncoders.from_settings(settings or get_settings())

    def visual_available(self) -> bool:
        return self.enc.visual_available

    @serve.batch(**BATCH)
    async def sentence(self, texts: list[str]) -> list[np.ndarray]:
        return list(await asyncio.to_thread(self.enc.sentences, texts))

    @serve.batch(**BATCH)
    async def clip_text(self, texts: list[str]) -> list[np.ndarray | None]:
        if not self.enc.visual_available:
            return [None] * len(texts)
        return list(await asyncio.to_thread(self.enc.clip_texts, texts))

    @serve.batch(**BATCH)
    async def clip_image(self, pictures: list[np.ndarray]) -> list[np.ndarray | None]:
        """Each picture ``1 x H x W x 3``, of its own size (the ingress scaled it like an
        indexed frame): they go through CLIP's preprocessing as one batch of frames."""
        if not self.enc.visual_available:
            return [None] * len(pictures)
        frames = [p[0] for p in pictures]
        return list(await asyncio.to_thread(self.enc.clip_images, frames))


class HandleEncoders:
    """:class:`Encoders` through a handle to :class:`QueryEncoderDeployment`."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self._visual: bool | None = None

    async def visual_available(self) -> bool:
        """Asked once: the deployment's weights are fixed for its life, and every search
        needs the answer (a round trip per request would be pure overhead)."""
        if self._visual is None:
            self._visual = bool(await self.handle.visual_available.remote())
        return self._visual

    async def sentence(self, text: str) -> np.ndarray:
        return await self.handle.sentence.remote(text)

    async def clip_text(self, text: str) -> np.ndarray | None:
        return await self.handle.clip_text.remote(text)

    async def clip_image(self, pixels: np.ndarray) -> np.ndarray | None:
        """The decoded, scaled picture crosses to the replica (at most 256 x 256 x 3 bytes),
        so the ingress never loads CLIP."""
        return await self.handle.clip_image.remote(pixels)
