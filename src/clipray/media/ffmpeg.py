"""The one way clipray runs ``ffmpeg`` and ``ffprobe``.

Every stage that touches media bytes shells out to FFmpeg: probing an upload, decoding audio,
cutting proxies, rendering clips, joining reels. Done ad hoc, each caller cut the tool's log
differently and a missing binary surfaced as a bare ``FileNotFoundError`` (an HTTP 500). Here,
once:

* a binary that is missing or not executable raises
  :class:`~clipray.domain.errors.DependencyMissing` (503 ``DEPENDENCY_MISSING``, not
  retryable) naming the tool and the fix;
* a run that fails raises :class:`FfmpegError` (or the caller's subclass of it, so a
  ``ProxyError`` stays a ``ProxyError``) whose message ends with the tool's log trimmed by
  :func:`tail`: whitespace collapsed per line, the last :data:`TAIL_CHARS` characters.

It lives in ``clipray.media`` rather than ``clipray.clips`` because its callers span
``pipelines``, ``clips`` and ``cluster``, and ``clips`` is meant to be the pure core; it imports
only the domain, so any layer may use it.

    >>> info = ffprobe_json("talk.mp4", "-show_streams")              # doctest: +SKIP
    >>> run_ffmpeg(["-i", "talk.mp4", "-t", "5", "head.mp4"], what="head")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from clipray.domain.errors import CodedError, DependencyMissing

Tool = Literal["ffmpeg", "ffprobe"]

TAIL_CHARS = 1500
"""How much of a failed tool's log an error keeps: FFmpeg prints the cause last, and a few
lines of it are what a person needs; the whole log of a long encode would flood a job record."""

FIX = {
    "ffmpeg": "install FFmpeg: apt-get install -y ffmpeg, or set CLIPRAY_FFMPEG_BIN",
    "ffprobe": "install FFmpeg: apt-get install -y ffmpeg, or set CLIPRAY_FFPROBE_BIN",
}
"""The fix :class:`DependencyMissing` carries, per tool."""


class FfmpegError(CodedError):
    """ffmpeg or ffprobe ran and failed (or wrote something other than what was asked).

    Not retryable: the same command on the same bytes fails the same way. Modules subclass it
    to keep their own type and code (``ProxyError``, ``RenderError``)."""

    code = "FFMPEG_FAILED"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, **kw: Any) -> None:
        super().__init__(code or type(self).code, message, **kw)


def tail(log: str, limit: int = TAIL_CHARS) -> str:
    """The end of a tool's log: blank lines dropped, at most ``limit`` characters, cut at a
    line start where one is near so the first line kept is whole."""
    lines = [" ".join(line.split()) for line in log.splitlines()]
    text = "\n".join(line for line in lines if line)
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return "..." + (cut[newline:] if 0 <= newline < limit // 4 else cut)


def missing(tool: Tool, binary: str, exc: OSError | None = None) -> DependencyMissing:
    """The error for a ``binary`` that cannot be started."""
    why = f" ({exc.strerror})" if exc is not None and exc.strerror else ""
    return DependencyMissing(tool, f"{binary!r}{why}; {FIX[tool]}",
                             detail={"tool": tool, "binary": binary})  # fmt: skip


def _tool(binary: str) -> Tool:
    return "ffprobe" if "ffprobe" in os.path.basename(binary) else "ffmpeg"


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    timeout: float | None = None,
    text: bool = True,
    tool: Tool | None = None,
) -> subprocess.CompletedProcess[Any]:
    """Run ``cmd`` (``cmd[0]`` is the ffmpeg or ffprobe binary) capturing its output; its exit
    status is the caller's to judge (a probe may fail on purpose).

    Raises:
        DependencyMissing: the binary is missing or not executable.
        subprocess.TimeoutExpired: ``timeout`` passed (the process is killed).
    """
    args = [str(a) for a in cmd]
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout, check=False,
                              **({"text": True, "errors": "replace"} if text else {}))  # fmt: skip
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise missing(tool or _tool(args[0]), args[0], exc) from exc


def popen(cmd: Sequence[str | os.PathLike[str]], *, tool: Tool | None = None
          ) -> subprocess.Popen[bytes]:  # fmt: skip
    """Start ``cmd`` with stdout and stderr piped, for a caller that streams its output."""
    args = [str(a) for a in cmd]
    try:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise missing(tool or _tool(args[0]), args[0], exc) from exc


def check(
    proc: subprocess.CompletedProcess[Any],
    what: str,
    error: type[FfmpegError] = FfmpegError,
) -> subprocess.CompletedProcess[Any]:
    """``proc`` if it exited 0, else ``error`` naming ``what`` with the end of its log."""
    if proc.returncode == 0:
        return proc
    log = proc.stderr if isinstance(proc.stderr, str) else bytes(proc.stderr or b"").decode(
        errors="replace")  # fmt: skip
    raise error(f"{what} failed (exit status {proc.returncode}): {tail(log)}",
                detail={"returncode": proc.returncode})  # fmt: skip


def run_ffmpeg(
    args: Sequence[str | os.PathLike[str]],
    *,
    ffmpeg: str = "ffmpeg",
    what: str = "ffmpeg",
    timeout: float | None = None,
    error: type[FfmpegError] = FfmpegError,
    quiet: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``ffmpeg *args`` (``-nostdin -hide_banner``, and ``-v error`` when ``quiet``);
    the finished process, its stderr being the log.

    Raises:
        DependencyMissing: ``ffmpeg`` is missing or not executable.
        FfmpegError: (``error``) it failed or ran past ``timeout`` seconds.
    """
    cmd = [ffmpeg, "-nostdin", "-hide_banner", *(["-v", "error"] if quiet else []), *args]
    try:
        proc = run(cmd, timeout=timeout, tool="ffmpeg")
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what} did not finish in {timeout:g} s") from exc
    return check(proc, what, error)


def ffprobe_json(
    path: str | Path,
    *args: str,
    ffprobe: str = "ffprobe",
    timeout: float | None = None,
    error: type[FfmpegError] = FfmpegError,
) -> dict[str, Any]:
    """ffprobe's JSON report on ``path``; ``args`` choose what it shows (``-show_streams``,
    ``-show_entries ...``, ``-select_streams v:0``).

    Raises:
        DependencyMissing: ``ffprobe`` is missing or not executable.
        FfmpegError: (``error``) it failed, ran past ``timeout``, or printed no JSON object.
    """
    what = f"ffprobe {path}"
    cmd = [ffprobe, "-v", "error", *args, "-of", "json", str(path)]
    try:
        proc = check(run(cmd, timeout=timeout, tool="ffprobe"), what, error)
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what} did not finish in {timeout:g} s") from exc
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise error(f"{what} printed no JSON: {tail(proc.stdout, 300)}") from exc
    if not isinstance(data, dict):
        raise error(f"{what} printed no JSON object")
    return data


def version(binary: str = "ffmpeg", *, timeout: float = 20.0) -> str:
    """The first line of ``binary -version`` (``ffmpeg version 6.1.1-3ubuntu5 ...``), which
    render records keep so a clip can be re-made the same way."""
    proc = check(run([binary, "-version"], timeout=timeout), f"{binary} -version")
    return proc.stdout.splitlines()[0].strip() if proc.stdout else "unknown"


def buildconf(binary: str = "ffmpeg", *, timeout: float = 20.0) -> str:
    """``ffmpeg -buildconf``: the configure flags (``--enable-libass`` ...) the build has."""
    return check(run([binary, "-hide_banner", "-buildconf"], timeout=timeout),
                 f"{binary} -buildconf").stdout  # fmt: skip
