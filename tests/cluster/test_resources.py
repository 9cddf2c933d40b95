"""Stage resources flow from config (and env) into Ray Data on a real local Ray."""

import numpy as np
import ray

from clipray.cluster.resources import actor_options, actor_pool_args, task_args
from clipray.config import Settings, StageResources


def test_env_overrides_one_stage_and_keeps_the_others(monkeypatch):
    monkeypatch.setenv("CLIPRAY_STAGES__ASR__NUM_GPUS", "0.5")
    monkeypatch.setenv("CLIPRAY_STAGES__ASR__POOL_SIZE", "4")
    s = Settings()
    assert s.stage("asr").num_gpus == 0.5
    assert s.stage("asr").pool_size == 4
    defaults = Settings.model_fields["stages"].default_factory()
    # Only the fields set change: ASR keeps its batch size, other stages keep theirs.
    assert s.stage("asr").batch_size == defaults["asr"].batch_size
    assert s.stage("faces") == defaults["faces"]


def test_pool_arguments():
    fixed = actor_pool_args(StageResources(num_cpus=2, pool_size=3, batch_size=8))
    assert {k: fixed[k] for k in ("num_cpus", "num_gpus", "batch_size")} == {
        "num_cpus": 2, "num_gpus": 0, "batch_size": 8,
    }  # fmt: skip
    assert (fixed["compute"].min_size, fixed["compute"].max_size) == (3, 3)
    scaling = actor_pool_args(StageResources(pool_size=1, max_pool_size=4))
    assert (scaling["compute"].min_size, scaling["compute"].max_size) == (1, 4)
    assert task_args(StageResources(num_cpus=0.5))["num_cpus"] == 0.5
    assert actor_options(StageResources(num_gpus=0.25)) == {"num_cpus": 1.0, "num_gpus": 0.25}


class _Square:
    """A stateful stage: its constructor runs once per actor, like a model load."""

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"y": batch["id"] ** 2 + self.offset}


def test_a_stage_runs_on_ray_with_the_configured_pool(ray_local):
    res = Settings(stages={"square": StageResources(num_cpus=0.5, pool_size=2, batch_size=4)})
    ds = ray.data.range(20).map_batches(
        _Square, fn_constructor_kwargs={"offset": 1}, **actor_pool_args(res.stage("square"))
    )
    assert sorted(r["y"] for r in ds.take_all()) == [i * i + 1 for i in range(20)]
