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
    note: str | None = None
    """Set when the API is not where the settings asked (Serve already ran elsewhere)."""


def start_api(settings: Settings) -> Served:
    """Bring everything up and deploy the API on ``serve_host:serve_port``; returns at once
    (the deployment lives on the Ray cluster, not in this process)."""
    from clipray.actors import ensure_actors

    report = bring_up(settings)
    connect_ray(settings, log_to_driver=False)
    ensure_actors(settings)
    url = deploy_api(settings)
    asked = _url(settings.serve_host, settings.serve_port)
    note = None
    if url != asked:
        note = (f"Serve already ran on this cluster with its proxy at {url}, so the API is "
                f"there, not at {asked}: a proxy keeps its address while Serve runs "
                "(`clipray down`, or `serve shutdown`, then serve again to move it)")  # fmt: skip
    return Served(url, f"{url}/docs", report, note)


def _url(host: str | None, port: int) -> str:
    shown = "127.0.0.1" if host in (None, "", "0.0.0.0", "::") else host  # noqa: S104
    return f"http://{shown}:{port}"


def _proxy_address(settings: Settings) -> tuple[str | None, int]:
    """Where Serve's proxy listens: the options it was started with, which a later
    ``serve.start`` on a cluster where Serve already runs does not change."""
    try:
        from ray.serve.context import _get_global_client

        cfg = _get_global_client().http_config
        return cfg.host, int(cfg.port)
    except Exception:  # a Serve without that private view: trust the settings
        return settings.serve_host, settings.serve_port


def deploy_api(settings: Settings) -> str:
    """Start Serve's proxy on ``serve_host:serve_port`` (in the Ray this process is connected
    to) and deploy the app with the options of ``serve/options.py``, the ones
    ``serve_config.yaml`` repeats; returns the API's URL: where the proxy really listens,
    which is elsewhere when Serve already ran on the cluster with other options."""
    from ray import serve

    from clipray.serve.app import Ingress
    from clipray.serve.encoders import QueryEncoderDeployment

    serve.start(http_options={"host": settings.serve_host, "port": settings.serve_port})
    app = Ingress.bind(settings, encoders=QueryEncoderDeployment.bind(settings))
    serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    return _url(*_proxy_address(settings))


def stop_api() -> None:
    """Remove the API deployment (the Ray head, the job runner and the data stay)."""
    from ray import serve

    serve.delete(APP_NAME)
