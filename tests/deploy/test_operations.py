"""The README's Operations section names the ports and Services that the two deployments
(ray-cluster.yaml on VMs, the RayService on Kubernetes) really open."""

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
METRICS_PORT, DASHBOARD_PORT = 8080, 8265


def test_both_deployments_export_metrics_and_the_dashboard_where_the_readme_says():
    cluster = yaml.safe_load((REPO / "ray-cluster.yaml").read_text())
    for commands in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [c for c in cluster[commands] if "ray start" in c]
        assert starts, commands
        assert all(f"--metrics-export-port={METRICS_PORT}" in c for c in starts), commands
    assert "--dashboard-host=0.0.0.0" in " ".join(cluster["head_start_ray_commands"])

    docs = yaml.safe_load_all((REPO / "deploy" / "kuberay" / "rayservice.yaml").read_text())
    (service,) = [d for d in docs if d["kind"] == "RayService"]
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    ports = {p["name"]: p["containerPort"] for p in head["containers"][0]["ports"]}
    assert ports["metrics"] == METRICS_PORT
    assert ports["dashboard"] == DASHBOARD_PORT

    readme = (REPO / "README.md").read_text()
    section = readme.split("### Operations", 1)[1].split("\n## ", 1)[0]
    name = service["metadata"]["name"]  # KubeRay names its Services after the RayService
    for said in (
        f"svc/{name}-head-svc {DASHBOARD_PORT}",
        f"`{name}-serve-svc`",
        f"port {METRICS_PORT}",
        f"port {DASHBOARD_PORT}",
        "deploy/kuberay/rayservice.yaml",
        "docker build -f deploy/Dockerfile",
    ):
        assert said in section, said
