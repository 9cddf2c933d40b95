"""Helpers the API tests share: make an account, upload a file the way a browser does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


@dataclass
class Account:
    id: str
    email: str
    password: str
    workspace_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def register(client: Any, name: str = "user") -> Account:
    """Register and log in a fresh user (``client`` is a TestClient or an HTTP session with
    a base URL: anything with ``.post(path, json=...)``)."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery staple"
    reg = client.post("/api/auth/register", json={"email": email, "password": password,
                                                  "name": name})  # fmt: skip
    assert reg.status_code == 201, reg.text
    tokens = client.post("/api/auth/login", json={"email": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return Account(reg.json()["id"], email, password, reg.json()["workspace_id"],
                   body["access_token"], body["refresh_token"])  # fmt: skip


def upload(client: Any, acct: Account, path: Path, content_type: str = "video/mp4",
           size: int | None = None) -> requests.Response:  # fmt: skip
    """Presign, POST the bytes straight to S3, confirm. Returns the confirm response."""
    data = path.read_bytes()
    pre = client.post("/api/upload/presign", headers=acct.headers,
                      json={"filename": path.name, "content_type": content_type,
                            "size": size or len(data)})  # fmt: skip
    assert pre.status_code == 200, pre.text
    p = pre.json()
    put = requests.post(p["url"], data=p["fields"], files={"file": (path.name, data)}, timeout=60)
    assert put.status_code in (200, 204), put.text
    return client.post("/api/upload/confirm", headers=acct.headers, json={"key": p["key"]})


def upload_with_cover(client: Any, acct: Account, path: Path, db: Any, frames: int, rate: str,
                      cuts: list[int]) -> str:  # fmt: skip
    """Upload ``path`` and give it the cover the analysis would (``frames`` at ``rate`` fps,
    cut at ``cuts``), written behind the API so that no model runs. Returns the source id."""
    from clipray.storage.orm import Source
    from clipray.storage.vclips import CoverRepo

    resp = upload(client, acct, path)
    assert resp.status_code == 200, resp.text
    sid = resp.json()["source_id"]
    with db.session() as s:
        CoverRepo(s, acct.workspace_id).create_cover(s.get(Source, sid), frames, rate, cuts)
    return sid
