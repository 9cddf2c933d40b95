"""Publication requests on SQLite and PostgreSQL: 20 identical requests at once make one
publication per clip and account (the database's unique rules decide), a second open
publication of a pair is refused, a request with one bad clip or account writes nothing, and
deciding or cancelling never overwrites what another caller did first."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clipray.domain.audit import Actor
from clipray.domain.enums import Role
from clipray.domain.errors import CodedError
from clipray.publish.base import PostMetadata
from clipray.services import publications
from clipray.services.access import Membership
from clipray.services.publications import PublishRequest
from clipray.storage.orm import (
    AuditEvent,
    ConnectionStatus,
    GeneratedStatus,
    Publication,
    utcnow,
)
from clipray.storage.repos import UserRepo, WorkspaceRepo
from tests.conftest import at_once
from tests.publish.rows import account, generated, rendered, with_platforms


@pytest.fixture
def world(migrated_db, buckets, settings):
    """A workspace with an owner and an editor, two accounts and two clips."""
    tag = uuid.uuid4().hex[:8]
    with migrated_db.session() as s:
        owner = UserRepo(s).ensure(f"owner-{tag}@example.com")
        editor = UserRepo(s).ensure(f"editor-{tag}@example.com")
        ws, _ = WorkspaceRepo(s).ensure(f"pub-{tag}", owner=owner)
        WorkspaceRepo(s).add_member(ws.id, editor.id, Role.EDITOR)
        ids = (ws.id, owner.id, editor.id)
    ws_id, owner_id, editor_id = ids
    store = buckets.generated
    return {
        "db": migrated_db, "buckets": buckets, "settings": with_platforms(settings),
        "ws": ws_id, "owner": (Membership(ws_id, Role.OWNER), Actor(owner_id, "198.51.100.1")),
        "editor": (Membership(ws_id, Role.EDITOR), Actor(editor_id, "198.51.100.2")),
        "clips": [generated(migrated_db, store, ws_id), rendered(migrated_db, store, ws_id)],
        "accounts": [account(migrated_db, ws_id, "youtube"), account(migrated_db, ws_id, "tiktok")],
    }  # fmt: skip


def make(w, req: PublishRequest, as_: str = "owner") -> publications.Created:
    who, actor = w[as_]
    return publications.create(w["db"], w["buckets"], w["settings"], who, actor, req)


def count(w) -> int:
    with w["db"].session() as s:
        return s.scalar(select(func.count()).select_from(Publication)
                        .where(Publication.workspace_id == w["ws"])) or 0  # fmt: skip


def test_twenty_identical_requests_at_once_make_one_publication_per_pair(world):
    req = PublishRequest(world["clips"], world["accounts"], PostMetadata(title="Launch"),
                         idempotency_key=f"key-{uuid.uuid4()}")  # fmt: skip
    results = at_once(*[lambda: make(world, req)] * 20)
    assert count(world) == 4
    first = [p.id for p in results[0].publications]
    assert len(set(first)) == 4
    assert all(sorted(p.id for p in r.publications) == sorted(first) for r in results)
    assert sum(not r.replayed for r in results) == 1
    with world["db"].session() as s:
        audited = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.workspace_id == world["ws"], AuditEvent.action == "publication.created"))
    assert audited == 4


def test_twenty_requests_without_a_key_open_each_pair_once(world):
    req = PublishRequest(world["clips"][:1], world["accounts"][:1], PostMetadata(title="t"))

    def attempt() -> str:
        try:
            return make(world, req).publications[0].status
        except CodedError as exc:
            return exc.code

    outcomes = at_once(*[attempt] * 20)
    assert sorted(set(outcomes)) == ["PUBLICATION_EXISTS", "pending"]
    assert outcomes.count("pending") == 1
    assert count(world) == 1


def test_a_closed_publication_frees_the_pair(world):
    req = PublishRequest(world["clips"][:1], world["accounts"][:1], PostMetadata(title="t"))
    first = make(world, req).publications[0]
    with pytest.raises(CodedError) as info:
        make(world, req)
    assert (info.value.code, info.value.status) == ("PUBLICATION_EXISTS", 409)
    assert info.value.detail == {"publication_ids": [first.id]}
    who, actor = world["owner"]
    publications.cancel(world["db"], who, actor, first.id)
    again = make(world, req).publications[0]
    assert again.id != first.id
    assert again.status == "pending"


def test_one_bad_clip_or_account_writes_nothing(world, buckets):
    purged = generated(world["db"], buckets.generated, world["ws"], status=GeneratedStatus.PURGED,
                       life=None)
    revoked = account(world["db"], world["ws"], "youtube", ConnectionStatus.REVOKED)
    off = account(world["db"], world["ws"], "instagram")
    for clips, accounts, code in (
        ([*world["clips"], purged], world["accounts"], "CLIP_PURGED"),
        (world["clips"], [*world["accounts"], revoked], "ACCOUNT_REVOKED"),
        (world["clips"], [*world["accounts"], off], "PLATFORM_OFF"),
        ([*world["clips"], "f" * 32], world["accounts"], "CLIP_NOT_FOUND"),
    ):
        with pytest.raises(CodedError) as info:
            make(world, PublishRequest(clips, accounts, PostMetadata(title="t")))
        assert info.value.code == code
    assert count(world) == 0


def test_an_editor_requests_and_an_approval_or_rejection_decides_once(world):
    later = utcnow() + timedelta(hours=2)
    req = PublishRequest(world["clips"], world["accounts"][:1], PostMetadata(title="t"),
                         scheduled_at=later)  # fmt: skip
    made = make(world, req, as_="editor").publications
    assert [p.status for p in made] == ["requested", "requested"]
    editor, editor_actor = world["editor"]
    with pytest.raises(CodedError) as info:
        publications.approve(world["db"], world["settings"], editor, editor_actor, made[0].id)
    assert (info.value.code, info.value.status) == ("FORBIDDEN_ROLE", 403)
    who, actor = world["owner"]
    decide = [lambda: publications.approve(world["db"], world["settings"], who, actor,
                                           made[0].id),
              lambda: publications.reject(world["db"], who, actor, made[0].id)]  # fmt: skip

    def attempt(call) -> str:
        try:
            return call().status
        except CodedError as exc:
            return exc.code

    outcomes = at_once(*[lambda c=c: attempt(c) for c in decide * 5])
    winners = [o for o in outcomes if o in ("scheduled", "rejected")]
    assert len(winners) == 1
    assert outcomes.count("PUBLICATION_NOT_REQUESTED") == 9
    final = publications.get(world["db"], who, made[0].id)
    assert final.status == winners[0]
    assert final.decided_by == actor.user_id
    # the editor cancels their other request; it cannot be approved afterwards
    publications.cancel(world["db"], editor, editor_actor, made[1].id)
    with pytest.raises(CodedError) as info:
        publications.approve(world["db"], world["settings"], who, actor, made[1].id)
    assert info.value.code == "PUBLICATION_NOT_REQUESTED"
