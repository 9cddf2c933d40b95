"""The publisher actor in a real local Ray, against X's fake over TCP, a real SQLite file and
the real S3 server: a due publication goes out as a Ray task with every byte once, a
scheduled one fires exactly once across a publisher restart, an attempt past the call
timeout is cancelled and retried, and analytics are pulled on their interval."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import ray

from clipray.actors.publisher import PUBLISHER_NAME, ensure_publisher, publisher
from clipray.config import Settings
from clipray.domain.publications import PublicationStatus
from clipray.storage.orm import utcnow
from tests.publish.world import clip_file, make_world

pytestmark = pytest.mark.timeout(900)
SETTLED = {PublicationStatus.PUBLISHED, PublicationStatus.FAILED}


@pytest.fixture(scope="module")
def world(settings, s3_server, tmp_path_factory, ray_local):
    with make_world(settings, s3_server, tmp_path_factory.mktemp("publisher"),
                    publish_poll_s=0.2, publish_backoff_s=1.0, publish_call_timeout_s=60.0,
                    publish_analytics_interval_s=3.0) as w:  # fmt: skip
        yield w


def wait(what: str, check: Any, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (got := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.1)
    return got


def counted(handle: Any, outcome: str) -> dict[str, int] | None:
    """The publisher's counts once it has reaped an attempt that ended ``outcome``."""
    counts: dict[str, int] = ray.get(handle.status.remote())["counts"]
    return counts if counts.get(f"publication.{outcome}") else None


def gone() -> bool:
    return publisher() is None


@contextmanager
def running(settings: Settings) -> Iterator[Any]:
    """The publisher with ``settings``, stopped for good when the block ends (the next test
    starts its own with its own settings). One left by another module (``ensure_actors``
    with that module's settings) is stopped first: the name is one per cluster."""
    if (other := publisher()) is not None:
        ray.kill(other, no_restart=True)
        wait(f"{PUBLISHER_NAME} to go", gone, 60)
    handle = ensure_publisher(settings)
    ray.get(handle.status.remote(), timeout=120)
    try:
        yield handle
    finally:
        ray.kill(publisher() or handle, no_restart=True)
        wait(f"{PUBLISHER_NAME} to go", gone, 60)


def test_a_due_publication_is_posted_by_the_publisher_with_every_byte_once(world):
    posts = len(world.fake.posts)
    pub = world.publication(world.rendered_clip())
    with running(world.settings) as handle:
        row = world.wait_for(pub, SETTLED)
        assert row.status is PublicationStatus.PUBLISHED, f"{row.error_code}: {row.error}"
        counts = wait("the attempt to be reaped", lambda: counted(handle, "published"), 30)
    assert row.attempt == 1
    assert len(world.fake.posts) == posts + 1
    assert row.url == f"https://x.com/i/web/status/{row.platform_post_id}"
    media = world.fake.media[world.fake.posts[row.platform_post_id]["media"]["media_ids"][0]]
    assert media.data() == clip_file().read_bytes()
    assert set(media.appended.values()) == {1}
    assert counts.get("publication.published") == 1
    assert counts.get("publication.skipped") is None


def test_a_scheduled_publication_fires_once_across_a_publisher_restart(world):
    posts = set(world.fake.posts)
    clip = world.rendered_clip()
    with running(world.settings) as handle:
        due_at = utcnow() + timedelta(seconds=6)
        pub = world.publication(clip, scheduled_at=due_at)
        # kill it shortly before the time; Ray restarts it and the new one fires it
        wait("the due time to come close", lambda: utcnow() >= due_at - timedelta(seconds=1), 30)
        before = world.row(pub)
        assert (before.status, before.attempt) == (PublicationStatus.SCHEDULED, 0)
        ray.kill(handle, no_restart=False)
        row = world.wait_for(pub, SETTLED)
        restarted = publisher()
        assert restarted is not None
        counts = wait("the attempt to be reaped", lambda: counted(restarted, "published"), 30)
        assert counts.get("publication.published") == 1
    assert row.status is PublicationStatus.PUBLISHED, f"{row.error_code}: {row.error}"
    assert row.attempt == 1  # one claim: the killed publisher never started it
    assert row.published_at >= due_at
    assert set(world.fake.posts) - posts == {row.platform_post_id}


def test_an_attempt_past_the_call_timeout_is_cancelled_and_retried(world):
    fast = world.settings.model_copy(update={"publish_call_timeout_s": 20.0})
    posts = set(world.fake.posts)
    world.script.plan = ["hang"]
    pub = world.publication(world.rendered_clip())
    with running(fast) as handle:
        assert world.script.hanging.wait(120), "the first attempt never reached the platform"
        row = world.wait_for(pub, SETTLED, timeout_s=240)
        counts = wait("the attempt to be reaped", lambda: counted(handle, "published"), 30)
    world.script.release.set()
    assert row.status is PublicationStatus.PUBLISHED, f"{row.error_code}: {row.error}"
    assert world.script.hung == 1
    assert counts.get("publication.timeout") == 1
    assert row.attempt == 2
    assert set(world.fake.posts) - posts == {row.platform_post_id}


def test_analytics_are_pulled_on_their_interval(world):
    pub = world.publication(world.rendered_clip())
    with running(world.settings):
        world.wait_for(pub, SETTLED)
        row = wait("the stats to be pulled", lambda: (r := world.row(pub)).stats_at and r, 60)
    assert row.stats == {"views": 950, "likes": 31, "comments": 4}
    assert row.stats_at >= row.published_at
