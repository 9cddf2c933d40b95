"""ray-cluster.yaml and serve_config.yaml are valid for the Ray that clipray pins."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.serve.schema import ServeDeploySchema

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster_config() -> dict:
    return yaml.safe_load((REPO / "ray-cluster.yaml").read_text())


def test_ray_cluster_yaml_validates_against_rays_own_schema(cluster_config):
    schema_path = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
    jsonschema.validate(cluster_config, json.loads(schema_path.read_text()))
    # And the launcher's own checks, after it fills in the provider defaults (as `ray up` does).
    validate_config(prepare_config(copy.deepcopy(cluster_config)))


def test_ray_cluster_yaml_has_head_cpu_and_gpu_types_and_installs_clipray(cluster_config):
    types = cluster_config["available_node_types"]
    assert cluster_config["head_node_type"] in types
    assert any(t["resources"].get("GPU", 0) >= 1 for t in types.values())
    assert any(
        t["resources"].get("CPU", 0) >= 1 and not t["resources"].get("GPU") for t in types.values()
    )
    setup = " ".join(cluster_config["setup_commands"])
    assert "pip install" in setup
    assert "clipray[ml]" in setup
    assert "serve deploy" in " ".join(cluster_config["head_start_ray_commands"])


def test_a_broken_cluster_config_is_refused(cluster_config):
    broken = copy.deepcopy(cluster_config)
    broken["available_node_types"]["gpu_worker"]["resources"] = {"GPU": "one"}
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


def test_serve_config_validates_and_its_import_path_resolves():
    config = yaml.safe_load((REPO / "serve_config.yaml").read_text())
    schema = ServeDeploySchema.model_validate(config)
    from ray.serve._private.utils import import_attr

    for application in schema.applications:
        assert import_attr(application.import_path) is not None
