"""The local Ray head that ``clipray up`` starts and ``clipray down`` stops.

It runs ``ray start --head --block`` as a detached process whose pid is recorded under
``{CLIPRAY_HOME}/ray``: stopping that one process takes its raylet, GCS and dashboard
down with it, and never touches another Ray cluster on the same machine (``ray stop``
would kill them all).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from clipray.cluster.procs import ProcStatus, ServiceProcess, free_ports, port_open, wait_until

HOST = "127.0.0.1"


class RayHeadError(RuntimeError):
    """The local Ray head could not be started."""


def ray_binary() -> str:
    beside_python = Path(sys.executable).parent / "ray"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("ray")
    if found is None:
        raise RayHeadError("the ray command is missing: pip install 'ray[serve,data]'")
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
        self.proc = ServiceProcess(root, "ray")

    def status(self) -> ProcStatus:
        return self.proc.status()

    def address(self) -> str | None:
        """GCS address of the running head, or None."""
        st = self.proc.status()
        if st.state != "running" or st.info is None:
            return None
        return str(st.info["address"])

    def dashboard_url(self) -> str | None:
        st = self.proc.status()
        if st.state != "running" or st.info is None or not st.info.get("dashboard_port"):
            return None
        return f"http://{HOST}:{st.info['dashboard_port']}"

    def start(
        self,
        *,
        num_cpus: int | None = None,
        include_dashboard: bool = True,
        timeout: float = 120.0,
    ) -> tuple[str, bool]:
        """Start the head unless it runs. Returns its address and whether it was started."""
        with self.proc.locked():
            current = self.address()
            if current is not None:
                return current, False
            self.proc.stop()  # clears a stale state file
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
                log = self.proc.tail_log(30)
                self.proc.stop(timeout=20)
                raise RayHeadError(f"ray head did not start within {timeout:.0f}s:\n{log}")
            return info["address"], True

    def stop(self, timeout: float = 60.0) -> bool:
        with self.proc.locked():
            return self.proc.stop(timeout)
