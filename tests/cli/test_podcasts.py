"""Podcast episodes through ``clipray run`` as a user runs it (a subprocess with its own
CLIPRAY_HOME, the embedded S3 and database, Ray started by the command): a FLAC without
cover art and an MP3 with it become 9:16 audiograms with burned captions at -14 LUFS, their
transcripts are searchable, and a highlight reel takes a part of one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.podcast import check_audiogram, episode, streams

pytestmark = pytest.mark.timeout(3000)  # two main jobs, each starting Ray in its own process
CLIP = ["--min-duration", "3", "--max-duration", "10", "--max-clips", "1"]


def _spoken_at(doc: dict, start: float, end: float) -> list[float]:
    """Clip times in the middle of the words spoken inside ``[start, end)``: two of them."""
    mids = [(w["start"] + w["end"]) / 2 - start for s in doc["transcript"]["segments"]
            for w in s["words"] if start + 0.2 <= w["start"] and w["end"] <= end - 0.2]  # fmt: skip
    assert len(mids) >= 2, (start, end, doc["transcript"])
    return [mids[0], mids[len(mids) // 2]]


# One episode without cover art through the CLI; with cover art, an M4A goes through the API
# (tests/serve/test_podcasts_api.py) and MP3 and M4A through the renderer
# (tests/clips/test_audiogram.py): each whole job costs minutes on a small box.
@pytest.mark.parametrize(("ext", "cover"), [pytest.param("flac", False, id="flac/no-cover")])
def test_clipray_run_makes_audiograms_of_an_episode(tmp_path: Path, up_home, ext, cover):
    path = episode(tmp_path / "in", ext, cover=cover)
    out = tmp_path / "out"
    run = up_home.run("run", str(path), "--json", *CLIP, "--out", str(out), timeout=1500)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    (clip,) = result["clips"]
    assert clip["render_spec"]["audiogram"]["cover"] is cover
    assert clip["render_spec"]["reframe_filter"] is None
    analysed = up_home.run("analyze", str(path), "--json", timeout=600)  # cached: no rerun
    assert analysed.returncode == 0, analysed.stderr[-3000:]
    doc = json.loads(analysed.stdout)
    assert doc["source"]["has_video"] is False
    assert (doc["scenes"], doc["faces"]["tracks"], doc["embeddings"]) == ([], [], None)
    check_audiogram(clip["video"], cover=cover,
                    spoken_at=_spoken_at(doc, clip["start"], clip["end"]))  # fmt: skip

    found = up_home.run("search", "Americans", "--json", timeout=600)
    assert found.returncode == 0, found.stderr[-3000:]
    hits = json.loads(found.stdout)["results"]
    assert any(h["source_id"] == result["source_id"] and "americans" in h["text"].lower()
               for h in hits), hits  # fmt: skip

    # a highlight reel of the episode: its picture is drawn from its sound
    reel = tmp_path / "reel.mp4"
    made = up_home.run("reel", f"{result['source_id']}:1-4", "--out", str(reel), "--json",
                       timeout=600)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert json.loads(made.stdout)["status"] == "done"
    kinds = sorted(s["codec_type"] for s in streams(reel))
    assert kinds == ["audio", "video"]
    video = next(s for s in streams(reel) if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (1280, 720)
    assert abs(float(video["duration"]) - 3.0) < 0.1
