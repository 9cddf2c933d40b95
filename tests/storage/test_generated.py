"""Generated clips in a real database: one row per candidate, the live cap, keep."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from clipray.storage.generated import GeneratedLimitError, GeneratedRepo
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    GeneratedKind,
    GeneratedStatus,
    SourceOrigin,
    new_id,
    utcnow,
)
from clipray.storage.repos import SourceMeta, SourceRepo, WorkspaceRepo


def _clip(session, ws: str, source_id: str, key: str) -> Clip:
    clip = Clip(id=new_id(), workspace_id=ws, source_id=source_id, moment_id=new_id(),
                status=ClipStatus.RENDERED, start_s=1.0, end_s=11.5, score=1.0, spec_hash="h",
                title="A moment", video_key=key)  # fmt: skip
    session.add(clip)
    session.flush()
    return clip


@pytest.fixture
def ws(session):
    w = WorkspaceRepo(session).create(f"gen-{uuid.uuid4().hex[:8]}")
    meta = SourceMeta(origin=SourceOrigin.LOCAL, origin_uri="x.mp4", storage_key="k",
                      sha256=new_id(), size_bytes=1, duration_s=20.0)  # fmt: skip
    return w.id, SourceRepo(session, w.id).add(meta).id


def test_the_same_candidate_twice_is_one_row_and_a_new_key_replaces_the_old(session, ws):
    workspace, source = ws
    repo, now = GeneratedRepo(session, workspace), utcnow()
    clip = _clip(session, workspace, source, "a/clip.mp4")
    first, replaced = repo.record(clip, 100, GeneratedKind.HEURISTIC, now, 7, cap=10)
    assert replaced is None
    assert (first.status, first.duration_s, first.title) == (GeneratedStatus.AVAILABLE, 10.5,
                                                             "A moment")  # fmt: skip
    assert first.expires_at == now + timedelta(days=7)
    assert clip.generated_clip_id == first.id
    again, replaced = repo.record(clip, 120, GeneratedKind.HEURISTIC, now, 7, cap=10)
    assert again.id == first.id
    assert replaced is None  # same key: overwritten in place
    clip.video_key = "b/clip.mp4"
    moved, replaced = repo.record(clip, 130, GeneratedKind.HEURISTIC, now, 7, cap=10)
    assert (moved.id, moved.storage_key, replaced) == (first.id, "b/clip.mp4", "a/clip.mp4")


def test_the_live_cap_refuses_new_generation_but_not_a_rerender(session, ws):
    workspace, source = ws
    repo, now = GeneratedRepo(session, workspace), utcnow()
    clips = [_clip(session, workspace, source, f"{i}/clip.mp4") for i in range(3)]
    for c in clips[:2]:
        repo.record(c, 1, GeneratedKind.HEURISTIC, now, 7, cap=2)
    with pytest.raises(GeneratedLimitError) as err:
        repo.record(clips[2], 1, GeneratedKind.HEURISTIC, now, 7, cap=2)
    assert err.value.code == "GENERATED_CLIP_LIMIT"
    assert "limit is 2" in str(err.value)
    repo.record(clips[0], 1, GeneratedKind.HEURISTIC, now, 7, cap=2)  # in place: allowed
    kept = repo.by_candidate(clips[1].id)
    repo.keep(kept, now)
    assert (kept.status, kept.expires_at) == (GeneratedStatus.KEPT, None)
    repo.record(clips[2], 1, GeneratedKind.HEURISTIC, now, 7, cap=2)  # a kept one frees a slot
    assert repo.live_count() == 2
    again, _ = repo.record(clips[1], 1, GeneratedKind.HEURISTIC, now, 7, cap=2)
    assert (again.status, again.expires_at) == (GeneratedStatus.KEPT, None)  # stays kept
    assert repo.gone(again, now + timedelta(days=30)) is False
    assert repo.gone(repo.by_candidate(clips[2].id), now + timedelta(days=8)) is True
