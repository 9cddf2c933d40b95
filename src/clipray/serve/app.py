"""The Ray Serve application: one FastAPI ingress deployment.

Run it with ``serve run clipray.serve.app:app`` or ``serve deploy serve_config.yaml``.
Routers per resource (jobs, clips, search) join ``api`` as their issues land.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel
from ray import serve

from clipray import __version__
from clipray.serve.errors import ErrorResponse, install_error_handlers


class Health(BaseModel):
    status: str
    version: str


def create_api() -> FastAPI:
    """The plain FastAPI app (tests drive it with a TestClient, Serve wraps it)."""
    api = FastAPI(
        title="clipray",
        version=__version__,
        summary="Long videos in, short ranked clips out; every frame and word searchable.",
        responses={"default": {"model": ErrorResponse, "description": "Any error"}},
    )
    install_error_handlers(api)

    @api.get("/healthz", tags=["meta"])
    def healthz() -> Health:
        """Liveness of the ingress replica."""
        return Health(status="ok", version=__version__)

    return api


api = create_api()


@serve.deployment(name="Ingress")
@serve.ingress(api)
class Ingress:
    """HTTP ingress; model deployments are bound to it as handles when they exist."""


app = Ingress.bind()
