"""The publisher's queries on SQLite and PostgreSQL: due ones oldest first and only once
due, one claim wins among racing workers, only the claiming attempt records the outcome,
what ran past a cutoff, and the posts whose stats are pulled."""

from __future__ import annotations

import uuid
from datetime import timedelta

from clipray.domain.enums import ConnectionStatus
from clipray.domain.publications import ClipKind, PublicationStatus
from clipray.storage import publishing as q
from clipray.storage.orm import ConnectedAccount, Publication, new_id, utcnow
from clipray.storage.repos import WorkspaceRepo
from tests.conftest import at_once


def _workspace(db) -> str:
    with db.session() as s:
        return WorkspaceRepo(s).create(f"pub-{uuid.uuid4().hex[:8]}").id


def _publication(db, ws: str, status: PublicationStatus, not_before, **kw) -> str:
    with db.session() as s:
        row = Publication(workspace_id=ws, clip_id=new_id(), clip_kind=ClipKind.CLIP,
                          platform="x", status=status, meta={}, not_before=not_before, **kw)
        s.add(row)
        s.flush()
        return row.id


def test_due_ones_come_oldest_first_and_only_once_due(migrated_db):
    ws, now = _workspace(migrated_db), utcnow()
    later = _publication(migrated_db, ws, PublicationStatus.PENDING, now - timedelta(seconds=1))
    older = _publication(migrated_db, ws, PublicationStatus.SCHEDULED, now - timedelta(hours=1))
    future = _publication(migrated_db, ws, PublicationStatus.SCHEDULED, now + timedelta(hours=1))
    asked = _publication(migrated_db, ws, PublicationStatus.REQUESTED, now - timedelta(hours=2))
    with migrated_db.session() as s:
        due = [i for i in q.due(s, now, 1000) if i in {later, older, future, asked}]
        assert due == [older, later]
        assert q.claim(s, future, now) is None
        assert q.claim(s, asked, now) is None  # awaiting approval: never claimed


def test_one_of_racing_claims_wins_and_only_it_records_the_outcome(migrated_db):
    ws, now = _workspace(migrated_db), utcnow()
    pub = _publication(migrated_db, ws, PublicationStatus.SCHEDULED, now)

    def claim() -> int | None:
        with migrated_db.session() as s:
            return q.claim(s, pub, now)

    won = [a for a in at_once(*[claim] * 6) if a is not None]
    assert won == [1]
    with migrated_db.session() as s:
        assert q.started_before(s, [pub], now + timedelta(seconds=1)) == [pub]
        assert q.started_before(s, [pub], now) == []
        assert not q.settle(s, pub, 2, status=PublicationStatus.FAILED)  # not its attempt
        assert q.settle(s, pub, 1, status=PublicationStatus.PENDING, not_before=now)
        assert not q.settle(s, pub, 1, status=PublicationStatus.FAILED)  # no longer holds it
    with migrated_db.session() as s:
        assert q.claim(s, pub, now) == 2
        assert (pub, 2) in q.publishing(s)


def test_recent_posts_are_the_published_ones_least_recently_pulled_first(migrated_db):
    ws, now = _workspace(migrated_db), utcnow()
    with migrated_db.session() as s:
        acct = ConnectedAccount(workspace_id=ws, platform="x", platform_account_id="1",
                                status=ConnectionStatus.ACTIVE)  # fmt: skip
        s.add(acct)
        s.flush()
        account = acct.id
    kw = {"platform_post_id": "p", "account_id": account}
    day = timedelta(days=1)
    fresh = _publication(migrated_db, ws, PublicationStatus.PUBLISHED, now,
                         published_at=now - day, **kw)
    pulled = _publication(migrated_db, ws, PublicationStatus.PUBLISHED, now,
                          published_at=now - day, stats_at=now - day / 2, **kw)
    never = _publication(migrated_db, ws, PublicationStatus.PUBLISHED, now,
                         published_at=now - 2 * day, **kw)
    old = _publication(migrated_db, ws, PublicationStatus.PUBLISHED, now,
                       published_at=now - 40 * day, **kw)
    cut = _publication(migrated_db, ws, PublicationStatus.PUBLISHED, now,
                       published_at=now - day, platform_post_id="q")
    failed = _publication(migrated_db, ws, PublicationStatus.FAILED, now, **kw)
    mine = {fresh, pulled, never, old, cut, failed}
    with migrated_db.session() as s:
        recent = [p.id for p in q.recent_posts(s, now - 30 * day, 1000) if p.id in mine]
        # never pulled first (either order), then the least recently pulled; the one older
        # than the window, the one without an account and the failed one are left out
        assert set(recent[:2]) == {fresh, never}
        assert recent[2:] == [pulled]
        q.record_stats(s, fresh, {"views": 3, "likes": 2, "comments": 1}, now)
    with migrated_db.session() as s:
        rows, total = q.published_page(s, ws, None, 2, 0)
        assert total == 5
        assert len(rows) == 2
        assert {r.id for r in rows} <= {fresh, pulled, cut}  # the newest, a day old
        views = sorted(st.get("views", 0) for _, st in q.published_stats(s, ws, "x"))
        assert views == [0, 0, 0, 0, 3]
        assert q.published_stats(s, ws, "tiktok") == []
