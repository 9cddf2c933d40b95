"""The cut editor and the transcript in a real browser (Debian's Chromium driven by
Playwright) against the real server of the Serve end-to-end tests: Serve, Ray (the job runner
builds the proxy), the S3 server and the database.

On ``counter.mp4`` (every frame shows its own number) a reviewer steps frame by frame with
the arrow keys and each picture the browser shows is compared, pixel by pixel, with the
frame FFmpeg extracts from the source at that number: it must match that frame better than
any other of the 30. Then a cut is added with ``C`` and undone with Ctrl+Z (the API shows it
gone), an edit made meanwhile through the API makes the next one a 409 shown with a reload
action, and clicking a transcript word puts the player at the word's start.

The source gets its cover and its stored analysis behind the API (``upload_with_cover``,
``store_analysis``: the JFK sentence's words over the first seconds), so that no model runs
and the test is about the page.
"""

from __future__ import annotations

import io
import subprocess
import uuid

import numpy as np
import pytest
import requests
from PIL import Image

from tests.analysis_doc import store_analysis
from tests.apiclient import register, upload_with_cover
from tests.conftest import MEDIA
from tests.serve.test_serve_e2e import served  # noqa: F401 (the served stack fixture)
from tests.web.test_studio_browser import SHOTS, ConsoleWatch, browser, built, shot  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

COUNTER = MEDIA / "scene_cuts/pyscenedetect/counter.mp4"
FRAMES, RATE, FPS = 30, "10/1", 10.0
"""counter.mp4: 3 s at 10 fps, 1920x1080; frame N shows "Frame = N+1" and its PTS."""
PROXY_DEADLINE_MS = 300_000  # the runner's first proxy build starts a Ray task: slow here
MIN_MATCH = 0.95
"""Correlation of the shown picture's caption corner with the source frame's (1.0 is
identical; the proxy's encode, the browser's scaling and colour conversion take a little:
0.99 seen here). Neighbours differ only in their digits and the nearest other frame of
counter.mp4 correlates at up to 0.95, so the shown frame must also beat every other one."""

SHIFT = 2
"""Pixels the shown picture may sit off the reference: the element's box starts at a
fractional pixel, so its screenshot can be a row or a column off (and carry a row of page)."""


def _unit(a: np.ndarray) -> np.ndarray:
    a = a - a.mean()
    return a / np.linalg.norm(a)


def _corner(gray: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    """The caption corner, where the frame number is written, moved by ``dx``/``dy``."""
    h, w = gray.shape
    y0, y1, x0, x1 = int(h * 0.72), int(h * 0.97), int(w * 0.62), int(w * 0.98)
    return gray[y0 + dy:y1 + dy, x0 + dx:x1 + dx]


def reference_frames(size: tuple[int, int]) -> list[np.ndarray]:
    """Every frame of the source as FFmpeg decodes it, scaled to ``size`` (width, height):
    the caption corner of each, mean-free and unit-norm."""
    w, h = size
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(COUNTER), "-vf", f"scale={w}:{h}",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True).stdout  # fmt: skip
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    assert len(frames) == FRAMES
    return [_unit(_corner(f.astype(float).mean(axis=2))) for f in frames]


def match(picture: np.ndarray, refs: list[np.ndarray]) -> list[float]:
    """The picture's correlation with each reference frame, at the best small shift."""
    gray = picture.astype(float).mean(axis=2)
    shifted = [_unit(_corner(gray, dx, dy)) for dx in range(-SHIFT, SHIFT + 1)
               for dy in range(-SHIFT, SHIFT + 1)]  # fmt: skip
    return [max(float((s * r).sum()) for s in shifted) for r in refs]


def shown_frame(page, number: int) -> np.ndarray:
    """Wait until the editor shows frame ``number`` (seeked, painted) and grab its picture."""
    video = page.get_by_test_id("editor-video")
    page.locator(f"video[data-frame='{number}']").wait_for()
    assert page.get_by_test_id("frame-no").inner_text() == f"frame {number}"
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    png = video.screenshot(path=str(SHOTS / f"edit-frame-{number:02d}.png"))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def cuts_of(base: str, headers: dict[str, str], sid: str) -> dict:
    resp = requests.get(f"{base}/api/sources/{sid}/cuts", headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_step_frames_cut_undo_conflict_and_transcript(served, built, browser, api_settings,  # noqa: F811
                                                      api_db, buckets):  # fmt: skip
    acct = register(served, f"editor-{uuid.uuid4().hex[:6]}")
    sid = upload_with_cover(served, acct, COUNTER, api_db, FRAMES, RATE, [20])
    doc = store_analysis(api_settings, buckets, api_db, sid)
    h = acct.headers

    watch = ConsoleWatch()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch.attach(page)
    page.set_default_timeout(30_000)

    # Sign in, open the sources, then the cut editor of counter.mp4.
    page.goto(served.base + "/")
    page.get_by_label("Email").fill(acct.email)
    page.get_by_label("Password").fill(acct.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Sources").click()
    row = page.locator(f"li[data-source-id='{sid}']")
    row.wait_for()
    assert "30 frames" in row.inner_text()
    shot(page, "edit-01-sources")
    row.get_by_role("link", name="Edit cuts").click()
    page.get_by_role("heading", name="Cut editor").wait_for()
    page.locator("video[data-frame='0']").wait_for(timeout=PROXY_DEADLINE_MS)
    assert requests.get(f"{served.base}/api/sources/{sid}", headers=h,
                        timeout=30).json()["proxy_status"] == "ready"  # fmt: skip

    # Step with the keys; each picture must be the source's frame at that number.
    first = shown_frame(page, 0)
    refs = reference_frames((first.shape[1], first.shape[0]))
    steps = [(None, 0), ("ArrowRight", 1), ("ArrowRight", 2), ("Shift+ArrowRight", 12),
             ("ArrowLeft", 11), ("Shift+ArrowLeft", 1), ("End", 29)]  # fmt: skip
    for key, number in steps:
        if key:
            page.locator("body").press(key)
        picture = first if key is None else shown_frame(page, number)
        scores = match(picture, refs)
        best = int(np.argmax(scores))
        assert best == number, f"frame {number} shows frame {best}: {scores}"
        assert scores[number] >= MIN_MATCH, f"frame {number}: {scores[number]}"
    shot(page, "edit-02-frame-29")
    watch.check("frame stepping")

    # C cuts at the current frame; Ctrl+Z undoes it on the server.
    page.locator("body").press("Shift+ArrowLeft")
    page.locator("video[data-frame='19']").wait_for()
    page.locator("body").press("ArrowLeft")
    page.locator("video[data-frame='18']").wait_for()
    before = cuts_of(served.base, h, sid)
    assert before["cuts"] == [20]
    page.locator("body").press("c")
    page.locator("[data-testid=cut-list] li[data-cut='18']").wait_for()
    assert cuts_of(served.base, h, sid)["cuts"] == [18, 20]
    page.get_by_test_id("timeline").get_by_role("button", name="cut at frame 18").wait_for()
    page.locator("[data-testid=history] li[data-op=add]").wait_for()
    shot(page, "edit-03-cut-added")
    page.locator("body").press("Control+z")
    page.locator("[data-testid=history] li[data-op=undo]").wait_for()
    page.locator("[data-testid=cut-list] li[data-cut='18']").wait_for(state="detached")
    after = cuts_of(served.base, h, sid)
    assert after["cuts"] == [20]
    assert after["version"] == before["version"] + 2
    history = page.get_by_test_id("history").inner_text()
    assert "add 18" in history, history
    assert "undo" in history, history
    watch.check("cut and undo")

    # Someone else edits meanwhile: the next edit here is a 409, shown with a reload.
    other = requests.post(f"{served.base}/api/sources/{sid}/cuts", headers=h,
                          json={"frame": 5, "version": after["version"]}, timeout=30)  # fmt: skip
    assert other.status_code == 201, other.text
    page.locator("body").press("c")
    conflict = page.get_by_test_id("conflict")
    conflict.wait_for()
    assert "CUT_VERSION_CONFLICT" in conflict.inner_text()
    assert cuts_of(served.base, h, sid)["cuts"] == [5, 20]  # the refused edit changed nothing
    shot(page, "edit-04-conflict")
    conflict.get_by_role("button", name="Reload").click()
    conflict.wait_for(state="detached")
    page.locator("[data-testid=cut-list] li[data-cut='5']").wait_for()
    # The browser logs the refused request's 409 as a console error: the one expected.
    watch.errors = [e for e in watch.errors if "status of 409" not in e]
    watch.check("conflict")

    # Clicking a transcript word puts the player at its start (within a frame) and lights it.
    said = requests.get(f"{served.base}/api/sources/{sid}/transcript", headers=h, timeout=30)
    assert said.status_code == 200, said.text
    assert said.json()["segments"][0]["text"] == doc["transcript"]["segments"][0]["text"]
    words = [w for s in said.json()["segments"] for w in s["words"]]
    target = next(w for w in words if 1.0 < w["start"] < 2.5)
    word = page.locator(f".transcript .word[data-start='{target['start']}']")
    assert word.inner_text() == target["word"].strip()
    word.click()
    video = page.get_by_test_id("editor-video").element_handle()
    page.wait_for_function("v => !v.seeking", arg=video)
    now = page.evaluate("v => v.currentTime", video)
    assert abs(now - target["start"]) <= 1 / FPS, (now, target)
    assert word.get_attribute("aria-current") == "true"
    assert page.locator(".transcript .word[aria-current=true]").count() == 1
    shown = int(page.get_by_test_id("frame-no").inner_text().split()[1])
    assert shown == int(target["start"] * FPS)
    shot(page, "edit-05-transcript")
    watch.check("transcript")

    # A phone-sized screen: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("() => window.innerWidth === 390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the cut editor is {width}px wide on a 390px screen"
    shot(page, "edit-06-phone")
    watch.check("phone")
    context.close()
