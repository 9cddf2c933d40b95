"""The studio's search, tray and highlight reel, generated clips with Keep, and roles, in a real
browser (Debian's Chromium driven by Playwright) against the real server of the Serve
end-to-end tests.

An owner's job on a talk (the JFK speech over two talking heads) is made through the API;
in the studio the owner searches spoken words, picks two moments into the tray, reorders
them by drag and drop (and from the keyboard), exports the reel, waits for it and downloads
it (ffprobe: an MP4 as long as its two parts); searches by a picture (a frame of another video
of the workspace, picked with the file input, finds that video; a dropped text file shows the
server's refusal code); keeps the reel on the generated-clips page and sees its expiry go. A
second user, added as a viewer through the API, then walks the jobs, clip review, generated
and members pages and finds no control that changes anything.
Screenshots go to ``test-artifacts/studio/`` like the other studio pages'.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests

from tests.apiclient import Account, register, upload
from tests.frames import frames_indexed
from tests.serve.test_search_api import SCENES
from tests.serve.test_serve_e2e import served  # noqa: F401 (the served stack fixture)
from tests.web.test_studio_browser import (  # noqa: F401
    ConsoleWatch,
    browser,
    built,
    drop_file,
    shot,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

JOB_DEADLINE_S = 600  # a first job starts the model services: about 100 s alone here
REEL_DEADLINE_MS = 300_000
PHONE = {"width": 390, "height": 844}


def wait_for_review(served, acct: Account, job_id: str) -> None:  # noqa: F811
    deadline = time.monotonic() + JOB_DEADLINE_S
    job = served.get(f"/api/jobs/{job_id}", headers=acct.headers).json()
    while job["status"] not in ("review", "completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"the job is still {job['status']}"
        time.sleep(2)
        job = served.get(f"/api/jobs/{job_id}", headers=acct.headers).json()
    assert job["status"] == "review", job


def sign_in(browser, served, acct: Account, watch: ConsoleWatch):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch.attach(page)
    page.set_default_timeout(30_000)
    page.goto(served.base + "/#/signin")
    page.get_by_label("Email").fill(acct.email)
    page.get_by_label("Password").fill(acct.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_label("workspace").wait_for()
    return context, page


def fits_phone(page, name: str) -> None:
    page.set_viewport_size(PHONE)
    page.wait_for_function("() => window.innerWidth === 390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width}px wide on a 390px screen"
    shot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def js_number(x: float) -> str:
    """A number as JavaScript writes it (both write the shortest round-trip digits)."""
    return str(int(x)) if x == int(x) else repr(x)


def tray_moments(page) -> list[str]:
    """The tray's parts in order, each as ``{start}-{end}`` (two may start together)."""
    items = page.get_by_test_id("tray-item")
    return [items.nth(i).get_attribute("data-moment") for i in range(items.count())]


def test_search_tray_reel_keep_and_a_viewer(served, built, browser, short_talk,  # noqa: F811
                                            tmp_path, api_settings, api_db, buckets,
                                            random_clip):  # fmt: skip
    owner = register(served, "studio-owner")
    confirmed = upload(served, owner, short_talk)
    assert confirmed.status_code == 200, confirmed.text
    sid = confirmed.json()["source_id"]
    settings = {"max_clips": 2, "min_duration": 3.0, "max_duration": 6.0, "aspect": "1:1"}
    created = served.post("/api/jobs", headers=owner.headers,
                          json={"source_id": sid, "settings": settings})  # fmt: skip
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    wait_for_review(served, owner, job_id)

    watch = ConsoleWatch()
    context, page = sign_in(browser, served, owner, watch)

    # Search a spoken word, then another: one moment of each into the tray.
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Mode").select_option("transcript")
    for word in ("country", "Americans"):
        page.get_by_label("Query").fill(word)
        page.get_by_role("button", name="Search", exact=True).click()
        page.locator(f"[role=status][data-query='{word}']").wait_for()
        hits = page.get_by_test_id("hit")
        hits.first.wait_for()
        assert word.lower() in hits.first.inner_text().lower(), hits.first.inner_text()
        free = page.get_by_role("button", name="Add to tray")
        assert free.count() > 0, f"every hit of {word!r} is already in the tray"
        free.first.click()
    img = page.locator(".hit img").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=img.element_handle())  # fmt: skip
    items = page.get_by_test_id("tray-item")
    assert items.count() == 2
    first, second = tray_moments(page)
    assert first != second
    shot(page, "10-search-tray")

    # Drag the second part above the first; Alt+↓ moves it back; drag it up again.
    items.nth(1).drag_to(items.nth(0))
    page.wait_for_function(f"() => document.querySelector('[data-testid=tray-item]')"
                           f".dataset.moment === '{second}'")  # fmt: skip
    assert tray_moments(page) == [second, first]
    items.nth(0).focus()
    page.keyboard.press("Alt+ArrowDown")
    assert tray_moments(page) == [first, second]
    items.nth(1).drag_to(items.nth(0))
    page.wait_for_function(f"() => document.querySelector('[data-testid=tray-item]')"
                           f".dataset.moment === '{second}'")  # fmt: skip
    order = tray_moments(page)
    assert order == [second, first]
    watch.check("search and tray")

    # Export the reel, follow its status, download it.
    page.get_by_label("Reel title").fill("two moments")
    page.get_by_role("button", name="Export reel").click()
    page.locator("[data-testid=reel-status]:is([data-status=succeeded],[data-status=failed])"
                 ).wait_for(timeout=REEL_DEADLINE_MS)  # fmt: skip
    status = page.get_by_test_id("reel-status")
    assert status.get_attribute("data-status") == "succeeded", status.inner_text()
    shot(page, "11-reel-exported")
    reels = served.get("/api/highlights", headers=owner.headers).json()["data"]
    assert len(reels) == 1
    reel = reels[0]
    sent = [f"{js_number(m['start'])}-{js_number(m['end'])}" for m in reel["moments"]]
    assert sent == order  # the reel's parts in the tray's order
    expected = sum(m["end"] - m["start"] for m in reel["moments"])
    href = page.get_by_test_id("reel-download").get_attribute("href")
    saved = tmp_path / "reel.mp4"
    saved.write_bytes(requests.get(href, timeout=60).content)
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(saved)],
        capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert "mp4" in probe["format"]["format_name"]
    assert {s["codec_type"] for s in probe["streams"]} >= {"video", "audio"}
    assert float(probe["format"]["duration"]) == pytest.approx(expected, abs=0.3)
    fits_phone(page, "12-search")
    watch.check("reel")

    # Search by a picture: a frame of another video of the workspace (its frames indexed as
    # an analysis with the encoder deployment's CLIP would) finds that video.
    clip_settings = api_settings.model_copy(update=random_clip)
    scenes = frames_indexed(clip_settings, buckets, api_db, owner.workspace_id, SCENES)
    still = tmp_path / "frame.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", "9", "-i", str(SCENES),
                    "-frames:v", "1", "-q:v", "3", str(still)], check=True)  # fmt: skip
    page.get_by_label("Picture").set_input_files(str(still))
    page.get_by_test_id("picked-picture").wait_for()
    assert page.get_by_label("Query").is_disabled()
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("[role=status][data-query='picture:frame.jpg']").wait_for()
    hits = page.get_by_test_id("hit")
    hits.first.wait_for()
    assert hits.first.get_attribute("data-source") == scenes
    assert "visual" in hits.first.inner_text()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=page.locator(".hit img").first.element_handle())  # fmt: skip
    shot(page, "12a-search-by-picture")
    page.get_by_role("button", name="remove the picture").click()
    assert page.get_by_label("Query").is_enabled()
    # A dropped file that is not a picture: sent, and the server's refusal shown by its code.
    notes = tmp_path / "notes.txt"
    notes.write_text("just words")
    drop_file(page, "[data-testid=search-drop]", notes, "text/plain")
    assert page.get_by_test_id("picked-picture").inner_text().startswith("notes.txt")
    page.get_by_role("button", name="Search", exact=True).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.locator(".error-code").inner_text() == "IMAGE_TYPE_UNSUPPORTED"
    shot(page, "12b-search-picture-refused")
    page.get_by_role("button", name="dismiss").click()
    page.get_by_role("button", name="remove the picture").click()
    # The browser logs the refused request's 415 as a console error: the one expected.
    watch.errors = [e for e in watch.errors if "status of 415" not in e]
    watch.check("search by picture")

    # Generated clips: the reel expires in N days until it is kept.
    page.get_by_role("link", name="Generated").click()
    row = page.locator(f"li.generated[data-generated-id='{reel['generated_clip_id']}']")
    row.wait_for()
    assert row.get_by_test_id("kind").inner_text() == "highlight-reel"
    assert "highlight reel" in row.get_by_test_id("origin").inner_text()
    assert row.get_by_test_id("expiry").inner_text().startswith("expires in ")
    shot(page, "13-generated")
    row.get_by_role("button", name="Keep").click()
    page.locator(f"li.generated[data-generated-id='{reel['generated_clip_id']}']"
                 "[data-status=kept]").wait_for()  # fmt: skip
    assert row.get_by_test_id("expiry").count() == 0
    assert row.get_by_role("button", name="Keep").count() == 0
    kept = served.get(f"/api/generated-clips/{reel['generated_clip_id']}",
                      headers=owner.headers).json()  # fmt: skip
    assert (kept["status"], kept["expires_in_days"]) == ("kept", None)
    fits_phone(page, "14-generated-kept")
    watch.check("generated clips")

    # A second user joins as a viewer (through the API); the owner sees them on Members.
    viewer = register(served, "studio-viewer")
    added = served.post(f"/api/workspaces/{owner.workspace_id}/members", headers=owner.headers,
                        json={"email": viewer.email, "role": "viewer"})  # fmt: skip
    assert added.status_code == 201, added.text
    page.get_by_role("link", name="Members").click()
    role = page.get_by_label(f"role of {viewer.email}")
    assert role.input_value() == "viewer"
    page.get_by_role("button", name="Add member").wait_for()
    shot(page, "15-members")
    fits_phone(page, "16-members")
    watch.check("members")
    context.close()

    # The viewer, in the owner's workspace, sees no control that changes anything.
    context, page = sign_in(browser, served, viewer, watch)
    page.get_by_label("workspace").select_option(owner.workspace_id)
    job = page.locator(f"li.job[data-job-id='{job_id}']")
    job.wait_for()
    assert page.get_by_role("heading", name="New job").count() == 0
    assert page.get_by_test_id("dropzone").count() == 0
    assert job.get_by_role("button").count() == 0  # no cancel, no retry
    shot(page, "17-viewer-jobs")
    job.get_by_role("link", name="Review clips").click()
    page.locator("button.clip-card").first.wait_for()
    page.get_by_test_id("review-state").wait_for()
    panel = page.get_by_label("selected clip")
    for name in ("Approve", "Skip", "Archive", "Save"):
        assert panel.get_by_role("button", name=name).count() == 0, name
    assert panel.get_by_label("Title").count() == 0
    assert panel.get_by_label("Description").count() == 0
    assert "approve" not in page.locator(".review-head .keys").inner_text()  # no A/S hints
    shot(page, "18-viewer-review")
    page.get_by_role("link", name="Generated").click()
    page.locator("li.generated").first.wait_for()
    listed = served.get("/api/generated-clips", headers=viewer.headers | {
        "X-Workspace-Id": owner.workspace_id}).json()["data"]  # fmt: skip
    assert any(g["status"] == "available" for g in listed), listed  # Keep would show here
    assert page.get_by_role("button", name="Keep").count() == 0
    shot(page, "19-viewer-generated")
    page.get_by_role("link", name="Members").click()
    page.locator("li.member").first.wait_for()
    assert page.get_by_role("button", name="Add member").count() == 0
    assert page.locator("li.member select").count() == 0
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Query").fill("country")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("[role=status][data-query='country']").wait_for()
    page.get_by_role("button", name="Add to tray").first.click()
    page.get_by_test_id("tray-item").wait_for()
    assert page.get_by_role("button", name="Export reel").count() == 0
    watch.check("viewer")
    context.close()
