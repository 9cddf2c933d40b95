"""A stand-in stream pipeline for the control plane's tests (not shipped: the real one is
the ingest, ring buffer and live analysis). It only exercises the worker's lifecycle: it
reports ``connecting`` then ``active``, counts its steps, writes a ``drained`` marker into
its buffer directory when drained, and fails with a coded error when the monitor's
keywords ask it to (``fail``), as a source that stays down would, or hangs in a step
(``hang``), as a wedged ingest would: it stops beating without dying; or kills its
process before its first heartbeat (``crash``), as a native crash at start would."""

from __future__ import annotations

import os
import time

from clipray.domain.errors import CodedError
from clipray.domain.streams import MonitorStatus
from clipray.services.stream_context import WorkerContext

STEP_S = 0.1


class HeartbeatPipeline:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.steps = 0
        if "crash" in ctx.options.keywords:
            os._exit(1)
        ctx.report(MonitorStatus.CONNECTING)

    def step(self) -> None:
        self.steps += 1
        if self.steps == 2:
            self.ctx.report(MonitorStatus.ACTIVE)
        if self.steps == 3 and "fail" in self.ctx.options.keywords:
            raise CodedError("STREAM_SOURCE_DOWN", "the source stopped answering after 3 tries",
                             status=502)  # fmt: skip
        if self.steps == 3 and "hang" in self.ctx.options.keywords:
            time.sleep(3600)  # deaf to stop(): only a kill ends it
        self.ctx.stopping.wait(STEP_S)

    def drain(self) -> None:
        (self.ctx.buffer_dir / "drained").write_text(str(self.steps))

    def close(self) -> None:
        (self.ctx.buffer_dir / "closed").write_text(str(self.steps))
