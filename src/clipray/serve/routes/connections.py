"""Connected platform accounts: connect one through the platform's consent page, list them,
disconnect one. The flow itself is ``services/connections.py``; these routes parse, call it
and format.

``GET /api/auth/{platform}/login`` needs the user's bearer token and answers 302 to the
consent page (``Accept: application/json``: ``{"url"}``, for the studio and the CLI). The
platform sends the browser back to ``GET /api/auth/{platform}/callback`` without a bearer
token: the single-use ``state`` says whose consent it was. A refusal there is the JSON error
shape; success is a small page, or a redirect to ``CLIPRAY_OAUTH_RETURN_URL``.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from clipray.serve.deps import Caller, ServicesDep, SessionDep
from clipray.serve.permissions import Action
from clipray.serve.schemas.connections import ConnectedAccountOut, ConsentUrl, Disconnected
from clipray.services import accounts, connections
from clipray.services.connections import AccountView

router = APIRouter(prefix="/api/auth", tags=["connected accounts"])
_CONSENT: dict[int | str, dict[str, object]] = {
    302: {"description": "Redirect to the platform's consent page"},
    200: {"model": ConsentUrl, "description": "The consent URL (Accept: application/json)"},
}
_DONE = {200: {"content": {"text/html": {}}, "description": "Connected (a small page)"},
         302: {"description": "Redirect to CLIPRAY_OAUTH_RETURN_URL"}}  # fmt: skip


def account_out(v: AccountView) -> ConnectedAccountOut:
    return ConnectedAccountOut(id=v.id, platform=v.platform,  # type: ignore[arg-type]
                               platform_account_id=v.platform_account_id, name=v.name,
                               scopes=list(v.scopes), status=v.status,  # type: ignore[arg-type]
                               created_at=v.created_at, updated_at=v.updated_at)  # fmt: skip


@router.get("/accounts")
def list_accounts(who: Caller, svc: ServicesDep) -> list[ConnectedAccountOut]:
    """The workspace's connected accounts, oldest first; never their tokens."""
    who.require(Action.LIST_ACCOUNTS)
    return [account_out(v) for v in connections.list_accounts(svc.db, who.workspace_id)]


@router.delete("/accounts/{account_id}")
def delete_account(account_id: str, who: Caller, svc: ServicesDep) -> Disconnected:
    """Revoke the grant at the platform where it can, delete the tokens, mark it revoked."""
    who.require(Action.CONNECT_ACCOUNT)
    at_platform = connections.disconnect(svc.settings, svc.db, who.workspace_id, account_id)
    return Disconnected(id=account_id, status="revoked", revoked_at_platform=at_platform)


@router.get("/{platform}/login", status_code=302, responses=_CONSENT)
def login(platform: str, request: Request, who: Caller, svc: ServicesDep,
          accept: Annotated[str | None, Header()] = None) -> Response:  # fmt: skip
    """Start connecting an account of ``platform`` to the workspace: 302 to its consent
    page, or ``{"url"}`` when asked for JSON. The redirect URI is the callback under
    ``CLIPRAY_PUBLIC_URL`` when set, else this request's own URL."""
    who.require(Action.CONNECT_ACCOUNT)
    redirect_uri = connections.callback_uri(
        svc.settings.public_url, request.app.url_path_for("oauth_callback", platform=platform),
        str(request.url_for("oauth_callback", platform=platform)),
    )
    consent = connections.start(svc.settings, svc.db, who.user.id, who.workspace_id, platform,
                                redirect_uri)  # fmt: skip
    if accept and "application/json" in accept:
        body = ConsentUrl(url=consent.url, expires_at=consent.expires_at)
        return Response(body.model_dump_json(), media_type="application/json")
    return RedirectResponse(consent.url, status_code=302)


def _caller_id(svc: ServicesDep, session: SessionDep, authorization: str | None) -> str | None:
    """The user behind an optional bearer token: a browser comes back without one, a
    client that sends one must be the user who started the flow."""
    if not authorization:
        return None
    user, _ = accounts.authenticate(session, svc.tokens, authorization)
    session.commit()
    return user.id


def platform_extras(
    scope: str | None = None,
    scopes: str | None = None,
    authuser: str | None = None,
    hd: str | None = None,
    prompt: str | None = None,
    iss: str | None = None,
    error_description: str | None = None,
    error_reason: str | None = None,
    error_uri: str | None = None,
) -> str | None:
    """What the platforms add to their redirect besides ``code``, ``state`` and ``error``
    (Google: scope, authuser, hd, prompt, iss; TikTok: scopes; Meta: error_reason): declared
    so the API's unknown-parameter check lets them through, and otherwise ignored but for
    the reason of a refusal."""
    return error_description or error_reason


@router.get("/{platform}/callback", name="oauth_callback", responses=_DONE)
def callback(
    platform: str,
    svc: ServicesDep,
    session: SessionDep,
    why: Annotated[str | None, Depends(platform_extras)],
    state: str = "",
    code: str | None = None,
    error: str | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Where the platform sends the browser back: the state is checked and spent, the code
    exchanged, the account stored."""
    refused = f"{error}: {why}" if error and why else error
    view = connections.complete(svc.settings, svc.db, platform, state, code, refused,
                                caller_user_id=_caller_id(svc, session, authorization))
    back = svc.settings.oauth_return_url
    if back:
        sep = "&" if "?" in back else "?"
        query = urlencode({"connected": platform, "account_id": view.id})
        return RedirectResponse(f"{back}{sep}{query}", status_code=302)
    name = html.escape(view.name or view.platform_account_id)
    page = (f"<!doctype html><meta charset=utf-8><title>clipray: connected</title>"
            f"<p>Connected {html.escape(platform)} account <b>{name}</b> to clipray. "
            "You can close this window.</p>")  # fmt: skip
    return HTMLResponse(page)
