"""Real fixtures: a SeaweedFS S3 server, a local Ray, SQLite and a throwaway PostgreSQL.

Nothing here is mocked. Session-scoped services start once; tests that need isolation get
their own buckets, prefixes or transactions.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.orm import Session

from clipray.cluster.embedded_s3 import EmbeddedS3
from clipray.cluster.procs import free_ports
from clipray.config import Settings
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.objects import Buckets, S3Endpoint, open_buckets
from tests.clirun import UpHome, clipray

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"


# --- test tiers --------------------------------------------------------------------------
# A test is `unit` when its module says so (`pytestmark = pytest.mark.unit`): pure code that
# `pytest -m unit` runs in seconds. Every other test is `integration`. A unit test that asks
# for a service fixture, or that starts a process, opens a database connection or starts Ray
# while it runs, fails: a mislabelled test cannot hide in the fast tier.
SERVICE_FIXTURES = frozenset({
    "settings", "s3_server", "buckets", "ray_local", "postgres_url", "empty_db_url",
    "sqlite_db", "postgres_db", "migrated_db", "session", "api_settings", "api_db",
    "short_talk", "cli_home", "up_home",
})  # fmt: skip
_UNIT = pytest.StashKey[bool]()
_TIER_PROBLEM = pytest.StashKey[str]()


class ImpureUnitTestError(AssertionError):
    """A `unit` test reached for a process, a database or Ray: it belongs in integration."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what is not `unit` as `integration`; note what a `unit` test must not have."""
    for item in items:
        tiers = {m.name for m in item.iter_markers()} & {"unit", "integration"}
        item.stash[_UNIT] = tiers == {"unit"}
        if not tiers:
            item.add_marker(pytest.mark.integration)
        elif len(tiers) == 2:
            item.stash[_TIER_PROBLEM] = "is marked both unit and integration: choose one"
        elif tiers == {"unit"} and (
            services := sorted(SERVICE_FIXTURES.intersection(item.fixturenames))
        ):
            item.stash[_TIER_PROBLEM] = (f"is marked unit but uses the service fixtures "
                                         f"{services}: mark its module integration")  # fmt: skip


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With exactly ``-m unit``, skip importing the modules that declare no unit test: they
    pull in Ray, torch and the storage stack, which would cost more than the tier's run."""
    if config.option.markexpr != "unit" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return "pytest.mark.unit" not in collection_path.read_text(encoding="utf-8") or None


def _ray_started() -> bool:
    ray = sys.modules.get("ray")
    return bool(ray is not None and ray.is_initialized())


@contextlib.contextmanager
def _pure(item: pytest.Item) -> Iterator[None]:
    """While a `unit` test sets up and runs: no child process, no database connection, and
    no Ray started (the fixture check cannot see a test that calls ffmpeg by itself)."""
    if not item.stash.get(_UNIT, False):
        yield
        return
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    def refuse(what: str) -> ImpureUnitTestError:
        return ImpureUnitTestError(f"{item.nodeid} is marked unit but {what}: mark its module "
                                   "integration (or give the effect a seam)")  # fmt: skip

    def no_process(self: subprocess.Popen, args: object, *_: object, **__: object) -> None:
        raise refuse(f"starts a process ({args!r})")

    def no_connection(*_: object) -> None:
        raise refuse("opens a database connection")

    ray_before = _ray_started()
    event.listen(Pool, "connect", no_connection)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(subprocess.Popen, "__init__", no_process)
            yield
    finally:
        event.remove(Pool, "connect", no_connection)
    if not ray_before and _ray_started():
        raise refuse("starts Ray")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if problem := item.stash.get(_TIER_PROBLEM, None):
        pytest.fail(f"{item.nodeid} {problem}", pytrace=False)
    with _pure(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _pure(item):
        return (yield)


# --- S3 ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the test session: its own data dir, database and buckets."""
    home = tmp_path_factory.mktemp("home")
    suffix = uuid.uuid4().hex[:8]
    return Settings(
        home=home,
        media_bucket=f"test-media-{suffix}",
        generated_bucket=f"test-clips-{suffix}",
        ray_num_cpus=2,
    )


@pytest.fixture(scope="session")
def s3_server(settings: Settings) -> Iterator[S3Endpoint]:
    """One embedded SeaweedFS for the session, on free loopback ports, where ``settings``
    finds it (so code that resolves S3 from settings reaches it too)."""
    server = EmbeddedS3(settings.home_dir / "s3")
    endpoint, _ = server.start(timeout=90)
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def buckets(s3_server: S3Endpoint, settings: Settings) -> Buckets:
    b = open_buckets(s3_server, settings)
    b.ensure()
    return b


# --- Ray ---------------------------------------------------------------------------------
RAY_METRICS_PORT = free_ports(1)[0]
"""Where the session's local Ray exports its Prometheus metrics (``/metrics``)."""


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A local Ray with 2 CPUs shared by the session (auth off: loopback only), exporting
    its metrics on :data:`RAY_METRICS_PORT`."""
    import ray

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        namespace="clipray-tests",
        log_to_driver=False,
        _metrics_export_port=RAY_METRICS_PORT,
    )
    yield
    ray.shutdown()


# --- databases ---------------------------------------------------------------------------
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1, or ``CLIPRAY_TEST_POSTGRES_URL``."""
    external = os.environ.get("CLIPRAY_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("no PostgreSQL server binary (initdb/pg_ctl) on this machine")
    root = Path(tempfile.mkdtemp(prefix="clipray-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run PostgreSQL as")
        for path in (root, sock):
            os.chown(path, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    (port,) = free_ports(1)
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True)  # noqa: E731
    run(initdb, "-D", str(data), "-A", "trust", "-U", "clipray", "--no-sync")
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "pg.log"), "-w", "start")
    try:
        yield f"postgresql+psycopg://clipray@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _fresh_database(url: str) -> Iterator[str]:
    """An empty database of its own on the PostgreSQL server at ``url``."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clipray.db'}"
        return
    with _fresh_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'clipray.db'}"
    migrate.upgrade(url)
    db = Database(url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def postgres_db(postgres_url: str) -> Iterator[Database]:
    with _fresh_database(postgres_url) as url:
        migrate.upgrade(url)
        db = Database(url)
        yield db
        db.dispose()


@pytest.fixture(params=BACKENDS)
def migrated_db(request: pytest.FixtureRequest) -> Database:
    """A database at the latest migration, on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def session(migrated_db: Database) -> Iterator[Session]:
    """A session whose work is rolled back after the test, its commits included."""
    conn = migrated_db.engine.connect()
    outer = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield s
    finally:
        s.close()
        outer.rollback()
        conn.close()


# --- the HTTP API ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def api_settings(settings: Settings, buckets: Buckets, tmp_path_factory: pytest.TempPathFactory
                 ) -> Settings:  # fmt: skip
    """Settings of the API tests: their own migrated SQLite file, a fixed JWT secret, rate
    limits out of the way (the rate-limit tests set their own), a fast runner poll."""
    from pydantic import SecretStr

    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
    migrate.upgrade(url)
    return settings.model_copy(
        update={
            "database_url": url,
            "jwt_secret": SecretStr("test-secret-" + "x" * 40),
            "rate_limit_login_per_minute": 10_000,
            "rate_limit_register_per_hour": 10_000,
            "rate_limit_per_minute": 10_000,
            "job_poll_interval_s": 0.2,
            "quota_concurrent_jobs": 100,
        }
    )


@pytest.fixture(scope="session")
def api_db(api_settings: Settings) -> Iterator[Database]:
    """The API tests' database, for looking behind the API."""
    database = Database(api_settings.resolved_database_url)
    yield database
    database.dispose()


def cancel_active_jobs(db: Database) -> None:
    """Cancel every job still in progress: their step workers see it and exit, so that no
    analysis outlives the test module that started it (the next one needs the CPUs). A step
    still running at the deadline is a failure: it would skew every test after it."""
    from sqlalchemy import update

    from clipray.cluster.procs import wait_until
    from clipray.jobs.machine import ACTIVE
    from clipray.storage.orm import Job, JobStatus, JobStep, StepStatus

    with db.session() as s:
        s.execute(update(Job).where(Job.status.in_(ACTIVE)).values(status=JobStatus.CANCELLED))

    def running() -> list[str]:
        with db.session() as s:
            rows = s.query(JobStep).filter(JobStep.status == StepStatus.RUNNING).all()
            return [f"{r.job_id}:{r.name}" for r in rows]

    assert wait_until(lambda: not running(), 120, interval=0.5), (
        f"steps still running 120 s after their jobs were cancelled: {running()}")


@pytest.fixture(scope="session")
def short_talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 s: two talking heads (a cut at 8 s) with the JFK speech over them."""
    out = tmp_path_factory.mktemp("short-talk") / "short-talk.mp4"
    fit = "scale=480:480,fps=25,setsar=1"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-i", str(MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4"),
         "-i", str(MEDIA / "talking_head/sadtalker_hdtf/WDA_AlexandriaOcasioCortez_000.mp4"),
         "-i", str(MEDIA / "speech/whisper_jfk/jfk.flac"),
         "-filter_complex", f"[0:v]{fit}[a];[1:v]{fit}[b];[a][b]concat=n=2:v=1:a=0[v]",
         "-map", "[v]", "-map", "2:a", "-af", "apad", "-t", "16", "-c:v", "libx264",
         "-preset", "veryfast", "-g", "50", "-c:a", "aac", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def random_clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings that turn CLIP on (``settings.model_copy(update=random_clip)``): open_clip's
    real ViT-S-32 with seeded random weights, saved as a local checkpoint, as no CLIP
    weights ship on PyPI. Random weights still map a frame and its own JPEG close together,
    which is what searching by a picture is tested on."""
    from clipray.models.torchvision_compat import import_torchvision

    import_torchvision()
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-S-32", pretrained=None)
    path = tmp_path_factory.mktemp("clip") / "vit-s-32-random.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    return {"clip_model": "ViT-S-32", "clip_pretrained": str(path)}


# --- processes and threads ---------------------------------------------------------------
def pid_gone(pid: int) -> bool:
    """Whether process ``pid`` has exited: no such process, or a zombie its parent has not
    reaped yet (a stopped service's pid stays a zombie until then)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def at_once(*calls: Callable[[], T], timeout: float = 60) -> list[T]:
    """Run ``calls`` on threads of their own that start together (a barrier), as replicas or
    users racing for one row would; their results, in the order of ``calls``. What a call
    raises is raised here rather than lost in its thread; one still running after
    ``timeout`` is a failure."""
    barrier = threading.Barrier(len(calls))
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[i] = call()
        except BaseException as exc:  # raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), f"calls still running after {timeout} s"
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(calls))]


# --- the CLI on a home of its own --------------------------------------------------------
@pytest.fixture
def cli_home(tmp_path: Path) -> Iterator[Path]:
    """A fresh CLIPRAY_HOME of the test's own, for commands run as a user runs them
    (``tests.clirun.clipray``); ``clipray down`` stops whatever they started, and must."""
    home = tmp_path / "home"
    yield home
    down = clipray(home, "down")
    assert down.returncode == 0, down.stdout + down.stderr


@pytest.fixture
def up_home(cli_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UpHome]:
    """``cli_home`` after ``clipray up --no-ray`` (embedded S3, migrated SQLite, the default
    workspace), with CLIPRAY_HOME set so that ``Settings()`` in the test sees what the
    commands see. Each test gets its own: what one command leaves is what the test made."""
    from clipray.cluster.services import ensure_workspace, open_database, open_storage

    up = clipray(cli_home, "up", "--no-ray")
    assert up.returncode == 0, up.stdout + up.stderr
    monkeypatch.setenv("CLIPRAY_HOME", str(cli_home))
    settings = Settings()
    db = open_database(settings)
    try:
        ws = ensure_workspace(db, settings.workspace)
        yield UpHome(cli_home, settings, db, open_storage(settings), ws.id)
    finally:
        db.dispose()
