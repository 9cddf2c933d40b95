"""Brand kits, written once: what the routes, the CLI and the job's planning call.

A kit is checked whole by ``domain.brand.invalid_field`` (422 ``BRAND_KIT_INVALID``) before
a row is written. Its uploaded assets (logo, font, background) are checked by their bytes'
signature, not only by the declared type, and stored on the workspace's media bucket under
a content-addressed key (``{ws}/brand/{kit}/{kind}-{sha256}.{ext}``): a replaced logo gets
another key, so clips rendered with the old one keep their spec, and a re-render adds a
version. Writes keep bucket and rows in step: a new object is put before its row and
removed if the row fails; a replaced object is deleted only once the new row committed.

    >>> view = create_kit(db, buckets, workspace_id, {"name": "Main"})   # doctest: +SKIP
    >>> view = put_asset(db, buckets, workspace_id, view.row.id, "logo", "image/png",
    ...                  png_bytes)                                      # doctest: +SKIP
    >>> kit, intro_key, outro_key = brand_for(session, workspace_id, view.row.id)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any, Final

from sqlalchemy.orm import Session

from clipray.domain.brand import ASSET_KINDS, ASSET_MAX_BYTES, ASSET_TYPES, BrandKit, invalid_field
from clipray.domain.errors import CodedError, Conflict, NotFound, PayloadTooLarge
from clipray.pipelines.clipjob import RunOptions
from clipray.services.search_picture import picture_reader
from clipray.storage.brand import BrandKitRepo
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import Buckets
from clipray.storage.orm import BrandKitRow

__all__ = [
    "KITS_MAX",
    "KitView",
    "asset_type",
    "brand_for",
    "check_kit",
    "create_kit",
    "delete_asset",
    "delete_kit",
    "get_kit",
    "kits",
    "put_asset",
    "update_kit",
    "with_brand",
]

KITS_MAX: Final = 50
"""Kits per workspace: a look is chosen from a list, not generated per job."""
SETTINGS: Final = ("name", "logo_position", "logo_size", "logo_opacity", "primary_color",
                   "accent_color", "background_color", "font_family", "intro_source_id",
                   "outro_source_id")  # fmt: skip
"""What a client sets on a kit; assets come through :func:`put_asset`."""
SOURCES: Final = ("intro_source_id", "outro_source_id")
_DEFAULTS: Final = {f.name: f.default for f in fields(BrandKit) if f.default is not MISSING}
_EXT: Final = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp",
               "font/ttf": "ttf", "font/otf": "otf"}  # fmt: skip
_FONT_NAME = re.compile(r"[^A-Za-z0-9 ._()+-]")


@dataclass(frozen=True)
class KitView:
    """A kit as a door shows it: the row, and short-lived URLs of its pictures."""

    row: BrandKitRow
    logo_url: str | None
    background_url: str | None


def _not_found(kit_id: str) -> NotFound:
    return NotFound("BRAND_KIT_NOT_FOUND", f"brand kit {kit_id} not found")


def _view(buckets: Buckets, row: BrandKitRow) -> KitView:
    media = buckets.media.scoped(row.workspace_id)
    logo, background = row.logo_key, row.background_key
    return KitView(row, media.presign_get(logo) if logo else None,
                   media.presign_get(background) if background else None)  # fmt: skip


def _checked(repo: BrandKitRepo, kit_id: str, values: Mapping[str, Any]) -> None:
    """Refuse a kit out of range (``BRAND_KIT_INVALID``) or whose intro or outro is not a
    source of the workspace with a picture (``BRAND_SOURCE_INVALID``)."""
    if values.get("name") is None:
        raise CodedError("BRAND_KIT_INVALID", "name: a kit has a name",
                         detail={"field": "name"})  # fmt: skip
    look = {k: values[k] for k in SETTINGS if k not in SOURCES}
    kit = BrandKit(kit_id, repo.workspace_id, **look)
    bad = invalid_field(kit)
    if bad is not None:
        raise CodedError("BRAND_KIT_INVALID", f"{bad[0]}: {bad[1]}", detail={"field": bad[0]})
    for name in SOURCES:
        source_id = values.get(name)
        if source_id is None:
            continue
        source = repo.source(source_id)
        if source is None or source.video_codec is None:
            why = "is not a source of this workspace" if source is None else "has no video"
            raise CodedError("BRAND_SOURCE_INVALID", f"{name}: {source_id} {why}",
                             detail={"field": name})  # fmt: skip


def _with_defaults(given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` over the kit's defaults; ``None`` on a field with a default resets it."""
    out = {k: _DEFAULTS.get(k) for k in SETTINGS}
    for k, v in given.items():
        out[k] = _DEFAULTS.get(k) if v is None else v
    return out


# --- kits ----------------------------------------------------------------------------------
def create_kit(db: Database, buckets: Buckets, workspace_id: str, given: Mapping[str, Any]
               ) -> KitView:  # fmt: skip
    """A new kit of the given settings (the rest at their defaults).

    Raises:
        CodedError: 422 ``BRAND_KIT_INVALID`` / ``BRAND_SOURCE_INVALID``.
        Conflict: ``BRAND_KIT_LIMIT`` at :data:`KITS_MAX` kits.
    """
    values = _with_defaults(given)
    with db.session() as s:
        repo = BrandKitRepo(s, workspace_id)
        _checked(repo, "k" * 32, values)
        if repo.count() >= KITS_MAX:
            raise Conflict("BRAND_KIT_LIMIT", f"a workspace has at most {KITS_MAX} brand "
                           "kits: delete one first")  # fmt: skip
        row = repo.add(values)
    return _view(buckets, row)


def kits(db: Database, buckets: Buckets, workspace_id: str) -> list[KitView]:
    """The workspace's kits, newest first."""
    with db.session() as s:
        rows = BrandKitRepo(s, workspace_id).newest_first()
    return [_view(buckets, r) for r in rows]


def get_kit(db: Database, buckets: Buckets, workspace_id: str, kit_id: str) -> KitView:
    """The kit; 404 ``BRAND_KIT_NOT_FOUND`` also for another workspace's."""
    with db.session() as s:
        row = BrandKitRepo(s, workspace_id).get(kit_id)
        if row is None:
            raise _not_found(kit_id)
    return _view(buckets, row)


def update_kit(db: Database, buckets: Buckets, workspace_id: str, kit_id: str,
               changes: Mapping[str, Any]) -> KitView:  # fmt: skip
    """The kit with ``changes`` (absent fields kept; ``None`` clears an optional field and
    resets one with a default), checked whole as :func:`create_kit` checks a new one."""
    with db.session() as s:
        repo = BrandKitRepo(s, workspace_id)
        row = repo.get(kit_id, for_update=True)
        if row is None:
            raise _not_found(kit_id)
        values = _with_defaults({k: getattr(row, k) for k in SETTINGS} | dict(changes))
        _checked(repo, row.id, values)
        repo.change(row, values)
    return _view(buckets, row)


def delete_kit(db: Database, buckets: Buckets, workspace_id: str, kit_id: str) -> None:
    """Delete the kit, then its uploaded assets (clips already rendered keep their files:
    a render copies what it draws into the clip)."""
    with db.session() as s:
        repo = BrandKitRepo(s, workspace_id)
        row = repo.get(kit_id, for_update=True)
        if row is None:
            raise _not_found(kit_id)
        keys = [k for k in (row.logo_key, row.font_key, row.background_key) if k]
        repo.delete(row)
    media = buckets.media.scoped(workspace_id)
    for key in keys:
        media.delete(key)


# --- assets --------------------------------------------------------------------------------
_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x00\x01\x00\x00", "font/ttf"),
    (b"true", "font/ttf"),
    (b"OTTO", "font/otf"),
)


def _known_kind(kind: str) -> None:
    if kind not in ASSET_KINDS:
        raise NotFound("BRAND_ASSET_KIND_UNKNOWN",
                       f"no asset {kind!r}: one of {', '.join(ASSET_KINDS)}")  # fmt: skip


def sniff(data: bytes) -> str | None:
    """The asset type the bytes' signature says, or None for none clipray takes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((t for sig, t in _SIGNATURES if data.startswith(sig)), None)


def asset_type(kind: str, content_type: str | None, data: bytes) -> str:
    """The type of an upload of ``kind``: the declared ``content_type``, if the kind takes
    it and the bytes are one; pictures are also decoded (a truncated PNG would only fail
    at render time, in a job).

    Raises:
        NotFound: ``BRAND_ASSET_KIND_UNKNOWN``.
        CodedError: 415 ``BRAND_ASSET_TYPE_UNSUPPORTED``, 422 ``BRAND_ASSET_UNREADABLE``.
        PayloadTooLarge: ``BRAND_ASSET_TOO_LARGE`` over ``ASSET_MAX_BYTES``.
    """
    _known_kind(kind)
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in ASSET_TYPES[kind]:
        raise CodedError("BRAND_ASSET_TYPE_UNSUPPORTED",
                         f"a {kind} is one of {', '.join(ASSET_TYPES[kind])}, not "
                         f"{declared or 'untyped'}", status=415)  # fmt: skip
    if len(data) > ASSET_MAX_BYTES:
        raise PayloadTooLarge("BRAND_ASSET_TOO_LARGE",
                              f"a brand asset is at most {ASSET_MAX_BYTES} bytes",
                              detail={"limit": ASSET_MAX_BYTES})  # fmt: skip
    if sniff(data) != declared:
        raise CodedError("BRAND_ASSET_UNREADABLE", f"the file is not a {declared}")
    if declared.startswith("image/"):
        try:
            with picture_reader(declared)(io.BytesIO(data)) as img:
                img.verify()
        except (OSError, SyntaxError, ValueError) as exc:
            raise CodedError("BRAND_ASSET_UNREADABLE", f"the {kind} cannot be read: {exc}") from exc
    return declared


def _font_name(filename: str | None, ext: str) -> str:
    """What the kit shows for its font: the uploaded file's own name, made printable."""
    name = _FONT_NAME.sub("", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:255] or f"font.{ext}"


def _swap_asset(db: Database, workspace_id: str, kit_id: str, kind: str, key: str | None,
                font_name: str | None) -> tuple[BrandKitRow, str | None]:  # fmt: skip
    """Point the kit's ``kind`` at ``key`` (None: none) in one transaction; returns the row
    and the key it held before (the caller deletes that object once this has committed)."""
    with db.session() as s:
        repo = BrandKitRepo(s, workspace_id)
        row = repo.get(kit_id, for_update=True)
        if row is None:
            raise _not_found(kit_id)
        old = getattr(row, f"{kind}_key")
        change: dict[str, Any] = {f"{kind}_key": key}
        if kind == "font":
            change["font_name"] = font_name
        repo.change(row, change)
    return row, old


def put_asset(db: Database, buckets: Buckets, workspace_id: str, kit_id: str, kind: str,
              content_type: str | None, data: bytes, filename: str | None = None
              ) -> KitView:  # fmt: skip
    """Store ``data`` as the kit's ``kind`` (checked by :func:`asset_type`); the asset it
    replaces is deleted once the kit names the new one. ``filename``: the font's file
    name as uploaded (``font_name``)."""
    ctype = asset_type(kind, content_type, data)
    ext = _EXT[ctype]
    media = buckets.media.scoped(workspace_id)
    with db.session() as s:  # a missing kit is refused before anything is stored
        if BrandKitRepo(s, workspace_id).get(kit_id) is None:
            raise _not_found(kit_id)
    key = object_key(workspace_id, "brand", kit_id,
                     f"{kind}-{hashlib.sha256(data).hexdigest()}.{ext}")  # fmt: skip
    existed = media.head(key) is not None
    media.put_bytes(key, data, content_type=ctype)
    try:
        row, old = _swap_asset(db, workspace_id, kit_id, kind, key,
                               _font_name(filename, ext) if kind == "font" else None)  # fmt: skip
    except BaseException:
        if not existed:
            media.delete(key)
        raise
    if old and old != key:
        media.delete(old)
    return _view(buckets, row)


def delete_asset(db: Database, buckets: Buckets, workspace_id: str, kit_id: str, kind: str
                 ) -> KitView:  # fmt: skip
    """Take ``kind`` off the kit, then delete its object."""
    _known_kind(kind)
    row, old = _swap_asset(db, workspace_id, kit_id, kind, None, None)
    if old:
        buckets.media.scoped(workspace_id).delete(old)
    return _view(buckets, row)


# --- kits in jobs and re-renders -----------------------------------------------------------
def check_kit(session: Session, workspace_id: str, kit_id: str) -> None:
    """404 ``BRAND_KIT_NOT_FOUND`` unless the workspace has the kit (a job's settings)."""
    if BrandKitRepo(session, workspace_id).get(kit_id) is None:
        raise _not_found(kit_id)


def brand_for(session: Session, workspace_id: str, kit_id: str
              ) -> tuple[BrandKit, str | None, str | None]:  # fmt: skip
    """The kit as the render takes it, with its intro and outro sources' object keys
    (``Brand.of(kit, intro_key, outro_key)``).

    Raises:
        NotFound: ``BRAND_KIT_NOT_FOUND`` (a kit deleted since the job was created too).
    """
    repo = BrandKitRepo(session, workspace_id)
    row = repo.get(kit_id)
    if row is None:
        raise _not_found(kit_id)
    keys = []
    for source_id in (row.intro_source_id, row.outro_source_id):
        source = repo.source(source_id) if source_id else None
        keys.append(source.storage_key if source is not None else None)
    return row.to_kit(), keys[0], keys[1]


def with_brand(db: Database, workspace_id: str, opts: RunOptions) -> RunOptions:
    """``opts`` with its ``brand_kit_id`` resolved (:func:`brand_for`), for planning."""
    if not opts.brand_kit_id:
        return opts
    with db.session() as s:
        kit, intro, outro = brand_for(s, workspace_id, opts.brand_kit_id)
    return replace(opts, brand=kit, brand_keys=(intro, outro))
