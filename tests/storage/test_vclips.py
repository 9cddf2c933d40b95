"""Virtual clips in a real database (SQLite and PostgreSQL): each cut operation is one
transaction with an audit row; a stale or concurrent edit is refused and changes nothing;
undo brings the replaced rows back; approving queues one export; one worker claims it."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clipray.clips.cuts import CutError, VClip, validate
from clipray.storage.db import Database
from clipray.storage.orm import (
    ClipExport,
    CutEdit,
    ExportStatus,
    ProxyStatus,
    ReviewStatus,
    SourceOrigin,
    VirtualClip,
)
from clipray.storage.repos import SourceMeta, SourceRepo, UserRepo, WorkspaceRepo
from clipray.storage.vclips import (
    CoverConflictError,
    CoverRepo,
    claim_export,
    fail_exports_without_proxy,
    finish_export,
    requeue_running_exports,
)
from tests.conftest import at_once

FRAMES = 300


def _source(session, frames: int = FRAMES, starts=(100, 200)):
    tag = uuid.uuid4().hex[:12]
    user = UserRepo(session).create(f"{tag}@example.com")
    other = UserRepo(session).create(f"other-{tag}@example.com")
    ws = WorkspaceRepo(session).create(f"vc-{tag}", owner=user)
    meta = SourceMeta(origin=SourceOrigin.LOCAL, origin_uri="talk.mp4",
                      storage_key=f"{ws.id}/sources/x/original.mp4", sha256=tag * 5,
                      size_bytes=1, duration_s=frames / 30, fps=30.0)  # fmt: skip
    source = SourceRepo(session, ws.id).add(meta)
    repo = CoverRepo(session, ws.id)
    assert repo.create_cover(source, frames, "30/1", list(starts))
    return repo, source, user.id, other.id


def _bounds(repo: CoverRepo, source) -> list[tuple[int, int]]:
    return [(c.start_frame, c.end_frame) for c in repo.live(source.id)]


def _valid(repo: CoverRepo, source) -> None:
    cover = [VClip(c.id, c.start_frame, c.end_frame) for c in repo.live(source.id)]
    assert validate(cover, source.frame_count) is None


def test_the_first_cover_follows_the_scene_starts_and_is_made_once(session):
    repo, source, _, _ = _source(session)
    assert _bounds(repo, source) == [(0, 100), (100, 200), (200, 300)]
    assert source.proxy_status is ProxyStatus.NONE  # built on the first approval, not now
    assert not repo.create_cover(source, FRAMES, "30/1", [50])
    assert _bounds(repo, source) == [(0, 100), (100, 200), (200, 300)]


def test_each_operation_bumps_the_version_and_writes_an_audit_row(session):
    repo, source, user, _ = _source(session)
    a = repo.apply(source, "add", user, frame=150, expected_version=0)
    assert [(c.start_frame, c.end_frame) for c in a.created] == [(100, 150), (150, 200)]
    m = repo.apply(source, "move", user, frame=150, to=160, expected_version=1)
    r = repo.apply(source, "remove", user, frame=200, expected_version=2)
    assert _bounds(repo, source) == [(0, 100), (100, 160), (160, 300)]
    assert source.cut_version == 3
    history, total = repo.history(source.id)
    assert total == 3
    assert [(e.op, e.frame, e.to_frame, e.cuts_before, e.cuts_after, e.user_id)
            for e in reversed(history)] == [
        ("add", 150, None, [100, 200], [100, 150, 200], user),
        ("move", 150, 160, [100, 150, 200], [100, 160, 200], user),
        ("remove", 200, None, [100, 160, 200], [100, 160], user),
    ]  # fmt: skip
    assert [e.id for e in history] == [r.edit.id, m.edit.id, a.edit.id]
    archived = session.scalars(select(VirtualClip).where(
        VirtualClip.source_id == source.id, VirtualClip.live.is_(False))).all()  # fmt: skip
    assert len(archived) == 1 + 2 + 2  # the rows a later undo can bring back
    _valid(repo, source)


@pytest.mark.parametrize(
    ("op", "frame", "to", "code"),
    [
        pytest.param("add", 100, None, "CUT_EXISTS", id="add-existing"),
        pytest.param("add", 0, None, "CUT_OUT_OF_RANGE", id="add-at-0"),
        pytest.param("add", FRAMES, None, "CUT_OUT_OF_RANGE", id="add-at-end"),
        pytest.param("remove", 150, None, "CUT_NOT_FOUND", id="remove-missing"),
        pytest.param("move", 100, 200, "CUT_WOULD_CROSS", id="move-onto-neighbour"),
        pytest.param("move", 100, 250, "CUT_WOULD_CROSS", id="move-across"),
        pytest.param("move", 100, None, "CUT_TARGET_MISSING", id="move-nowhere"),
    ],
)  # fmt: skip
def test_invalid_operations_are_refused_and_change_nothing(session, op, frame, to, code):
    repo, source, user, _ = _source(session)
    with pytest.raises(CutError) as err:
        repo.apply(source, op, user, frame=frame, to=to)
    assert err.value.code == code
    assert err.value.reason
    assert _bounds(repo, source) == [(0, 100), (100, 200), (200, 300)]
    assert source.cut_version == 0
    assert repo.history(source.id)[1] == 0


def test_a_stale_version_is_a_conflict_and_changes_nothing(session):
    repo, source, user, other = _source(session)
    repo.apply(source, "add", other, frame=50, expected_version=0)
    with pytest.raises(CoverConflictError) as err:
        repo.apply(source, "move", user, frame=100, to=120, expected_version=0)
    assert (err.value.expected, err.value.actual) == (0, 1)
    assert _bounds(repo, source) == [(0, 50), (50, 100), (100, 200), (200, 300)]
    assert repo.history(source.id)[1] == 1


def test_undo_restores_the_previous_cover_with_the_same_rows(session):
    repo, source, user, _ = _source(session)
    before = [(c.id, c.start_frame, c.end_frame) for c in repo.live(source.id)]
    middle = repo.live(source.id)[1]
    repo.review(middle, ReviewStatus.SKIPPED, user)
    repo.apply(source, "move", user, frame=100, to=130)
    repo.apply(source, "add", user, frame=250)
    repo.undo(source, user)
    repo.undo(source, user)
    assert [(c.id, c.start_frame, c.end_frame) for c in repo.live(source.id)] == before
    assert session.get(VirtualClip, middle.id).review is ReviewStatus.SKIPPED
    ops = [(e.op, e.undone) for e in reversed(repo.history(source.id)[0])]
    assert ops == [("move", True), ("add", True), ("undo", False), ("undo", False)]
    with pytest.raises(CutError) as err:
        repo.undo(source, user)
    assert err.value.code == "NOTHING_TO_UNDO"


def test_undo_is_per_user_and_refuses_when_others_changed_those_clips(session):
    repo, source, user, other = _source(session)
    repo.apply(source, "add", user, frame=150)
    with pytest.raises(CutError) as err:
        repo.undo(source, other)
    assert err.value.code == "NOTHING_TO_UNDO"
    repo.apply(source, "move", other, frame=150, to=170)  # replaces the user's new clips
    version = source.cut_version
    with pytest.raises(CutError) as err:
        repo.undo(source, user)
    assert err.value.code == "UNDO_STALE"
    assert source.cut_version == version
    repo.undo(source, other)
    repo.undo(source, user)
    assert _bounds(repo, source) == [(0, 100), (100, 200), (200, 300)]


def test_approving_queues_one_export_and_a_replaced_clip_cannot_be_reviewed(session):
    repo, source, user, _ = _source(session)
    clip = repo.live(source.id)[0]
    repo.review(repo.live(source.id)[1], ReviewStatus.SKIPPED, user)
    assert source.proxy_status is ProxyStatus.NONE
    first = repo.review(clip, ReviewStatus.APPROVED, user)
    assert source.proxy_status is ProxyStatus.PENDING  # the first approval wants the proxy
    again = repo.review(clip, ReviewStatus.APPROVED, user)
    assert first is again
    assert first.status is ExportStatus.PENDING
    count = session.scalar(select(func.count()).where(ClipExport.clip_id == clip.id))
    assert count == 1
    repo.apply(source, "add", user, frame=10)
    with pytest.raises(CutError) as err:
        repo.review(clip, ReviewStatus.SKIPPED, user)
    assert err.value.code == "CLIP_REPLACED"


def test_one_claim_wins_and_only_the_latest_claimant_records(session):
    repo, source, user, _ = _source(session)
    export = repo.review(repo.live(source.id)[0], ReviewStatus.APPROVED, user)
    first = claim_export(session, export.id)
    assert first == 1
    assert claim_export(session, export.id) is None
    assert requeue_running_exports(session) >= 1
    second = claim_export(session, export.id)
    assert second == 2
    assert not finish_export(session, export.id, first, status=ExportStatus.DONE)
    assert finish_export(session, export.id, second, status=ExportStatus.DONE, method="copy")
    session.refresh(export)
    assert (export.status, export.method) == (ExportStatus.DONE, "copy")


def test_concurrent_moves_of_one_cut_one_wins_one_conflicts(migrated_db: Database):
    """Two transactions on their own connections move the same cut at the same time, both
    from version 0: exactly one commits, the other gets a conflict, the cover stays valid."""
    with migrated_db.session() as s:
        repo, source, user, other = _source(s)
        ws, source_id = repo.workspace_id, source.id

    def move(who: str, to: int) -> str:
        try:
            with migrated_db.session() as s:
                repo = CoverRepo(s, ws)
                src = s.get(type(source), source_id)
                repo.apply(src, "move", who, frame=100, to=to, expected_version=0)
        except CoverConflictError:
            return "conflict"
        return "ok"

    outcomes = at_once(lambda: move(user, 90), lambda: move(other, 110), timeout=120)
    assert sorted(outcomes) == ["conflict", "ok"]
    with migrated_db.session() as s:
        repo = CoverRepo(s, ws)
        src = s.get(type(source), source_id)
        assert src.cut_version == 1
        assert _bounds(repo, src)[1][0] in (90, 110)
        _valid(repo, src)
        edits = s.scalar(select(func.count()).where(CutEdit.source_id == source_id))
        assert edits == 1


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    frames=st.integers(2, 400),
    ops=st.lists(st.tuples(st.sampled_from(["add", "remove", "move", "undo"]),
                           st.integers(0, 400), st.integers(0, 400)), max_size=15),
)  # fmt: skip
def test_any_sequence_through_the_database_keeps_a_valid_cover(session, frames, ops):
    """Random operations through the repository: after each one the stored cover is valid;
    a refused one leaves the rows and the version as they were; undo walks back exactly."""
    repo, source, user, _ = _source(session, frames, starts=(frames // 2,))
    covers = [_ids(repo, source)]
    for op, a, b in ops:
        before, version = _ids(repo, source), source.cut_version
        cuts = [c[1] for c in before[1:]]
        frame = cuts[a % len(cuts)] if cuts and op in ("remove", "move") else a % (frames + 1)
        refusal = None
        try:
            if op == "undo":
                repo.undo(source, user)
            else:
                repo.apply(source, op, user, frame=frame, to=b % (frames + 1))
        except CutError as exc:
            refusal = exc.reason
        if refusal is not None:
            assert refusal
            assert _ids(repo, source) == before
            assert source.cut_version == version
            continue
        _valid(repo, source)
        assert source.cut_version == version + 1
        if op == "undo":
            covers.pop()
            assert _ids(repo, source) == covers[-1]
        else:
            covers.append(_ids(repo, source))


def _ids(repo: CoverRepo, source) -> list[tuple[str, int, int]]:
    return [(c.id, c.start_frame, c.end_frame) for c in repo.live(source.id)]


def test_a_failed_proxy_fails_its_exports_and_approving_again_retries(session):
    repo, source, user, _ = _source(session)
    clip = repo.live(source.id)[0]
    export = repo.review(clip, ReviewStatus.APPROVED, user)
    source.proxy_status, source.proxy_error = ProxyStatus.FAILED, "ffmpeg: moov atom not found"
    session.flush()
    assert fail_exports_without_proxy(session) >= 1
    session.refresh(export)
    assert export.status is ExportStatus.FAILED
    assert export.error == "the source's proxy could not be built: ffmpeg: moov atom not found"
    again = repo.review(clip, ReviewStatus.APPROVED, user)
    assert again.status is ExportStatus.PENDING
    assert source.proxy_status is ProxyStatus.PENDING
