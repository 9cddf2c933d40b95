"""The ring buffer with real segments cut by ffmpeg's segment muxer: bounded by seconds and
by bytes, windows frame-exact to segment boundaries that play, refusals for ranges it does
not hold, and a buffer reopened from its directory."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from clipray.streams.ring import (
    INDEX,
    SEGMENTS,
    RingBuffer,
    RingError,
    WindowEvicted,
    WindowNotReceived,
    open_ring,
    stream_root,
)
from clipray.streams.settings import IngestSettings
from tests.streams.conftest import fill, frame_md5s, segment_file, streams_of


@pytest.fixture
def parts(tmp_path: Path, small_talk: Path) -> list[tuple[Path, float]]:
    """The 8 s talk as 2 s segments (1 s GOPs: the muxer cuts on every other keyframe)."""
    out = segment_file(small_talk, tmp_path / "cut", 2.0)
    assert len(out) == 4
    return out


def on_disk(ring: RingBuffer) -> set[str]:
    return {p.name for p in (ring.root / SEGMENTS).iterdir()}


def check_invariants(ring: RingBuffer) -> None:
    segs = ring.segments()
    assert on_disk(ring) == {s.name for s in segs}
    for a, b in itertools.pairwise(segs):
        assert b.start_s == pytest.approx(a.end_s)
    assert ring.seconds == pytest.approx(sum(s.duration_s for s in segs))
    assert ring.bytes == sum((ring.root / SEGMENTS / s.name).stat().st_size for s in segs)


def test_the_ring_is_bounded_by_seconds(tmp_path: Path, parts):
    ring = RingBuffer(tmp_path / "ring", max_seconds=5.0)
    durations = [d for _, d in parts]
    for _ in fill(ring, parts):
        assert ring.seconds <= 5.0 + 1e-6
        check_invariants(ring)
    # 8 s received, at most 5 s kept: the two newest segments, the two oldest evicted.
    assert [s.seq for s in ring.segments()] == [2, 3]
    assert ring.span() == pytest.approx((sum(durations[:2]), sum(durations)))


def test_the_ring_is_bounded_by_bytes(tmp_path: Path, parts):
    sizes = [p.stat().st_size for p, _ in parts]
    budget = sizes[-1] + sizes[-2] + sizes[-3] - 1  # the newest three do not fit
    ring = RingBuffer(tmp_path / "ring", max_seconds=600, max_bytes=budget)
    for _ in fill(ring, parts):
        assert ring.bytes <= budget
        check_invariants(ring)
    assert [s.seq for s in ring.segments()] == [2, 3]
    assert ring.bytes == sizes[-1] + sizes[-2]


def test_a_window_is_frame_exact_to_segment_boundaries_and_plays(tmp_path: Path, parts):
    ring = RingBuffer(tmp_path / "ring")
    segs = fill(ring, parts)
    # A range from inside the second segment to inside the third: both whole segments.
    start, end = segs[1].start_s + 0.7, segs[2].start_s + 0.3
    assert ring.cover(start, end) == segs[1:3]
    out = ring.window(start, end, tmp_path / "out" / "window.mp4")

    # Exactly the frames of those two segments, in order: it starts on the first frame of
    # segment 1 and ends on the last frame of segment 2.
    expected = frame_md5s(ring.root / SEGMENTS / segs[1].name) + frame_md5s(
        ring.root / SEGMENTS / segs[2].name)  # fmt: skip
    got = frame_md5s(out)
    assert len(expected) == 100  # 2 x 2 s at 25 fps
    assert got == expected
    # It plays: ffprobe finds video and audio of the two segments' duration.
    want = segs[1].duration_s + segs[2].duration_s
    streams = streams_of(out)
    assert set(streams) == {"video", "audio"}
    assert streams["video"] == pytest.approx(want, abs=0.1)
    assert streams["audio"] == pytest.approx(want, abs=0.1)
    assert list((ring.root / "windows").iterdir()) == []  # the links are gone


def test_a_range_not_held_is_a_clear_error_and_writes_nothing(tmp_path: Path, parts):
    ring = RingBuffer(tmp_path / "ring", max_seconds=5.0)
    segs = fill(ring, parts)
    first, last = ring.span()
    out = tmp_path / "w.mp4"
    with pytest.raises(WindowEvicted) as evicted:
        ring.window(0.0, first + 1, out)
    assert (evicted.value.code, evicted.value.status) == ("STREAM_WINDOW_EVICTED", 410)
    assert evicted.value.detail["span"] == pytest.approx([first, last])
    with pytest.raises(WindowNotReceived) as later:
        ring.window(last - 1, last + 5, out)
    assert (later.value.code, later.value.status, later.value.retryable) == (
        "STREAM_WINDOW_NOT_RECEIVED", 409, True)  # fmt: skip
    with pytest.raises(RingError) as bad:
        ring.window(last - 1, last - 2, out)
    assert bad.value.code == "STREAM_WINDOW_INVALID"
    assert not out.exists()
    assert list(tmp_path.glob(".w.mp4*")) == []
    # The whole buffer is a valid window.
    assert ring.window(first, last, out) == out
    assert streams_of(out)["video"] == pytest.approx(segs[-1].end_s - first, abs=0.1)


def test_a_reopened_ring_continues_where_it_was(tmp_path: Path, parts):
    root = tmp_path / "ring"
    ring = RingBuffer(root)
    before = fill(ring, parts[:3])
    (root / SEGMENTS / "99999999.ts").write_bytes(b"left by a crash")  # not in the index

    again = RingBuffer(root)  # a recreated worker
    assert again.segments() == before
    assert again.span() == ring.span()
    assert "99999999.ts" not in on_disk(again)
    seg = again.add(parts[3][0], duration_s=parts[3][1])
    assert (seg.seq, seg.start_s) == (3, pytest.approx(before[-1].end_s))
    check_invariants(again)
    index = json.loads((root / INDEX).read_text())
    assert [s["seq"] for s in index["segments"]] == [0, 1, 2, 3]
    # A window across the old process's segments and the new one's.
    out = again.window(before[-1].start_s, seg.end_s, tmp_path / "across.mp4")
    assert len(frame_md5s(out)) == 100


def test_a_reopened_ring_drops_what_lost_its_file(tmp_path: Path, parts):
    root = tmp_path / "ring"
    segs = fill(RingBuffer(root), parts)
    (root / SEGMENTS / segs[1].name).unlink()  # a hole: the clock would lie across it
    again = RingBuffer(root)
    assert [s.seq for s in again.segments()] == [2, 3]
    assert again.span() == pytest.approx((segs[2].start_s, segs[3].end_s))


def test_clear_removes_the_directory(tmp_path: Path, parts):
    ring = RingBuffer(tmp_path / "ring")
    fill(ring, parts[:1])
    ring.clear()
    assert not (tmp_path / "ring").exists()


def test_without_the_lists_figure_a_segment_is_measured(tmp_path: Path, parts):
    ring = RingBuffer(tmp_path / "ring")
    listed = [d for _, d in parts]
    probed = [ring.add(path).duration_s for path, _ in parts]  # ffprobe, not an assumed 2 s
    assert probed == pytest.approx(listed, abs=0.041)  # within a frame at 25 fps
    assert ring.span() == pytest.approx((0.0, sum(probed)))


def test_a_segment_that_is_not_a_file_is_refused(tmp_path: Path):
    ring = RingBuffer(tmp_path / "ring")
    with pytest.raises(RingError) as err:
        ring.add(tmp_path / "missing.ts", duration_s=2.0)
    assert err.value.code == "STREAM_SEGMENT_INVALID"
    assert len(ring) == 0


def test_a_streams_buffer_lives_under_home_with_the_settings_bounds(tmp_path: Path, parts):
    settings = IngestSettings(buffer_seconds=3.0, buffer_bytes=10**9)
    ring = open_ring(tmp_path, 42, settings)
    assert ring.root == tmp_path / "streams" / "42"
    fill(ring, parts)
    assert ring.seconds <= 3.0
    assert open_ring(tmp_path, "42", settings).segments() == ring.segments()
    for bad in ("../etc", "a/b", "", "x" * 65):
        with pytest.raises(RingError) as err:
            stream_root(tmp_path, bad)
        assert err.value.code == "STREAM_ID_INVALID"
