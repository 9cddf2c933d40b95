"""Repositories on a migrated database (SQLite and PostgreSQL), rolled back per test."""

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from clipray.storage.orm import Clip, ClipStatus, JobStatus, Role, SourceOrigin, StepStatus
from clipray.storage.repos import (
    ClipRepo,
    InvalidSlugError,
    JobRepo,
    SourceMeta,
    SourceRepo,
    UserRepo,
    WorkspaceRepo,
)


def meta(sha: str | None = None) -> SourceMeta:
    return SourceMeta(
        origin=SourceOrigin.LOCAL,
        origin_uri="talk.mp4",
        storage_key="k",
        sha256=sha or uuid.uuid4().hex * 2,
        size_bytes=1234,
        duration_s=24.0,
        fps=29.97,
        width=1280,
        height=720,
        container="mov,mp4,m4a,3gp,3g2,mj2",
        video_codec="h264",
    )


def test_workspace_is_created_once_with_its_owner(session):
    user = UserRepo(session).ensure("Alice@Example.com", "Alice")
    assert UserRepo(session).ensure("alice@example.com").id == user.id
    ws, created = WorkspaceRepo(session).ensure("team-a", owner=user)
    again, created_again = WorkspaceRepo(session).ensure("team-a", owner=user)
    assert created
    assert not created_again
    assert again.id == ws.id
    assert WorkspaceRepo(session).role_of(ws.id, user.id) is Role.OWNER
    WorkspaceRepo(session).add_member(ws.id, user.id, Role.VIEWER)
    assert WorkspaceRepo(session).role_of(ws.id, user.id) is Role.VIEWER


@pytest.mark.parametrize("slug", ["", "Team", "-x", "a/b", "a" * 64, "../x"])
def test_bad_workspace_slugs_are_refused(session, slug):
    with pytest.raises(InvalidSlugError):
        WorkspaceRepo(session).ensure(slug)


def test_sources_are_scoped_to_their_workspace(session):
    a, _ = WorkspaceRepo(session).ensure("ws-a")
    b, _ = WorkspaceRepo(session).ensure("ws-b")
    src = SourceRepo(session, a.id).add(meta())
    assert SourceRepo(session, a.id).get(src.id) is not None
    assert SourceRepo(session, b.id).get(src.id) is None
    assert SourceRepo(session, a.id).by_sha256(src.sha256).id == src.id
    assert SourceRepo(session, b.id).by_sha256(src.sha256) is None
    assert [s.id for s in SourceRepo(session, a.id).list()] == [src.id]


def test_same_bytes_twice_in_one_workspace_is_refused(session):
    ws, _ = WorkspaceRepo(session).ensure("ws-dup")
    sha = "ab" * 32
    SourceRepo(session, ws.id).add(meta(sha))
    with pytest.raises(IntegrityError), session.begin_nested():
        SourceRepo(session, ws.id).add(meta(sha))


def test_foreign_keys_are_enforced(session):
    with pytest.raises(IntegrityError), session.begin_nested():
        SourceRepo(session, uuid.uuid4().hex).add(meta())


def test_bad_enum_values_are_refused_by_the_database(session):
    from sqlalchemy import text

    ws, _ = WorkspaceRepo(session).ensure("ws-enum")
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            text(
                "INSERT INTO jobs (id, workspace_id, kind, status, params, progress, "
                "created_at, updated_at) VALUES (:id, :ws, 'analyze', 'exploded', '{}', 0, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": uuid.uuid4().hex, "ws": ws.id},
        )


def test_job_steps_count_attempts_and_record_outcomes(session):
    ws, _ = WorkspaceRepo(session).ensure("ws-jobs")
    jobs = JobRepo(session, ws.id)
    job = jobs.create("analyze", {"window_s": 300})
    assert job.status is JobStatus.CREATED
    jobs.set_status(job, JobStatus.INGESTING)
    assert job.started_at is not None

    first = jobs.start_step(job, "decode")
    jobs.finish_step(first, StepStatus.FAILED, error="ffmpeg exited 1")
    second = jobs.start_step(job, "decode")
    jobs.finish_step(second, StepStatus.SUCCEEDED, detail={"frames": 720})
    jobs.set_status(job, JobStatus.COMPLETED)

    steps = jobs.steps(job)
    assert [(s.name, s.attempt, s.status) for s in steps] == [
        ("decode", 1, StepStatus.FAILED),
        ("decode", 2, StepStatus.SUCCEEDED),
    ]
    assert steps[0].error == "ffmpeg exited 1"
    assert steps[1].detail == {"frames": 720}
    assert job.finished_at is not None
    assert JobRepo(session, uuid.uuid4().hex).get(job.id) is None  # other workspace
    assert [j.id for j in jobs.list(status=JobStatus.COMPLETED)] == [job.id]


def test_clip_versions_count_up_and_a_spec_is_found_again(session):
    ws, _ = WorkspaceRepo(session).ensure("ws-clips")
    src = SourceRepo(session, ws.id).add(meta())
    clips = ClipRepo(session, ws.id)

    def clip(spec_hash: str) -> Clip:
        return Clip(source_id=src.id, moment_id="m" * 32, status=ClipStatus.RENDERED,
                    start_s=1.0, end_s=20.0, score=0.8, spec_hash=spec_hash)  # fmt: skip

    first = clips.add(clip("a" * 64))
    second = clips.add(clip("b" * 64))
    assert (first.version, second.version) == (1, 2)
    assert clips.find("m" * 32, "a" * 64).id == first.id
    assert [c.version for c in clips.versions("m" * 32)] == [1, 2]
    with pytest.raises(IntegrityError), session.begin_nested():
        clips.add(clip("a" * 64))  # the same spec twice is one version, not two
    assert ClipRepo(session, uuid.uuid4().hex).versions("m" * 32) == []
