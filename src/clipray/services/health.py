"""Readiness: is what clipray needs up (the database, the media bucket, Ray and the job
runner), and can generated clips be stored. ``GET /api/health`` answers with it.

Each check reports instead of raising, so one answer names every dependency that is down;
only the verdict raises. Without the app-owned bucket of generated clips the answer is
``degraded``, not down: jobs still run, they just store no generated clip.

    >>> readiness(svc, runner_alive).checks   # doctest: +SKIP
    {'database': 'ok', 's3': 'ok', 'ray': 'ok', 'generated_clips': 'ok'}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy import text

from clipray import __version__
from clipray.domain.errors import Unavailable
from clipray.storage.db import Database
from clipray.storage.objects import Buckets

__all__ = ["Connections", "Readiness", "readiness"]


class Connections(Protocol):
    """Where the database and the buckets come from, opened on first use (an attribute
    that raises is a failed check, not an error)."""

    @property
    def db(self) -> Database: ...

    @property
    def buckets(self) -> Buckets: ...


@dataclass(frozen=True)
class Readiness:
    status: Literal["ok", "degraded"]
    checks: dict[str, str]
    """Each dependency's ``ok`` or ``error: ...``."""


def _check(fn: Callable[[], None]) -> str:
    try:
        fn()
        return "ok"
    except Exception as exc:  # a health check reports, it does not raise
        return f"error: {type(exc).__name__}: {exc}"[:300]


def readiness(conn: Connections, ray: Callable[[], None]) -> Readiness:
    """Check every dependency; ``ray`` raises when Ray or the job runner is not there (the
    caller knows the actors, this layer does not).

    Raises:
        Unavailable: 503 ``UNHEALTHY`` when the database, the media bucket or Ray is down;
            its ``detail`` is the checks.
    """

    def db() -> None:
        with conn.db.engine.connect() as c:
            c.execute(text("SELECT 1"))

    def s3() -> None:
        media = conn.buckets.media
        if not media.bucket_exists():
            raise RuntimeError(f"bucket {media.bucket} is missing")

    checks = {"database": _check(db), "s3": _check(s3), "ray": _check(ray)}
    if not all(v == "ok" for v in checks.values()):
        raise Unavailable("UNHEALTHY", f"clipray {__version__}: a dependency is down",
                          detail=checks)  # fmt: skip
    # Without the app-owned bucket jobs still run (nothing is generated): degraded.
    problem = conn.buckets.generation_problem()
    checks["generated_clips"] = "ok" if problem is None else f"error: {problem}"
    return Readiness("ok" if problem is None else "degraded", checks)
