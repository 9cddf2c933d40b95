"""`clipray up`, `status` and `down` as a user runs them, when the S3 server's state file no
longer identifies it (a clock step, a lost file) and when its start fails."""

import json
from pathlib import Path

from clipray.cluster.procs import wait_until
from tests.clirun import clipray, status
from tests.conftest import pid_gone


def s3_status(home: Path) -> dict:
    return status(home)["s3"]


def test_up_status_down_keep_track_of_the_s3_server(cli_home):
    home = cli_home
    state_file = home / "s3" / "state.json"
    first = clipray(home, "up", "--no-ray")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "S3 started" in first.stdout
    before = s3_status(home)
    pid = before["pid"]

    # The quickstart's failure: a state file of an older clipray (wall-clock start time
    # only), 20 s off after the VM's clock stepped.
    state = json.loads(state_file.read_text())
    state.update(create_time=state["create_time"] - 20, start_ticks=None, boot_id=None)
    state_file.write_text(json.dumps(state))
    stepped = s3_status(home)
    assert (stepped["state"], stepped["pid"], stepped["found_by"]) == ("running", pid, "lock")
    assert stepped["endpoint"] == before["endpoint"]
    again = clipray(home, "up", "--no-ray")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (
        f"S3 running at {before['endpoint']} (adopted: found pid {pid}: it holds the data "
        "dir's lock (its recorded start time was off, as after a clock step))\n"
    ) in again.stdout
    assert s3_status(home)["found_by"] is None

    # The state file is lost while the server runs: status finds it, down stops it.
    state_file.unlink()
    lost = s3_status(home)
    assert (lost["state"], lost["pid"], lost["found_by"]) == ("running", pid, "lock")
    table = clipray(home, "status")
    assert f"s3: found pid {pid}" in table.stdout
    down = clipray(home, "down")
    assert down.returncode == 0, down.stderr
    assert f"s3: stopped (found pid {pid}: it holds the data dir's lock (no state file))" in (
        down.stdout
    )
    assert wait_until(lambda: pid_gone(pid), 10)
    assert s3_status(home)["state"] == "stopped"


def test_a_failed_start_is_one_line_with_the_cause(tmp_path, holder):
    held, port = holder.port()
    res = clipray(tmp_path, "up", "--no-ray", env={"CLIPRAY_EMBEDDED_S3_PORT": str(port)})
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: port ")
    assert f"port {port} for the S3 server is taken by python" in lines[0]
    assert f"(pid {held.pid})" in lines[0]
    assert s3_status(tmp_path)["state"] == "stopped"
