"""The loop of the long-lived actors that poll the database for work (the job runner, the
publisher): ``tick`` every interval on a thread of its own, at once when woken, until
stopped. A tick that raises (the database briefly away) is logged and the loop goes on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("clipray.actors")


class Poller:
    """Calls ``tick`` every ``interval_s`` seconds on a daemon thread named ``name``."""

    def __init__(self, name: str, tick: Callable[[], None], interval_s: float) -> None:
        self.name, self.tick, self.interval_s = name, tick, interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Poller:
        self.thread.start()
        return self

    def wake(self) -> None:
        """Tick now instead of at the next interval."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a bad tick must not end the loop
                log.exception("%s tick failed", self.name)
            self._wake.wait(self.interval_s)
            self._wake.clear()
