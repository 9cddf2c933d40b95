"""What WebSocket routes depend on: who is connecting (the same checks as ``deps.py`` makes
for a request), refusing a connection with a coded error, and pumping a feed of messages
to the client until it ends, the client leaves, or the access token lapses.

A browser cannot set ``Authorization`` on a WebSocket, so the credential comes one of two
ways (either an access token or an API token):

* the subprotocol header, ``Sec-WebSocket-Protocol: bearer, <token>`` (the server echoes
  ``bearer``; the convention of Kubernetes' and Hasura's sockets, with our scheme name), or
* the first message, ``{"token": "<token>", "workspace_id": "..."}``, within
  :data:`FIRST_MESSAGE_S` of connecting.

The workspace is the first message's ``workspace_id``, else ``X-Workspace-Id``, else the
``workspace_id`` query parameter, else the user's personal one (an API token acts in its
own). A refusal is one message ``{"type": "error", "error": {"code", "message"}}`` and a
close: 1008 (policy violation) for a credential or permission refused (401, 403), 4000 +
the HTTP status otherwise (4404: not found), the code as the close reason. When the
access token lapses while connected the client gets ``{"type": "token_expired"}`` and a
1008 close: connect again with a fresh token (and ``after``, to resume).

    >>> caller = await connect(websocket, svc)                # doctest: +SKIP
    >>> if caller: await pump(websocket, messages, caller)    # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fastapi import WebSocket, WebSocketDisconnect, status
from starlette.websockets import WebSocketState

from clipray.domain.errors import CodedError, Unauthorized
from clipray.domain.time import utcnow
from clipray.serve.deps import Principal, Services
from clipray.serve.security import TOKEN_EXPIRED, access_token_expiry
from clipray.services import accounts
from clipray.services.access import Membership

__all__ = ["FIRST_MESSAGE_S", "SUBPROTOCOL", "SocketCaller", "connect", "pump", "refuse"]

SUBPROTOCOL: Final = "bearer"
FIRST_MESSAGE_S: Final = 10.0
"""How long a connection without a subprotocol credential may take to send its token."""


@dataclass(frozen=True)
class SocketCaller:
    principal: Principal
    expires_at: datetime | None
    """When the access token lapses (the connection ends then); None for an API token."""


def _offered(websocket: WebSocket) -> tuple[str | None, str | None]:
    """``(token, subprotocol to echo)`` from ``Sec-WebSocket-Protocol: bearer, <token>``."""
    offered = [p.strip() for p in websocket.scope.get("subprotocols") or []]
    if len(offered) >= 2 and offered[0].lower() == SUBPROTOCOL and offered[1]:
        return offered[1], offered[0]
    return None, None


def _authenticate(svc: Services, token: str, workspace_id: str | None,
                  now: datetime) -> SocketCaller:  # fmt: skip
    """As ``deps.principal`` does for a request: the credential, the user's rate limit (a
    connection counts once), the membership of the workspace."""
    with svc.db.session() as s:
        user, api_token = accounts.authenticate(s, svc.tokens, f"Bearer {token}")
        accounts.admit_user(s, user.id, svc.settings.rate_limit_per_minute, now)
        membership: Membership = accounts.caller_membership(s, user, api_token, workspace_id)
    expires = None if api_token is not None else access_token_expiry(token)
    return SocketCaller(Principal.of(user, membership), expires)


async def refuse(websocket: WebSocket, exc: CodedError) -> None:
    """Tell the client why (one error message) and close: 1008 for a refused credential
    or permission, else 4000 + the HTTP status; the code is the close reason."""
    code = status.WS_1008_POLICY_VIOLATION if exc.status in (401, 403) else 4000 + exc.status
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_json({"type": "error", "error": exc.as_dict()})
        await websocket.close(code=code, reason=exc.code[:120])


async def _first_message(websocket: WebSocket) -> dict[str, Any]:
    try:
        got = await asyncio.wait_for(websocket.receive(), FIRST_MESSAGE_S)
    except TimeoutError:
        raise Unauthorized("UNAUTHORIZED", 'send {"token": "<access token>"} first, or the '
                           "subprotocols 'bearer, <token>'") from None  # fmt: skip
    if got["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(got.get("code", 1000))
    raw = got.get("text") or (got.get("bytes") or b"").decode("utf-8", "replace")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise Unauthorized("UNAUTHORIZED", 'the first message must be {"token": "<token>"}')
    return body


async def connect(websocket: WebSocket, svc: Services) -> SocketCaller | None:
    """Accept the connection and find who it is; None when it was refused (and closed)."""
    token, chosen = _offered(websocket)
    await websocket.accept(subprotocol=chosen)
    workspace = (websocket.headers.get("x-workspace-id")
                 or websocket.query_params.get("workspace_id"))  # fmt: skip
    try:
        if token is None:
            first = await _first_message(websocket)
            token = first["token"]
            named = first.get("workspace_id")
            workspace = named if isinstance(named, str) and named else workspace
        clock = getattr(websocket.app.state, "clock", None) or utcnow
        return await asyncio.to_thread(_authenticate, svc, token, workspace, clock())
    except CodedError as exc:
        await refuse(websocket, exc)
    except WebSocketDisconnect:
        pass
    return None


async def pump(websocket: WebSocket, messages: AsyncIterator[dict[str, Any] | None],
               caller: SocketCaller) -> None:  # fmt: skip
    """Send each message as a JSON text frame (None: nothing, the server's pings keep the
    connection) and close (1000) after the last; end early when the client leaves, or
    with ``token_expired`` when the access token lapses."""

    async def send_all() -> None:
        async for msg in messages:
            if msg is not None:
                await websocket.send_json(msg)
        await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)

    async def until_gone() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass  # what a client sends after connecting means nothing here

    async def until_expired(at: datetime) -> None:
        await asyncio.sleep(max(0.0, (at - utcnow()).total_seconds()))
        await websocket.send_json({"type": "token_expired", "code": TOKEN_EXPIRED,
                                   "message": "the access token has expired: connect again "
                                              "with a fresh one"})  # fmt: skip
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=TOKEN_EXPIRED)

    tasks = [asyncio.create_task(send_all()), asyncio.create_task(until_gone())]
    if caller.expires_at is not None:
        tasks.append(asyncio.create_task(until_expired(caller.expires_at)))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(RuntimeError):
            await messages.aclose()  # type: ignore[attr-defined]
    for result in results:
        if isinstance(result, CodedError):
            await refuse(websocket, result)
        elif isinstance(result, Exception) and not isinstance(
                result, WebSocketDisconnect | RuntimeError | asyncio.CancelledError):
            raise result
    if websocket.application_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)
