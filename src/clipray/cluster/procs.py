"""Background service processes that outlive the CLI: identity, state files, adoption, stop.

A service is known by what a clock step cannot change, so laptop sleep, a VM's clock step
or NTP never orphan it:

- a lock on ``{root}/{name}.pid.lock``, taken before the spawn and inherited by the process,
  which holds it for its whole life (the kernel drops it with the last holder: a crash
  leaves no stale lock behind, and a second server on the same data dir is refused);
- its pid with its start in clock ticks since boot (``/proc/PID/stat`` field 22) and the
  boot id, so a recycled pid is never signalled. psutil's ``create_time`` is those ticks
  plus the *wall-clock* boot time, which moves with every clock step: a server alive for
  an hour looked 20 s younger after a step and was declared stale;
- its command line (the service's ``signature``), which names its data dir, so a server
  whose state file was lost, or one started by an older clipray, is found and adopted.

    >>> proc = ServiceProcess(root, "weed", signature=weed_on_this_dir)  # doctest: +SKIP
    >>> proc.spawn(cmd, {"endpoint": url})                                # doctest: +SKIP
    >>> proc.status().state                                                # doctest: +SKIP
    'running'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psutil

from clipray.schemas import CodedError

State = Literal["running", "stopped", "stale"]
Signature = Callable[[psutil.Process], dict[str, Any] | None]
"""Given a live process: the state a service would record for it (endpoint, ports) when it
is that service on this data dir, else None. May raise psutil errors (treated as no match)."""

_IDENTITY_KEYS = ("pid", "boot_id", "start_ticks", "create_time")
# Tolerance for state files written before start ticks were recorded (and for platforms
# without /proc): psutil's create_time of the same process, read twice, agrees to ~10 ms.
_CREATE_TIME_TOLERANCE_S = 1.0


class ServiceError(CodedError):
    """A local service could not be started or stopped; the message is one line with the
    cause (never a stack trace) and ``code`` says which cause."""


@dataclass(frozen=True)
class ProcStatus:
    """What the state file and the process table say about one service."""

    state: State
    pid: int | None = None
    info: dict[str, Any] | None = None
    found_by: str | None = None
    """How a running service was found when its state file did not identify it (missing,
    or naming a pid that is gone or another process): ``"lock"`` (it holds the data dir's
    lock) or ``"command line"`` (its command line names the data dir); None otherwise."""
    recorded_pid: int | None = None
    """The pid the state file named, when it did not identify the running service."""

    @property
    def note(self) -> str:
        """Why this service was not identified by its state file, in words ("" when it was)."""
        if self.state == "stale":
            return f"pid {self.recorded_pid or self.pid} in its state file has exited"
        if self.found_by is None:
            return ""
        how = {
            "lock": "it holds the data dir's lock",
            "command line": "its command line names the data dir",
        }[self.found_by]
        if self.pid is None:
            return f"{how}, but clipray cannot see the process"
        if self.recorded_pid is None:
            state = "no state file"
        elif self.recorded_pid == self.pid:
            state = "its recorded start time was off, as after a clock step"
        else:
            state = f"the state file named pid {self.recorded_pid}"
        return f"found pid {self.pid}: {how} ({state})"


@dataclass(frozen=True)
class ProcIdentity:
    """What tells one process apart from any later one with the same pid."""

    pid: int
    boot_id: str | None
    start_ticks: int | None
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcIdentity | None:
        """The identity of the live process ``pid``; None when there is none (or a zombie)."""
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            create_time = proc.create_time()
            ticks = start_ticks(pid)
        except (psutil.NoSuchProcess, ProcessLookupError):
            return None
        return cls(pid, boot_id(), ticks, create_time)

    def as_state(self) -> dict[str, Any]:
        return {"pid": self.pid, "boot_id": self.boot_id, "start_ticks": self.start_ticks,
                "create_time": self.create_time}  # fmt: skip

    def is_recorded_in(self, recorded: dict[str, Any]) -> bool:
        """True when ``recorded`` (a state file) describes this very process."""
        if int(recorded.get("pid") or 0) != self.pid:
            return False
        ticks, boot = recorded.get("start_ticks"), recorded.get("boot_id")
        if ticks is not None and boot is not None and self.start_ticks is not None:
            return boot == self.boot_id and int(ticks) == self.start_ticks
        # A state file without ticks (older clipray, or no /proc): wall-clock start time,
        # which a clock step defeats; the signature search then finds the service anyway.
        created = recorded.get("create_time")
        return created is not None and abs(self.create_time - float(created)) < (
            _CREATE_TIME_TOLERANCE_S
        )


def boot_id() -> str | None:
    """This boot's random id (Linux): start ticks compare only within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/PID/stat`` field 22).

    None where there is no /proc (macOS: there psutil's create_time is the kernel's own
    record of the start, which a later clock step does not move). Raises ProcessLookupError
    when the process is gone.
    """
    if not Path("/proc/self/stat").exists():
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError) as exc:
        raise ProcessLookupError(pid) from exc
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[22 - 3])


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


def port_owner(port: int) -> str:
    """Who listens on TCP ``port``, for an error message: ``"python3 (pid 12)"``, or
    ``"another program"`` when the process table does not say (another user's process)."""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            listens = conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
            if listens and conn.pid:
                with contextlib.suppress(psutil.Error):
                    return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
    return "another program"


class ServiceProcess:
    """One detached process described by ``{root}/state.json`` and identified as above."""

    def __init__(
        self,
        root: Path,
        name: str,
        signature: Signature | None = None,
        error: type[ServiceError] = ServiceError,
    ) -> None:
        self.root = root
        self.name = name
        self.state_file = root / "state.json"
        self.log_file = root / f"{name}.log"
        self.pid_lock = root / f"{name}.pid.lock"
        self.signature = signature
        self.error = error
        """The refusal this service raises (the CLI prints it as one line)."""
        self._log_offset = 0

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
            state = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return state if isinstance(state, dict) else None

    def write_state(self, state: dict[str, Any]) -> None:
        """Replace the state file atomically: a reader sees the old one or the new one."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.state_file)

    def lock_held(self) -> bool:
        """True while a process holds this service's lock (the service, alive)."""
        try:
            fd = os.open(self.pid_lock, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops the probe's own shared lock
        return False

    def status(self) -> ProcStatus:
        info = self.read_state()
        if info is not None:
            ident = ProcIdentity.of(int(info.get("pid") or 0))
            if ident is not None and ident.is_recorded_in(info):
                return ProcStatus("running", ident.pid, info)
        recorded_pid = (int(info.get("pid") or 0) or None) if info is not None else None
        found = self.find()
        if found is not None:
            proc, how = found
            ident = ProcIdentity.of(proc.pid)
            described = self._describe(proc)
            if described is None and info is not None and recorded_pid == proc.pid:
                described = {k: v for k, v in info.items() if k not in _IDENTITY_KEYS}
            if ident is not None:
                merged = {**(described or {}), **ident.as_state()}
                return ProcStatus("running", ident.pid, merged, how, recorded_pid)
        if self.lock_held():  # held by a process this user cannot inspect
            return ProcStatus("running", None, None, "lock", recorded_pid)
        if info is not None:
            return ProcStatus("stale", recorded_pid, info, recorded_pid=recorded_pid)
        return ProcStatus("stopped")

    def find(self) -> tuple[psutil.Process, str] | None:
        """The service on this data dir, whatever its state file says: the holder of its
        lock, else a process whose command line names the data dir. Returns the process
        and how it was found."""
        if self.lock_held():
            lock = os.path.realpath(self.pid_lock)
            holders = _processes(lambda p: any(f.path == lock for f in p.open_files()))
            if holders:
                return _tree_root(holders), "lock"
        if self.signature is not None:
            matches = _processes(lambda p: self._describe(p) is not None)
            if matches:
                return _tree_root(matches), "command line"
        return None

    def adopt(self, st: ProcStatus) -> None:
        """Record a service found by ``find`` in the state file, so that the next call
        identifies it directly (call under ``locked()``)."""
        if st.state == "running" and st.found_by and st.pid and st.info:
            self.write_state(st.info)

    def spawn(
        self, cmd: Sequence[str], info: dict[str, Any], env: dict[str, str] | None = None
    ) -> int:
        """Start ``cmd`` in its own session holding the service lock, logging to
        ``{name}.log``; record its state. Refused while another process holds the lock."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.pid_lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self.error(
                    f"{self.name}_dir_in_use",
                    f"{self.root} is in use by another {self.name} process (it holds "
                    f"{self.pid_lock.name}); stop it or set another CLIPRAY_HOME",
                ) from None
            with open(self.log_file, "ab") as log:
                self._log_offset = log.tell()
                proc = subprocess.Popen(
                    list(cmd),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env=env,
                    cwd=self.root,
                    pass_fds=(lock_fd,),  # the child holds the lock from here on
                )
        finally:
            os.close(lock_fd)
        ident = ProcIdentity.of(proc.pid)
        state = {**info, **(ident.as_state() if ident else {"pid": proc.pid})}
        self.write_state(state)
        return proc.pid

    def exited_early(self, pid: int) -> bool:
        """True when ``pid`` (just spawned) has already died."""
        try:
            proc = psutil.Process(pid)
            return proc.status() == psutil.STATUS_ZOMBIE or not proc.is_running()
        except psutil.NoSuchProcess:
            return True

    def stop(self, timeout: float = 30.0) -> ProcStatus:
        """SIGTERM the service, SIGKILL what is left of its process tree after ``timeout``.

        A service found without its state file (or beside the one it names) is stopped too;
        a process whose pid was merely recycled never is. The state file is removed.
        Returns what was found: ``state == "running"`` means it was stopped.
        """
        first = self.status()
        if first.state == "running" and first.pid is None:
            raise self.error(
                f"{self.name}_not_visible",
                f"a process clipray cannot inspect holds {self.pid_lock}; stop it by hand",
            )
        st = first
        for _ in range(5):  # more than one only when an older clipray left a duplicate
            if st.state != "running" or st.pid is None:
                break
            _terminate_group(st.pid, timeout)
            st = self.status()
        self.state_file.unlink(missing_ok=True)
        return first

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def last_log_line(self) -> str:
        """The most telling line the last ``spawn`` logged (see ``meaningful_line``)."""
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(self._log_offset)
                text = fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return meaningful_line(text)

    def _describe(self, proc: psutil.Process) -> dict[str, Any] | None:
        if self.signature is None:
            return None
        try:
            return self.signature(proc)
        except (psutil.Error, OSError, ValueError):
            return None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# glog (SeaweedFS): "F1206 08:02:29.059520 configuration.go:26 failed to ..."
_GLOG = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\S+:\d+\]?\s+(.*)$")
_NOISE = re.compile(
    r"^(goroutine \d+|created by |Traceback |During handling|The above exception|"
    r"panic: |\[signal |exit status |[\w./*()-]+\(.*\)$)"
)


def meaningful_line(text: str) -> str:
    """The line of a failed process's output that says why: its last fatal log line, else
    its last error line, else its last line that is no part of a stack trace."""
    lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    last: dict[str, str] = {}
    plain = ""
    for line in lines:
        if not line.strip():
            continue
        if m := _GLOG.match(line):
            last[m.group(1)] = m.group(2).strip()
        elif not line[0].isspace() and not _NOISE.match(line):
            plain = line.strip()
    return last.get("F") or last.get("E") or plain


def _processes(keep: Callable[[psutil.Process], bool]) -> list[psutil.Process]:
    """This user's live processes that ``keep`` accepts (others' cannot be inspected)."""
    me, uid, found = os.getpid(), os.getuid(), []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if proc.pid == me or proc.uids().real != uid:
                continue
            if proc.status() != psutil.STATUS_ZOMBIE and keep(proc):
                found.append(proc)
    return found


def _tree_root(procs: list[psutil.Process]) -> psutil.Process:
    """The topmost of ``procs`` (a service's children may match too), earliest first."""
    pids = {p.pid for p in procs}
    roots = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.ppid() not in pids:
                roots.append(proc)
    return min(roots or procs, key=lambda p: (_ticks_or_zero(p.pid), p.pid))


def _ticks_or_zero(pid: int) -> int:
    with contextlib.suppress(ProcessLookupError):
        return start_ticks(pid) or 0
    return 0


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
        # Only a group this service leads (spawned with its own session): an adopted
        # process started by hand may share the group of the shell that started it.
        if pgid == pid:
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
