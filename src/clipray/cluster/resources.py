"""Stage resources from config, turned into the arguments Ray Data and Ray Core take.

Code never writes resource numbers where a stage is called; it asks for them here::

    ds.map_batches(AsrStage, fn_constructor_kwargs={"cfg": cfg}, **actor_pool_args(res))
"""

from __future__ import annotations

from typing import Any

from clipray.config import StageResources


def task_args(res: StageResources) -> dict[str, Any]:
    """``map_batches`` / ``map`` arguments for a cheap task stage (I/O, decode)."""
    return {"num_cpus": res.num_cpus, "num_gpus": res.num_gpus, "batch_size": res.batch_size}


def actor_pool_args(res: StageResources) -> dict[str, Any]:
    """``map_batches`` arguments for a model stage run by a pool of actors.

    ``compute`` is a fixed pool of ``pool_size`` actors, or an autoscaling pool between
    ``pool_size`` and ``max_pool_size``.
    """
    from ray.data import ActorPoolStrategy

    if res.max_pool_size is not None and res.max_pool_size > res.pool_size:
        compute = ActorPoolStrategy(min_size=res.pool_size, max_size=res.max_pool_size)
    else:
        compute = ActorPoolStrategy(size=res.pool_size)
    return {**task_args(res), "compute": compute}


def actor_options(res: StageResources) -> dict[str, Any]:
    """``.options(...)`` of a long-lived actor (job runner, retention keeper, deployments)."""
    return {"num_cpus": res.num_cpus, "num_gpus": res.num_gpus}
