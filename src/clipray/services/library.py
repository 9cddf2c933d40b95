"""The workspace library: sources marked as B-roll or sound effects, and what a job's plan
reads of it.

``/api/library`` calls :func:`add`, :func:`entries`, :func:`retag` and :func:`remove`; a
job (or a re-render) with ``broll`` or ``sfx`` on calls :func:`for_plan`, which hands the
pure chooser (``clips/broll.py``) the items, their sources' indexed frame vectors and a
CLIP text encoder when CLIP weights are configured (keywords only otherwise).

Footage comes through a :class:`BrollProvider`: the library is the first
(:class:`LibraryProvider`); a stock-footage site would be another, storing what it
downloads on the workspace's bucket before a clip uses it.

    >>> e = add(db, ws, source_id, "broll", ["Ocean", "waves"])         # doctest: +SKIP
    >>> e.tags, e.title                                                  # doctest: +SKIP
    (('ocean', 'waves'), 'sea-drone')
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
from sqlalchemy.orm import Session

from clipray.clips.broll import Library, LibraryClip, TextEncoder, rank
from clipray.domain.errors import CodedError, Conflict
from clipray.domain.library import LibraryEntry, LibraryKind, normalise_tags, source_problem
from clipray.services.access import owned
from clipray.storage.library import LibraryItemExistsError, LibraryRepo, entry
from clipray.storage.orm import LibraryItem, Source

if TYPE_CHECKING:
    from clipray.config import Settings
    from clipray.models.embed import EmbedModel
    from clipray.storage.db import Database
    from clipray.storage.index import SearchIndex

__all__ = ["BrollProvider", "LibraryProvider", "add", "entries", "for_plan", "remove",
           "retag", "with_footage"]  # fmt: skip

log = logging.getLogger("clipray.library")
EMPTY_BROLL = "broll: the workspace's library has no B-roll; the clips have no cutaways"
EMPTY_SFX = "sfx: the workspace's library has no sound effects; the clips have none"


def _kind(kind: LibraryKind | str) -> LibraryKind:
    try:
        return LibraryKind(kind)
    except ValueError:
        raise CodedError("LIBRARY_KIND_INVALID", f"a library kind is broll or sfx, not {kind!r}",
                         status=422) from None  # fmt: skip


def add(db: Database, workspace_id: str, source_id: str, kind: LibraryKind | str,
        tags: Sequence[str]) -> LibraryEntry:  # fmt: skip
    """Mark the workspace's source as B-roll or a sound effect.

    Raises:
        LibraryTagsInvalidError: 422 ``LIBRARY_TAGS_INVALID``.
        NotFound / Forbidden: 404 ``SOURCE_NOT_FOUND``, 403 another workspace's source.
        CodedError: 422 ``LIBRARY_KIND_MISMATCH``, a source that is not that kind of
            material (B-roll without a video stream, a sound over 10 s).
        Conflict: 409 ``LIBRARY_ITEM_EXISTS``, the source already is one of that kind.
    """
    k, clean = _kind(kind), normalise_tags(tags)
    with db.session() as s:
        src = owned(s, Source, source_id, workspace_id, "source")
        why = source_problem(k, src.duration_s, src.video_codec is not None,
                             src.audio_codec is not None)  # fmt: skip
        if why is not None:
            raise CodedError("LIBRARY_KIND_MISMATCH", why, status=422, detail={"kind": k.value})
        try:
            row = LibraryRepo(s, workspace_id).add(src.id, k, clean)
        except LibraryItemExistsError:
            raise Conflict("LIBRARY_ITEM_EXISTS", f"source {source_id} already is "
                           f"{'B-roll' if k is LibraryKind.BROLL else 'a sound effect'} "
                           "in the library: change its tags instead") from None  # fmt: skip
        return entry(row, src)


def entries(db: Database, workspace_id: str, kind: LibraryKind | str | None = None
            ) -> list[LibraryEntry]:  # fmt: skip
    """The workspace's library (of one kind), newest first."""
    with db.session() as s:
        return LibraryRepo(s, workspace_id).entries(None if kind is None else _kind(kind))


def _item(s: Session, workspace_id: str, item_id: str) -> tuple[LibraryItem, Source]:
    row = owned(s, LibraryItem, item_id, workspace_id, "library_item")
    source = s.get(Source, row.source_id)
    assert source is not None  # the item goes with its source (ON DELETE CASCADE)
    return row, source


def retag(db: Database, workspace_id: str, item_id: str, tags: Sequence[str]) -> LibraryEntry:
    """Replace the item's tags.

    Raises:
        LibraryTagsInvalidError: 422 ``LIBRARY_TAGS_INVALID``.
        NotFound / Forbidden: 404 ``LIBRARY_ITEM_NOT_FOUND``, 403 another workspace's.
    """
    clean = normalise_tags(tags)
    with db.session() as s:
        row, src = _item(s, workspace_id, item_id)
        row.tags = list(clean)
        s.flush()
        return entry(row, src)


def remove(db: Database, workspace_id: str, item_id: str) -> None:
    """Take the item out of the library; its source stays.

    Raises:
        NotFound / Forbidden: 404 ``LIBRARY_ITEM_NOT_FOUND``, 403 another workspace's.
    """
    with db.session() as s:
        row, _ = _item(s, workspace_id, item_id)
        s.delete(row)


# --- what a plan reads ---------------------------------------------------------------------
class BrollProvider(Protocol):
    """Where footage for a clip's cutaways comes from: the best items for ``text``, each on
    the workspace's media bucket (a provider that downloads stores first, then answers)."""

    def candidates(self, text: str, limit: int) -> list[LibraryClip]: ...


class LibraryProvider:
    """The workspace's own library as a :class:`BrollProvider`: its B-roll ranked against
    the text (CLIP when the library has frame vectors and an encoder, else keywords)."""

    def __init__(self, library: Library) -> None:
        self.library = library

    def candidates(self, text: str, limit: int) -> list[LibraryClip]:
        return rank(self.library, text, limit)


@functools.lru_cache(maxsize=2)
def _clip_model(model: str, pretrained: str) -> EmbedModel:
    """CLIP, loaded once per process (a job step plans many clips)."""
    from clipray.models.embed import EmbedConfig, EmbedModel

    return EmbedModel.load(EmbedConfig(model_name=model, pretrained=pretrained))


def _encoder(settings: Settings) -> TextEncoder | None:
    """Texts through CLIP's text tower, the space of the indexed frames; None: no weights."""
    from clipray.models.embed import WeightsUnavailableError

    if not settings.clip_pretrained:
        return None
    try:
        model = _clip_model(settings.clip_model, settings.clip_pretrained)
    except WeightsUnavailableError as exc:
        log.warning("library: CLIP unavailable, B-roll chosen by keywords: %s", exc)
        return None
    return lambda texts: np.asarray(model.embed_texts(list(texts)), dtype=np.float32)


def for_plan(settings: Settings, db: Database, workspace_id: str, broll: bool, sfx: bool,
             index: SearchIndex | None = None) -> Library:  # fmt: skip
    """The library a job's plan chooses from: the items of the kinds asked for; with CLIP
    configured, each B-roll item's indexed frame vectors (from ``index``, the configured
    one by default) and the text encoder. An empty library asked for is no error: the plan
    goes without, and ``warnings`` says so."""
    if not broll and not sfx:
        return Library()
    wanted = [k for k, on in ((LibraryKind.BROLL, broll), (LibraryKind.SFX, sfx)) if on]
    with db.session() as s:
        found = [e for e in LibraryRepo(s, workspace_id).entries() if e.kind in wanted]
    warnings = [msg for k, msg in ((LibraryKind.BROLL, EMPTY_BROLL), (LibraryKind.SFX, EMPTY_SFX))
                if k in wanted and not any(e.kind is k for e in found)]  # fmt: skip
    encode, frames = None, {}
    video = [e.source_id for e in found if e.kind is LibraryKind.BROLL]
    if video and settings.clip_pretrained:
        if index is None:
            from clipray.cluster.services import open_index

            index = open_index(settings)
        frames = index.frame_vectors(workspace_id, video)
        encode = _encoder(settings) if frames else None
    items = []
    for e in found:
        times, vectors = frames.get(e.source_id, (None, None)) if encode else (None, None)
        items.append(LibraryClip(e.id, e.storage_key, e.kind.value, e.tags, e.title,  # type: ignore[arg-type]
                                 e.duration_s, times, vectors))  # fmt: skip
    for w in warnings:
        log.warning("workspace %s: %s", workspace_id, w)
    return Library(tuple(items), encode, tuple(warnings))


def with_footage(lib: Library, provider: BrollProvider, queries: Sequence[str],
                 per_query: int = 1) -> Library:  # fmt: skip
    """``lib`` with what ``provider`` finds for each query, tagged with its query (so the
    chooser places it where the query is said). A provider that fails adds a warning, never
    an error: the clips go on with the library alone."""
    found: list[LibraryClip] = []
    warnings = list(lib.warnings)
    for q in queries:
        try:
            got = provider.candidates(q, per_query)
        except CodedError as exc:
            warnings.append(f"broll: stock footage unavailable ({exc.code}): {exc.message}")
            log.warning("library: stock footage for %r: %s", q, exc)
            break
        found += [replace(c, tags=(q,)) for c in got if c.key not in {f.key for f in found}]
    if found:
        warnings = [w for w in warnings if w != EMPTY_BROLL]
    return replace(lib, items=lib.items + tuple(found), warnings=tuple(warnings))
