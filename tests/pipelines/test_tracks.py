"""Track linking on synthetic boxes: gaps, crossings, fallbacks and window splits."""

from __future__ import annotations

import random

import pytest

from clipray.pipelines.stages.tracks import (
    TrackerConfig,
    TrackerState,
    centre_distance,
    close_all,
    iou,
    link_tracks,
    link_window,
)
from clipray.schemas import FaceBox, Track

pytestmark = pytest.mark.unit

FPS = 2.0
CFG = TrackerConfig()


def face(i: int, x: float, y: float, size: float = 100.0, score: float = 0.9) -> FaceBox:
    """A square face at sample ``i`` with its top-left corner at ``(x, y)``."""
    return FaceBox(t=i / FPS, box=(x, y, x + size, y + size), score=score)


def ids_by_time(tracks: list[Track]) -> dict[float, list[int]]:
    """Which track ids are present at each sample time."""
    out: dict[float, list[int]] = {}
    for track in tracks:
        for det in track.detections:
            out.setdefault(det.t, []).append(track.id)
    return {t: sorted(v) for t, v in sorted(out.items())}


def by_windows(samples, cuts: list[int], cfg: TrackerConfig = CFG) -> list[Track]:
    state, tracks = TrackerState(), []
    for a, b in zip([0, *cuts], [*cuts, len(samples)], strict=True):
        state, closed = link_window(samples[a:b], state, cfg)
        tracks += closed
    return sorted(tracks + close_all(state, cfg), key=lambda t: t.id)


def crossing(n: int = 12, step: float = 30.0) -> list[list[FaceBox]]:
    """Face A walks right, face B walks left one face-height lower; they overlap mid-way."""
    return [
        [face(i, 400 - step * i, 140), face(i, 40 + step * i, 80)]  # B listed first on purpose
        for i in range(n)
    ]


def scene(seed: int, n: int = 60) -> list[list[FaceBox]]:
    """Three faces drifting, each missing from some samples, plus one-sample flicker."""
    rng = random.Random(seed)  # noqa: S311 -- synthetic test data, not a secret
    starts = [(50.0, 50.0), (400.0, 60.0), (220.0, 300.0)]
    samples: list[list[FaceBox]] = []
    for i in range(n):
        sample = []
        for k, (x, y) in enumerate(starts):
            if rng.random() < 0.15 or (k == 2 and not 20 <= i < 45):
                continue
            sample.append(face(i, x + 3 * i + rng.uniform(-4, 4), y + rng.uniform(-4, 4)))
        if rng.random() < 0.1:
            sample.append(face(i, rng.uniform(0, 600), 600, size=40, score=0.3))
        rng.shuffle(sample)
        samples.append(sample)
    return samples


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param((0, 0, 10, 10), (0, 0, 10, 10), 1.0, id="same"),
        pytest.param((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150, id="half-shift"),
        pytest.param((0, 0, 10, 10), (10, 0, 20, 10), 0.0, id="touching"),
        pytest.param((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100, id="inside"),
        pytest.param((0, 0, 0, 10), (0, 0, 0, 10), 0.0, id="degenerate"),
    ],
)
def test_iou_golden(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)
    assert iou(b, a) == pytest.approx(expected)


def test_centre_distance_is_in_track_box_units():
    assert centre_distance((0, 0, 100, 50), (30, 40, 130, 90)) == pytest.approx(0.5)


def test_one_steady_face_is_one_track():
    samples = [[face(i, 100 + 2 * i, 50)] for i in range(20)]
    (track,) = link_tracks(samples, CFG)
    assert track.id == 0
    assert [d.t for d in track.detections] == [i / FPS for i in range(20)]
    assert (track.start, track.end) == (0.0, 19 / FPS)


@pytest.mark.parametrize(
    ("missing", "n_tracks"),
    [
        pytest.param(range(5, 6), 1, id="gap1"),
        pytest.param(range(5, 7), 1, id="gap2=max_gap"),
        pytest.param(range(5, 8), 2, id="gap3>max_gap"),
    ],
)
def test_gaps_up_to_max_gap_are_bridged(missing, n_tracks):
    samples = [[] if i in missing else [face(i, 100, 50)] for i in range(12)]
    tracks = link_tracks(samples, CFG)
    assert [t.id for t in tracks] == list(range(n_tracks))
    assert sum(len(t.detections) for t in tracks) == 12 - len(missing)


def test_two_faces_crossing_keep_their_ids():
    samples = crossing()
    tracks = link_tracks(samples, CFG)
    assert len(tracks) == 2
    # Left face (B, starting at x=40) gets id 0: same first sample, reading order.
    left, right = tracks
    assert left.detections[0].box[0] == 40
    assert [d.box[0] for d in left.detections] == [40 + 30 * i for i in range(12)]
    assert [d.box[0] for d in right.detections] == [400 - 30 * i for i in range(12)]


def test_crossing_with_one_face_hidden_resumes_the_right_track():
    samples = crossing(n=24, step=15.0)
    for i in (11, 12):  # A passes behind B: it has moved 45 px when it reappears
        samples[i] = [d for d in samples[i] if d.box[1] != 140]
    tracks = link_tracks(samples, CFG)
    assert len(tracks) == 2
    assert all(len({d.box[1] for d in t.detections}) == 1 for t in tracks)


def test_centre_fallback_links_a_fast_move():
    # Moves 60 px per sample: IoU 40/160 = 0.25 < 0.3, centre distance 0.6 box sizes.
    samples = [[face(i, 60 * i, 0)] for i in range(5)]
    assert len(link_tracks(samples, TrackerConfig(max_centre_distance=0.7))) == 1
    assert len(link_tracks(samples, TrackerConfig(max_centre_distance=None))) == 5


def test_ids_follow_first_appearance():
    samples = [
        [face(0, 300, 0), face(0, 0, 0)],
        [face(1, 300, 0), face(1, 0, 0)],
        [face(2, 300, 0), face(2, 0, 0), face(2, 600, 400)],
    ]
    tracks = link_tracks(samples, CFG)
    assert [(t.id, t.detections[0].box[0], t.start) for t in tracks] == [
        (0, 0, 0.0),
        (1, 300, 0.0),
        (2, 600, 1.0),
    ]


def test_min_detections_drops_flicker_and_ids_stay_ordered():
    samples = [[face(i, 0, 0)] + ([face(i, 500, 500, 30)] if i == 3 else []) for i in range(10)]
    samples[8].append(face(8, 300, 300))
    samples[9].append(face(9, 302, 300))
    tracks = link_tracks(samples, TrackerConfig(min_detections=2))
    assert [(t.id, len(t.detections)) for t in tracks] == [(0, 10), (2, 2)]


@pytest.mark.parametrize("seed", range(4))
def test_every_detection_lands_in_exactly_one_track(seed):
    samples = scene(seed)
    tracks = link_tracks(samples, CFG)
    flat = sorted((d.t, d.box) for t in tracks for d in t.detections)
    assert flat == sorted((d.t, d.box) for s in samples for d in s)
    for track in tracks:
        times = [d.t for d in track.detections]
        assert times == sorted(set(times)), "one detection per sample, in time order"
    assert [t.id for t in tracks] == sorted(t.id for t in tracks)
    firsts = [t.start for t in tracks]
    assert firsts == sorted(firsts)


@pytest.mark.parametrize("seed", range(4))
def test_windows_give_the_same_tracks_as_one_pass(seed):
    samples = scene(seed)
    cfg = TrackerConfig(min_detections=2)
    whole = link_tracks(samples, cfg)
    assert len(whole) >= 3
    for cut in range(len(samples) + 1):
        assert by_windows(samples, [cut], cfg) == whole
    rng = random.Random(seed)  # noqa: S311 -- synthetic test data, not a secret
    for _ in range(10):
        cuts = sorted(rng.sample(range(len(samples) + 1), 6))
        assert by_windows(samples, cuts, cfg) == whole


def test_window_state_carries_sample_index_across_empty_windows():
    samples = [[face(0, 0, 0)], [], [], [], [face(4, 0, 0)]]
    assert by_windows(samples, [1, 2, 3, 4]) == link_tracks(samples, CFG)
    assert len(link_tracks(samples, CFG)) == 2


def test_closed_tracks_leave_the_state():
    samples = [[face(0, 0, 0)], [], [], [], [face(4, 500, 0)]]
    state, closed = link_window(samples, TrackerState(), CFG)
    assert [t.id for t in closed] == [0]
    assert [t.id for t in state.open] == [1]
    assert (state.next_id, state.next_sample) == (2, 5)


def test_tracks_are_split_at_hard_cuts_and_renumbered():
    from clipray.pipelines.stages.tracks import split_at_cuts

    a = [FaceBox(t / 2, (100.0, 100.0, 200.0, 200.0), 0.9) for t in range(10)]  # 0 .. 4.5 s
    b = [FaceBox(t / 2, (400.0, 100.0, 500.0, 200.0), 0.9) for t in range(4, 8)]  # 2 .. 3.5 s
    split = split_at_cuts([Track(0, tuple(a)), Track(1, tuple(b))], cuts=[3.0])
    assert [(t.id, t.start, t.end) for t in split] == [
        (0, 0.0, 2.5),
        (1, 2.0, 2.5),
        (2, 3.0, 4.5),
        (3, 3.0, 3.5),
    ]
    assert sum(len(t.detections) for t in split) == len(a) + len(b)
    assert split_at_cuts([Track(0, tuple(a))], cuts=[]) == [Track(0, tuple(a))]
