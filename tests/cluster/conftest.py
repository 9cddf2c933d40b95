"""Fixtures of the cluster tests: another program on the machine holding what a service
needs (a port, its data dir's lock), so that a test can check how a start is refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HOLD_LOCK = """import fcntl, sys, time
fh = open(sys.argv[1], "a")
fcntl.flock(fh, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""
HOLD_PORT = """import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(600)
"""


class Holder:
    """Starts programs that hold a loopback port or a file lock; each returns once its
    program holds it. What a test has not released itself is released after it."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[str]] = []

    def _start(self, script: str, *args: str) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                                text=True)  # fmt: skip
        self._procs.append(proc)
        assert proc.stdout is not None
        return proc, proc.stdout.readline().strip()

    def port(self) -> tuple[subprocess.Popen[str], int]:
        """A program listening on a free loopback port, and that port."""
        proc, port = self._start(HOLD_PORT)
        return proc, int(port)

    def lock(self, path: Path) -> subprocess.Popen[str]:
        """A program holding an exclusive ``flock`` on ``path``."""
        proc, ready = self._start(HOLD_LOCK, str(path))
        assert ready == "held"
        return proc

    @staticmethod
    def release(proc: subprocess.Popen[str]) -> None:
        """Stop ``proc``: what it held is free once this returns."""
        proc.kill()
        proc.wait()

    def release_all(self) -> None:
        for proc in self._procs:
            self.release(proc)


@pytest.fixture
def holder() -> Iterator[Holder]:
    held = Holder()
    yield held
    held.release_all()
