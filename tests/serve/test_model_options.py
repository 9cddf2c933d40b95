"""The warm model services' deployment options come from the settings' service stages."""

import pytest

from clipray.config import Settings, StageResources
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.warm import ASR, EMBED, FACES, TEXT_EMBED
from clipray.serve.models import _configs, _options, config_key

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
