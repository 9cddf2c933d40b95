"""The login limit through the API (plain FastAPI app, real SQLite): whose address counts,
with and without trusted proxies in front."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from clipray.cluster.procs import free_ports
from clipray.serve.app import create_api
from tests.apiclient import register

# Addresses of this module alone (TEST-NET ranges), so its counters are its own.
PROXY_NET, A, B = "192.0.2", "198.51.100.7", "198.51.100.8"


def _login(client: TestClient, email: str, xff: str | None = None) -> int:
    headers = {"X-Forwarded-For": xff} if xff else {}
    body = {"email": email, "password": "wrong password!"}
    return client.post("/api/auth/login", json=body, headers=headers).status_code


def test_a_forged_forwarded_for_does_not_escape_the_limit(api_settings):
    """With no trusted proxy, each request naming another client still counts as the peer."""
    limited = api_settings.model_copy(update={"rate_limit_login_per_minute": 3})
    peer = ("198.51.100.9", 50000)
    with TestClient(create_api(limited), client=peer) as c:
        codes = [_login(c, "nobody@example.com", f"203.0.113.{n}") for n in range(5)]
    assert codes == [401, 401, 401, 429, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(api_settings):
    limited = api_settings.model_copy(
        update={"rate_limit_login_per_minute": 2, "trusted_proxies": (f"{PROXY_NET}.0/24",)}
    )
    a, b = A, B
    with TestClient(create_api(limited), client=(f"{PROXY_NET}.2", 40000)) as c:
        acct = register(c, "proxied")  # registered and logged in through the proxy
        assert [_login(c, acct.email, a) for _ in range(2)] == [401, 401]
        assert _login(c, acct.email, a) == 429
        # another client behind the same proxy is not locked out by the first
        assert _login(c, acct.email, f"{b}, {PROXY_NET}.3") == 401
        # the first client cannot get out by prepending a made-up address: it is ignored
        assert _login(c, acct.email, f"10.0.0.1, {a}") == 429
        over = c.post("/api/auth/login", json={"email": acct.email, "password": acct.password},
                      headers={"X-Forwarded-For": a})  # fmt: skip
        assert over.status_code == 429
        assert 0 < int(over.headers["retry-after"]) <= 60
        # the proxy itself, with no header, is a client of its own (its register used one)
        assert _login(c, acct.email) == 401


_SERVE_PEER = """
import sys
import requests
from fastapi import FastAPI, Request
from ray import serve
from clipray.cluster.services import connect_ray
from clipray.config import Settings

connect_ray(Settings(home=sys.argv[1], ray_num_cpus=1), log_to_driver=False)
app = FastAPI()

@serve.deployment(ray_actor_options={"num_cpus": 0})
@serve.ingress(app)
class Peer:
    @app.get("/")
    def peer(self, request: Request) -> str:
        return request.client.host if request.client else ""

port = int(sys.argv[2])
serve.start(http_options={"host": "127.0.0.1", "port": port})
serve.run(Peer.bind(), name="peer", route_prefix="/", blocking=False)
got = requests.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.66"},
                   timeout=60)
print("PEER", got.json())
"""


@pytest.mark.timeout(600)
def test_serves_proxy_hands_the_real_peer_to_the_app(tmp_path):
    """Through real Serve, started the way clipray starts Ray: its HTTP proxy (uvicorn)
    trusts X-Forwarded-For from loopback by default, which would let any local process
    pick its own address before the API's trusted-proxy check ever ran."""
    (port,) = free_ports(1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("FORWARDED_ALLOW_IPS", None)
    run = subprocess.run([sys.executable, "-c", _SERVE_PEER, str(tmp_path), str(port)],
                         capture_output=True, text=True, timeout=540, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "PEER 127.0.0.1" in run.stdout, run.stdout[-2000:]
