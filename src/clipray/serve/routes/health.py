"""Health: liveness of the replica (``/healthz``) and readiness of what it needs
(``/api/health``: database, S3, Ray and the job runner; "degraded" when only the app-owned
bucket of generated clips is missing)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from sqlalchemy import text

from clipray import __version__
from clipray.serve.deps import ServicesDep
from clipray.serve.errors import error_response
from clipray.serve.schemas import Health

router = APIRouter(tags=["meta"])


def _check(fn: Callable[[], None]) -> str:
    try:
        fn()
        return "ok"
    except Exception as exc:  # a health check reports, it does not raise
        return f"error: {type(exc).__name__}: {exc}"[:300]


def _ray() -> None:
    import ray

    if not ray.is_initialized():
        raise RuntimeError("Ray is not connected")
    from clipray.actors.job_runner import job_runner

    if job_runner() is None:
        raise RuntimeError("the job runner actor is not running")


@router.get("/api/health", responses={503: {"description": "A dependency is down"}})
def health(svc: ServicesDep, request: Request) -> Health:
    """Database, the media bucket, Ray and the job runner: 503 when one is down. Without the
    app-owned bucket of generated clips the answer is 200 ``degraded``: jobs still run."""

    def db() -> None:
        with svc.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def s3() -> None:
        if not svc.buckets.media.bucket_exists():
            raise RuntimeError(f"bucket {svc.buckets.media.bucket} is missing")

    checks = {"database": _check(db), "s3": _check(s3), "ray": _check(_ray)}
    if all(v == "ok" for v in checks.values()):
        # Without the app-owned bucket jobs still run (nothing is generated): degraded.
        problem = svc.buckets.generation_problem()
        checks["generated_clips"] = "ok" if problem is None else f"error: {problem}"
        return Health(status="ok" if problem is None else "degraded", checks=checks)
    return error_response(  # type: ignore[return-value]
        request, 503, "UNHEALTHY", f"clipray {__version__}: a dependency is down", checks
    )
