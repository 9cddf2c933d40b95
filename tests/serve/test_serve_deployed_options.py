"""What runs agrees with serve_config.yaml: the app as ``clipray serve`` deploys it, then as
``serve deploy serve_config.yaml`` does, each read back from the Serve controller (the data
of the dashboard's ``GET /api/serve/applications/``)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import requests
import yaml

from clipray.actors.job_runner import job_runner
from clipray.actors.publisher import publisher
from clipray.actors.retention import retention_keeper
from clipray.actors.stream_supervisor import stream_supervisor
from clipray.cluster.procs import free_ports
from clipray.config import Settings
from tests.conftest import cancel_active_jobs

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[2]


def running_deployments(app: str = "clipray") -> dict[str, dict[str, Any]]:
    """Each deployment's config as the Serve controller holds it for the running ``app``."""
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeInstanceDetails

    details = _get_global_client().get_serve_details()
    ServeInstanceDetails.model_validate(details)  # the shape the dashboard serves
    deployments = details["applications"][app]["deployments"]
    return {name: d["deployment_config"] for name, d in deployments.items()}


def agrees(declared: dict[str, Any], running: dict[str, Any], where: str = "") -> list[str]:
    """Where ``running`` differs from ``declared`` on what ``declared`` sets."""
    diffs = []
    for key, want in declared.items():
        got = running.get(key)
        if isinstance(want, dict) and isinstance(got, dict):
            diffs += agrees(want, got, f"{where}{key}.")
        elif got != want:
            diffs.append(f"{where}{key}: declared {want!r}, running {got!r}")
    return diffs


def env_of(settings: Settings) -> dict[str, str]:
    """The ``CLIPRAY_*`` variables that make a replica's own Settings these (a ``serve
    deploy`` app reads its settings from the environment)."""
    return {
        "CLIPRAY_HOME": str(settings.home_dir),
        "CLIPRAY_DATABASE_URL": settings.resolved_database_url,
        "CLIPRAY_MEDIA_BUCKET": settings.media_bucket,
        "CLIPRAY_GENERATED_BUCKET": settings.generated_bucket,
        "CLIPRAY_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "CLIPRAY_RAY_NUM_CPUS": "2",
    }


@pytest.fixture
def serve_port(api_settings, ray_local, api_db) -> Iterator[int]:
    from ray import serve

    cancel_active_jobs(api_db)  # the runner the ingress starts sees only this module's jobs
    # Serve started by an earlier module keeps its proxy's port: a fresh start takes ours.
    serve.shutdown()
    (port,) = free_ports(1)
    try:
        yield port
    finally:
        cancel_active_jobs(api_db)
        serve.shutdown()
        # the ingress started them
        for handle in (job_runner(), retention_keeper(), stream_supervisor(), publisher()):
            if handle is not None:
                ray.kill(handle, no_restart=True)


def test_clipray_serve_and_serve_deploy_run_what_the_yaml_declares(api_settings, serve_port):
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    from clipray.serve.launch import deploy_api

    raw = yaml.safe_load((REPO / "serve_config.yaml").read_text())
    (app,) = [a for a in raw["applications"] if a["name"] == "clipray"]
    declared = {d["name"]: {k: v for k, v in d.items() if k != "name"}
                for d in app["deployments"]}  # fmt: skip

    # `clipray serve`: its own code path, deploy_api (after bring_up, which the fixtures did)
    url = deploy_api(api_settings.model_copy(update={"serve_port": serve_port}))
    assert url == f"http://127.0.0.1:{serve_port}"
    assert requests.get(f"{url}/healthz", timeout=60).status_code == 200
    # Serve already runs: asked for another port, the API stays on the proxy's, and the URL
    # returned is that one (where it answers), not the one asked for
    other = free_ports(1)[0]
    again = deploy_api(api_settings.model_copy(update={"serve_port": other}))
    assert again == url
    assert requests.get(f"{again}/healthz", timeout=60).status_code == 200
    by_clipray_serve = running_deployments()
    assert set(by_clipray_serve) == set(declared)
    for name, want in declared.items():
        assert agrees(want, by_clipray_serve[name]) == [], name
    assert by_clipray_serve["Ingress"]["max_ongoing_requests"] == 100  # not Serve's 5

    # `serve deploy serve_config.yaml`: the file, as the dashboard hands it to the controller
    config = copy.deepcopy(raw)
    config["http_options"] = {"host": "127.0.0.1", "port": serve_port}
    # the API's application only: the file's model services ask for GPU fractions, which
    # this machine has none of (they are checked against the cluster's groups in
    # tests/deploy, and started from the settings on a CPU box)
    config["applications"] = [a for a in config["applications"] if a["name"] == "clipray"]
    for a in config["applications"]:
        a["runtime_env"] = {"env_vars": env_of(api_settings)}
    _get_global_client().deploy_apps(ServeDeploySchema.model_validate(config), _blocking=True)
    assert requests.get(f"{url}/api/health", timeout=60).status_code == 200
    by_serve_deploy = running_deployments()
    for name, want in declared.items():
        assert agrees(want, by_serve_deploy[name]) == [], name
    # and nothing else differs between the two ways in, but the environment given here
    for name in declared:
        by_serve_deploy[name]["ray_actor_options"].pop("runtime_env", None)
        by_clipray_serve[name]["ray_actor_options"].pop("runtime_env", None)
        assert by_serve_deploy[name] == by_clipray_serve[name], name
