"""``clipray serve``: the embedded services, the local Ray head, the job runner and Serve.

On a cluster the same app is deployed with ``serve deploy serve_config.yaml`` (or
``serve run clipray.serve.app:app``); the ingress starts the job runner there itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from clipray.cluster.services import UpReport, bring_up, connect_ray
from clipray.config import Settings

APP_NAME = "clipray"


@dataclass(frozen=True)
class Served:
    url: str
    docs_url: str
    up: UpReport


def start_api(settings: Settings) -> Served:
    """Bring everything up and deploy the API on ``serve_host:serve_port``; returns at once
    (the deployment lives on the Ray cluster, not in this process)."""
    from clipray.actors import ensure_actors

    report = bring_up(settings)
    connect_ray(settings, log_to_driver=False)
    ensure_actors(settings)
    url = deploy_api(settings)
    return Served(url, f"{url}/docs", report)


def deploy_api(settings: Settings) -> str:
    """Start Serve's proxy on ``serve_host:serve_port`` (in the Ray this process is connected
    to) and deploy the app with the options of ``serve/options.py``, the ones
    ``serve_config.yaml`` repeats; returns the API's URL."""
    from ray import serve

    from clipray.serve.app import Ingress
    from clipray.serve.encoders import QueryEncoderDeployment

    serve.start(http_options={"host": settings.serve_host, "port": settings.serve_port})
    app = Ingress.bind(settings, encoders=QueryEncoderDeployment.bind(settings))
    serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    host = "127.0.0.1" if settings.serve_host in ("0.0.0.0", "::") else settings.serve_host  # noqa: S104
    return f"http://{host}:{settings.serve_port}"


def stop_api() -> None:
    """Remove the API deployment (the Ray head, the job runner and the data stay)."""
    from ray import serve

    serve.delete(APP_NAME)
