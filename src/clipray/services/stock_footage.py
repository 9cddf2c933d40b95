"""Stock footage from Pexels as a :class:`~clipray.services.library.BrollProvider`.

``GET {base}/videos/search?query=&per_page=`` with ``Authorization: <key>``
(``CLIPRAY_PEXELS_API_KEY``) answers ``videos[]``, each with ``video_files[]`` (``link``,
``width``, ``height``, ``file_type``) and its ``duration``. For each video the smallest
file at least 720 pixels high is downloaded (the largest when none is), then ingested as a
source of the workspace (validated by ffprobe, stored on its media bucket, recorded; the
same bytes again are the same source): a clip never reads footage from outside its bucket.

    >>> provider = PexelsProvider(PexelsConfig(key), ctx)                # doctest: +SKIP
    >>> [c.key for c in provider.candidates("city at night", 2)]        # doctest: +SKIP
    ['3fa4.../sources/9b1c.../original.mp4', ...]
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from clipray.clips.broll import LibraryClip, word_key
from clipray.config import Settings
from clipray.domain.enums import SourceOrigin
from clipray.domain.errors import CodedError, RateLimited, Unavailable
from clipray.pipelines.ingest import IngestContext, Ingested, ingest_path

__all__ = ["PexelsConfig", "PexelsProvider", "pexels", "pick_file"]

PEXELS_API = "https://api.pexels.com"


@dataclass(frozen=True)
class PexelsConfig:
    api_key: str
    base_url: str = PEXELS_API
    timeout_s: float = 30.0
    min_height: int = 720
    """A vertical 1080x1920 clip crops the middle of the footage: below 720 lines the crop
    is blurry; far above, the download is large for a 3-second cutaway."""
    max_bytes: int = 200 * 1024**2
    """A longer or larger file is refused mid-download: a cutaway needs seconds of it."""


def pick_file(files: list[dict[str, Any]], min_height: int) -> dict[str, Any] | None:
    """The smallest MP4 at least ``min_height`` high, else the highest there is."""
    mp4 = [f for f in files if f.get("link") and f.get("file_type", "video/mp4") == "video/mp4"
           and isinstance(f.get("height"), int)]  # fmt: skip
    tall = [f for f in mp4 if f["height"] >= min_height]
    if tall:
        return min(tall, key=lambda f: (f["height"], f.get("width") or 0))
    return max(mp4, key=lambda f: f["height"], default=None)


class PexelsProvider:
    """Pexels' video search, each answer ingested into the workspace before it is offered."""

    def __init__(self, cfg: PexelsConfig, ctx: IngestContext) -> None:
        self.cfg = cfg
        self.ctx = ctx

    def _get(self, client: httpx.Client, url: str, **kw: Any) -> httpx.Response:
        try:
            r = client.get(url, **kw)
        except httpx.HTTPError as exc:
            raise Unavailable("STOCK_FOOTAGE_UNAVAILABLE", f"Pexels did not answer: {exc}",
                              retryable=True) from exc  # fmt: skip
        if r.status_code == 429:
            wait = r.headers.get("retry-after", "")
            raise RateLimited("STOCK_FOOTAGE_RATE_LIMITED", "Pexels' rate limit was reached",
                              retry_after=int(wait) if wait.isdigit() else None)  # fmt: skip
        if r.status_code in (401, 403):
            raise CodedError("STOCK_FOOTAGE_REFUSED", "Pexels refused the API key "
                             "(CLIPRAY_PEXELS_API_KEY)", status=502)  # fmt: skip
        if r.status_code >= 400:
            raise Unavailable("STOCK_FOOTAGE_UNAVAILABLE",
                              f"Pexels answered {r.status_code}", retryable=r.status_code >= 500)
        return r

    def candidates(self, text: str, limit: int) -> list[LibraryClip]:
        """Up to ``limit`` videos Pexels finds for ``text``, each now a source of the
        workspace; a video without a usable file is skipped.

        Raises:
            Unavailable: 503 ``STOCK_FOOTAGE_UNAVAILABLE`` (no answer, or a 5xx).
            RateLimited: 429 ``STOCK_FOOTAGE_RATE_LIMITED``.
            CodedError: 502 ``STOCK_FOOTAGE_REFUSED``, the key was refused.
        """
        if limit < 1 or not text.strip():
            return []
        tags = tuple(dict.fromkeys(k for k in (word_key(w) for w in text.split()) if k))[:20]
        with httpx.Client(timeout=self.cfg.timeout_s, follow_redirects=True) as client:
            r = self._get(client, f"{self.cfg.base_url.rstrip('/')}/videos/search",
                          params={"query": text.strip(), "per_page": limit},
                          headers={"Authorization": self.cfg.api_key})  # fmt: skip
            try:
                videos = list(r.json().get("videos") or [])
            except ValueError as exc:
                raise Unavailable("STOCK_FOOTAGE_UNAVAILABLE",
                                  "Pexels answered something that is not JSON") from exc
            out = []
            for video in videos[:limit]:
                chosen = pick_file(list(video.get("video_files") or []), self.cfg.min_height)
                if chosen is None:
                    continue
                got = self._store(client, chosen["link"])
                out.append(LibraryClip(got.source.id, got.source.storage_key, "broll", tags,
                                       f"pexels-{video.get('id', '')}",
                                       got.source.duration_s))  # fmt: skip
        return out

    def _store(self, client: httpx.Client, link: str) -> Ingested:
        """Download ``link`` and ingest it (the same bytes again: the existing source)."""
        with tempfile.TemporaryDirectory(prefix="clipray-stock-") as tmp:
            path = Path(tmp) / "footage.mp4"
            size = 0
            try:
                with client.stream("GET", link) as r, path.open("wb") as f:
                    if r.status_code >= 400:
                        raise Unavailable("STOCK_FOOTAGE_UNAVAILABLE",
                                          f"Pexels' file answered {r.status_code}")
                    for chunk in r.iter_bytes():
                        size += len(chunk)
                        if size > self.cfg.max_bytes:
                            raise CodedError("STOCK_FOOTAGE_TOO_LARGE", "the footage is over "
                                             f"{self.cfg.max_bytes} bytes", status=502)
                        f.write(chunk)
            except httpx.HTTPError as exc:
                raise Unavailable("STOCK_FOOTAGE_UNAVAILABLE",
                                  f"the footage did not download: {exc}") from exc
            return ingest_path(self.ctx, path, SourceOrigin.URL, link)


def pexels(settings: Settings, ctx: IngestContext) -> PexelsProvider | None:
    """The configured Pexels provider of ``ctx``'s workspace; None without a key."""
    key = settings.pexels_api_key
    if key is None or not key.get_secret_value():
        return None
    return PexelsProvider(PexelsConfig(key.get_secret_value(), settings.pexels_base_url), ctx)
