"""deploy/kuberay/rayservice.yaml is a RayService that KubeRay accepts and that fits clipray.

The manifest is validated against the ``openAPIV3Schema`` of KubeRay's own RayService CRD
(vendored in tests/data/kuberay), made strict the way the API server's strict field
validation (kubectl's default) is: an unknown field is refused, not silently pruned. The
rest checks what the schema cannot know: the Serve config agrees with serve_config.yaml, the
Ray version with the pin, every variable with a setting, and every stage with a group.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from clipray.config import Settings, StageResources
from clipray.pipelines.warm import ASR, EMBED, FACES, MODELS_APP, ROOT, TEXT_EMBED
from clipray.serve.models import service_options

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "deploy" / "kuberay" / "rayservice.yaml"
CRD = REPO / "tests" / "data" / "kuberay" / "ray.io_rayservices.yaml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
SECRET_SETTINGS = ("CLIPRAY_DATABASE_URL", "CLIPRAY_JWT_SECRET", "CLIPRAY_S3_SECRET_ACCESS_KEY")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRD is 1 MB of YAML


def _strict(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists its
    properties and does not preserve unknown fields, as strict field validation treats it."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    crd = yaml.load(CRD.read_text(), Loader=_Loader)  # noqa: S506 (CSafeLoader is safe)
    assert crd["spec"]["names"]["kind"] == "RayService"
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _strict(v1["schema"]["openAPIV3Schema"])
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    """The manifest's documents by kind."""
    found = {d["kind"]: d for d in yaml.safe_load_all(MANIFEST.read_text())}
    assert set(found) == {"ConfigMap", "RayService"}
    return found


@pytest.fixture
def service(docs) -> dict:
    return copy.deepcopy(docs["RayService"])


def _errors(validator: jsonschema.Draft7Validator, doc: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def _groups(service: dict) -> dict[str, dict]:
    """Worker groups by name, and the head under ``head``."""
    cluster = service["spec"]["rayClusterConfig"]
    return {"head": cluster["headGroupSpec"]} | {
        g["groupName"]: g for g in cluster["workerGroupSpecs"]
    }


def _containers(service: dict) -> list[dict]:
    return [
        c
        for group in _groups(service).values()
        for key in ("initContainers", "containers")
        for c in group["template"]["spec"].get(key, [])
    ]


def test_the_rayservice_validates_against_kuberays_crd(validator, service):
    assert service["apiVersion"] == "ray.io/v1"
    assert _errors(validator, service) == []


def _drop_gpu_template(s: dict) -> None:
    del s["spec"]["rayClusterConfig"]["workerGroupSpecs"][1]["template"]


def _misspell_min_replicas(s: dict) -> None:
    group = s["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    group["minReplica"] = group.pop("minReplicas")


def _unquote_num_cpus(s: dict) -> None:
    s["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["rayStartParams"]["num-cpus"] = 8


def _bad_memory_quantity(s: dict) -> None:
    worker = s["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]
    worker["containers"][0]["resources"]["limits"]["memory"] = "lots"


def _no_head(s: dict) -> None:
    del s["spec"]["rayClusterConfig"]["headGroupSpec"]


@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        pytest.param(_drop_gpu_template, "'template' is a required property", id="no-template"),
        pytest.param(_misspell_min_replicas, "'minReplica' was unexpected", id="unknown-field"),
        pytest.param(_unquote_num_cpus, "8 is not of type 'string'", id="ray-param-not-string"),
        pytest.param(_bad_memory_quantity, "'lots' does not match", id="bad-quantity"),
        pytest.param(_no_head, "'headGroupSpec' is a required property", id="no-head"),
    ],
)
def test_a_broken_rayservice_is_refused(
    validator, service, breaks: Callable[[dict], None], expected: str
):
    breaks(service)
    errors = _errors(validator, service)
    assert any(expected in e for e in errors), errors


def test_its_serve_config_is_serve_config_yaml(service):
    """The same applications on a VM cluster and on Kubernetes: copy one into the other."""
    inline = yaml.safe_load(service["spec"]["serveConfigV2"])
    assert inline == yaml.safe_load((REPO / "serve_config.yaml").read_text())
    ServeDeploySchema.model_validate(inline)
    # Serve listens where the pods' `serve` port (the Service and the probe use it) says.
    for container in _containers(service):
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        if container["name"].startswith("ray-"):
            assert ports["serve"] == inline["http_options"]["port"], container["name"]


def test_ray_version_and_image_are_one_for_every_node(service):
    pin = re.search(r'"ray\[[^\]]*\]==([\d.]+)"', (REPO / "pyproject.toml").read_text())
    assert pin is not None
    assert service["spec"]["rayClusterConfig"]["rayVersion"] == pin[1]
    images = {c["image"] for c in _containers(service)}
    assert len(images) == 1, images
    assert len(_containers(service)) == 4  # clipray-up, the head, the CPU and GPU workers


def _setting_exists(name: str) -> bool:
    """Whether ``CLIPRAY_<NAME>`` is read by Settings (``STAGES__<STAGE>__<FIELD>`` too)."""
    parts = name.removeprefix("CLIPRAY_").lower().split("__")
    if len(parts) == 1:
        return parts[0] in Settings.model_fields
    return (
        len(parts) == 3
        and parts[0] == "stages"
        and parts[1] in Settings.model_fields["stages"].get_default(call_default_factory=True)
        and parts[2] in StageResources.model_fields
    )


def test_every_container_reads_the_config_and_the_secrets_of_a_real_setting(docs, service):
    config = docs["ConfigMap"]
    names = [n for n in config["data"] if n.startswith("CLIPRAY_")]
    for container in _containers(service):
        assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
        secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
        assert all(ref["key"] == name for name, ref in secret_refs.items())
        names += secret_refs
    unknown = sorted({n for n in names if not _setting_exists(n)})
    assert unknown == []
    # Secrets come from the Secret only, and the ones clipray cannot run without are required.
    assert not set(SECRET_SETTINGS) & set(config["data"])
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in _containers(service)[0]["env"]}
    assert not env["CLIPRAY_DATABASE_URL"].get("optional")
    assert not env["CLIPRAY_JWT_SECRET"].get("optional")


def test_ray_token_auth_is_kuberays_not_turned_off(docs, service):
    assert service["spec"]["rayClusterConfig"]["authOptions"] == {"mode": "token"}
    names = set(docs["ConfigMap"]["data"]) | {
        e["name"] for c in _containers(service) for e in c["env"]
    }
    assert "RAY_AUTH_MODE" not in names


def _quantity(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def _capacity(group: dict) -> dict[str, float]:
    """What one pod of the group offers Ray, and how many pods the group may have."""
    params = group["rayStartParams"]
    return {
        "CPU": float(params["num-cpus"]),
        "GPU": float(params.get("num-gpus", 0)),
        "max_pods": group.get("maxReplicas", 1),
    }


def test_each_worker_offers_ray_what_its_container_has_and_the_head_no_cpu(service):
    for name, group in _groups(service).items():
        limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
        offered = _capacity(group)
        assert offered["GPU"] == _quantity(limits.get("nvidia.com/gpu", "0")), name
        if name == "head":  # GCS, dashboard, Serve's controller: no stage, no replica
            assert offered["CPU"] == 0
        else:  # more would overcommit the pod, less would leave CPUs unused
            assert offered["CPU"] == _quantity(limits["cpu"]), name


@pytest.fixture
def pod_settings(docs, monkeypatch) -> Settings:
    """The settings every pod reads (the ConfigMap; the secrets hold no resources)."""
    for name, value in docs["ConfigMap"]["data"].items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_every_stage_fits_a_worker_group_and_the_model_pools_fit_the_gpu_group(
    service, pod_settings
):
    groups = {name: _capacity(g) for name, g in _groups(service).items() if name != "head"}
    (gpu,) = [g for g in groups.values() if g["GPU"] > 0]
    assert any(g["GPU"] == 0 for g in groups.values()), "a CPU group for the CPU stages"

    stages = pod_settings.stages
    for name, res in stages.items():
        fits = [g for g in groups.values() if res.num_cpus <= g["CPU"] and res.num_gpus <= g["GPU"]]
        assert fits, f"stage {name} ({res.num_cpus} CPU, {res.num_gpus} GPU) fits no group"

    gpu_stages = {n: r for n, r in stages.items() if r.num_gpus > 0}
    assert set(gpu_stages) == {"asr", "faces", "embed"} | {f"{n}_service" for n in SERVICES}
    models = {n: gpu_stages[n] for n in ("asr", "faces", "embed")}  # batch runs' pools
    # One actor of each model stage shares one GPU pod.
    assert sum(r.num_gpus for r in models.values()) <= gpu["GPU"]
    assert sum(r.num_cpus for r in models.values()) <= gpu["CPU"]
    # The pools of every job the runner drives at once fit the GPU group at its largest: at
    # their smallest, or a job would wait for an actor that can never be placed; at their
    # largest, as the ConfigMap's comment promises.
    jobs = pod_settings.job_runner_concurrency
    smallest = jobs * sum(r.pool_size * r.num_gpus for r in models.values())
    largest = jobs * sum((r.max_pool_size or r.pool_size) * r.num_gpus for r in models.values())
    assert smallest <= largest <= gpu["GPU"] * gpu["max_pods"]


SERVICES = {"asr": ASR, "faces": FACES, "embed": EMBED, "text_embed": TEXT_EMBED}
"""The warm model services by their stage's name (``<name>_service``)."""


def _model_deployments(config: dict) -> dict[str, dict]:
    (app,) = [a for a in config["applications"] if a["name"] == MODELS_APP]
    return {d["name"]: d for d in app["deployments"]}


def test_the_configmap_starts_the_model_services_serve_config_deploys(service, pod_settings):
    """A job that finds clipray-models missing starts it from the settings (the ConfigMap):
    with the replicas and GPU fractions that serveConfigV2 (and serve_config.yaml) gives."""
    declared = _model_deployments(yaml.safe_load(service["spec"]["serveConfigV2"]))
    assert declared.pop(ROOT) == {"name": ROOT, "num_replicas": 1,
                                  "ray_actor_options": {"num_cpus": 0}}  # fmt: skip
    assert set(declared) == {ASR, FACES, TEXT_EMBED}  # FrameEmbed: with CLIP weights only
    options = service_options(pod_settings, list(declared))
    for name, deployment in declared.items():
        started = options[name]
        for key, value in deployment.items():
            if key != "name":
                assert started[key] == value, (name, key, started[key])
        assert started["ray_actor_options"]["num_gpus"] > 0, name  # placed on the GPU group


def _packs(items: list[tuple[float, float]], bins: int, size: tuple[float, float]) -> bool:
    """Whether ``items`` (GPU, CPU) fit ``bins`` pods of ``size``, first fit by GPU share
    descending (what the Ray scheduler can at best do, one replica at a time)."""
    free = [list(size) for _ in range(bins)]
    for gpu, cpu in sorted(items, reverse=True):
        pod = next((f for f in free if f[0] >= gpu - 1e-9 and f[1] >= cpu - 1e-9), None)
        if pod is None:
            return False
        pod[0] -= gpu
        pod[1] -= cpu
    return True


def test_the_model_services_are_sized_for_the_gpu_group(service, pod_settings):
    """One replica of every service (FrameEmbed included, as the ConfigMap sizes it) shares
    one GPU pod, which the group always keeps; at their maximum the services fit the group
    beside the per-job pools of the runner's jobs at theirs."""
    (gpu,) = [g for n, g in _groups(service).items() if n != "head" and _capacity(g)["GPU"]]
    pod = _capacity(gpu)
    stages = {name: pod_settings.stage(f"{name}_service") for name in SERVICES}
    one_each = [(r.num_gpus, r.num_cpus) for r in stages.values()]
    assert _packs(one_each, 1, (pod["GPU"], pod["CPU"]))
    assert sum(g for g, _ in one_each) == pytest.approx(pod["GPU"])  # a whole GPU, no more
    assert gpu["minReplicas"] >= 1  # the minimum replicas never wait for a node to boot
    at_most = [(r.num_gpus, r.num_cpus) for r in stages.values()
               for _ in range(r.max_pool_size or r.pool_size)]  # fmt: skip
    assert _packs(at_most, pod["max_pods"], (pod["GPU"], pod["CPU"]))
    pools = [(r.num_gpus, r.num_cpus) for n in ("asr", "faces", "embed")
             for r in [pod_settings.stage(n)]
             for _ in range((r.max_pool_size or r.pool_size) * pod_settings.job_runner_concurrency)]
    assert _packs(at_most + pools, pod["max_pods"], (pod["GPU"], pod["CPU"]))


def test_every_serve_replica_fits_a_worker_group(service):
    inline = yaml.safe_load(service["spec"]["serveConfigV2"])
    workers = {n: g for n, g in _groups(service).items() if n != "head"}
    # A group that always has a pod, so that the API comes up before any job asks for more.
    assert any(g["minReplicas"] >= 1 for g in workers.values())
    groups = [_capacity(g) for g in workers.values()]
    for app in inline["applications"]:
        for deployment in app["deployments"]:
            options = deployment.get("ray_actor_options", {})
            cpus, gpus = options.get("num_cpus", 1), options.get("num_gpus", 0)  # Serve's defaults
            assert any(cpus <= g["CPU"] and gpus <= g["GPU"] for g in groups), deployment["name"]


def test_the_head_migrates_before_ray_starts(service):
    (init,) = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"][
        "initContainers"
    ]
    assert init["command"] == ["clipray", "up", "--no-ray"]


def test_the_image_has_what_clipray_and_kuberays_probes_run():
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM python:(\d+)\.(\d+)-slim", text, re.M)
    assert base is not None
    assert (int(base[1]), int(base[2])) >= (3, 11)  # pyproject's requires-python
    apt = re.search(r"apt-get install [^\n]*", text)
    assert apt is not None
    assert {"ffmpeg", "wget"} <= set(apt[0].split())
    assert '"/src[ml]"' in text
    ignored = (REPO / "deploy" / "Dockerfile.dockerignore").read_text().split()
    assert {".git", "**/.venv", "tests"} <= set(ignored)
