"""Search: the one flow behind ``POST /api/search`` and ``clipray search``.

Check an example picture first (words or a picture, never both; see
:mod:`clipray.services.search_picture`), resolve what the query may see (a source, a job's
source, or the whole workspace), encode the query's words or picture (the Serve encoder
deployment, or the encoders in this process), run the index's
lists and group them into moments, name each moment's newest job, and give each result a
thumbnail link. Thumbnail links are signed (HMAC over source, time and expiry), so an
``<img>`` loads them without a Bearer header; the signed route then redirects to the JPEG.

    >>> page = asyncio.run(search(svc, ws, SearchRequest("the moon"), encoders))  # doctest: +SKIP
    >>> page.results[0]["thumbnail_url"]                                        # doctest: +SKIP
    '/api/search/thumbnails/3fa4...?t=12.500&exp=1767000000&sig=...'
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlencode

import numpy as np

from clipray.clips.render import RenderError, still
from clipray.config import Settings
from clipray.domain.errors import CodedError, Conflict, Forbidden, NotFound
from clipray.services.access import owned
from clipray.services.search_picture import picture_pixels
from clipray.storage.keys import is_id, thumbnail_key
from clipray.storage.orm import Job, Source
from clipray.storage.search import MODES as MODES  # the modes a door may offer
from clipray.storage.search import (
    Mode,
    Query,
    QueryVectors,
    SearchError,
    latest_jobs,
    restrict,
    result_dict,
    run_search,
    thumbnail_at,
)

if TYPE_CHECKING:
    from clipray.models.query import QueryEncoders
    from clipray.storage.db import Database
    from clipray.storage.index import SearchIndex
    from clipray.storage.objects import Buckets

THUMB_WIDTH = 320
"""Pixels across a search result's thumbnail: a grid of results, not a poster."""
THUMBNAIL_ROUTE = "/api/search/thumbnails"


class Encoders(Protocol):
    """What search needs of the query encoders: one query in, its vector out."""

    async def visual_available(self) -> bool:
        """Whether CLIP weights are configured (else visual search is unavailable)."""
        ...

    async def sentence(self, text: str) -> np.ndarray: ...

    async def clip_text(self, text: str) -> np.ndarray | None:
        """None: no CLIP weights (visual search unavailable)."""
        ...

    async def clip_image(self, pixels: np.ndarray) -> np.ndarray | None:
        """An example picture (``1 x H x W x 3`` RGB) through CLIP; None without weights."""
        ...


class LocalEncoders:
    """:class:`Encoders` in this process, loaded on the first query (the CLI, and the API
    without Serve)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._enc: QueryEncoders | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> QueryEncoders:
        from clipray.models.query import QueryEncoders

        with self._lock:
            if self._enc is None:
                self._enc = QueryEncoders.from_settings(self.settings)
            return self._enc

    async def visual_available(self) -> bool:
        return (await asyncio.to_thread(self._loaded)).visual_available

    async def sentence(self, text: str) -> np.ndarray:
        return (await asyncio.to_thread(lambda: self._loaded().sentences([text])))[0]

    async def clip_text(self, text: str) -> np.ndarray | None:
        enc = await asyncio.to_thread(self._loaded)
        if not enc.visual_available:
            return None
        return (await asyncio.to_thread(enc.clip_texts, [text]))[0]

    async def clip_image(self, pixels: np.ndarray) -> np.ndarray | None:
        """An example picture (``1 x H x W x 3`` RGB) through CLIP; None without weights."""
        enc = await asyncio.to_thread(self._loaded)
        if not enc.visual_available:
            return None
        return (await asyncio.to_thread(enc.clip_images, pixels))[0]


class Backends(Protocol):
    """Where search reads: the API's ``Services`` has these, the CLI builds them."""

    @property
    def db(self) -> Database: ...

    @property
    def index(self) -> SearchIndex: ...

    @property
    def settings(self) -> Settings: ...


@dataclass(frozen=True)
class OpenBackends:
    """:class:`Backends` the caller opened itself (the CLI)."""

    db: Database
    index: SearchIndex
    settings: Settings


@dataclass(frozen=True)
class SearchRequest:
    query: str
    mode: Mode = "hybrid"
    source_id: str | None = None
    """Only this source."""
    job_id: str | None = None
    """Only the source of this job (409 ``JOB_HAS_NO_SOURCE`` before it stored its video)."""
    limit: int = 10
    page: int = 1
    image: bytes | None = field(default=None, compare=False, repr=False)
    """An example picture (JPEG, PNG or WebP bytes) instead of words: visual mode only."""


@dataclass(frozen=True)
class SearchPage:
    results: list[dict[str, Any]]
    """Each in the API's shape (see :func:`clipray.storage.search.result_dict`)."""
    total: int
    page: int
    pages: int
    visual: Literal["available", "unavailable"]
    """``available``, or ``unavailable`` without CLIP weights (frames were not searched)."""


# --- thumbnail links ----------------------------------------------------------------------
@dataclass(frozen=True)
class ThumbnailLinks:
    """Signed thumbnail links: a capability for one frame of one source until ``exp``.

    The key is derived from the API's token secret, so every replica checks what any
    replica signed, and a link is no use for anything but its frame.
    """

    secret: str
    ttl_s: int = 3600
    step_s: int = 300
    """Expiries are rounded up to a multiple of this: the same frame searched again within
    it gets the same link, which the browser has cached; a link lives ``ttl_s`` to
    ``ttl_s + step_s``."""

    def _sig(self, source_id: str, t: str, exp: int) -> str:
        key = hashlib.sha256(b"clipray thumbnail links\0" + self.secret.encode()).digest()
        msg = f"{source_id}\0{t}\0{exp}".encode("utf-8", "replace")
        return hmac.new(key, msg, hashlib.sha256).hexdigest()

    def url(self, source_id: str, t: float, now: float | None = None) -> str:
        due = (time.time() if now is None else now) + self.ttl_s
        exp = math.ceil(due / self.step_s) * self.step_s
        at = f"{t:.3f}"
        query = urlencode({"t": at, "exp": exp, "sig": self._sig(source_id, at, exp)})
        return f"{THUMBNAIL_ROUTE}/{source_id}?{query}"

    def verify(self, source_id: str, t: float, exp: int, sig: str,
               now: float | None = None) -> None:  # fmt: skip
        """Raises Forbidden: ``THUMBNAIL_LINK_INVALID`` or ``THUMBNAIL_LINK_EXPIRED``."""
        want = self._sig(source_id, f"{t:.3f}", exp).encode()
        if not hmac.compare_digest(want, sig.encode("utf-8", "replace")):  # any text, no 500
            raise Forbidden("THUMBNAIL_LINK_INVALID", "this thumbnail link is not signed by "
                            "this server (take the link from a search result)")  # fmt: skip
        if exp < (time.time() if now is None else now):
            raise Forbidden("THUMBNAIL_LINK_EXPIRED", "this thumbnail link has expired: "
                            "search again for a fresh one")  # fmt: skip


def thumbnail(settings: Settings, buckets: Buckets, source: Source, t: float) -> str:
    """A presigned URL of the source's frame at ``t`` as a JPEG, made on first request and
    kept on the bucket beside the source.

    An audio-only source (a podcast episode) shows its cover art whatever ``t`` is.

    Raises:
        CodedError: 502 ``THUMBNAIL_FAILED`` when FFmpeg cannot read that frame.
        NotFound: 404 ``SOURCE_HAS_NO_PICTURE``, an audio-only source without cover art.
    """
    at = min(t, max(source.duration_s - 0.05, 0.0))
    if source.audio_only:
        at = 0.0  # its one picture, the cover art, is shown at the start
    store = buckets.media.scoped(source.workspace_id)
    key = thumbnail_key(source.workspace_id, source.id, at)
    if store.head(key) is None:
        with tempfile.TemporaryDirectory(prefix="clipray-thumb-") as tmp:
            try:
                jpeg = still(settings.ffmpeg_bin, store.presign_get(source.storage_key), at,
                             Path(tmp) / "thumb.jpg", width=THUMB_WIDTH)  # fmt: skip
            except RenderError as exc:
                if source.audio_only:
                    raise NotFound("SOURCE_HAS_NO_PICTURE", f"source {source.id} is sound "
                                   "only, without cover art: it has no frame to show") from exc
                raise CodedError("THUMBNAIL_FAILED", str(exc), status=502) from exc
            store.put_file(key, jpeg, content_type="image/jpeg")
    return store.presign_get(key)


def signed_thumbnail(backends: Backends, buckets: Buckets, links: ThumbnailLinks,
                     source_id: str, t: float, exp: int, sig: str) -> str:  # fmt: skip
    """:func:`thumbnail` for a signed link, with no caller: the signature is the right."""
    links.verify(source_id, t, exp, sig)
    with backends.db.session() as s:
        source = s.get(Source, source_id) if is_id(source_id) else None
        if source is None:
            raise NotFound("SOURCE_NOT_FOUND", f"source {source_id} not found")
        s.expunge(source)
    return thumbnail(backends.settings, buckets, source, t)


# --- search -------------------------------------------------------------------------------
def scope(backends: Backends, workspace_id: str, source_id: str | None,
          job_id: str | None) -> tuple[str, ...] | None:  # fmt: skip
    """The sources a query may see: ``source_id``, the job's source, or None (all).

    Raises:
        NotFound / Forbidden: an unknown source or job, or another workspace's.
        Conflict: ``JOB_HAS_NO_SOURCE`` (the job has not stored its video yet),
            ``SEARCH_SCOPE_CONFLICT`` (the job is about another source).
    """
    with backends.db.session() as s:
        if source_id:
            owned(s, Source, source_id, workspace_id, "source")
        job_source = None
        if job_id:
            job = owned(s, Job, job_id, workspace_id, "job")
            if job.source_id is None:
                raise Conflict("JOB_HAS_NO_SOURCE", "the job has not stored its video yet")
            job_source = job.source_id
    return restrict(source_id, job_source)


async def _picture(req: SearchRequest, asked: bool) -> np.ndarray | None:
    """The request's example picture as pixels, checked before any lookup or encoding: a
    query is words or a picture, and a picture only searches frames."""
    if req.image is None:
        return None
    if asked:
        raise SearchError("QUERY_TEXT_AND_IMAGE", "search by words or by a picture, not both: "
                          "send either a query or an image", status=422)  # fmt: skip
    if req.mode != "visual":
        raise SearchError("IMAGE_QUERY_NOT_VISUAL", "a picture searches frames: use mode "
                          f"visual, not {req.mode}", status=422)  # fmt: skip
    return await asyncio.to_thread(picture_pixels, req.image)  # decoding is CPU work


def _jobs_of(backends: Backends, workspace_id: str, source_ids: set[str]) -> dict[str, str]:
    with backends.db.session() as s:
        return latest_jobs(s, workspace_id, source_ids)


async def search(
    backends: Backends,
    workspace_id: str,
    req: SearchRequest,
    encoders: Encoders,
    links: ThumbnailLinks | None = None,
) -> SearchPage:
    """Moments of the workspace's videos that match ``req``, best first.

    Without ``links`` a result's ``thumbnail_url`` is the authenticated
    ``/api/sources/{id}/thumbnail?t=`` (what the CLI prints: it holds no API secret).

    Raises:
        SearchError: 422 ``QUERY_EMPTY``, ``QUERY_TEXT_AND_IMAGE`` (words and a picture),
            ``IMAGE_QUERY_NOT_VISUAL`` (a picture in another mode than visual); 409
            ``VISUAL_SEARCH_UNAVAILABLE`` in visual mode without CLIP weights; 409
            ``SEARCH_SCOPE_CONFLICT``.
        PictureRefused: what :func:`~clipray.services.search_picture.picture_pixels`
            refuses (415, 413 or 422).
        CodedError: what :func:`scope` raises.
    """
    asked = bool(req.query.strip())  # a blank query is refused by run_search, unencoded
    pixels = await _picture(req, asked)
    sources = await asyncio.to_thread(scope, backends, workspace_id, req.source_id, req.job_id)
    available = await encoders.visual_available()
    sentence = await encoders.sentence(req.query) if asked and req.mode != "visual" else None
    visual = None
    if available and req.mode != "transcript":
        if pixels is not None:
            visual = await encoders.clip_image(pixels)
        elif asked:
            visual = await encoders.clip_text(req.query)
    s = backends.settings
    q = Query(req.query, req.mode, sources, req.limit, req.page)
    res = await asyncio.to_thread(run_search, backends.index, workspace_id, q,
                                  QueryVectors(sentence, visual), s.search_moment_gap_s,
                                  s.search_moment_max_s)  # fmt: skip
    jobs = await asyncio.to_thread(_jobs_of, backends, workspace_id,
                                   {m.source_id for m in res.moments})  # fmt: skip
    now = time.time()
    results = []
    for m in res.moments:
        thumb = links.url(m.source_id, thumbnail_at(m), now) if links else None
        results.append(result_dict(m, jobs.get(m.source_id), thumb))
    return SearchPage(results, res.total, res.page, res.pages,
                      "available" if available else "unavailable")  # fmt: skip
