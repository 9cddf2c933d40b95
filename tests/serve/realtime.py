"""Clients of the real-time routes for tests: the app served for real (uvicorn on a
loopback port), an SSE reader and a WebSocket reader that wait with deadlines."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from clipray.serve.app import create_api
from tests.publish.harness import serve_fake


@contextmanager
def served(settings: Any) -> Iterator[tuple[str, httpx.Client]]:
    """``create_api(settings)`` on a loopback port: its base URL and a client of it."""
    with serve_fake(create_api(settings)) as base, httpx.Client(base_url=base,
                                                                 timeout=30) as client:
        yield base, client


class SseReader:
    """Reads an event stream on a thread of its own into a queue of ``(id, event, data)``;
    ``next`` waits for one with a deadline."""

    def __init__(self, client: httpx.Client, path: str, headers: dict[str, str]) -> None:
        self.items: queue.Queue[tuple[str | None, str, dict[str, Any]] | BaseException] = (
            queue.Queue())
        self.status: int | None = None
        self.content_type = ""
        self._thread = threading.Thread(target=self._run, args=(client, path, headers),
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def _run(self, client: httpx.Client, path: str, headers: dict[str, str]) -> None:
        try:
            with client.stream("GET", path, headers=headers,
                               timeout=httpx.Timeout(30, read=60)) as resp:  # fmt: skip
                self.status = resp.status_code
                self.content_type = resp.headers.get("content-type", "")
                if resp.status_code != 200:
                    resp.read()
                    self.items.put(AssertionError(f"{resp.status_code}: {resp.text}"))
                    return
                ident, event, data = None, "", []
                for line in resp.iter_lines():
                    if line.startswith("id:"):
                        ident = line.split(":", 1)[1].strip()
                    elif line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data.append(line.split(":", 1)[1].strip())
                    elif line == "" and event:
                        self.items.put((ident, event, json.loads("".join(data))))
                        ident, event, data = None, "", []
        except BaseException as exc:  # raised in the test's thread by next()
            self.items.put(exc)

    def next(self, timeout: float = 60) -> tuple[str | None, str, dict[str, Any]]:
        try:
            item = self.items.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout:g} s") from None
        if isinstance(item, BaseException):
            raise item
        return item

    def until(self, done: Callable[[str, dict[str, Any]], bool], timeout: float = 60
              ) -> list[tuple[str | None, str, dict[str, Any]]]:  # fmt: skip
        """Every event up to and including the first that ``done(event, data)`` accepts."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            item = self.next(max(0.1, deadline - time.monotonic()))
            got.append(item)
            if done(item[1], item[2]):
                return got

    def join(self, timeout: float = 30) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the event stream did not end"


def ws_connect(base: str, path: str, token: str | None = None, *,
               subprotocol: bool = False, first: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> ClientConnection:  # fmt: skip
    """A WebSocket to ``path``: the token as the subprotocols ``bearer, <token>``, or in the
    first message (``first`` overrides that message)."""
    url = base.replace("http://", "ws://", 1) + path
    ws = connect(url, subprotocols=["bearer", token] if subprotocol and token else None,
                 additional_headers=headers, open_timeout=30)  # fmt: skip
    if not subprotocol:
        ws.send(json.dumps(first if first is not None else {"token": token}))
    return ws


def ws_messages(ws: ClientConnection, until: Callable[[dict[str, Any]], bool],
                timeout: float = 60) -> list[dict[str, Any]]:  # fmt: skip
    """Messages up to and including the first ``until`` accepts (a deadline, not a sleep)."""
    deadline = time.monotonic() + timeout
    got = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no message ended the wait within {timeout:g} s: {got}")
        try:
            msg = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            raise AssertionError(f"no message within {timeout:g} s after {got}") from None
        got.append(msg)
        if until(msg):
            return got


def ws_closed(ws: ClientConnection, timeout: float = 30) -> tuple[int, str]:
    """The close code and reason once the server has closed the socket (waited for)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except ConnectionClosed as exc:
        if exc.rcvd is None:
            raise AssertionError("the server did not send a close frame") from exc
        return exc.rcvd.code, exc.rcvd.reason
    except TimeoutError:
        pass
    raise AssertionError(f"the socket was not closed within {timeout:g} s")
