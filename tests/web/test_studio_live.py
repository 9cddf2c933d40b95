"""The studio's streams and publishing pages in a real browser against the real server (Serve,
Ray, the S3 server, a database), its stream supervisor and publisher actors included.

- A stream monitor started from the page (keyboard only) on a synthetic live HLS stream
  becomes ``active``, and a clip of the stream arrives on the page through the stream's
  WebSocket while the page stays open and plays there; stopping it from the page stops it.
- An owner connects an X account through the real OAuth flow against the local fake of X
  (the consent opens in a new window), publishes a rendered clip to it, and sees it reach
  ``published`` in the publications and the calendar; an editor's publication shows as a
  request that the owner approves.

Every page is checked for console errors and kept as a screenshot under
``test-artifacts/studio/`` at 1280 px and at phone width.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator

import pytest
import ray
import requests
from pydantic import SecretStr

from clipray.actors.job_runner import job_runner
from clipray.actors.publisher import publisher
from clipray.actors.retention import retention_keeper
from clipray.actors.stream_supervisor import stream_supervisor
from clipray.cluster.procs import free_ports
from clipray.config import Settings
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import open_buckets
from clipray.storage.orm import Clip, ClipStatus, Source, SourceOrigin, new_id
from tests.apiclient import Account, register
from tests.publish.fake_x import FakeX
from tests.publish.harness import serve_fake
from tests.publish.world import FERNET_KEY, clip_file, x_settings
from tests.serve.test_serve_e2e import Http
from tests.services.stream_media import KEYWORD, make_stream_media
from tests.streams.conftest import LiveHls
from tests.web.test_studio_browser import (  # noqa: F401 (the browser and build fixtures)
    ConsoleWatch,
    browser,
    built,
    shot,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

CLIP_DEADLINE_MS = 600_000  # the e2e stream test's energy clip takes up to 420 s here
PUBLISHED_DEADLINE_MS = 180_000
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def fake_x() -> Iterator[tuple[FakeX, str]]:
    fake = FakeX()
    with serve_fake(fake.app) as base:
        yield fake, base


@pytest.fixture(scope="module")
def live_settings(api_settings: Settings, fake_x, tmp_path_factory) -> Settings:
    """The API tests' settings on a database of their own, with what streams and publishing
    need: the local stream's address allowed, the live pipeline with quick heartbeats, and
    X's OAuth client pointing at the fake."""
    url = f"sqlite:///{tmp_path_factory.mktemp('studio-live') / 'api.db'}"
    migrate.upgrade(url)
    stages = {**api_settings.stages, "stream": api_settings.stage("stream").model_copy(
        update={"num_cpus": 0.1})}  # fmt: skip
    return api_settings.model_copy(update={
        "database_url": url, "warm_models": False,
        "stream_pipeline": Settings.model_fields["stream_pipeline"].default,
        "stream_heartbeat_interval_s": 1.0, "stream_supervisor_poll_s": 0.5,
        "stream_ingest": api_settings.stream_ingest.model_copy(update={"video": "copy"}),
        "url_allowed_domains": ("127.0.0.1",), "url_allow_private": True, "stages": stages,
        "fernet_keys": SecretStr(FERNET_KEY), "publish_backoff_s": 2.0,
        "publish": x_settings(fake_x[1], 512 * 1024, 60.0),
    })  # fmt: skip


@pytest.fixture(scope="module")
def live_db(live_settings: Settings) -> Iterator[Database]:
    database = Database(live_settings.resolved_database_url)
    yield database
    database.dispose()


def _kill_actors() -> None:
    for handle in (job_runner(), retention_keeper(), stream_supervisor(), publisher()):
        if handle is not None:
            ray.kill(handle, no_restart=True)


@pytest.fixture(scope="module")
def live_served(live_settings, ray_local, live_db) -> Iterator[Http]:
    """The ingress served as the Serve end-to-end tests serve it, on these settings; the
    actors it starts (runner, supervisor, publisher) are this module's own."""
    from ray import serve

    from clipray.serve.app import Ingress
    from clipray.serve.encoders import QueryEncoderDeployment

    _kill_actors()  # a supervisor of another module's settings would watch another database
    (port,) = free_ports(1)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        app = Ingress.bind(live_settings, encoders=QueryEncoderDeployment.bind(live_settings))
        serve.run(app, name="clipray", route_prefix="/")
        yield Http(f"http://127.0.0.1:{port}")
    finally:
        serve.shutdown()
        _kill_actors()


def open_page(browser, watch: ConsoleWatch, viewport: dict | None = None):  # noqa: F811
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = context.new_page()
    watch.attach(page)
    page.set_default_timeout(30_000)
    return context, page


def sign_in(page, base: str, acct: Account) -> None:
    page.goto(base + "/#/signin")
    page.get_by_label("Email").fill(acct.email)
    page.get_by_label("Password").fill(acct.password)
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="New job").wait_for()


def phone_shot(browser, base: str, acct: Account, route: str, ready: str,  # noqa: F811
               name: str) -> None:  # fmt: skip
    """The page at phone width once ``ready`` (a selector) shows, checked for console errors
    too."""
    watch = ConsoleWatch()
    context, page = open_page(browser, watch, PHONE)
    try:
        sign_in(page, base, acct)
        page.goto(base + route)
        page.locator(ready).first.wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{route} scrolls sideways at phone width: {width} px"
        shot(page, name)
        watch.check(name)
    finally:
        context.close()


def test_a_stream_started_on_the_page_goes_active_and_its_clip_arrives_live(
        live_served, built, browser, tmp_path):  # noqa: F811  # fmt: skip
    owner = register(live_served, "studio-live")
    live = LiveHls(tmp_path / "hls", make_stream_media(tmp_path / "live.mp4"))
    live.up()
    watch = ConsoleWatch()
    context, page = open_page(browser, watch)
    try:
        sign_in(page, live_served.base, owner)
        page.get_by_role("link", name="Streams").click()
        page.get_by_text("No streams watched yet").wait_for()
        # Keyboard only: type into the form and submit it with Enter.
        page.get_by_label("Stream URL").focus()
        page.keyboard.type(live.url)
        page.keyboard.press("Tab")
        page.keyboard.type(KEYWORD)
        page.get_by_label("Min s").fill("10")
        page.get_by_label("Max s").fill("20")
        page.get_by_label("Aspect").select_option("1:1")
        page.get_by_label("Stream URL").press("Enter")

        monitor = page.locator(".monitor").first
        monitor.wait_for()
        stream_id = monitor.get_attribute("data-stream-id")
        listed = live_served.get("/api/streams", headers=owner.headers).json()["data"]
        assert [m["id"] for m in listed] == [stream_id]
        assert listed[0]["url"] == live.url
        assert listed[0]["settings"]["keywords"] == [KEYWORD]
        assert page.url.endswith(f"#/streams/{stream_id}")
        page.get_by_text("live feed", exact=True).wait_for()
        monitor.locator("[data-testid=stream-status]", has_text="active").wait_for(timeout=180_000)
        shot(page, "live-01-stream-active")

        # The clip comes through the WebSocket (the feed's clip message), then the list.
        feed_clip = page.locator("ol.feed li[data-type=clip]").first
        feed_clip.wait_for(timeout=CLIP_DEADLINE_MS)
        card = page.locator(".stream-clip").first
        card.wait_for()
        # The list's count follows the clips that arrived (not the count read at page load).
        monitor.locator("span", has_text=re.compile(r"^[1-9]\d* clips$")).wait_for()
        clips = live_served.get(f"/api/streams/{stream_id}/clips",
                                headers=owner.headers).json()["data"]  # fmt: skip
        shown = card.get_attribute("data-clip-id")
        assert shown in {c["id"] for c in clips}
        clip = next(c for c in clips if c["id"] == shown)
        assert f"{clip['stream_start']:.1f} s" in card.inner_text()
        kinds = [e["kind"] for e in clip["events"] if e.get("kind")]
        assert kinds
        assert all(k in card.inner_text() for k in kinds)
        # It plays in the page: Play asks for its signed URL, the <video> loads the MP4.
        card.get_by_role("button", name="Play").click()
        video = card.locator("video")
        video.wait_for()
        page.wait_for_function("v => v.readyState >= 1 && v.duration > 0",
                               arg=video.element_handle())  # fmt: skip
        # The worker's health report shows (its first figure, the stream clock, is set).
        page.wait_for_function("document.querySelector('dl.health dd').textContent !== '—'")
        shot(page, "live-02-stream-clip")
        watch.check("streams page")

        page.locator(".monitor").first.get_by_role("button", name="Stop").click()
        monitor.locator("[data-testid=stream-status]", has_text="stopped").wait_for(timeout=60_000)
        got = live_served.get(f"/api/streams/{stream_id}", headers=owner.headers).json()
        assert got["status"] == "stopped"
        watch.check("streams page, stopped")
        phone_shot(browser, live_served.base, owner, f"/#/streams/{stream_id}", ".stream-clip",
                   "live-03-phone")  # fmt: skip
    finally:
        context.close()
        live.close()


def rendered_clip(settings: Settings, db: Database, s3_server, workspace_id: str,
                  title: str) -> str:  # fmt: skip
    """A rendered clip of the workspace with a real video on the app-owned bucket, as a
    job's render leaves it (the studio's jobs are tested in test_studio_browser.py)."""
    clip_id = new_id()
    key = object_key(workspace_id, "clips", clip_id, "clip.mp4")
    open_buckets(s3_server, settings).generated.scoped(workspace_id).put_file(
        key, clip_file(), "video/mp4")  # fmt: skip
    with db.session() as s:
        src = Source(workspace_id=workspace_id, origin=SourceOrigin.UPLOAD, storage_key="k",
                     sha256=uuid.uuid4().hex, size_bytes=1, duration_s=60.0)  # fmt: skip
        s.add(src)
        s.flush()
        s.add(Clip(id=clip_id, workspace_id=workspace_id, source_id=src.id, moment_id=new_id(),
                   status=ClipStatus.RENDERED, start_s=3.0, end_s=10.0, score=0.9, title=title,
                   spec_hash=uuid.uuid4().hex, video_key=key))  # fmt: skip
    return clip_id


def publish_from_page(page, title: str, account_label: str, button: str) -> None:
    clip = page.get_by_role("combobox", name=re.compile(r"^Clip"))
    clip.select_option(label=f"{title} (rendered)")
    page.get_by_label(account_label).check()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Hashtags").fill("#clipray")
    page.get_by_role("button", name=button).click()


def test_connect_publish_calendar_and_approve_an_editors_request(
        live_served, live_settings, live_db, s3_server, built, browser):  # noqa: F811  # fmt: skip
    base = live_served.base
    owner = register(live_served, "studio-owner")
    first = rendered_clip(live_settings, live_db, s3_server, owner.workspace_id, "Launch day")
    second = rendered_clip(live_settings, live_db, s3_server, owner.workspace_id, "Behind it")
    watch = ConsoleWatch()
    context, page = open_page(browser, watch)
    try:
        sign_in(page, base, owner)
        page.get_by_role("link", name="Publishing").click()
        page.get_by_text("No accounts connected.").wait_for()

        # Connect X: its consent opens in a new window and comes back to the API's callback.
        with context.expect_page() as consent_info:
            page.get_by_role("button", name="Connect x").click()
        consent = consent_info.value
        consent.get_by_text("Connected x account").wait_for()
        consent.close()
        account = page.locator(".account").first
        account.wait_for()
        assert "active" in account.inner_text()
        accounts = live_served.get("/api/auth/accounts", headers=owner.headers).json()
        assert [(a["platform"], a["status"]) for a in accounts] == [("x", "active")]
        account_label = f"x: {accounts[0]['name'] or accounts[0]['platform_account_id']}"
        shot(page, "publish-01-connected")

        # Publish now: it goes out through the fake and shows as published, in the calendar too.
        publish_from_page(page, "Launch day", account_label, "Publish")
        pubs = page.get_by_role("list", name="publications")
        item = pubs.locator("li.publication").first
        item.wait_for()
        item.locator("[data-testid=publication-status]", has_text="published").wait_for(
            timeout=PUBLISHED_DEADLINE_MS)  # fmt: skip
        made = live_served.get("/api/publish", headers=owner.headers).json()["data"]
        assert [(p["clip_id"], p["status"]) for p in made] == [(first, "published")]
        assert made[0]["platform_post_id"]
        cal = page.get_by_role("list", name="calendar")
        cal.locator(f"li[data-publication-id='{made[0]['id']}']", has_text="published").wait_for()
        days = live_served.get("/api/publish/calendar", headers=owner.headers).json()["days"]
        assert [p["id"] for d in days for p in d["publications"]] == [made[0]["id"]]
        page.get_by_role("table").wait_for()  # the analytics of the published post
        shot(page, "publish-02-published")
        watch.check("publishing page")

        # An editor's publication is a request; the owner approves it from the page.
        editor = register(live_served, "studio-editor")
        added = live_served.post(f"/api/workspaces/{owner.workspace_id}/members",
                                 headers=owner.headers,
                                 json={"email": editor.email, "role": "editor"})  # fmt: skip
        assert added.status_code == 201, added.text
        e_watch = ConsoleWatch()
        e_context, e_page = open_page(browser, e_watch)
        try:
            sign_in(e_page, base, editor)
            e_page.get_by_label("workspace").select_option(owner.workspace_id)
            e_page.goto(base + "/#/publish")
            e_page.get_by_text("waits for an admin's approval").wait_for()
            assert e_page.get_by_role("button", name="Connect x").count() == 0
            publish_from_page(e_page, "Behind it", account_label, "Request publication")
            e_page.get_by_role("list", name="requests").locator("li.publication").wait_for()
            assert e_page.get_by_role("button", name="Approve").count() == 0
            shot(e_page, "publish-03-editor-request")
            e_watch.check("publishing page, editor")
        finally:
            e_context.close()

        requested = live_served.get("/api/publish", headers=owner.headers,
                                    params={"status": "requested"}).json()["data"]  # fmt: skip
        assert [(p["clip_id"], p["requested_by"]) for p in requested] == [(second, editor.id)]
        page.reload()
        request = page.get_by_role("list", name="requests").locator(
            f"li[data-publication-id='{requested[0]['id']}']")  # fmt: skip
        request.wait_for()
        shot(page, "publish-04-request-to-approve")
        request.get_by_role("button", name="Approve").focus()
        page.keyboard.press("Enter")
        pubs.locator(f"li[data-publication-id='{requested[0]['id']}']").locator(
            "[data-testid=publication-status]", has_text="published").wait_for(
            timeout=PUBLISHED_DEADLINE_MS)  # fmt: skip
        got = live_served.get(f"/api/publish/{requested[0]['id']}", headers=owner.headers).json()
        assert (got["status"], got["decided_by"]) == ("published", owner.id)
        watch.check("publishing page, approved")
        phone_shot(browser, base, owner, "/#/publish", "table.analytics", "publish-05-phone")
    finally:
        with contextlib.suppress(Exception):
            context.close()


def test_the_pages_refuse_a_stream_url_off_the_allowlist_with_its_code(
        live_served, built, browser):  # noqa: F811  # fmt: skip
    owner = register(live_served, "studio-refused")
    watch = ConsoleWatch()
    context, page = open_page(browser, watch)
    try:
        sign_in(page, live_served.base, owner)
        page.goto(live_served.base + "/#/streams")
        page.get_by_label("Stream URL").fill("https://example.org/live.m3u8")
        page.get_by_role("button", name="Start monitor").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        code = alert.locator(".error-code").inner_text()
        direct = live_served.post("/api/streams", headers=owner.headers,
                                  json={"url": "https://example.org/live.m3u8"})  # fmt: skip
        assert direct.status_code == 400
        assert code == direct.json()["error"]["code"]
        assert code.startswith("URL_")
        assert page.locator(".monitor").count() == 0
        assert requests.get(live_served.base + "/api/streams", headers=owner.headers,
                            timeout=30).json()["total"] == 0  # fmt: skip
        # 4xx answers are logged by the browser as failed resources: those are expected here.
        watch.errors = [e for e in watch.errors if "status of 400" not in e]
        watch.check("streams page, refused")
    finally:
        context.close()

