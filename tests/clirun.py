"""The CLI as a user runs it: ``python -m clipray`` in a subprocess with its own CLIPRAY_HOME.

The fixtures ``cli_home`` and ``up_home`` (tests/conftest.py) give a test such a home, fresh
or brought up by ``clipray up``, and stop what its commands started afterwards::

    def test_sources_list(up_home):
        res = up_home.run("sources", "--json")
        assert res.returncode == 0, res.stderr
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clipray.config import Settings
from clipray.storage.db import Database
from clipray.storage.objects import Buckets

if TYPE_CHECKING:  # the ingest stack pulls in the media stages: only where a test ingests
    from clipray.pipelines.ingest import IngestContext


def clipray(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``clipray *args`` on ``home``; Ray, where a command starts it, gets one CPU and no
    dashboard, so that the command fits beside the test session's own Ray."""
    full_env = {
        **os.environ,
        "CLIPRAY_HOME": str(home),
        "CLIPRAY_RAY_NUM_CPUS": "1",
        "CLIPRAY_RAY_INCLUDE_DASHBOARD": "false",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "clipray", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def status(home: Path, *args: str) -> dict:
    """``clipray status --json`` on ``home``, parsed (``args`` go before ``status``)."""
    res = clipray(home, *args, "status", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@dataclass(frozen=True)
class UpHome:
    """A CLIPRAY_HOME that ``clipray up --no-ray`` brought up, with the test's own handles on
    what the commands see: its settings, database, buckets and default workspace, so that a
    test can arrange rows and objects behind the CLI and check what a command left."""

    path: Path
    settings: Settings
    db: Database
    buckets: Buckets
    workspace_id: str

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 240
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """``clipray *args`` on this home."""
        return clipray(self.path, *args, env=env, timeout=timeout)

    def ingest_context(self) -> IngestContext:
        """Ingest into the workspace as the commands do (configured ffprobe and quota)."""
        from clipray.pipelines.ingest import IngestContext

        return IngestContext.of(self.settings, self.buckets, self.db, self.workspace_id)
