"""`clipray search` and `clipray reel` as a user runs them (a subprocess with its own
CLIPRAY_HOME, the embedded S3 and database, Ray started by the command): they run the
API's flow, so they refuse what the API refuses, with the same codes (an example picture
that is no picture included)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

from tests.conftest import MEDIA

CAP = {"CLIPRAY_GENERATED_CLIPS_MAX_LIVE": "2"}


def test_reel_and_search_refuse_like_the_api(tmp_path, up_home):
    from clipray.pipelines.ingest import ingest_path
    from clipray.storage.keys import object_key
    from clipray.storage.orm import (
        GeneratedClip,
        HighlightReel,
        Job,
        JobStatus,
        SourceOrigin,
        new_id,
        utcnow,
    )

    db, ws_id = up_home.db, up_home.workspace_id
    video = MEDIA / "scene_cuts/pyscenedetect/counter.mp4"  # 3 s
    sid = ingest_path(up_home.ingest_context(), video, SourceOrigin.LOCAL, video.name).source.id
    # one live generated clip already: the cap of 2 leaves room for one reel
    key = object_key(ws_id, "clips", new_id(), "clip.mp4")
    up_home.buckets.generated.scoped(ws_id).put_bytes(key, b"x" * 100, "video/mp4")
    with db.session() as s:
        s.add(GeneratedClip(workspace_id=ws_id, candidate_id=new_id(), storage_key=key,
                            size_bytes=100, expires_at=utcnow() + timedelta(days=7)))
        unstored = Job(workspace_id=ws_id, kind="clip", status=JobStatus.CANCELLED)
        s.add(unstored)
    # the part count is refused before anything is looked up
    many = up_home.run("reel", *[f"{new_id()}:0-1"] * 51, env=CAP)
    assert many.returncode == 2, many.stdout + many.stderr
    assert many.stderr.startswith("error: REEL_TOO_MANY_PARTS: 51 moments")

    out = tmp_path / "reel.mp4"
    made = up_home.run("reel", f"{sid}:0.5-1.5", f"{sid}:2-2.5", "--title", "best of",
                       "--out", str(out), "--json", env=CAP, timeout=600)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    result = json.loads(made.stdout)
    assert result["status"] == "done"
    assert abs(result["duration_s"] - 1.5) < 0.1
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "csv=p=0", str(out)], capture_output=True, text=True,
                           check=True)  # fmt: skip
    assert abs(float(probe.stdout) - 1.5) < 0.1

    # now at the cap: refused before any work, as the API answers 409
    full = up_home.run("reel", f"{sid}:0-1", env=CAP)
    assert full.returncode == 2, full.stdout + full.stderr
    assert full.stderr.startswith("error: GENERATED_CLIP_LIMIT: the workspace has 2 live")
    with db.session() as s:
        assert s.query(HighlightReel).count() == 1  # the refused reel left no row
        assert s.get(GeneratedClip, result["generated_clip_id"]) is not None

    # a job that has not stored its video: 409 in the API, no silent whole-workspace search
    job = up_home.run("search", "anything", "--job", unstored.id, "--json")
    assert job.returncode == 2, job.stdout + job.stderr
    assert job.stderr.startswith("error: JOB_HAS_NO_SOURCE:")
    assert job.stdout == ""
    gone = up_home.run("search", "anything", "--job", new_id())
    assert gone.returncode == 2
    assert gone.stderr.startswith("error: JOB_NOT_FOUND:")
    # an example picture is checked as the API checks it: a text file is no picture (415)
    notes = tmp_path / "notes.txt"
    notes.write_text("just words")
    picture = up_home.run("search", "--image", str(notes), "--mode", "visual")
    assert picture.returncode == 2, picture.stdout + picture.stderr
    assert picture.stderr.startswith("error: IMAGE_TYPE_UNSUPPORTED:")
