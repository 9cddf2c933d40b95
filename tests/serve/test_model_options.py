"""The warm model services' deployment options come from the settings' service stages."""

import asyncio

import pytest

from clipray.config import Settings, StageResources
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.warm import ASR, EMBED, FACES, TEXT_EMBED
from clipray.serve.models import (
    REPORT_TTL_S,
    ModelServices,
    _configs,
    _options,
    config_key,
    cpu_share,
    models_app,
    service_options,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("res", "limits", "expected"),
    [
        pytest.param(StageResources(num_cpus=0.5), {}, {"num_replicas": 1, "ray_actor_options": {
            "num_cpus": 0.5, "num_gpus": 0.0}, "max_ongoing_requests": 16}, id="fixed"),
        pytest.param(StageResources(num_cpus=1, num_gpus=0.25, pool_size=1, max_pool_size=4), {}, {
            "autoscaling_config": {"min_replicas": 1, "max_replicas": 4,
                                   "target_ongoing_requests": 8},
            "ray_actor_options": {"num_cpus": 1, "num_gpus": 0.25},
            "max_ongoing_requests": 16}, id="autoscaling-gpu"),
        # The soft limit is the autoscaling target per replica; a replica takes every request
        # up to the hard limit, so that the replicas count the whole queue admission sees.
        pytest.param(StageResources(pool_size=2, max_pool_size=6),
                     {"soft_limit": 12, "hard_limit": 48}, {
            "autoscaling_config": {"min_replicas": 2, "max_replicas": 6,
                                   "target_ongoing_requests": 12},
            "ray_actor_options": {"num_cpus": 1.0, "num_gpus": 0.0},
            "max_ongoing_requests": 48}, id="queue-limits"),
        pytest.param(StageResources(), {"soft_limit": 1, "hard_limit": 1}, {
            "num_replicas": 1, "ray_actor_options": {"num_cpus": 1.0, "num_gpus": 0.0},
            "max_ongoing_requests": 16}, id="low-hard-limit-keeps-two-batches"),
    ],
)  # fmt: skip
def test_service_stage_resources_become_deployment_options(res, limits, expected):
    assert _options(res, **limits) == expected


def test_the_settings_queue_limits_reach_the_deployments():
    settings = Settings(model_queue_soft_limit=4, model_queue_hard_limit=64,
                        stages={"faces_service": {"max_pool_size": 3}})  # fmt: skip
    root = models_app(settings)._bound_deployment
    faces = root.init_kwargs[FACES]._bound_deployment  # what .options() made of the stage
    assert faces.max_ongoing_requests == 64
    assert faces._deployment_config.autoscaling_config.target_ongoing_requests == 4
    assert root.init_kwargs["soft_limit"] == 4  # the root exports it beside the depth


def test_a_hard_limit_under_the_soft_one_is_refused():
    with pytest.raises(ValueError, match="model_queue_hard_limit"):
        Settings(model_queue_soft_limit=10, model_queue_hard_limit=5)


def test_the_root_sums_each_services_queue_over_its_live_replicas(monkeypatch):
    import clipray.serve.models as models

    now = [1000.0]
    monkeypatch.setattr(models.time, "monotonic", lambda: now[0])
    root = ModelServices.func_or_class(soft_limit=8, **{ASR: object(), FACES: object()})

    def report(*args) -> None:  # type: ignore[no-untyped-def]
        asyncio.run(root.report(*args))

    def queues() -> dict:
        return asyncio.run(root.queues())

    assert queues() == {ASR: {"depth": 0, "answered_per_s": 0, "replicas": 0},
                        FACES: {"depth": 0, "answered_per_s": 0, "replicas": 0}}
    report(ASR, "r1", 5, 1.5)
    report(ASR, "r2", 3, 0.5)
    now[0] += REPORT_TTL_S - 1
    report(FACES, "f1", 2, 4.0)
    report(ASR, "r1", 4, 1.5)  # r1's newer report replaces its older one
    assert queues()[ASR] == {"depth": 7, "answered_per_s": 2.0, "replicas": 2}
    now[0] += 2  # r2 has been silent past the TTL: gone, its queue with it
    assert queues() == {ASR: {"depth": 4, "answered_per_s": 1.5, "replicas": 1},
                        FACES: {"depth": 2, "answered_per_s": 4.0, "replicas": 1}}


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
