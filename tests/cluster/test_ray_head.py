"""The local Ray head survives a clock step and a lost state file: adopted, never doubled."""

import json

import pytest

from clipray.cluster.procs import port_open, wait_until
from clipray.cluster.ray_head import LocalRayHead
from tests.conftest import pid_gone

pytestmark = pytest.mark.timeout(600)


def test_a_head_is_adopted_after_a_clock_step_and_a_lost_state_file(tmp_path):
    head = LocalRayHead(tmp_path / "ray")
    try:
        address, started = head.start(num_cpus=1, include_dashboard=False, timeout=300)
        assert started
        pid = head.status().pid
        state = json.loads(head.proc.state_file.read_text())

        # An older state file (wall-clock start only) after a 20 s clock step.
        stepped = {**state, "create_time": state["create_time"] - 20, "start_ticks": None}
        head.proc.state_file.write_text(json.dumps(stepped))
        assert (head.status().state, head.status().pid) == ("running", pid)
        again, started_again = head.start(num_cpus=1, include_dashboard=False)
        assert (again, started_again) == (address, False)
        assert f"found pid {pid}" in head.adopted
        assert head.status().found_by is None

        # The state file is lost while the head runs: found by its lock, addresses read
        # back from its command line.
        head.proc.state_file.unlink()
        st = head.status()
        assert (st.state, st.pid, st.found_by) == ("running", pid, "lock")
        assert head.address() == address
        assert head.dashboard_url() is None
        assert head.start(num_cpus=1, include_dashboard=False) == (address, False)

        stopped = head.stop()
        assert (stopped.state, stopped.pid) == ("running", pid)
        assert wait_until(lambda: pid_gone(pid), 30)
        host, _, port = address.rpartition(":")
        assert wait_until(lambda: not port_open(host, int(port)), 30)
        assert head.status().state == "stopped"
    finally:
        head.stop()
