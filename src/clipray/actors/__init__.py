"""Long-lived Ray actors: the job runner, the retention keeper, the stream supervisor and
the publisher."""

from __future__ import annotations

from typing import Any

from clipray.config import Settings

NAMESPACE = "clipray"


def ensure_detached(actor: Any, name: str, settings: Settings) -> Any:
    """A named, detached actor that Ray restarts if it dies: the running one if there is
    one (``get_if_exists``), else started with ``settings``."""
    return actor.options(
        name=name,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=-1,
        max_concurrency=4,  # status and wake answer while its loop thread works
        num_cpus=0,  # it coordinates: the tasks it starts reserve what they use
    ).remote(settings)


def named(name: str) -> Any | None:
    """The handle of a running named actor, or None."""
    import ray

    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return None


def ensure_actors(settings: Settings) -> dict[str, Any]:
    """The detached actors, started where they are not running (idempotent: they are
    named). ``clipray up``, ``clipray serve`` and the Serve ingress all call this."""
    from clipray.actors.job_runner import ensure_job_runner
    from clipray.actors.publisher import ensure_publisher
    from clipray.actors.retention import ensure_retention_keeper
    from clipray.actors.stream_supervisor import ensure_stream_supervisor

    return {"runner": ensure_job_runner(settings), "retention": ensure_retention_keeper(settings),
            "streams": ensure_stream_supervisor(settings),
            "publisher": ensure_publisher(settings)}  # fmt: skip
