"""The embedded S3 server's lifecycle: start, start again, stale pid, stop, restart."""

import json
import subprocess

import psutil
import pytest

from clipray.cluster.embedded_s3 import EmbeddedS3
from clipray.cluster.procs import port_open
from clipray.storage.objects import ObjectStore, make_client

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

    assert server.stop()
    assert server.status().state == "stopped"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
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
    assert not server.stop()  # and stop never signals it
    assert me.is_running()
