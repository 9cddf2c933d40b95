"""The Serve deployments' options, defined once.

``@serve.deployment(**INGRESS)`` in ``serve/app.py`` and ``**QUERY_ENCODERS`` in
``serve/encoders.py`` read them, so ``clipray serve`` and ``serve run clipray.serve.app:app``
deploy exactly these; ``serve deploy serve_config.yaml`` overrides a deployment's options
with the file's, so the file repeats them (:func:`deployments_config` is its ``deployments``
list) and a test keeps the two equal. Change a number here and in the file together; a
cluster that wants other numbers edits its own copy of the file.

    >>> deployments_config()[0]["max_ongoing_requests"]
    100

Why Serve's defaults do not do: a deployment admits 5 requests per replica at once unless
told otherwise. The ingress answers a list in about 25 ms, mostly waiting on the database,
so 5 in flight left it idle while the proxy held the rest of 100 clients and its probes of a
full replica ("Failed to get queue length from Replica") timed out and backed off: 5 to 8
requests a second, p50 11-17 s. With 100 it served 52 to 62 a second on the same 2 cores.
"""

from __future__ import annotations

from typing import Any

INGRESS: dict[str, Any] = {
    "name": "Ingress",
    # A request mostly waits (the database, S3 presigning, the encoders' handle); FastAPI
    # runs the sync routes on a pool of 40 threads, so a replica holds 100 comfortably: 40
    # running, the rest queued in the replica, where they start as soon as a thread frees,
    # instead of in the proxy, whose retries against a full replica back off for seconds.
    "max_ongoing_requests": 100,
    # Scale out at 75 ongoing per replica on average: Ray advises a cap 20-50 % above the
    # target, so that a replica reaches the target (and the autoscaler sees it) before the
    # router holds requests back, and has room while a new replica starts. One replica at
    # rest; a second one takes the other core of a 2-CPU box under a sustained load.
    "autoscaling_config": {
        "min_replicas": 1,
        "max_replicas": 2,
        "target_ongoing_requests": 75,
    },
    # The ingress routes requests and reads the database; it must not hold the whole CPU
    # that Serve reserves by default, or on a 2-CPU box the analysis pools could not be
    # placed.
    "ray_actor_options": {"num_cpus": 0.25},
}
"""The FastAPI ingress (``serve.app.Ingress``)."""

QUERY_ENCODERS: dict[str, Any] = {
    "name": "QueryEncoders",
    # One replica batches every ingress replica's queries (@serve.batch of 32): 64 in
    # flight is one batch encoding and the next one gathering.
    "num_replicas": 1,
    "max_ongoing_requests": 64,
    # A query costs a few ms of CPU; a quarter CPU reserved leaves the analysis its share.
    # On a GPU node give it num_gpus: 0.25 (in your copy of serve_config.yaml).
    "ray_actor_options": {"num_cpus": 0.25},
}
"""The search query encoders (``serve.encoders.QueryEncoderDeployment``)."""

DEPLOYMENTS: tuple[dict[str, Any], ...] = (INGRESS, QUERY_ENCODERS)


def deployment_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` as ``@serve.deployment`` keyword arguments (a copy: Serve keeps it)."""
    return {key: (dict(value) if isinstance(value, dict) else value)
            for key, value in options.items()}  # fmt: skip


def deployments_config() -> list[dict[str, Any]]:
    """The ``deployments`` list of the ``clipray`` application in ``serve_config.yaml``."""
    return [deployment_kwargs(options) for options in DEPLOYMENTS]
