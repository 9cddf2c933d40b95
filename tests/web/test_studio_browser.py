"""The web studio in a real browser (Debian's Chromium driven by Playwright) against the real
server: Serve, Ray, the S3 server and the database of the Serve end-to-end tests.

A new user signs up, drops a video with speech and faces on the page (uploaded through the
presigned POST), watches the job reach review in the job list, opens its clips, approves one
with the A key, moves with J/K, retitles it, downloads the MP4 and checks it with ffprobe.
Every page is checked for console errors and kept as a screenshot under
``test-artifacts/studio/`` (CI keeps that folder as an artifact).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from clipray.web import BUILD_COMMAND, DIST
from tests.conftest import REPO
from tests.serve.test_serve_e2e import served  # noqa: F401 (the served stack fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
SHOTS = REPO / "test-artifacts" / "studio"
JOB_DEADLINE_MS = 600_000  # a first job starts the model services: about 100 s alone here


class ConsoleWatch:
    """Every console error and uncaught page error, named with the page it happened on."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page) -> None:
        page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console.error on {page.url}: {m.text}"))  # fmt: skip
        page.on("pageerror", lambda e: self.errors.append(f"page error on {page.url}: {e}"))

    def check(self, where: str) -> None:
        assert self.errors == [], f"{where}: {self.errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="the dev extra installs it")
    assert Path(CHROMIUM).exists(), "Chromium is missing: bash scripts/system-deps.sh chromium"
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def built() -> Path:
    assert (DIST / "index.html").is_file(), f"the studio is not built: run {BUILD_COMMAND}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    return DIST


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def drop_file(page, selector: str, path: Path, mime: str) -> None:
    """Drop ``path`` on ``selector`` the way a desktop drag does: a ``drop`` event whose
    DataTransfer holds the file."""
    data = base64.b64encode(path.read_bytes()).decode()
    page.evaluate(
        """([selector, name, mime, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            const target = document.querySelector(selector);
            for (const type of ["dragenter", "dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true,
                                                           dataTransfer: dt }));
            }
        }""",
        [selector, path.name, mime, data],
    )


def sign_up(page, base: str, name: str) -> None:
    """A new account through the studio's sign-up tab (a fresh email each time); returns
    once the account is made and the jobs page shows."""
    page.goto(base + "/")
    page.get_by_role("tab", name="Sign up").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(f"{name.split()[0].lower()}-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("No jobs yet").wait_for()


def api_headers(page) -> dict[str, str]:
    """The access token the studio holds, to look behind it through the same public API."""
    tokens = json.loads(page.evaluate("localStorage.getItem('clipray.tokens')"))
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_sign_up_upload_review_approve_and_download(served, built, browser, short_talk, tmp_path):  # noqa: F811
    watch = ConsoleWatch()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    watch.attach(page)
    page.set_default_timeout(30_000)

    # Sign up.
    page.goto(served.base + "/")
    page.get_by_role("tab", name="Sign up").click()
    shot(page, "01-sign-up")
    page.get_by_label("Name").fill("Studio Tester")
    page.get_by_label("Email").fill(f"studio-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="New job").wait_for()
    workspace = page.get_by_label("workspace")
    assert "(owner)" in workspace.locator("option:checked").inner_text()
    page.get_by_text("No jobs yet").wait_for()
    shot(page, "02-jobs-empty")
    watch.check("sign up")

    # A job on a dropped file: up to three clips of 3 to 6 s, square, karaoke captions.
    drop_file(page, "[data-testid=dropzone]", short_talk, "video/mp4")
    page.get_by_text(short_talk.name).wait_for()
    page.get_by_label("Clips").fill("3")
    page.get_by_label("Min s").fill("3")
    page.get_by_label("Max s").fill("6")
    page.get_by_label("Aspect").select_option("1:1")
    page.get_by_label("Captions").select_option("karaoke")
    page.evaluate("""() => {  // every value the upload's progress bar shows
        window.uploadProgress = [];
        new MutationObserver(() => {
            const bar = document.querySelector("[role=progressbar][aria-label=upload]");
            if (bar) window.uploadProgress.push(Number(bar.getAttribute("aria-valuenow")));
        }).observe(document.body, { subtree: true, childList: true, attributes: true });
    }""")
    page.get_by_role("button", name="Start job").click()
    row = page.locator("li.job").first
    row.wait_for()
    shown = page.evaluate("window.uploadProgress")
    assert shown, "the upload showed no progress bar"
    assert shown == sorted(shown), shown
    assert shown[-1] == 100, shown
    job_id = row.get_attribute("data-job-id")
    assert job_id
    shot(page, "03-job-running")

    # The list follows the job live (its event stream) until review.
    done = ",".join(f"[data-status={s}]" for s in ("review", "completed", "failed", "cancelled"))
    page.locator(f"li.job[data-job-id='{job_id}']:is({done})").wait_for(timeout=JOB_DEADLINE_MS)
    status = row.get_by_test_id("job-status").inner_text()
    assert status == "review", f"{status}: {row.inner_text()}"
    assert row.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    steps = row.locator("ol.steps").inner_text()
    for name in ("ingest", "analyze", "render"):
        assert f"{name}: succeeded" in steps, steps
    job = requests.get(f"{served.base}/api/jobs/{job_id}", headers=api_headers(page),
                       timeout=30).json()  # fmt: skip
    assert job["settings"]["aspect"] == "1:1"
    assert job["settings"]["captions"] == "karaoke"
    assert job["settings"]["max_clips"] == 3
    shot(page, "04-job-in-review")
    watch.check("jobs")

    # Its clips: a grid with thumbnails and scores, the first one selected and playing.
    row.get_by_role("link", name="Review clips").click()
    cards = page.locator("button.clip-card")
    cards.first.wait_for()
    clips = requests.get(f"{served.base}/api/clips?job_id={job_id}", headers=api_headers(page),
                         timeout=30).json()["data"]  # fmt: skip
    assert 2 <= len(clips) <= 3, clips  # J and K need two
    assert cards.count() == len(clips)
    assert [cards.nth(i).get_attribute("data-clip-id") for i in range(cards.count())] == [
        c["id"] for c in clips]  # best first, as the API ranks them  # fmt: skip
    first = page.locator("button.clip-card img").first
    first.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=first.element_handle())  # fmt: skip
    video = page.get_by_test_id("player")
    video.wait_for()
    page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=video.element_handle())
    shot(page, "05-clip-review")

    # A approves the selected clip; J and K move the selection.
    page.locator("body").press("a")
    page.get_by_test_id("review-state").filter(has_text="approved").wait_for()
    after = requests.get(f"{served.base}/api/clips/{clips[0]['id']}", headers=api_headers(page),
                         timeout=30).json()  # fmt: skip
    assert after["review"] == "approved"
    page.locator("body").press("j")
    page.locator(f"button.clip-card[data-clip-id='{clips[1]['id']}'][aria-pressed=true]"
                 ).wait_for()  # fmt: skip
    page.locator("body").press("s")
    page.locator(f"button.clip-card[data-clip-id='{clips[1]['id']}'][data-review=skipped]"
                 ).wait_for()  # fmt: skip
    skipped = requests.get(f"{served.base}/api/clips/{clips[1]['id']}",
                           headers=api_headers(page), timeout=30).json()  # fmt: skip
    assert skipped["review"] == "skipped"
    page.locator("body").press("k")
    selected = page.locator(f"button.clip-card[data-clip-id='{clips[0]['id']}']")
    assert selected.get_attribute("aria-pressed") == "true"
    assert selected.get_attribute("data-review") == "approved"

    # Retitle it: typing an "a" in the field is text, not a review.
    page.get_by_label("Title").fill("a better title")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="saved").wait_for()
    after = requests.get(f"{served.base}/api/clips/{clips[0]['id']}", headers=api_headers(page),
                         timeout=30).json()  # fmt: skip
    assert (after["title"], after["review"]) == ("a better title", "approved")

    # Download the MP4 and check what it is.
    with page.expect_download() as dl:
        page.get_by_test_id("download").click()
    saved = tmp_path / "clip.mp4"
    dl.value.save_as(saved)
    cmd = [shutil.which("ffprobe") or "ffprobe", "-v", "error", "-show_format", "-show_streams",
           "-of", "json", str(saved)]  # fmt: skip
    probe = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert "mp4" in probe["format"]["format_name"]
    kinds = {s["codec_type"] for s in probe["streams"]}
    assert "video" in kinds
    vstream = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert vstream["width"] == vstream["height"]  # the 1:1 aspect the job asked for
    assert 2.5 <= float(probe["format"]["duration"]) <= 7.0
    watch.check("clip review")

    # A phone-sized screen: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("() => window.innerWidth === 390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the review page is {width}px wide on a 390px screen"
    shot(page, "06-clip-review-phone")
    page.get_by_role("link", name="← Jobs").click()
    page.locator(f"li.job[data-job-id='{job_id}'][data-status=review]").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the jobs page is {width}px wide on a 390px screen"
    shot(page, "07-jobs-phone")
    watch.check("phone")
    context.close()
