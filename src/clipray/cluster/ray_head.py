"""The local Ray head that ``clipray up`` starts and ``clipray down`` stops.

It runs ``ray start --head --block`` as a detached process whose pid is recorded under
``{CLIPRAY_HOME}/ray``: stopping that one process takes its raylet, GCS and dashboard
down with it, and never touches another Ray cluster on the same machine (``ray stop``
would kill them all). A head running without its state file (lost, or written before a
clock step by an older clipray) is found by its command line and working dir, the head's
data dir, and adopted or stopped rather than duplicated.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import psutil

from clipray.cluster.procs import (
    ProcStatus,
    ServiceError,
    ServiceProcess,
    free_ports,
    port_open,
    wait_until,
)

HOST = "127.0.0.1"


class RayHeadError(ServiceError):
    """The local Ray head could not be started; the message says why in one line."""


def ray_binary() -> str:
    beside_python = Path(sys.executable).parent / "ray"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("ray")
    if found is None:
        raise RayHeadError(
            "ray_binary_missing", "the ray command is missing: pip install 'ray[serve,data]'"
        )
    return found


def local_ray_env() -> dict[str, str]:
    """Environment of a process that starts or joins the loopback-only local head.

    Ray 2.60 turns token authentication on by default; the local head listens on 127.0.0.1
    only, so it runs without it. A remote cluster keeps its own auth settings.

    ``FORWARDED_ALLOW_IPS`` empty: Serve's HTTP proxy (uvicorn) would otherwise replace the
    client address with ``X-Forwarded-For`` from any peer on 127.0.0.1; the API decides
    whom to believe itself (``CLIPRAY_TRUSTED_PROXIES``) and needs the real peer for that.
    """
    return {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled"),
            "FORWARDED_ALLOW_IPS": ""}  # fmt: skip


class LocalRayHead:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = ServiceProcess(root, "ray", self._signature, RayHeadError)
        self.adopted = ""
        """What the last ``start`` found running without its state file, in words."""

    def status(self) -> ProcStatus:
        return self.proc.status()

    def address(self, st: ProcStatus | None = None) -> str | None:
        """GCS address of the running head, or None."""
        st = st or self.proc.status()
        if st.state != "running" or not st.info or not st.info.get("address"):
            return None
        return str(st.info["address"])

    def dashboard_url(self, st: ProcStatus | None = None) -> str | None:
        st = st or self.proc.status()
        if st.state != "running" or st.info is None or not st.info.get("dashboard_port"):
            return None
        return f"http://{HOST}:{st.info['dashboard_port']}"

    def start(
        self,
        *,
        num_cpus: int | None = None,
        include_dashboard: bool = True,
        timeout: float = 120.0,
        metrics_port: int | None = None,
    ) -> tuple[str, bool]:
        """Start the head unless it runs (one found without its state file is adopted).
        Returns its address and whether it was started. ``metrics_port``: where the node
        exports Prometheus metrics (unset: a port Ray picks)."""
        with self.proc.locked():
            self.adopted = ""
            st = self.proc.status()
            current = self.address(st)
            if current is not None and _gcs_open(current):
                if st.found_by:
                    self.proc.adopt(st)
                    self.adopted = st.note
                return current, False
            self.proc.stop()  # a head that does not answer, or a stale state file
            gcs, dashboard, client, agent = free_ports(4, HOST)
            cmd = [
                ray_binary(),
                "start",
                "--head",
                "--block",
                f"--node-ip-address={HOST}",
                f"--port={gcs}",
                f"--ray-client-server-port={client}",
                f"--dashboard-agent-listen-port={agent}",
                "--disable-usage-stats",
                f"--include-dashboard={'true' if include_dashboard else 'false'}",
            ]
            if include_dashboard:
                cmd += [f"--dashboard-host={HOST}", f"--dashboard-port={dashboard}"]
            if num_cpus is not None:
                cmd.append(f"--num-cpus={num_cpus}")
            if metrics_port is not None:
                cmd.append(f"--metrics-export-port={metrics_port}")
            info = {
                "address": f"{HOST}:{gcs}",
                "client_address": f"ray://{HOST}:{client}",
                "dashboard_port": dashboard if include_dashboard else None,
            }
            pid = self.proc.spawn(cmd, info, env=local_ray_env())
            up = wait_until(
                lambda: self.proc.exited_early(pid) or port_open(HOST, gcs), timeout, 0.5
            )
            if not up or self.proc.exited_early(pid):
                line = self.proc.last_log_line()
                exited = self.proc.exited_early(pid)
                self.proc.stop(timeout=20)
                code, why = (
                    ("ray_exited", "ray start exited")
                    if exited
                    else ("ray_start_timeout", f"the ray head did not start within {timeout:.0f}s")
                )
                last = f": {line}" if line else ""
                raise RayHeadError(code, f"{why}{last} (log: {self.proc.log_file})")
            return info["address"], True

    def stop(self, timeout: float = 60.0) -> ProcStatus:
        """Stop the head, also one found without its state file. Returns what was found
        (``state == "running"``: it was stopped)."""
        with self.proc.locked():
            return self.proc.stop(timeout)

    def _signature(self, proc: psutil.Process) -> dict[str, Any] | None:
        """``ray start --head`` run in this head's dir: its addresses, from its flags."""
        cmd = proc.cmdline()
        is_ray = any(Path(arg).name == "ray" for arg in cmd[:2])
        if not is_ray or "start" not in cmd or "--head" not in cmd:
            return None
        if os.path.realpath(proc.cwd()) != os.path.realpath(self.root):
            return None
        flags = dict(a[2:].split("=", 1) for a in cmd if a.startswith("--") and "=" in a)
        if "port" not in flags:
            return None
        host = flags.get("node-ip-address", HOST)
        dashboard = flags.get("include-dashboard", "true") != "false"
        return {
            "address": f"{host}:{flags['port']}",
            "client_address": f"ray://{host}:{flags.get('ray-client-server-port', 10001)}",
            "dashboard_port": int(flags["dashboard-port"])
            if dashboard and "dashboard-port" in flags
            else None,
        }


def _gcs_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return port_open(host, int(port))
