"""A request its client abandons ends its database transaction (serve/abandoned.py).

Ray Serve cancels the request's task when the client disconnects, as this test does: the
route is held inside its transaction, the task cancelled, then the route let go. Without
the middleware the cancellation closes the session under the running route, whose next
query opens a transaction nobody ends, and SQLite's write lock stays taken."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from clipray.serve.app import create_api
from clipray.serve.deps import SessionDep
from clipray.storage.orm import User

pytestmark = pytest.mark.integration


def _request(path: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1), "server": ("test", 80),
            "root_path": ""}  # fmt: skip


def test_a_request_cancelled_inside_its_route_leaves_no_transaction_open(api_settings):
    api = create_api(api_settings)
    inside, release, ended = threading.Event(), threading.Event(), threading.Event()

    @api.get("/test/held")
    def held(session: SessionDep) -> dict:
        session.scalar(select(func.count()).select_from(User))  # BEGIN IMMEDIATE: the lock
        inside.set()
        release.wait(30)
        count = session.scalar(select(func.count()).select_from(User))
        ended.set()
        return {"users": count}

    path = make_url(api_settings.resolved_database_url).database

    def write_within(seconds: float) -> None:
        conn = sqlite3.connect(path, timeout=seconds, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    async def main() -> None:
        body = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict:
            if body:
                return body.pop()
            await asyncio.Event().wait()  # the client never says more
            return {}

        async def send(_message: dict) -> None:
            pass

        task = asyncio.create_task(api(_request("/test/held"), receive, send))
        assert await asyncio.to_thread(inside.wait, 30)
        task.cancel()  # what Serve does when the client disconnects
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        assert await asyncio.to_thread(ended.wait, 30)
        # The lock is free again: a writer gets it (within 10 s, not SQLite's 30 s wait).
        await asyncio.to_thread(write_within, 10.0)

    asyncio.run(main())
