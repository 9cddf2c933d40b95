"""``clipray publish`` and ``clipray calendar`` as a user runs them (a subprocess on a home
brought up by ``clipray up --no-ray``): a clip published now and one at a local time read in
the machine's zone and shown back in UTC, a coded refusal, and the calendar by day."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from clipray.storage.orm import Publication, utcnow
from tests.publish.rows import account, generated

PLATFORMS_ON = {"CLIPRAY_PUBLISH__YOUTUBE__CLIENT_ID": "yt-client",
                "CLIPRAY_PUBLISH__YOUTUBE__CLIENT_SECRET": "yt-secret",
                "TZ": "Asia/Tokyo"}  # fmt: skip
"""YouTube on, and a machine in UTC+9 (no daylight saving: the offset is the same all year)."""


def test_publish_now_and_at_a_local_time_then_read_the_calendar(up_home):
    db, ws = up_home.db, up_home.workspace_id
    now_clip = generated(db, up_home.buckets.generated, ws, title="Now")
    later_clip = generated(db, up_home.buckets.generated, ws, title="Later")
    acct = account(db, ws, "youtube")

    def run(*args: str):
        return up_home.run(*args, env=PLATFORMS_ON)

    now = run("publish", now_clip, "--to", acct, "--title", "Out now", "--hashtag", "launch")
    assert now.returncode == 0, now.stderr
    now_id, status = now.stdout.split()[:2]
    assert status == "pending"
    assert f"youtube account {acct}" in now.stdout

    tomorrow = (utcnow() + timedelta(days=1)).date()
    local = f"{tomorrow.isoformat()}T09:30"  # 09:30 in Tokyo is 00:30 UTC
    at = run("publish", later_clip, "--to", acct, "--at", local, "--json")
    assert at.returncode == 0, at.stderr
    (row,) = json.loads(at.stdout)["data"]
    assert row["status"] == "scheduled"
    expected = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 0, 30, tzinfo=UTC)
    assert row["scheduled_at"] == expected.isoformat().replace("+00:00", "Z")
    assert row["metadata"]["title"] == "Later"  # the clip's own
    with db.session() as s:
        stored = s.get(Publication, row["id"])
        assert stored.scheduled_at == expected
        assert stored.not_before == expected
        assert stored.requested_by is not None  # the local user, for the audit log
        assert s.get(Publication, now_id).meta["hashtags"] == ["#launch"]

    again = run("publish", later_clip, "--to", acct, "--at", "2020-01-01T10:00+00:00")
    assert again.returncode == 2
    assert again.stderr.startswith("error: SCHEDULED_AT_PAST: ")
    dup = run("publish", now_clip, "--to", acct)
    assert dup.returncode == 2
    assert "error: PUBLICATION_EXISTS:" in " ".join(dup.stderr.split())
    bad = run("publish", now_clip, "--to", acct, "--at", "tomorrow-ish")
    assert bad.returncode == 2
    assert "not an ISO 8601 time" in bad.stderr

    with db.session() as s:  # what the publisher records when it posts (not this command's)
        done = s.get(Publication, now_id)
        done.status, done.published_at = "published", utcnow()
    db.dispose()
    cal = run("calendar", "--to", tomorrow.isoformat())
    assert cal.returncode == 0, cal.stderr
    lines = cal.stdout.splitlines()
    today = utcnow().date()
    assert lines[0] == f"{today} to {tomorrow} (UTC)"
    heads = [i for i, line in enumerate(lines) if re.match(r"^\w{3} \d{4}-\d{2}-\d{2}$", line)]
    assert [lines[i][4:] for i in heads] == [today.isoformat(), tomorrow.isoformat()]
    assert re.search(rf"00:30  scheduled\s+youtube\s+{later_clip}  {row['id']}  Later",
                     lines[heads[1] + 1])  # fmt: skip
    assert "published" in lines[heads[0] + 1]
    assert now_id in lines[heads[0] + 1]
    as_json = run("calendar", "--from", tomorrow.isoformat(), "--to", tomorrow.isoformat(),
                  "--json")  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert [[p["id"] for p in d["publications"]] for d in doc["days"]] == [[row["id"]]]
    too_long = run("calendar", "--from", "2026-01-01", "--to", "2026-12-31")
    assert too_long.returncode == 2
    assert "CALENDAR_RANGE_TOO_LONG" in too_long.stderr
