"""``clipray accounts``: connect prints the consent URL and completes the flow on its local
callback when the browser comes back (the browser played by following the fake consent
page's redirect); list shows the account; no consent in time is a coded error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from clipray.storage import migrate
from tests.publish.fake_youtube import FakeYouTube
from tests.publish.harness import serve_fake


def _env(home: Path, base: str) -> dict[str, str]:
    url = f"sqlite:///{home / 'cli.db'}"
    migrate.upgrade(url)
    return {**os.environ, "CLIPRAY_HOME": str(home), "CLIPRAY_DATABASE_URL": url,
            "CLIPRAY_FERNET_KEYS": Fernet.generate_key().decode(),
            "CLIPRAY_PUBLISH__YOUTUBE__CLIENT_ID": "yt-client",
            "CLIPRAY_PUBLISH__YOUTUBE__CLIENT_SECRET": "yt-secret",
            "CLIPRAY_PUBLISH__YOUTUBE__AUTH_URL": f"{base}/o/oauth2/v2/auth",
            "CLIPRAY_PUBLISH__YOUTUBE__TOKEN_URL": f"{base}/token",
            "CLIPRAY_PUBLISH__YOUTUBE__API_BASE": base}  # fmt: skip


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "clipray", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_connect_completes_on_the_local_callback_and_list_shows_it(tmp_path):
    fake = FakeYouTube()
    with serve_fake(fake.app) as base:
        env = _env(tmp_path, base)
        proc = _cli(env, "accounts", "connect", "youtube", "--timeout", "120")
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith(f"{base}/o/oauth2/v2/auth?"), url
            browser = httpx.get(url, follow_redirects=True, timeout=30)
            assert browser.status_code == 200
            assert "return to the terminal" in browser.text
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        assert f"connected youtube account '{fake.channel['title']}'" in out
        assert fake.consents[0]["redirect_uri"].startswith("http://127.0.0.1:")
        assert fake.consents[0]["code_challenge_method"] == "S256"
        listed = _cli(env, "accounts", "list", "--json")
        out, err = listed.communicate(timeout=120)
        assert listed.returncode == 0, err
        (acct,) = json.loads(out)
        assert (acct["platform"], acct["platform_account_id"], acct["status"]) == (
            "youtube", fake.channel["id"], "active")
        assert not any(tok in out + err for tok in [*fake.access, *fake.refresh_tokens])


def test_no_consent_in_time_is_a_coded_error(tmp_path):
    with serve_fake(FakeYouTube().app) as base:
        proc = _cli(_env(tmp_path, base), "accounts", "connect", "youtube", "--timeout", "1")
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "error: OAUTH_TIMEOUT:" in " ".join(err.split())
