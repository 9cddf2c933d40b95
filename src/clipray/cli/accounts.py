"""Connected platform accounts: accounts connect, accounts list.

clipray accounts connect youtube   # prints the consent URL, waits for the browser to come back
clipray accounts list              # the workspace's connected accounts

``connect`` listens on 127.0.0.1 (a one-shot HTTP listener, the loopback redirect that
OAuth 2.0 for native apps prescribes, RFC 8252) for the platform's redirect, and completes
the flow through the same service as ``/api/auth/{platform}/callback``. The OAuth client must
allow the redirect URI ``http://127.0.0.1:PORT/callback``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import typer

from clipray.cli.common import _settings, _workspace_database, app, err, out
from clipray.domain.errors import CodedError

accounts_app = typer.Typer(help="Platform accounts connected for publishing (OAuth).",
                           no_args_is_help=True)  # fmt: skip
app.add_typer(accounts_app, name="accounts")

_PAGE = (b"<!doctype html><meta charset=utf-8><title>clipray</title>"
         b"<p>clipray received the platform's answer: return to the terminal.</p>")  # fmt: skip


class CallbackListener:
    """One redirect to ``http://127.0.0.1:PORT/callback``, received once."""

    def __init__(self, port: int = 0) -> None:
        received: dict[str, str] = {}
        done = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/callback" or done.is_set():
                    self.send_error(404)
                    return
                received.update({k: v[0] for k, v in parse_qs(parts.query).items()})
                done.set()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(_PAGE)))
                self.end_headers()
                self.wfile.write(_PAGE)

            def log_message(self, *_: Any) -> None:  # the query holds the code: never log it
                return

        self._server = HTTPServer(("127.0.0.1", port), Handler)
        self._received, self._done = received, done
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/callback"

    def __enter__(self) -> CallbackListener:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout_s: float) -> dict[str, str]:
        if not self._done.wait(timeout_s):
            raise CodedError("OAUTH_TIMEOUT", f"no answer from the consent page within "
                             f"{timeout_s:g} s: run the command again", status=408)  # fmt: skip
        return dict(self._received)


@accounts_app.command("connect")
def accounts_connect(
    ctx: typer.Context,
    platform: Annotated[str, typer.Argument(help="youtube, tiktok, instagram, x or linkedin.")],
    port: Annotated[int, typer.Option(help="Local port of the callback (0: any free one).")] = 0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the consent.")] = 300.0,
) -> None:
    """Connect a platform account: open the printed URL, consent, come back here."""
    from clipray.services import connections
    from clipray.services.accounts import local_user

    settings = _settings(ctx)
    db, ws = _workspace_database(settings)
    user_id = local_user(db)
    with CallbackListener(port) as listener:
        consent = connections.start(settings, db, user_id, ws.id, platform, listener.redirect_uri)
        err.print("open this URL in a browser and allow access:", highlight=False)
        out.print(consent.url, highlight=False, soft_wrap=True)
        answer = listener.wait(timeout)
    view = connections.complete(settings, db, platform, answer.get("state", ""),
                                answer.get("code"), answer.get("error"),
                                caller_user_id=user_id)  # fmt: skip
    out.print(f"[green]OK[/] connected {view.platform} account {view.name!r} "
              f"({view.platform_account_id}) as {view.id}", highlight=False)  # fmt: skip


@accounts_app.command("list")
def accounts_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The workspace's connected accounts: id, platform, name, status (never tokens)."""
    from clipray.services import connections

    db, ws = _workspace_database(_settings(ctx))
    views = connections.list_accounts(db, ws.id)
    if as_json:
        rows = [{"id": v.id, "platform": v.platform, "platform_account_id":
                 v.platform_account_id, "name": v.name, "scopes": list(v.scopes),
                 "status": v.status, "created_at": v.created_at.isoformat()} for v in views]
        out.print_json(json.dumps(rows))
        return
    if not views:
        out.print("no connected accounts: `clipray accounts connect PLATFORM`")
    for v in views:
        out.print(f"{v.id}  {v.platform:<9}  {v.status:<15}  {v.name} ({v.platform_account_id})",
                  highlight=False)  # fmt: skip
