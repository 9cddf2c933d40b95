"""The Ray Serve application: one FastAPI ingress deployment with a router per resource.

Run it with ``clipray serve`` (embedded services, local Ray, Serve on 127.0.0.1:8000),
``serve run clipray.serve.app:app`` or ``serve deploy serve_config.yaml`` on a cluster.
OpenAPI at ``/docs``. Tests drive :func:`create_api` with a TestClient, and the deployment
once through real Serve.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from ray import serve
from ray.serve.handle import DeploymentHandle

from clipray import __version__
from clipray.config import Settings
from clipray.serve.abandoned import FinishAbandonedRequests
from clipray.serve.deps import app_services
from clipray.serve.encoders import QueryEncoderDeployment
from clipray.serve.errors import ErrorResponse, install_error_handlers
from clipray.serve.limits import BodyLimitMiddleware, known_query
from clipray.serve.options import INGRESS, deployment_kwargs
from clipray.serve.routes import (
    audit,
    auth,
    brand,
    caption_preview,
    clips,
    connections,
    flags,
    generated,
    health,
    highlights,
    jobs,
    library,
    publish,
    publish_analytics,
    search,
    sources,
    stream_events,
    streams,
    transcripts,
    uploads,
    usage,
    webhooks,
    workspaces,
    ws,
)
from clipray.serve.studio import install_studio
from clipray.web import DIST


class Liveness(BaseModel):
    status: str
    version: str


def create_api(settings: Settings | None = None,
               clock: Callable[[], datetime] | None = None,
               studio: Path | None = None) -> FastAPI:  # fmt: skip
    """The plain FastAPI app; ``settings`` None reads ``CLIPRAY_*`` on first use. ``clock``
    (UTC now by default) times the per-user rate limit: tests move it instead of sleeping.
    ``studio`` is the web studio's build served at ``/`` (the package's own by default)."""
    api = FastAPI(
        title="clipray",
        version=__version__,
        summary="Long videos in, short ranked clips out; every frame and word searchable.",
        description=(
            'Every error answers `{"error": {"code", "message", "trace_id"}}` with a '
            "machine-readable `code`. Authenticate with `Authorization: Bearer <token>` (an "
            "access token from /api/auth/login, or an API token); act in another workspace "
            "with `X-Workspace-Id`."
        ),
        responses={"default": {"model": ErrorResponse, "description": "Any error"}},
        dependencies=[Depends(known_query)],
    )
    api.state.settings = settings
    api.state.clock = clock
    api.state.services = None
    # Added before the error handlers' trace middleware, so it runs inside it: a 413 has
    # its trace id too.
    api.add_middleware(BodyLimitMiddleware,
                       limit=lambda: app_services(api).settings.max_request_bytes)  # fmt: skip
    install_error_handlers(api)
    api.add_middleware(FinishAbandonedRequests)  # outermost: see serve/abandoned.py

    @api.get("/healthz", tags=["meta"])
    def healthz() -> Liveness:
        """Liveness of the ingress replica."""
        return Liveness(status="ok", version=__version__)

    for module in (
        auth,
        workspaces,
        uploads,
        jobs,
        clips,
        generated,
        sources,
        search,
        highlights,
        transcripts,
        audit,
        health,
        usage,
        streams,
        stream_events,
        ws,
    ):
        api.include_router(module.router)
    # Must stay before the publications router: its /api/publish/{id} would take
    # "analytics" for an id.
    api.include_router(publish_analytics.router)
    api.include_router(auth.tokens_router)
    api.include_router(connections.router)
    api.include_router(webhooks.router)
    api.include_router(brand.router)
    api.include_router(flags.router)
    api.include_router(caption_preview.router)
    api.include_router(library.router)
    api.include_router(audit.admin_router)
    api.include_router(publish.router)
    api.include_router(publish.clips_router)
    install_studio(api, studio if studio is not None else DIST)
    return api


api = create_api()


# Replicas, concurrency and resources: serve/options.py, repeated in serve_config.yaml.
@serve.deployment(**deployment_kwargs(INGRESS))
@serve.ingress(api)
class Ingress:
    """HTTP ingress; searches encode their query through the ``encoders`` deployment's
    handle. It makes sure the job runner and the retention keeper exist (idempotent:
    named detached actors), so ``serve run``/``serve deploy`` alone give a working system."""

    def __init__(
        self,
        settings: Settings | None = None,
        start_runner: bool = True,
        encoders: DeploymentHandle | None = None,
    ) -> None:
        from clipray.config import get_settings
        from clipray.serve.deps import configure
        from clipray.serve.encoders import HandleEncoders

        resolved = settings or get_settings()
        configure(resolved, HandleEncoders(encoders) if encoders is not None else None)
        if start_runner:
            from clipray.actors import ensure_actors

            self.actors: dict[str, Any] = ensure_actors(resolved)


app = Ingress.bind(encoders=QueryEncoderDeployment.bind())
