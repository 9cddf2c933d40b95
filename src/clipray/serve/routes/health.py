"""Health: liveness of the replica (``/healthz``) and readiness of what it needs
(``/api/health``: database, S3, Ray and the job runner; "degraded" when only the app-owned
bucket of generated clips is missing). The checks are ``services/health.py``."""

from __future__ import annotations

from fastapi import APIRouter

from clipray.serve.deps import ServicesDep, runner_alive
from clipray.serve.schemas import Health
from clipray.services import health as service

router = APIRouter(tags=["meta"])


@router.get("/api/health", responses={503: {"description": "A dependency is down"}})
def health(svc: ServicesDep) -> Health:
    """Database, the media bucket, Ray and the job runner: 503 when one is down. Without the
    app-owned bucket of generated clips the answer is 200 ``degraded``: jobs still run."""
    ready = service.readiness(svc, runner_alive)
    return Health(status=ready.status, checks=ready.checks)
