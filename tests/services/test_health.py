"""Readiness (``services/health.py``) against a real database and a real S3 server: each
dependency's check, ``degraded`` without the app-owned bucket, 503 when one is down."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from clipray.domain.errors import Unavailable
from clipray.services.health import readiness
from clipray.storage.db import Database
from clipray.storage.objects import Buckets


@dataclass
class Conn:
    db: Database
    buckets: Buckets


def _up() -> None:
    """Ray and the job runner as a check sees them when they run."""


def _ray_down() -> None:
    raise RuntimeError("Ray is not connected")


def test_all_up_is_ok(sqlite_db, buckets):
    assert buckets.generated is not None
    ready = readiness(Conn(sqlite_db, buckets), _up)
    assert ready.status == "ok"
    assert ready.checks == {"database": "ok", "s3": "ok", "ray": "ok", "generated_clips": "ok"}


def test_without_the_app_owned_bucket_is_degraded(sqlite_db, buckets):
    ready = readiness(Conn(sqlite_db, replace(buckets, generated=None)), _up)
    assert ready.status == "degraded"
    assert ready.checks["generated_clips"].startswith("error: ")
    assert {k: v for k, v in ready.checks.items() if k != "generated_clips"} == {
        "database": "ok", "s3": "ok", "ray": "ok"}  # fmt: skip


def test_a_dependency_down_is_503_naming_each(tmp_path, buckets):
    (tmp_path / "clipray.db").mkdir()  # a directory where the file should be: no database
    unreachable = Database(f"sqlite:///{tmp_path / 'clipray.db'}")
    try:
        with pytest.raises(Unavailable) as exc:
            readiness(Conn(unreachable, buckets), _ray_down)
    finally:
        unreachable.dispose()
    err = exc.value
    assert (err.code, err.status) == ("UNHEALTHY", 503)
    assert err.detail["s3"] == "ok"
    assert err.detail["database"].startswith("error: ")
    assert err.detail["ray"] == "error: RuntimeError: Ray is not connected"
    assert "generated_clips" not in err.detail
