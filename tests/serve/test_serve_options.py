"""The Serve deployments' options are defined once (``serve/options.py``): the decorators
carry them, ``serve_config.yaml`` repeats them exactly, and the file is valid for Serve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.serve.config import AutoscalingConfig
from ray.serve.schema import DeploymentSchema, ServeDeploySchema

from clipray.serve import options
from clipray.serve.app import Ingress
from clipray.serve.encoders import QueryEncoderDeployment

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load((REPO / "serve_config.yaml").read_text())


def test_serve_config_yaml_is_valid_for_serve(raw):
    config = ServeDeploySchema.model_validate(raw)
    (app,) = [a for a in config.applications if a.name == "clipray"]
    assert app.import_path == "clipray.serve.app:app"
    assert [d.name for d in app.deployments] == [d["name"] for d in options.DEPLOYMENTS]


def test_serve_config_yaml_repeats_the_python_definition(raw):
    """Compared as written, not through Serve's schema: it ignores a key it does not know
    (``max_ongoing_request: 100`` would deploy Serve's default of 5 without a word)."""
    (app,) = [a for a in raw["applications"] if a["name"] == "clipray"]
    assert app["deployments"] == options.deployments_config(), (
        "serve_config.yaml's deployments differ from serve/options.py; write:\n"
        + yaml.safe_dump(options.deployments_config(), sort_keys=False)
    )


def test_every_option_is_one_serve_knows():
    for defined in options.DEPLOYMENTS:
        assert set(defined) <= set(DeploymentSchema.model_fields), defined["name"]
        scaling = defined.get("autoscaling_config", {})
        assert set(scaling) <= set(AutoscalingConfig.model_fields), defined["name"]


@pytest.mark.parametrize(
    ("deployment", "defined"),
    [
        pytest.param(Ingress, options.INGRESS, id="Ingress"),
        pytest.param(QueryEncoderDeployment, options.QUERY_ENCODERS, id="QueryEncoders"),
    ],
)
def test_the_decorators_carry_the_definition(deployment, defined):
    """What ``clipray serve`` and ``serve run clipray.serve.app:app`` deploy."""
    cfg = deployment._deployment_config
    assert deployment.name == defined["name"]
    assert cfg.max_ongoing_requests == defined["max_ongoing_requests"]
    assert deployment.ray_actor_options == defined["ray_actor_options"]
    if "autoscaling_config" in defined:
        got = cfg.autoscaling_config.model_dump()
        assert {k: got[k] for k in defined["autoscaling_config"]} == defined["autoscaling_config"]
    else:
        assert cfg.autoscaling_config is None
        assert cfg.num_replicas == defined["num_replicas"]


def test_the_ingress_admits_a_load_not_serves_default_of_five():
    """Serve's default of 5 ongoing requests starved the ingress (5-8 requests a second for
    100 clients); the cap sits 20-50 % above the autoscaling target, as Ray advises, so a
    replica reaches the target before the router holds requests back."""
    ingress = options.INGRESS
    cap = ingress["max_ongoing_requests"]
    target = ingress["autoscaling_config"]["target_ongoing_requests"]
    assert cap >= 64
    assert 1.2 * target <= cap <= 1.5 * target
    scaling = ingress["autoscaling_config"]
    assert 1 <= scaling["min_replicas"] <= scaling["max_replicas"]
