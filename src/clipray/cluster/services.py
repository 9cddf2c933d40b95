"""Bootstrap of what clipray talks to: S3, the database, Ray; embedded or production.

``bring_up`` is what ``clipray up`` does; the other functions open a connection to each
service as the settings describe it, for the CLI, the Ray actors and the tests alike.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from clipray.cluster import logs
from clipray.cluster.embedded_s3 import EmbeddedS3
from clipray.cluster.procs import ProcStatus
from clipray.cluster.ray_head import LocalRayHead, local_ray_env
from clipray.config import Settings
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.objects import Buckets, S3Endpoint, open_buckets
from clipray.storage.orm import Role, Workspace
from clipray.storage.repos import LOCAL_USER_EMAIL, UserRepo, WorkspaceRepo

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:  # lancedb loads on first use of the index, not with every CLI command
    from clipray.storage.index import IndexConfig, SearchIndex


class ServiceUnavailableError(RuntimeError):
    """A service clipray needs is not running or not configured; the message says the fix."""


def embedded_s3(settings: Settings) -> EmbeddedS3:
    return EmbeddedS3(settings.home_dir / "s3", port=settings.embedded_s3_port)


def local_ray_head(settings: Settings) -> LocalRayHead:
    return LocalRayHead(settings.home_dir / "ray")


def resolve_s3(settings: Settings) -> S3Endpoint:
    """The configured S3 endpoint, or the running embedded server's."""
    if not settings.uses_embedded_s3:
        key = settings.s3_access_key_id
        secret = settings.s3_secret_access_key
        return S3Endpoint(
            url=settings.s3_endpoint_url,
            access_key_id=key.get_secret_value() if key else None,
            secret_access_key=secret.get_secret_value() if secret else None,
            region=settings.s3_region,
            addressing_style=settings.s3_addressing_style,
        )
    endpoint = embedded_s3(settings).endpoint()
    if endpoint is None:
        raise ServiceUnavailableError(
            "the embedded S3 server is not running: run `clipray up` "
            "(or set CLIPRAY_S3_ENDPOINT_URL)"
        )
    return endpoint


def open_storage(settings: Settings) -> Buckets:
    return open_buckets(resolve_s3(settings), settings)


def index_config(settings: Settings) -> IndexConfig:
    """Where the index lives: ``CLIPRAY_INDEX_URI`` (``s3://`` signed with the S3 settings),
    or ``{home}/index``."""
    from clipray.storage.index import IndexConfig

    uri = settings.index_uri or str(settings.home_dir / "index")
    options = None
    if uri.startswith("s3://"):
        ep = resolve_s3(settings)
        virtual = str(ep.addressing_style == "virtual").lower()
        options = {"region": ep.region, "virtual_hosted_style_request": virtual}
        if ep.url:
            options |= {"endpoint": ep.url, "allow_http": str(ep.url.startswith("http:")).lower()}
        if ep.access_key_id and ep.secret_access_key:
            options |= {"access_key_id": ep.access_key_id,
                        "secret_access_key": ep.secret_access_key}  # fmt: skip
    return IndexConfig(uri=uri, storage_options=options, ann_min_rows=settings.index_ann_min_rows)


def open_index(settings: Settings) -> SearchIndex:
    """The search index (LanceDB); tables open on first use."""
    from clipray.storage.index import SearchIndex

    return SearchIndex(index_config(settings))


def open_database(settings: Settings) -> Database:
    return Database(settings.resolved_database_url)


def own_database(fn: F) -> F:
    """For a function that runs as a Ray task and takes ``settings`` and ``db=None``: called
    without a database (a task has none), it gets an engine of its own for the call,
    disposed after; a caller that holds one (the tests, a service) passes it."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(*args, **kwargs)
        if bound.arguments.get("db") is not None:
            return fn(*args, **kwargs)
        own = open_database(bound.arguments["settings"])
        try:
            bound.arguments["db"] = own
            return fn(*bound.args, **bound.kwargs)
        finally:
            own.dispose()

    return call  # type: ignore[return-value]


def ensure_workspace(db: Database, slug: str) -> Workspace:
    """The workspace ``slug``, created on first use with the local user as its owner."""
    with db.session() as s:
        user = UserRepo(s).ensure(LOCAL_USER_EMAIL, "local user")
        ws, created = WorkspaceRepo(s).ensure(slug, owner=user)
        if not created and WorkspaceRepo(s).role_of(ws.id, user.id) is None:
            WorkspaceRepo(s).add_member(ws.id, user.id, Role.OWNER)
        return ws


@dataclass
class UpReport:
    """What ``bring_up`` found and did, line by line for the CLI."""

    s3_endpoint: str | None = None
    s3_started: bool = False
    s3_adopted: str = ""
    """How a running S3 server was found without its state file ("" when it was not)."""
    buckets_created: list[str] = field(default_factory=list)
    migrated_from: str | None = None
    migrated_to: str | None = None
    workspace: str | None = None
    ray_address: str | None = None
    ray_started: bool = False
    ray_adopted: str = ""
    dashboard_url: str | None = None


def bring_up(settings: Settings, *, start_ray: bool = True) -> UpReport:
    """Start what is embedded, create buckets, migrate, and make the default workspace.

    Every step is idempotent: running it again on a running system changes nothing.
    """
    report = UpReport()
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    if settings.uses_embedded_s3:
        s3 = embedded_s3(settings)
        endpoint, report.s3_started = s3.start(timeout=settings.embedded_s3_start_timeout_s)
        report.s3_adopted = s3.adopted
    else:
        endpoint = resolve_s3(settings)
    report.s3_endpoint = endpoint.url
    report.buckets_created = open_buckets(endpoint, settings).ensure()

    url = settings.resolved_database_url
    report.migrated_from = migrate.current_revision(url)
    migrate.upgrade(url)
    report.migrated_to = migrate.current_revision(url)
    db = open_database(settings)
    try:
        report.workspace = ensure_workspace(db, settings.workspace).slug
    finally:
        db.dispose()

    if settings.ray_address:
        report.ray_address = settings.ray_address
    elif start_ray:
        head = local_ray_head(settings)
        report.ray_address, report.ray_started = head.start(
            num_cpus=settings.ray_num_cpus, include_dashboard=settings.ray_include_dashboard,
            metrics_port=settings.ray_metrics_port,
        )
        report.ray_adopted = head.adopted
        report.dashboard_url = head.dashboard_url()
    return report


def ensure_services(settings: Settings) -> UpReport | None:
    """Bring up the embedded services (S3, the database's migrations, the workspace) where
    they are down, so that a first command on a fresh machine just works.

    Nothing starts where any service is configured (``CLIPRAY_S3_ENDPOINT_URL``,
    ``CLIPRAY_DATABASE_URL``, ``CLIPRAY_RAY_ADDRESS``): a deployment is brought up by its
    operator, and an unreachable endpoint is reported by the command as before. The local
    Ray head is not started either: a command without one runs Ray in its own process, and
    ``clipray up`` starts a lasting head with its dashboard.
    Returns what ``bring_up`` did, or None where nothing was down (or nothing may start).
    """
    if not settings.uses_embedded_s3 or settings.database_url or settings.ray_address:
        return None
    s3_up = embedded_s3(settings).endpoint() is not None
    url = settings.resolved_database_url
    if s3_up and migrate.current_revision(url) == migrate.head_revision():
        return None
    return bring_up(settings, start_ray=False)


def bring_down(settings: Settings) -> dict[str, str]:
    """Stop the local Ray head and the embedded S3 server (their data stays), also ones
    running without their state file. Returns what happened to each, in words."""
    return {
        "ray": _stopped(local_ray_head(settings).stop()),
        "s3": _stopped(embedded_s3(settings).stop()) if settings.uses_embedded_s3 else (
            "was not running"
        ),
    }


def _stopped(st: ProcStatus) -> str:
    if st.state == "running":
        return f"stopped ({st.note})" if st.note else "stopped"
    return f"was not running ({st.note})" if st.note else "was not running"


def connect_ray(
    settings: Settings, namespace: str = "clipray", *, log_to_driver: bool = True
) -> str | None:
    """Join the configured cluster, else the local head, else start Ray in this process.

    ``log_to_driver=False`` keeps workers' output off this process's stdout (a CLI printing
    JSON); it stays in Ray's log files and the dashboard. Where the CLI routed output to its
    log file (:func:`clipray.cluster.logs.route_output`), workers' lines go to that file
    instead, whatever ``log_to_driver`` says, and never to stdout.
    Returns the address joined, or None when Ray was started in-process (or already was).
    """
    import ray

    if ray.is_initialized():
        return None
    routed = logs.ray_init_options()
    if routed:
        logs.before_ray_init()
        try:
            return _init_ray(settings, namespace, routed)
        finally:
            logs.after_ray_init()
    return _init_ray(settings, namespace, {"log_to_driver": log_to_driver})


def _init_ray(settings: Settings, namespace: str, options: dict[str, Any]) -> str | None:
    import ray

    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=namespace, **options)
        return settings.ray_address
    # The local head and an in-process Ray are loopback-only: no token auth (see ray_head).
    os.environ["RAY_AUTH_MODE"] = local_ray_env()["RAY_AUTH_MODE"]
    os.environ["FORWARDED_ALLOW_IPS"] = local_ray_env()["FORWARDED_ALLOW_IPS"]
    address = local_ray_head(settings).address()
    if address is not None:
        ray.init(address=address, namespace=namespace, **options)
        return address
    ray.init(
        address="local",
        num_cpus=settings.ray_num_cpus,
        namespace=namespace,
        include_dashboard=False,
        _metrics_export_port=settings.ray_metrics_port,
        **options,
    )
    return None
