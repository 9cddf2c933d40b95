"""Brand kits: a workspace's looks (logo, caption colours and font, intro, outro,
audiogram background) that a job's or a re-render's ``brand_kit_id`` puts on its clips.

Any member reads them; editors, admins and owners write. A kit's assets are uploaded as
the raw body of ``PUT /api/brand/{id}/assets/{kind}`` and stored on the workspace's media
bucket under a key naming the bytes' SHA-256.
"""

from __future__ import annotations

from email.message import Message
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from clipray.domain.brand import ASSET_MAX_BYTES, ASSET_TYPES
from clipray.serve.deps import Caller, ServicesDep
from clipray.serve.errors import ErrorResponse
from clipray.serve.permissions import Action
from clipray.serve.schemas.brand import BrandKitIn, BrandKitList, BrandKitOut, BrandKitPatch
from clipray.services import brand
from clipray.services.brand import KitView

router = APIRouter(prefix="/api/brand", tags=["brand"])


def _errors(**codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: each status with the codes it answers."""
    out: dict[int | str, dict[str, Any]] = {}
    for name, status in (("not_found", 404), ("invalid", 422), ("forbidden", 403),
                         ("conflict", 409), ("too_large", 413), ("type", 415)):  # fmt: skip
        if name in codes:
            out[status] = {"model": ErrorResponse, "description": codes[name]}
    return out


_NOT_FOUND = "`BRAND_KIT_NOT_FOUND` (also another workspace's kit)"
_ROLE = "`FORBIDDEN_ROLE`: a viewer cannot change kits"
_INVALID = ("`BRAND_KIT_INVALID` (`detail.field` names the field), `BRAND_SOURCE_INVALID` "
            "(the intro or outro is not a video source of this workspace)")  # fmt: skip


async def raw_body(request: Request) -> bytes:
    """The uploaded file, byte for byte."""
    return await request.body()


def kit_out(view: KitView) -> BrandKitOut:
    r = view.row
    return BrandKitOut(
        id=r.id, name=r.name, logo_position=r.logo_position, logo_size=r.logo_size,
        logo_opacity=r.logo_opacity, primary_color=r.primary_color,
        accent_color=r.accent_color, background_color=r.background_color,
        font_family=r.font_family, intro_source_id=r.intro_source_id,
        outro_source_id=r.outro_source_id, logo_url=view.logo_url,
        background_url=view.background_url, font_name=r.font_name, created_at=r.created_at,
        updated_at=r.updated_at,
    )  # fmt: skip


def _filename(disposition: str | None) -> str | None:
    """The ``filename`` of a ``Content-Disposition`` header, if it has one."""
    if not disposition:
        return None
    msg = Message()
    msg["content-disposition"] = disposition
    name = msg.get_filename()
    return str(name) if name else None


@router.post("", status_code=201, summary="Create a brand kit",
             responses=_errors(invalid=_INVALID, forbidden=_ROLE,
                               conflict="`BRAND_KIT_LIMIT`: 50 kits already"))  # fmt: skip
def create_kit(body: BrandKitIn, who: Caller, svc: ServicesDep) -> BrandKitOut:
    """A new kit: its name, and whichever settings differ from the defaults (a logo at
    the top right, 15% of the width, 90% opaque; white captions, a yellow highlight)."""
    who.require(Action.MANAGE_BRAND)
    return kit_out(brand.create_kit(svc.db, svc.buckets, who.workspace_id,
                                    body.model_dump(exclude_unset=True)))  # fmt: skip


@router.get("", summary="List the brand kits")
def list_kits(who: Caller, svc: ServicesDep) -> BrandKitList:
    """The workspace's kits, newest first, each with short-lived URLs of its pictures."""
    who.require(Action.READ)
    return BrandKitList(data=[kit_out(v) for v in brand.kits(svc.db, svc.buckets,
                                                              who.workspace_id)])  # fmt: skip


@router.get("/{kit_id}", summary="Read a brand kit", responses=_errors(not_found=_NOT_FOUND))
def get_kit(kit_id: str, who: Caller, svc: ServicesDep) -> BrandKitOut:
    who.require(Action.READ)
    return kit_out(brand.get_kit(svc.db, svc.buckets, who.workspace_id, kit_id))


@router.patch("/{kit_id}", summary="Change a brand kit",
              responses=_errors(not_found=_NOT_FOUND, invalid=_INVALID,
                                forbidden=_ROLE))  # fmt: skip
def update_kit(kit_id: str, body: BrandKitPatch, who: Caller, svc: ServicesDep) -> BrandKitOut:
    """Change the given settings (absent ones are kept; ``null`` clears an optional one and
    resets one with a default). Clips already rendered keep their look; a re-render with
    the kit makes a new version."""
    who.require(Action.MANAGE_BRAND)
    return kit_out(brand.update_kit(svc.db, svc.buckets, who.workspace_id, kit_id,
                                    body.model_dump(exclude_unset=True)))  # fmt: skip


@router.delete("/{kit_id}", status_code=204, summary="Delete a brand kit",
               responses=_errors(not_found=_NOT_FOUND, forbidden=_ROLE))  # fmt: skip
def delete_kit(kit_id: str, who: Caller, svc: ServicesDep) -> Response:
    """Delete the kit and its uploaded assets; clips already rendered keep their files."""
    who.require(Action.MANAGE_BRAND)
    brand.delete_kit(svc.db, svc.buckets, who.workspace_id, kit_id)
    return Response(status_code=204)


_TYPES = "; ".join(f"{k}: {', '.join(v)}" for k, v in ASSET_TYPES.items())


@router.put(
    "/{kit_id}/assets/{kind}", summary="Upload a brand kit's logo, font or background",
    openapi_extra={"requestBody": {"required": True, "content": {
        t: {"schema": {"type": "string", "format": "binary"}}
        for t in sorted({t for ts in ASSET_TYPES.values() for t in ts})}}},
    responses=_errors(
        not_found=_NOT_FOUND + ", `BRAND_ASSET_KIND_UNKNOWN` (a kind other than logo, font, "
        "background)", forbidden=_ROLE,
        invalid="`BRAND_ASSET_UNREADABLE`: the bytes are not the declared type, or cannot "
        "be decoded", too_large=f"`BRAND_ASSET_TOO_LARGE`: over {ASSET_MAX_BYTES} bytes",
        type=f"`BRAND_ASSET_TYPE_UNSUPPORTED`: the Content-Type is not one the kind takes "
             f"({_TYPES})"),
)  # fmt: skip
def put_asset(kit_id: str, kind: str, request: Request,
              body: Annotated[bytes, Depends(raw_body)], who: Caller,
              svc: ServicesDep) -> BrandKitOut:  # fmt: skip
    """The file is the raw body, its ``Content-Type`` one the kind takes (checked again
    from the bytes' signature). A font's ``Content-Disposition: attachment;
    filename=...`` names it (``font_name``). The asset it replaces is deleted."""
    who.require(Action.MANAGE_BRAND)
    name = _filename(request.headers.get("content-disposition"))
    return kit_out(brand.put_asset(svc.db, svc.buckets, who.workspace_id, kit_id, kind,
                                   request.headers.get("content-type"), body, name))  # fmt: skip


@router.delete("/{kit_id}/assets/{kind}",
               summary="Remove a brand kit's logo, font or background",
               responses=_errors(not_found=_NOT_FOUND + ", `BRAND_ASSET_KIND_UNKNOWN`",
                                 forbidden=_ROLE))  # fmt: skip
def delete_asset(kit_id: str, kind: str, who: Caller, svc: ServicesDep) -> BrandKitOut:
    """Take the asset off the kit and delete its file."""
    who.require(Action.MANAGE_BRAND)
    return kit_out(brand.delete_asset(svc.db, svc.buckets, who.workspace_id, kit_id, kind))
