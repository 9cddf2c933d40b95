"""One publication attempt at a time (``services.publishing.run`` with an injected clock),
against a real SQLite database, the real S3 server and X's fake over TCP: the backoff
between retries and the platform's retry time, attempts running out into ``failed`` with a
``publication.failed`` delivery queued, final refusals, a 401 answered by one forced
refresh, a generated clip kept from retention by being published, the restart's recovery,
and the analytics pull with its totals through the route."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clipray.domain.audit import SYSTEM
from clipray.domain.publications import MAX_ATTEMPTS, ClipKind, PublicationStatus, retry_delay
from clipray.serve.app import create_api
from clipray.services import connections, flags, publishing
from clipray.services.retention import Sweeper
from clipray.storage.orm import GeneratedClip, GeneratedStatus, Publication, WebhookDelivery, utcnow
from clipray.storage.webhooks import SubscriptionRepo
from tests.publish.world import World, clip_file, make_world

pytestmark = pytest.mark.timeout(600)
PENDING, PUBLISHED, FAILED = (PublicationStatus.PENDING, PublicationStatus.PUBLISHED,
                              PublicationStatus.FAILED)  # fmt: skip


@pytest.fixture(scope="module")
def world(settings, s3_server, tmp_path_factory):
    with make_world(settings, s3_server, tmp_path_factory.mktemp("publishing")) as w:
        yield w


@pytest.fixture(autouse=True)
def clean_script(world):
    world.script.plan.clear()
    yield
    world.script.plan.clear()


def close(a, b) -> bool:
    return abs((a - b).total_seconds()) < 0.001


def assert_posted_once(world: World, post_id: str) -> None:
    """The post carries one media whose segments add up to the clip, each stored once."""
    media = world.fake.media[world.fake.posts[post_id]["media"]["media_ids"][0]]
    assert media.data() == clip_file().read_bytes()
    assert len(media.appended) > 1, "the clip should have gone up in several segments"
    assert set(media.appended.values()) == {1}


def test_retries_follow_the_backoff_and_honour_the_platform_retry_time(world):
    base = world.settings.publish_backoff_s
    t0 = utcnow()
    pub = world.publication(world.rendered_clip(), not_before=t0)
    world.script.plan = [(503, {}), (429, {"retry-after": "300"})]
    posts_before = set(world.fake.posts)

    assert publishing.run(world.settings, pub, now=t0) is PENDING
    row = world.row(pub)
    assert (row.attempt, row.error_code) == (1, "PLATFORM_UNAVAILABLE")
    assert close(row.not_before, t0 + timedelta(seconds=retry_delay(1, base_s=base)))
    assert row.not_before - t0 == timedelta(seconds=base)

    # not due before its backoff has passed: nobody claims it
    assert publishing.run(world.settings, pub, now=row.not_before - timedelta(seconds=1)) is None
    assert pub not in publishing.due(world.db, 100, now=row.not_before - timedelta(seconds=1))
    assert pub in publishing.due(world.db, 100, now=row.not_before)

    t1 = row.not_before
    assert publishing.run(world.settings, pub, now=t1) is PENDING
    row = world.row(pub)
    assert (row.attempt, row.error_code) == (2, "PLATFORM_RATE_LIMITED")
    # the platform's 300 s beat the doubled backoff (2 x base)
    assert retry_delay(2, 300.0, base_s=base) == 300.0 > 2 * base
    assert close(row.not_before, t1 + timedelta(seconds=300))

    t2 = row.not_before
    assert publishing.run(world.settings, pub, now=t2) is PUBLISHED
    row = world.row(pub)
    assert row.status is PUBLISHED
    assert row.attempt == 3
    assert (row.error_code, row.error) == (None, None)
    assert close(row.published_at, t2)
    new_posts = set(world.fake.posts) - posts_before
    assert new_posts == {row.platform_post_id}
    assert row.url == f"https://x.com/i/web/status/{row.platform_post_id}"
    assert world.fake.posts[row.platform_post_id]["text"].startswith("Launch day")
    assert_posted_once(world, row.platform_post_id)
    assert publishing.run(world.settings, pub, now=t2 + timedelta(days=1)) is None


def test_the_attempts_run_out_into_failed_with_a_webhook_queued(world):
    with world.db.session() as s:
        sub = SubscriptionRepo(s, world.owner.workspace_id).add(
            "https://hooks.example.com/clipray", ["publication.failed"], "whsec_test",
            world.owner.id).id  # fmt: skip
    at = utcnow()
    pub = world.publication(world.rendered_clip(), not_before=at)
    world.script.plan = [(503, {})] * MAX_ATTEMPTS
    seen = world.script.seen
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        status = publishing.run(world.settings, pub, now=at)
        row = world.row(pub)
        assert row.attempt == attempt
        if attempt < MAX_ATTEMPTS:
            assert status is PENDING
            waits.append((row.not_before - at).total_seconds())
            at = row.not_before
    assert waits == [retry_delay(n, base_s=world.settings.publish_backoff_s)
                     for n in range(1, MAX_ATTEMPTS)]  # fmt: skip
    assert waits[1] == 2 * waits[0]
    assert status is FAILED
    assert (row.status, row.error_code) == (FAILED, "PLATFORM_UNAVAILABLE")
    assert "503" in row.error
    assert world.script.seen - seen == MAX_ATTEMPTS
    with world.db.session() as s:
        queued = [d for d in s.scalars(select(WebhookDelivery)
                                       .where(WebhookDelivery.subscription_id == sub))
                  if d.payload["publication_id"] == pub]  # fmt: skip
    assert [(d.event, d.status.value) for d in queued] == [("publication.failed", "pending")]
    data = queued[0].payload
    assert (data["status"], data["error_code"], data["attempts"]) == (
        "failed", "PLATFORM_UNAVAILABLE", MAX_ATTEMPTS)
    assert publishing.run(world.settings, pub, now=at + timedelta(days=1)) is None


def test_rejected_media_fails_at_once(world):
    pub = world.publication(world.rendered_clip())
    world.script.plan = [(400, {})]
    assert publishing.run(world.settings, pub) is FAILED
    row = world.row(pub)
    assert (row.attempt, row.error_code) == (1, "PLATFORM_MEDIA_REJECTED")


def test_an_access_token_refused_early_is_refreshed_once_and_the_post_goes_out(world):
    pub = world.publication(world.rendered_clip())
    old = connections.usable_tokens(world.settings, world.db, world.owner.workspace_id,
                                    world.account_id).access_token  # fmt: skip
    world.fake.tokens.clear()  # the platform revoked every access token before its expiry
    assert publishing.run(world.settings, pub) is PUBLISHED
    row = world.row(pub)
    assert row.attempt == 1
    assert row.platform_post_id in world.fake.posts
    fresh = connections.usable_tokens(world.settings, world.db, world.owner.workspace_id,
                                      world.account_id).access_token  # fmt: skip
    assert fresh != old
    assert world.fake.tokens == {fresh}


def test_a_switched_off_platform_defers_its_publications_without_spending_an_attempt(world):
    ws = world.owner.workspace_id
    t0 = utcnow()
    pub = world.publication(world.rendered_clip(), not_before=t0)
    seen = world.script.seen
    flags.set_flag(world.db, SYSTEM, "publish.x", False, workspace_id=ws)
    try:
        assert publishing.run(world.settings, pub, now=t0) is None
        row = world.row(pub)
        assert (row.status, row.attempt, row.error_code) == (PENDING, 0, publishing.SWITCHED_OFF)
        assert close(row.not_before, t0 + timedelta(seconds=world.settings.publish_backoff_s))
        assert world.script.seen == seen  # the platform was not called
    finally:
        flags.set_flag(world.db, SYSTEM, "publish.x", None, workspace_id=ws)
    assert publishing.run(world.settings, pub, now=row.not_before) is PUBLISHED
    row = world.row(pub)
    assert (row.attempt, row.error_code) == (1, None)


def test_a_published_generated_clip_survives_the_retention_sweep(world):
    now = utcnow()
    published = world.generated_clip(expires_at=now + timedelta(hours=1))
    untouched = world.generated_clip(expires_at=now + timedelta(hours=1))
    pub = world.publication(published, ClipKind.GENERATED)
    assert publishing.run(world.settings, pub) is PUBLISHED
    published_at = world.row(pub).published_at
    with world.db.session() as s:
        gen = s.get(GeneratedClip, published)
        assert gen.status is GeneratedStatus.PUBLISHED
        assert gen.expires_at is None
        assert gen.published_at == published_at
        key = gen.storage_key

    report = Sweeper(world.settings, world.db, buckets=world.buckets).sweep(
        now + timedelta(days=8))
    assert report.purged >= 1  # the sweep did purge: the unpublished twin expired
    with world.db.session() as s:
        assert s.get(GeneratedClip, untouched).status is GeneratedStatus.PURGED
        assert s.get(GeneratedClip, published).status is GeneratedStatus.PUBLISHED
    store = world.buckets.generated.scoped(world.owner.workspace_id)
    assert store.head(key) is not None


def test_a_published_rendered_clip_keeps_its_generated_files(world):
    gen = world.generated_clip(expires_at=utcnow() + timedelta(hours=1))
    pub = world.publication(world.rendered_clip(generated_id=gen))
    assert publishing.run(world.settings, pub) is PUBLISHED
    with world.db.session() as s:
        row = s.get(GeneratedClip, gen)
        assert row.status is GeneratedStatus.PUBLISHED
        assert row.expires_at is None


def test_a_purged_generated_clip_is_refused_without_calling_the_platform(world):
    gen = world.generated_clip(expires_at=None, status="purged")
    pub = world.publication(gen, ClipKind.GENERATED)
    seen = world.script.seen
    assert publishing.run(world.settings, pub) is FAILED
    assert world.row(pub).error_code == "CLIP_PURGED"
    assert world.script.seen == seen


def test_recover_sends_interrupted_attempts_back_with_backoff_or_fails_the_last(world):
    now = utcnow()
    first = world.publication(world.rendered_clip())
    last = world.publication(world.rendered_clip())
    with world.db.session() as s:
        for pub_id, attempt in ((first, 1), (last, MAX_ATTEMPTS)):
            row = s.get(Publication, pub_id)
            row.status, row.attempt = PublicationStatus.PUBLISHING, attempt
    recovered = publishing.recover(world.settings, world.db, now)
    assert {first, last} <= set(recovered)
    row = world.row(first)
    assert (row.status, row.error_code) == (PENDING, publishing.INTERRUPTED)
    assert close(row.not_before, now + timedelta(seconds=world.settings.publish_backoff_s))
    assert (world.row(last).status, world.row(last).error_code) == (FAILED, publishing.INTERRUPTED)


def test_analytics_are_pulled_into_stats_and_totalled_per_platform(world):
    pub = world.publication(world.rendered_clip())
    assert publishing.run(world.settings, pub) is PUBLISHED
    assert world.row(pub).stats_at is None
    assert publishing.pull_analytics(world.settings, world.db) >= 1
    row = world.row(pub)
    # X's public_metrics in the fake: impression_count 950, like_count 31, reply_count 4
    assert row.stats == {"views": 950, "likes": 31, "comments": 4}
    assert row.stats_at is not None

    with TestClient(create_api(world.settings)) as client:
        got = client.get("/api/publish/analytics", headers=world.owner.headers,
                         params={"limit": 100})  # fmt: skip
        assert got.status_code == 200, got.text
        body = got.json()
        bad = client.get("/api/publish/analytics", headers=world.owner.headers,
                         params={"platform": "myspace"})  # fmt: skip
        assert bad.status_code == 422
        anon = client.get("/api/publish/analytics")
        assert anon.status_code == 401
    mine = next(p for p in body["data"] if p["publication_id"] == pub)
    assert (mine["views"], mine["likes"], mine["comments"]) == (950, 31, 4)
    assert mine["stats_at"].endswith("Z")
    assert mine["url"] == row.url
    with world.db.session() as s:
        published = s.scalars(select(Publication).where(
            Publication.workspace_id == world.owner.workspace_id,
            Publication.status == PUBLISHED)).all()  # fmt: skip
    assert body["total"] == len(published) == len(body["data"])
    [x] = body["totals"]
    assert x["platform"] == "x"
    assert x["publications"] == len(published)
    assert x["views"] == sum((p.stats or {}).get("views", 0) for p in published)
    assert x["views"] >= 950
