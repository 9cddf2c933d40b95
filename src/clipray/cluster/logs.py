"""Where the libraries' chatter goes: a log file under ``CLIPRAY_HOME/logs``, not the terminal.

Ray, Ray Data, ultralytics, transformers and huggingface write progress bars, INFO lines
and their workers' output to stdout and stderr; around a CLI's progress display and its
``--json`` result that is noise. :func:`route_output` sends all of it to one log file (and,
``verbose``, to stderr as well); :func:`connect_ray` then joins Ray with the matching
options, so that the workers' lines reach the same file instead of the driver's stdout.

    >>> log_file = route_output(settings.home_dir, verbose=False)   # doctest: +SKIP
    >>> connect_ray(settings)          # workers' lines now go to log_file   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUIET_ENV: dict[str, str] = {
    "YOLO_VERBOSE": "False",  # ultralytics: its LOGGER at ERROR, no "requirement ... not found"
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",  # transformers' "Loading weights" and every other tqdm bar
}
"""Environment that quiets the model libraries; set in this process and in Ray's workers
(a ``runtime_env``, since workers of an already running head do not inherit ours)."""

LIBRARY_LOGGERS = (
    "ray", "ray.data", "ray.serve", "ultralytics", "transformers", "sentence_transformers",
    "huggingface_hub", "py.warnings",
)  # fmt: skip
"""Loggers that install their own terminal handlers: those handlers are replaced by ours."""

WORKERS_LOGGER = "clipray.workers"
"""The logger that carries Ray workers' stdout and stderr lines (see :func:`_worker_lines`)."""

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class OutputRoute:
    """Where this process sends library output: the file, and stderr too when verbose."""

    log_file: Path
    verbose: bool


_route: OutputRoute | None = None


def current_route() -> OutputRoute | None:
    """The route :func:`route_output` set in this process, or None (a library user)."""
    return _route


def route_output(home: Path, *, verbose: bool) -> OutputRoute | None:
    """Send library logging and Ray workers' output to ``home/logs/clipray.log``.

    Quiet (not ``verbose``) also sets :data:`QUIET_ENV` (a variable the user set wins), so
    that the libraries do not print bars and advisories at all. Returns None, changing
    nothing, where the log folder cannot be made: the output then stays on the terminal.
    """
    global _route
    try:
        folder = home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(folder / "clipray.log", encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    if verbose:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(console)
    else:
        for key, value in QUIET_ENV.items():
            os.environ.setdefault(key, value)
        _native_stderr_to(folder / "clipray.log")
    logging.captureWarnings(True)
    _route = OutputRoute(folder / "clipray.log", verbose)
    _adopt_library_loggers()
    logging.getLogger("clipray").info("clipray %s (pid %d)", " ".join(sys.argv[1:]), os.getpid())
    return _route


def _native_stderr_to(path: Path) -> None:
    """Point file descriptor 2 at the log file, and ``sys.stderr`` at a copy of the
    terminal's descriptor.

    Ray's C++ core worker in this process writes its errors straight to descriptor 2
    (``core_worker.cc:...``), as do the Ray processes and tools it starts; Python's own
    ``sys.stderr`` (rich's progress, error lines, tracebacks) keeps the terminal.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        terminal = os.dup(2)
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)
    sys.stderr = os.fdopen(
        terminal, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
        errors="backslashreplace",
    )  # fmt: skip


def _adopt_library_loggers() -> None:
    """Drop the terminal handlers the libraries installed on import; their records reach the
    root logger's handlers (the file; stderr when verbose) instead. Run again after an
    import that configures its loggers (``ray.data`` does so on import)."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                logger.removeHandler(h)
        logger.propagate = True
        if name in ("ultralytics", "transformers", "huggingface_hub") and logger.level in (
            logging.NOTSET, logging.DEBUG
        ):  # fmt: skip
            logger.setLevel(logging.INFO)


def ray_init_options() -> dict[str, Any]:
    """Extra ``ray.init`` keywords for the current route (none without a route).

    Workers' output stays on (``log_to_driver``) but :func:`before_ray_init` points it at
    the log file; Ray's own logging setup is skipped so that the ``ray`` logger keeps ours.
    """
    if _route is None:
        return {}
    import ray._private.worker as ray_worker

    hook = hasattr(ray_worker, "print_to_stdstream")  # else workers' lines stay in Ray's files
    options: dict[str, Any] = {"configure_logging": False, "log_to_driver": hook}
    if not _route.verbose:
        options["runtime_env"] = {"env_vars": dict(QUIET_ENV)}
    return options


def before_ray_init() -> None:
    """Route the lines Ray's driver prints for its workers (and the raylet's error
    messages) to :data:`WORKERS_LOGGER` instead of stdout/stderr.

    Ray 2.60 prints both through ``ray._private.worker.print_to_stdstream``, looked up when
    called and bound when ``ray.init`` subscribes to the workers' logs: replacing it before
    ``ray.init`` covers both. Without it (another Ray), :func:`ray_init_options` turns
    ``log_to_driver`` off: workers' output then stays in Ray's session log files.
    """
    if _route is None:
        return
    import ray._private.worker as ray_worker

    if hasattr(ray_worker, "print_to_stdstream"):
        ray_worker.print_to_stdstream = _worker_lines


def after_ray_init() -> None:
    """Quiet what ``ray.init`` and ``import ray.data`` set up for a terminal."""
    if _route is None:
        return
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the CLI shows its own progress
    _adopt_library_loggers()


def _worker_lines(data: dict[str, Any], ignore_prefix: bool = False) -> None:
    """One log record per line a Ray worker (or the raylet) wrote, prefixed as Ray does:
    ``(MapWorker(...) pid=123) text``."""
    log = logging.getLogger(WORKERS_LOGGER)
    pid = data.get("pid")
    name = data.get("actor_name") or data.get("task_name")
    prefix = ""
    if not ignore_prefix and pid not in ("raylet", "autoscaler"):
        prefix = f"({name} pid={pid}) " if name else f"(pid={pid}) "
    level = logging.WARNING if data.get("is_err") else logging.INFO
    lines = data.get("lines", [])
    if pid == "autoscaler":  # as Ray prints it: its events, not every status report
        import ray._private.worker as ray_worker

        lines = list(ray_worker.filter_autoscaler_events(lines))
    for line in lines:
        log.log(level, "%s%s", prefix, line)
