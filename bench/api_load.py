"""The HTTP API under 100 concurrent clients: Serve's default deployment options against
clipray's (``serve/options.py``), side by side on the same stack in the same process.

    python bench/api_load.py [--clients 100] [--seconds 20] [--paths /api/jobs,/api/clips]
    python bench/api_load.py --url http://127.0.0.1:8000 [--users 1]   # a running API

Without ``--url`` it brings up what ``clipray serve`` does (embedded S3, migrations, a local
Ray head, the job runner) under a temporary ``CLIPRAY_HOME``, signs up ``--users`` users
(one per client by default, so that the per-user rate limit is paid on every request but
does not refuse them; with few users raise ``--rate-limit``), writes ``--jobs`` jobs with
``--clips`` clips each into every user's workspace, and then loads, one after another on
one Serve instance:

(a) the ingress with Serve's defaults (5 ongoing requests per replica, one replica), as
    ``clipray serve`` deployed it before the options were defined once;
(b) the ingress as ``clipray serve`` deploys it now (serve/options.py, serve_config.yaml);
(c) the same with ``CLIPRAY_RATE_LIMIT_PER_MINUTE=0``: the per-user limit's cost is (c)-(b).

Each client is a loop that sends its next request when the previous one answered (a closed
loop: 100 clients are 100 requests in flight), alternating the ``--paths``. Prints requests
per second, p50/p95/p99 latency and the refusals, per configuration. With ``--url`` only that
API is loaded (its users must be free to sign up: mind its register limit).

Measured: see the README (The HTTP API). The clients run on the same cores as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"  # noqa: S105 (the bench's throwaway users)


@dataclass
class Result:
    name: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def line(self) -> str:
        ok = self.statuses.get(200, 0)
        q = statistics.quantiles(self.latencies_ms, n=100) if len(self.latencies_ms) > 1 else []
        pct = (f"p50 {q[49]:7.0f} ms  p95 {q[94]:7.0f} ms  p99 {q[98]:7.0f} ms"
               if q else "no answers")  # fmt: skip
        other = {k: v for k, v in sorted(self.statuses.items()) if k != 200}
        return (f"{self.name:<34} {ok / self.seconds:7.1f} req/s  {pct}"
                + (f"  other: {other}" if other else ""))  # fmt: skip


async def _signup(client: httpx.AsyncClient, n: int) -> list[dict[str, Any]]:
    """``n`` users, each logged in: their bearer header and workspace."""
    users = []
    for i in range(n):
        email = f"load-{i}-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": PASSWORD, "name": f"load {i}"}
        reg = await client.post("/api/auth/register", json=body)
        if reg.status_code != 201:
            sys.exit(f"signing up user {i}: {reg.status_code} {reg.text}")
        tok = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        if tok.status_code != 200:
            sys.exit(f"logging in user {i}: {tok.status_code} {tok.text}")
        users.append({"headers": {"Authorization": f"Bearer {tok.json()['access_token']}"},
                      "workspace_id": reg.json()["workspace_id"]})  # fmt: skip
    return users


async def load(url: str, users: list[dict[str, Any]], name: str, clients: int, seconds: float,
               paths: list[str]) -> Result:  # fmt: skip
    """``clients`` closed-loop clients for ``seconds``; a request that ends after the window
    is not counted (its start was inside it, so it is not lost either: it waits)."""
    result = Result(name, seconds)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
        for path in paths:  # one request each before the clock starts: connections, caches
            await http.get(path, headers=users[0]["headers"])
        end = time.perf_counter() + seconds

        async def client(i: int) -> None:
            headers = users[i % len(users)]["headers"]
            n = i
            while (start := time.perf_counter()) < end:
                resp = await http.get(paths[n % len(paths)], headers=headers)
                done = time.perf_counter()
                n += 1
                if done <= end:
                    result.statuses[resp.status_code] += 1
                    result.latencies_ms.append((done - start) * 1000)

        await asyncio.gather(*(client(i) for i in range(clients)))
    return result


def _seed(settings: Any, users: list[dict[str, Any]], jobs: int, clips: int) -> None:
    """Jobs in review with their clips, as the job runner leaves them, in each workspace."""
    from clipray.storage.db import Database
    from clipray.storage.orm import Clip, ClipStatus, Job, JobStatus, Source, SourceOrigin

    db = Database(settings.resolved_database_url)
    try:
        with db.session() as s:
            for user in users:
                ws = user["workspace_id"]
                src = Source(workspace_id=ws, origin=SourceOrigin.UPLOAD,
                             storage_key=f"{ws}/x", sha256=uuid.uuid4().hex * 2,
                             size_bytes=1, duration_s=600.0)  # fmt: skip
                s.add(src)
                s.flush()
                for _ in range(jobs):
                    job = Job(workspace_id=ws, source_id=src.id, kind="clip",
                              status=JobStatus.REVIEW)  # fmt: skip
                    s.add(job)
                    s.flush()
                    s.add_all(
                        Clip(workspace_id=ws, source_id=src.id, job_id=job.id,
                             moment_id=uuid.uuid4().hex, status=ClipStatus.RENDERED,
                             start_s=10.0 * c, end_s=10.0 * c + 9, score=0.5,
                             title=f"moment {c}", render_spec={}, spec_hash=uuid.uuid4().hex * 2)
                        for c in range(clips)
                    )  # fmt: skip
    finally:
        db.dispose()


def _own_stack(args: argparse.Namespace) -> list[Result]:
    from ray import serve

    from clipray.cluster.services import bring_down
    from clipray.config import Settings
    from clipray.serve.app import Ingress
    from clipray.serve.encoders import QueryEncoderDeployment
    from clipray.serve.launch import APP_NAME, deploy_api, start_api

    home = Path(args.home or tempfile.mkdtemp(prefix="clipray-load-"))
    settings = Settings(home=home, ray_num_cpus=2, serve_port=args.port,
                        rate_limit_per_minute=args.rate_limit,
                        rate_limit_login_per_minute=10_000,
                        rate_limit_register_per_hour=10_000)  # fmt: skip
    try:
        served = start_api(settings)  # (b), as `clipray serve` does it
        users = asyncio.run(_signup(httpx.AsyncClient(base_url=served.url, timeout=60),
                                    args.users or args.clients))  # fmt: skip
        _seed(settings, users, args.jobs, args.clips)
        paths = args.paths.split(",")

        def run(name: str) -> Result:
            time.sleep(args.settle)  # the replaced replicas' shutdown, off the clock
            r = asyncio.run(load(served.url, users, name, args.clients, args.seconds, paths))
            print(r.line(), flush=True)
            return r

        results = []
        defaults = Ingress.options(max_ongoing_requests=5, num_replicas=1, autoscaling_config=None)
        serve.run(defaults.bind(settings, encoders=QueryEncoderDeployment.bind(settings)),
                  name=APP_NAME, route_prefix="/")  # fmt: skip
        results.append(run("(a) Serve defaults (5 ongoing)"))
        deploy_api(settings)
        results.append(run("(b) serve/options.py"))
        deploy_api(settings.model_copy(update={"rate_limit_per_minute": 0}))
        results.append(run("(c) (b), rate limit off"))
        return results
    finally:
        serve.shutdown()
        bring_down(settings)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="load this running API instead of starting one")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--paths", default="/api/jobs,/api/clips")
    p.add_argument("--users", type=int, default=None,
                   help="users to sign up (default: one per client; 1 with --url)")
    p.add_argument("--jobs", type=int, default=3, help="jobs per user's workspace")
    p.add_argument("--clips", type=int, default=8, help="clips per job")
    p.add_argument("--port", type=int, default=8765, help="port of the API it starts")
    p.add_argument("--home", help="CLIPRAY_HOME of the stack it starts (default: a temp dir)")
    p.add_argument("--rate-limit", type=int, default=100,
                   help="CLIPRAY_RATE_LIMIT_PER_MINUTE of (a) and (b): a user's requests a "
                        "minute (raise it when clients share few users)")
    p.add_argument("--settle", type=float, default=5.0,
                   help="seconds between a redeploy and its load")
    args = p.parse_args()
    print(f"{args.clients} clients, {args.seconds:.0f} s each, on {args.paths}", flush=True)
    if args.url:
        users = asyncio.run(_signup(httpx.AsyncClient(base_url=args.url, timeout=60),
                                    args.users or 1))  # fmt: skip
        r = asyncio.run(load(args.url, users, args.url, args.clients, args.seconds,
                             args.paths.split(",")))  # fmt: skip
        print(r.line())
        return
    base, *rest = _own_stack(args)
    for r in rest:
        ratio = (r.statuses.get(200, 0) / max(1, base.statuses.get(200, 0)))
        print(f"{r.name}: {ratio:.1f}x the requests per second of {base.name.split(' ')[0]}")


if __name__ == "__main__":
    main()
