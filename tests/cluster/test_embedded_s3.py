"""The embedded S3 server's lifecycle: start, start again, stale pid, stop, restart; a
clock step, a lost state file, a server of an older clipray; failed starts in one line."""

import json
import subprocess

import psutil
import pytest

from clipray.cluster.embedded_s3 import EmbeddedS3, EmbeddedS3Error
from clipray.cluster.procs import port_open, wait_until
from clipray.storage.objects import ObjectStore, make_client
from tests.conftest import pid_gone

WS = "0123456789abcdef0123456789abcdef"
KEY = f"{WS}/sources/{'a' * 32}/kept.txt"


@pytest.fixture
def server(tmp_path):
    s3 = EmbeddedS3(tmp_path / "s3")
    yield s3
    s3.stop()


def test_start_twice_is_a_no_op_and_data_survives_a_restart(server):
    endpoint, started = server.start()
    assert started
    assert endpoint.url.startswith("http://127.0.0.1:")
    pid = server.status().pid

    again, started_again = server.start()
    assert not started_again
    assert again == endpoint
    assert server.status().pid == pid

    store = ObjectStore(make_client(endpoint), "persist")
    store.ensure_bucket()
    store.put_bytes(KEY, b"still here")

    assert server.stop().state == "running"
    assert server.status().state == "stopped"
    assert pid_gone(pid)
    port = int(endpoint.url.rsplit(":", 1)[1])
    assert not port_open("127.0.0.1", port)

    restarted, started = server.start()
    assert started
    store = ObjectStore(make_client(restarted), "persist")
    assert store.read_bytes(KEY) == b"still here"


def test_credentials_are_generated_private_and_required(server):
    endpoint, _ = server.start()
    creds = server.root / "credentials.json"
    assert creds.stat().st_mode & 0o077 == 0
    assert endpoint.secret_access_key
    assert len(endpoint.secret_access_key) >= 30
    wrong = ObjectStore(
        make_client(type(endpoint)(url=endpoint.url, access_key_id="x", secret_access_key="y")),
        "nope",
    )
    with pytest.raises(Exception, match=r"(?i)denied|signature|invalid|forbidden|403"):
        wrong.ensure_bucket()


def test_a_stale_pid_is_detected_and_replaced(server):
    server.root.mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    state = {"pid": dead.pid, "create_time": 0.0, "endpoint": "http://127.0.0.1:1"}
    (server.root / "state.json").write_text(json.dumps(state))
    assert server.status().state == "stale"
    assert server.endpoint() is None

    endpoint, started = server.start()
    assert started
    assert server.status().state == "running"
    assert endpoint.url != "http://127.0.0.1:1"


def test_a_recycled_pid_is_not_mistaken_for_the_server(server):
    """A pid that now belongs to another process (here: this test) counts as stale."""
    server.root.mkdir(parents=True, exist_ok=True)
    me = psutil.Process()
    state = {"pid": me.pid, "create_time": me.create_time() - 1000, "endpoint": "x"}
    (server.root / "state.json").write_text(json.dumps(state))
    assert server.status().state == "stale"
    assert server.stop().state == "stale"  # and stop never signals it
    assert me.is_running()


def _edit_state(server: EmbeddedS3, **changes) -> None:
    state = json.loads(server.proc.state_file.read_text())
    state.update(changes)
    server.proc.state_file.write_text(json.dumps(state))


@pytest.mark.parametrize(
    ("older_state", "adopted"),
    [
        pytest.param(False, False, id="start-ticks"),
        pytest.param(True, True, id="older-state-file"),
    ],
)
def test_a_clock_step_neither_orphans_nor_duplicates_the_server(server, older_state, adopted):
    """The recorded start time moved by 20 s, as after a VM's clock step: the server is
    still known, `up` starts no second one, `down` stops it."""
    endpoint, _ = server.start()
    pid = server.status().pid
    state = json.loads(server.proc.state_file.read_text())
    _edit_state(server, create_time=state["create_time"] - 20)
    if older_state:  # written by a clipray that recorded the wall-clock start time only
        _edit_state(server, start_ticks=None, boot_id=None)
    st = server.status()
    assert (st.state, st.pid) == ("running", pid)
    assert server.endpoint() == endpoint

    again, started = server.start()
    assert (again, started) == (endpoint, False)
    assert bool(server.adopted) is adopted
    assert server.status().pid == pid
    assert server.status().found_by is None  # adopted: the state file is current again

    assert server.stop().pid == pid
    assert wait_until(lambda: pid_gone(pid), 10)
    assert not port_open("127.0.0.1", int(endpoint.url.rsplit(":", 1)[1]))


def test_a_server_whose_state_file_was_lost_is_adopted_with_its_data(server):
    endpoint, _ = server.start()
    pid = server.status().pid
    store = ObjectStore(make_client(endpoint), "adopted")
    store.ensure_bucket()
    store.put_bytes(KEY, b"kept")
    server.proc.state_file.unlink()

    st = server.status()
    assert (st.state, st.pid, st.found_by) == ("running", pid, "lock")
    assert "no state file" in st.note
    assert server.endpoint() == endpoint  # read back from its command line

    again, started = server.start()
    assert (again, started) == (endpoint, False)
    assert f"found pid {pid}" in server.adopted
    assert json.loads(server.proc.state_file.read_text())["pid"] == pid
    assert ObjectStore(make_client(again), "adopted").read_bytes(KEY) == b"kept"

    stopped = server.stop()
    assert (stopped.state, stopped.pid) == ("running", pid)
    assert wait_until(lambda: pid_gone(pid), 10)


def test_a_server_of_an_older_clipray_is_found_by_its_data_dir(server):
    """No state file and no lock: a weed mini on this data dir, started the way an older
    clipray did, is adopted by `up` and stopped by `down` instead of being duplicated."""
    endpoint, _ = server.start()
    cmdline = psutil.Process(server.status().pid).cmdline()
    server.stop()
    orphan = subprocess.Popen(cmdline, cwd=server.root, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert wait_until(lambda: server.status().state == "running", 30)
        st = server.status()
        assert (st.pid, st.found_by) == (orphan.pid, "command line")
        again, started = server.start()
        assert (again, started) == (endpoint, False)
        assert "command line names the data dir" in server.adopted
        assert server.stop().pid == orphan.pid
        assert orphan.wait(timeout=30) is not None
        assert server.status().state == "stopped"
    finally:
        orphan.kill()
        orphan.wait()


def test_a_data_dir_locked_by_another_program_is_named_in_one_line(server, holder):
    """weed dies with a Go stack trace when its store is locked; start says who holds it."""
    lock = server.root / "data" / "filerldb2" / "00" / "LOCK"
    lock.parent.mkdir(parents=True)
    held = holder.lock(lock)
    with pytest.raises(EmbeddedS3Error) as failed:
        server.start(timeout=60)
    message = str(failed.value)
    assert failed.value.code == "s3_data_dir_locked"
    assert "\n" not in message
    assert "goroutine" not in message
    assert f"(pid {held.pid})" in message
    assert "resource temporarily unavailable" in message
    assert server.status().state == "stopped"  # nothing half-started


def test_a_taken_port_is_refused_naming_its_owner(tmp_path, holder):
    held, port = holder.port()
    pinned = EmbeddedS3(tmp_path / "s3", port=port)
    with pytest.raises(EmbeddedS3Error) as failed:
        pinned.start()
    assert failed.value.code == "s3_port_taken"
    assert f"port {port} " in str(failed.value)
    assert f"(pid {held.pid})" in str(failed.value)
    assert pinned.status().state == "stopped"
    holder.release(held)
    pinned = EmbeddedS3(tmp_path / "s3", port=port)
    try:
        endpoint, started = pinned.start()  # once free, the pinned port is used
        assert started
        assert endpoint.url == f"http://127.0.0.1:{port}"
    finally:
        pinned.stop()


def test_weed_exiting_is_reported_by_its_last_meaningful_log_line(server):
    """Its filer store path is a file: weed logs a fatal line and a Go stack trace, exits."""
    (server.root / "data").mkdir(parents=True)
    (server.root / "data" / "filerldb2").write_text("not a directory")
    with pytest.raises(EmbeddedS3Error) as failed:
        server.start(timeout=60)
    assert failed.value.code == "s3_exited"
    message = str(failed.value)
    assert message.startswith("weed mini exited: failed to initialize store for leveldb2: ")
    assert "Not a valid folder!" in message
    assert "\n" not in message
    assert "goroutine" in server.proc.log_file.read_text()  # the trace stays in the log
    assert server.status().state == "stopped"
