"""Service identity with real processes: clock steps, lost state files, recycled pids."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from clipray.cluster.procs import (
    ProcIdentity,
    ServiceError,
    ServiceProcess,
    boot_id,
    meaningful_line,
    start_ticks,
    wait_until,
)
from tests.conftest import pid_gone

MARK = "clipray-test-service"
# A cheap long-running real process; with IGNORE_TERM it has to be killed.
SLEEPER = "import signal, sys, time\nif 'IGNORE_TERM' in sys.argv: signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)"  # noqa: E501

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def sleeper_signature(root: Path):
    def signature(proc: psutil.Process) -> dict | None:
        same_dir = os.path.realpath(proc.cwd()) == os.path.realpath(root)
        return {"kind": "sleeper"} if MARK in proc.cmdline() and same_dir else None

    return signature


def sleeper_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-c", SLEEPER, MARK, *extra]


@pytest.fixture
def service(tmp_path):
    svc = ServiceProcess(tmp_path / "svc", "sleeper", sleeper_signature(tmp_path / "svc"))
    yield svc
    svc.stop(timeout=5)


def edit_state(svc: ServiceProcess, **changes) -> None:
    state = json.loads(svc.state_file.read_text())
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    svc.state_file.write_text(json.dumps(state))


@linux_only
def test_start_ticks_are_what_psutil_adds_the_wall_clock_boot_time_to(service):
    """The invariant behind the fix: create_time = btime + ticks / CLK_TCK, where btime
    comes from the wall clock; the ticks alone do not move when the clock is stepped."""
    pid = service.spawn(sleeper_cmd(), {})
    btime = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    ticks = start_ticks(pid)
    assert ticks is not None
    derived = btime + ticks / os.sysconf("SC_CLK_TCK")
    assert abs(derived - psutil.Process(pid).create_time()) < 1.0
    state = service.read_state()
    assert state is not None
    assert state["start_ticks"] == ticks
    assert state["boot_id"] == boot_id()


@linux_only
def test_a_clock_step_does_not_orphan_a_running_service(service):
    pid = service.spawn(sleeper_cmd(), {"kind": "sleeper"})
    # What a 20 s clock step does to the recorded wall-clock start time.
    edit_state(service, create_time=service.read_state()["create_time"] - 20)
    st = service.status()
    assert (st.state, st.pid, st.found_by) == ("running", pid, None)
    assert st.note == ""

    stopped = service.stop(timeout=10)
    assert (stopped.state, stopped.pid) == ("running", pid)
    assert pid_gone(pid)
    assert service.status().state == "stopped"
    assert not service.state_file.exists()


def test_an_older_state_file_shifted_by_a_clock_step_is_found_by_the_lock(service):
    """A state file without start ticks (older clipray) whose start time a clock step moved:
    the process still holds the lock, so it is found, and adopting records it properly."""
    pid = service.spawn(sleeper_cmd(), {"kind": "sleeper"})
    edit_state(service, start_ticks=None, boot_id=None,
               create_time=service.read_state()["create_time"] + 20)  # fmt: skip
    st = service.status()
    assert (st.state, st.pid, st.found_by, st.recorded_pid) == ("running", pid, "lock", pid)
    assert st.info["kind"] == "sleeper"
    assert st.note == (
        f"found pid {pid}: it holds the data dir's lock "
        "(its recorded start time was off, as after a clock step)"
    )

    service.adopt(st)
    again = service.status()
    assert (again.state, again.pid, again.found_by) == ("running", pid, None)
    assert again.info["kind"] == "sleeper"


def test_a_lost_state_file_is_found_and_adopted(service):
    pid = service.spawn(sleeper_cmd(), {"kind": "sleeper"})
    service.state_file.unlink()
    st = service.status()
    assert (st.state, st.pid, st.found_by, st.recorded_pid) == ("running", pid, "lock", None)
    assert "no state file" in st.note
    service.adopt(st)
    assert json.loads(service.state_file.read_text())["pid"] == pid
    assert service.status().found_by is None


def test_a_process_started_without_the_lock_is_found_by_its_command_line(service):
    """An older clipray's server holds no lock. This one ignores SIGTERM and shares the
    test's process group: stopping it must kill it without signalling the group."""
    service.root.mkdir(parents=True)
    proc = subprocess.Popen(sleeper_cmd("IGNORE_TERM"), cwd=service.root)
    try:
        st = _wait_status(service, "running")
        assert (st.pid, st.found_by, st.recorded_pid) == (proc.pid, "command line", None)
        assert service.stop(timeout=1).pid == proc.pid
        assert wait_until(lambda: pid_gone(proc.pid), 10)  # reaped by stop (our child)
        assert service.status().state == "stopped"
    finally:
        proc.kill()
        proc.wait()


def _wait_status(service: ServiceProcess, state: str, timeout: float = 10.0):
    """The child's command line is the interpreter's until it has exec'd: wait for it."""
    assert wait_until(lambda: service.status().state == state, timeout)
    return service.status()


def test_a_recycled_pid_is_never_signalled(service, tmp_path):
    other = subprocess.Popen(sleeper_cmd(), cwd=tmp_path)  # another program, another dir
    try:
        ident = ProcIdentity.of(other.pid)
        assert ident is not None
        service.root.mkdir(parents=True)
        recorded = {**ident.as_state(), "start_ticks": (ident.start_ticks or 0) - 500,
                    "create_time": ident.create_time - 5}  # fmt: skip
        service.write_state(recorded)
        st = service.status()
        assert (st.state, st.pid) == ("stale", other.pid)
        assert "has exited" in st.note
        assert service.stop(timeout=2).state == "stale"
        assert other.poll() is None  # still running: never signalled
        assert not service.state_file.exists()
    finally:
        other.kill()
        other.wait()


def test_a_dead_service_is_stale_and_a_second_one_on_the_same_dir_is_refused(service):
    pid = service.spawn(sleeper_cmd(), {"kind": "sleeper"})
    twin = ServiceProcess(service.root, "sleeper")
    with pytest.raises(ServiceError) as refused:
        twin.spawn(sleeper_cmd(), {"kind": "twin"})
    assert refused.value.code == "sleeper_dir_in_use"
    assert "\n" not in str(refused.value)
    assert service.read_state()["pid"] == pid  # nothing half-written
    assert service.status().pid == pid

    psutil.Process(pid).kill()
    os.waitpid(pid, 0)
    st = service.status()
    assert (st.state, st.recorded_pid) == ("stale", pid)
    assert not service.lock_held()  # the kernel dropped the lock with the process
    restarted = twin.spawn(sleeper_cmd(), {"kind": "twin"})
    assert service.status().pid == restarted


WEED_LOCKED = """  Filer        starting
E1206 08:02:29.056515 leveldb2_store.go:64 filer store open dir /d/filerldb2/00: resource temporarily unavailable
F1206 08:02:29.059520 configuration.go:26 failed to initialize store for leveldb2: resource temporarily unavailable
goroutine 233 [running]:
github.com/seaweedfs/seaweedfs/weed/glog.stacks(0x0)
\tgithub.com/seaweedfs/seaweedfs/weed/glog/glog.go:832 +0x85
created by github.com/seaweedfs/seaweedfs/weed/command.startMiniServices in goroutine 1
"""  # noqa: E501
WEED_PORT = "  Master       starting\nE1206 08:02:36.607175 mini.go:1244 Port allocation failed: port 36059 for S3 (specified by flag s3.port) is not available on 127.0.0.1 and cannot be used\n"  # noqa: E501
PYTHON_TRACE = """Usage stats collection is disabled.
Traceback (most recent call last):
  File "/venv/bin/ray", line 8, in <module>
    sys.exit(main())
ValueError: --port 80 is not a free port
"""


@pytest.mark.parametrize(
    ("log", "line"),
    [
        pytest.param(
            WEED_LOCKED,
            "failed to initialize store for leveldb2: resource temporarily unavailable",
            id="weed/fatal-over-stack",
        ),
        pytest.param(
            WEED_PORT,
            "Port allocation failed: port 36059 for S3 (specified by flag s3.port) is not "
            "available on 127.0.0.1 and cannot be used",
            id="weed/error",
        ),
        pytest.param(PYTHON_TRACE, "ValueError: --port 80 is not a free port", id="python/trace"),
        pytest.param("\x1b[32mstarted\x1b[0m\n\n", "started", id="plain/ansi"),
        pytest.param("", "", id="empty"),
    ],
)
def test_the_meaningful_line_of_a_failed_start(log, line):
    assert meaningful_line(log) == line
