"""Background service processes that outlive the CLI: pid/state files, stale pids, clean stop.

A service's state file records its pid *and* the process's start time, so a pid that the
kernel handed to another program after a crash or reboot is recognised as stale instead of
being signalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psutil

State = Literal["running", "stopped", "stale"]


@dataclass(frozen=True)
class ProcStatus:
    """What a state file says, checked against the live process table."""

    state: State
    pid: int | None = None
    info: dict[str, Any] | None = None


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free a moment ago on ``host``."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


class ServiceProcess:
    """One detached process described by ``{root}/state.json``."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.state_file = root / "state.json"
        self.log_file = root / f"{name}.log"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise start/stop between concurrent CLI calls on the same data dir."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def read_state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def status(self) -> ProcStatus:
        info = self.read_state()
        if info is None:
            return ProcStatus("stopped")
        pid = int(info.get("pid", 0))
        if _alive(pid, info.get("create_time")):
            return ProcStatus("running", pid, info)
        return ProcStatus("stale", pid, info)

    def spawn(
        self, cmd: Sequence[str], info: dict[str, Any], env: dict[str, str] | None = None
    ) -> int:
        """Start ``cmd`` in its own session, logging to ``{name}.log``; record its state."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
                cwd=self.root,
            )
        state = {**info, "pid": proc.pid, "create_time": psutil.Process(proc.pid).create_time()}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.state_file)
        return proc.pid

    def exited_early(self, pid: int) -> bool:
        """True when ``pid`` (just spawned) has already died."""
        try:
            proc = psutil.Process(pid)
            return proc.status() == psutil.STATUS_ZOMBIE or not proc.is_running()
        except psutil.NoSuchProcess:
            return True

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the service, SIGKILL what is left of its process tree after ``timeout``.

        Returns True when a running service was stopped; a stale state file is removed.
        """
        st = self.status()
        stopped = False
        if st.state == "running" and st.pid:
            _terminate_group(st.pid, timeout)
            stopped = True
        self.state_file.unlink(missing_ok=True)
        return stopped

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _alive(pid: int, create_time: float | None) -> bool:
    if pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # A recycled pid belongs to a process that started later than ours.
        return create_time is None or abs(proc.create_time() - float(create_time)) < 1.0
    except psutil.NoSuchProcess:
        return False


def _terminate_group(pid: int, timeout: float) -> None:
    """SIGTERM the leader and let it shut its children down in order (``ray start --block``
    does); whatever of the tree is left after ``timeout`` gets SIGKILL."""
    try:
        leader = psutil.Process(pid)
        procs = [leader, *leader.children(recursive=True)]
        pgid = os.getpgid(pid)
    except (psutil.NoSuchProcess, ProcessLookupError):
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        leader.terminate()
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    if alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        for proc in alive:  # children that left the group
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
    # Reap our own child if this process spawned it (tests and `up` in one process).
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(check: Any, timeout: float, interval: float = 0.2) -> bool:
    """Poll ``check()`` until it is truthy or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())
