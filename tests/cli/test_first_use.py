"""First use just works, and the terminal stays quiet: the CLI as a user runs it, in a
subprocess with a fresh CLIPRAY_HOME, on real S3, SQLite, Ray and FFmpeg."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from clipray.cluster import logs
from clipray.cluster.procs import free_ports
from clipray.cluster.services import ensure_services
from clipray.config import Settings
from tests.test_cli import clipray, status

# What Ray's driver prints for its workers, and what the model libraries print in them.
WORKER_LINE = re.compile(
    r"core_worker|\(MapWorker|\(pid=|pid=\d+\)|Loading weights|requirement \[|"
    r"Started a local Ray instance|Running Dataset"
)
STARTED = "started the embedded services"


def _worker_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if WORKER_LINE.search(line)]


@pytest.mark.unit
@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"s3_endpoint_url": "http://127.0.0.1:9"}, id="s3-endpoint"),
        pytest.param({"database_url": "sqlite:///{home}/other.db"}, id="database-url"),
        pytest.param({"ray_address": "127.0.0.1:6379"}, id="ray-address"),
    ],
)
def test_configured_endpoints_never_start_anything(tmp_path, env):
    home = tmp_path / "home"
    fields = {k: v.format(home=home) for k, v in env.items()}
    settings = Settings(home=home, **fields)
    assert ensure_services(settings) is None
    assert not home.exists()  # no S3 folder, no database file: nothing started or written


def test_with_an_unreachable_s3_endpoint_the_cli_says_what_to_do_and_starts_nothing(tmp_path):
    home = tmp_path / "home"
    (port,) = free_ports(1)
    res = clipray(home, "analyze", str(tmp_path / "x.mp4"),
                  env={"CLIPRAY_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}"})  # fmt: skip
    assert res.returncode == 1
    assert "clipray up" in res.stderr
    assert STARTED not in res.stderr
    assert not (home / "s3").exists()


def test_a_first_command_starts_the_services_once_and_says_so_on_stderr(tmp_path, cli_home):
    first = clipray(cli_home, "sources", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) is not None  # stdout is the result, nothing else
    notes = [line for line in first.stderr.splitlines() if STARTED in line]
    assert len(notes) == 1, first.stderr
    assert "S3 at http://127.0.0.1:" in notes[0]
    assert "database migrated to" in notes[0]
    st = status(cli_home)
    assert st["s3"]["state"] == "running"
    assert st["database"]["revision"] == st["database"]["head"]
    assert st["ray"]["state"] == "stopped"  # Ray runs in a command's own process
    again = clipray(cli_home, "sources", "--json")
    assert again.returncode == 0, again.stderr
    assert STARTED not in again.stderr
    assert again.stdout == first.stdout
    # The libraries' logging (here alembic's) is in the log file, on stderr only with -v.
    assert "alembic" not in first.stderr + again.stderr
    assert "alembic" in (cli_home / "logs" / "clipray.log").read_text()
    loud = clipray(cli_home, "--verbose", "sources", "--json")
    assert loud.returncode == 0, loud.stderr
    assert loud.stdout == first.stdout
    assert "alembic" in loud.stderr
    # Bad input after a first-use start is still one line with the reason.
    missing = clipray(cli_home, "analyze", str(tmp_path / "missing.mp4"), "--json")
    assert missing.returncode == 1
    assert "no such file" in missing.stderr
    assert missing.stdout == ""


@pytest.mark.unit
def test_worker_lines_are_recorded_as_ray_prints_them(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger=logs.WORKERS_LOGGER):
        logs._worker_lines({"pid": 42, "actor_name": "MapWorker(Faces)", "is_err": True,
                            "lines": ["Loading weights: 0%", "done"]})  # fmt: skip
        logs._worker_lines({"pid": "raylet", "is_err": False, "lines": ["a worker died"]})
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "(MapWorker(Faces) pid=42) Loading weights: 0%"),
        (logging.WARNING, "(MapWorker(Faces) pid=42) done"),
        (logging.INFO, "a worker died"),
    ]


@pytest.mark.timeout(3000)  # two full main jobs, each starting Ray in its own process
def test_run_on_a_fresh_home_prints_json_only_and_demo_prints_no_worker_lines(
    cli_home: Path, short_talk: Path
):
    """The issue's two done-criteria, on one fresh home (the second command reuses the
    services the first one started)."""
    log_file = cli_home / "logs" / "clipray.log"
    run = clipray(cli_home, "run", str(short_talk), "--json", "--min-duration", "5",
                  "--max-clips", "1", timeout=1500)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)  # the whole of stdout is one JSON document
    assert result["clips"], result
    assert [line for line in run.stderr.splitlines() if STARTED in line], run.stderr
    assert _worker_lines(run.stdout + run.stderr) == []
    size = log_file.stat().st_size
    assert size > 0

    demo = clipray(cli_home, "demo", timeout=1500)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "clips of" in demo.stdout
    assert _worker_lines(demo.stdout + demo.stderr) == []
    assert STARTED not in demo.stderr
    logged = log_file.read_text(encoding="utf-8", errors="replace")[size:]
    assert "clipray demo" in logged  # this invocation's own section of the log
    assert re.search(r"ray|Ray", logged), logged[-2000:]
