"""The warm model services' deployment options come from the settings' service stages."""

import pytest

from clipray.config import Settings, StageResources
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.warm import ASR, EMBED, FACES, TEXT_EMBED
from clipray.serve.models import _configs, _options, config_key, cpu_share, service_options

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("res", "expected"),
    [
        pytest.param(StageResources(num_cpus=0.5), {"num_replicas": 1, "ray_actor_options": {
            "num_cpus": 0.5, "num_gpus": 0.0}}, id="fixed"),
        pytest.param(StageResources(num_cpus=1, num_gpus=0.25, pool_size=1, max_pool_size=4), {
            "autoscaling_config": {"min_replicas": 1, "max_replicas": 4,
                                   "target_ongoing_requests": 8},
            "ray_actor_options": {"num_cpus": 1, "num_gpus": 0.25}}, id="autoscaling-gpu"),
    ],
)  # fmt: skip
def test_service_stage_resources_become_deployment_options(res, expected):
    assert _options(res) == expected


def test_the_settings_stages_reach_the_services():
    settings = Settings(stages={"asr_service": {"num_gpus": 0.5, "max_pool_size": 3}})
    assert settings.stage("asr_service").num_gpus == 0.5
    assert settings.stage("asr_service").num_cpus == 0.5  # the default, kept
    assert _options(settings.stage("asr_service"))["autoscaling_config"]["max_replicas"] == 3


def test_frame_embeddings_are_a_service_only_with_weights():
    plain = Settings()
    assert set(_configs(plain, analyze_config(plain))) == {ASR, FACES, TEXT_EMBED}
    clip = Settings(clip_pretrained="/models/clip.pt")
    configs = _configs(clip, analyze_config(clip))
    assert set(configs) == {ASR, FACES, TEXT_EMBED, EMBED}
    other = Settings(clip_pretrained="/models/other.pt")
    assert config_key(_configs(other, analyze_config(other))[EMBED]) != config_key(configs[EMBED])


@pytest.mark.parametrize(
    ("reserved", "cluster", "share"),
    [
        pytest.param(0.8, None, 1.0, id="serve-deploy-as-configured"),
        pytest.param(0.8, 1.0, 0.0, id="1-cpu-head-unreserved"),
        pytest.param(0.8, 2.0, 0.0, id="2-cpu-box-unreserved"),
        pytest.param(0.8, 2.4, 0.5, id="what-is-left-after-jobs"),
        pytest.param(0.8, 16.0, 1.0, id="a-cluster-gets-what-it-asks"),
        pytest.param(0.0, 1.0, 1.0, id="nothing-reserved"),
    ],
)
def test_services_leave_room_for_jobs_on_the_cluster_they_start_on(reserved, cluster, share):
    assert cpu_share(reserved, cluster) == pytest.approx(share)


def test_a_small_head_gets_unreserved_replicas():
    """A 1-CPU head (the CLI tests' homes) with 0.7 CPU reserved left a decode task pending
    for good: the replicas must not take what the jobs need."""
    names = [ASR, FACES, TEXT_EMBED]
    small = service_options(Settings(), names, cluster_cpus=1.0)
    assert {n: o["ray_actor_options"]["num_cpus"] for n, o in small.items()} == dict.fromkeys(
        names, 0.0)
    big = service_options(Settings(), names, cluster_cpus=64.0)
    assert {n: o["ray_actor_options"]["num_cpus"] for n, o in big.items()} == {
        ASR: 0.5, FACES: 0.1, TEXT_EMBED: 0.1}
