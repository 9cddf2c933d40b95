"""Link per-sample face detections into tracks: pure logic, no model, no Ray.

The faces stage samples a video at a few frames per second; consecutive samples of one face
overlap strongly, so greedy IoU matching is enough, with a centre-distance fallback for a face
that moved fast or reappears after a short miss. A video is processed window by window (one
Ray batch at a time), so the linker carries a small :class:`TrackerState` from one window to
the next and gives exactly the tracks of a single pass over the whole video:

    >>> state = TrackerState()
    >>> tracks = []
    >>> for window in windows:                                   # doctest: +SKIP
    ...     state, closed = link_window(window, state, cfg)
    ...     tracks += closed
    >>> tracks += close_all(state, cfg)                          # doctest: +SKIP
    >>> tracks == link_tracks([s for w in windows for s in w], cfg)  # doctest: +SKIP
    True

A *sample* is the list of faces found in one sampled frame, possibly empty: empty samples
must be passed too, since gaps are counted in samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from clipray.schemas import FaceBox, Track

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TrackerConfig:
    """How detections are linked; defaults suit samples taken at about 2 fps."""

    iou_threshold: float = 0.3
    """Lowest IoU between a track's last box and a detection for them to match. A talking
    head moves a few percent of its box between samples; two different faces rarely overlap
    this much."""
    max_gap: int = 2
    """Consecutive samples a track may miss (a turned head, a blink of the detector) and still
    be continued; 2 samples is one second at 2 fps."""
    max_centre_distance: float | None = 1.0
    """Fallback for pairs left unmatched by IoU: match when the centres are closer than this
    many track box sizes (the larger side). A performer on stage moves most of a face width
    in half a second (face_recognition's short_hamilton_clip: 8 tracks at 0.5, 5 at 1.0).
    ``None`` disables the fallback."""
    min_detections: int = 1
    """Tracks with fewer detections are dropped as detector flicker; their ids stay unused,
    so ids keep following first appearance."""


@dataclass(frozen=True)
class OpenTrack:
    """A track that may still be continued."""

    id: int
    detections: tuple[FaceBox, ...]
    last_sample: int
    """Index (over the whole video) of the sample of its last detection."""


@dataclass(frozen=True)
class TrackerState:
    """What one window hands to the next. Small and picklable: open tracks only."""

    next_id: int = 0
    next_sample: int = 0
    """Index the first sample of the next window gets."""
    open: tuple[OpenTrack, ...] = ()


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes; 0 for degenerate ones."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def centre_distance(track_box: Box, box: Box) -> float:
    """Distance between the centres, in units of the track box's larger side."""
    size = max(track_box[2] - track_box[0], track_box[3] - track_box[1])
    if size <= 0:
        return math.inf
    dx = (track_box[0] + track_box[2] - box[0] - box[2]) / 2
    dy = (track_box[1] + track_box[3] - box[1] - box[3]) / 2
    return math.hypot(dx, dy) / size


def _greedy(
    pairs: list[tuple[float, int, int]], used_t: set[int], used_d: set[int]
) -> list[tuple[int, int]]:
    """Take pairs ``(cost, track, detection)`` cheapest first; each side is used at most once.
    Ties break on track then detection index, so the result never depends on input order."""
    matches = []
    for _, ti, di in sorted(pairs):
        if ti not in used_t and di not in used_d:
            used_t.add(ti)
            used_d.add(di)
            matches.append((ti, di))
    return matches


def _match(
    tracks: list[list[FaceBox]], dets: Sequence[FaceBox], cfg: TrackerConfig
) -> list[tuple[int, int]]:
    used_t: set[int] = set()
    used_d: set[int] = set()
    by_iou = []
    for ti, track in enumerate(tracks):
        for di, det in enumerate(dets):
            overlap = iou(track[-1].box, det.box)
            if overlap >= cfg.iou_threshold:
                by_iou.append((-overlap, ti, di))
    matches = _greedy(by_iou, used_t, used_d)
    if cfg.max_centre_distance is not None:
        by_dist = []
        for ti, track in enumerate(tracks):
            if ti in used_t:
                continue
            for di, det in enumerate(dets):
                if di in used_d:
                    continue
                dist = centre_distance(track[-1].box, det.box)
                if dist <= cfg.max_centre_distance:
                    by_dist.append((dist, ti, di))
        matches += _greedy(by_dist, used_t, used_d)
    return matches


def _in_reading_order(sample: Sequence[FaceBox]) -> list[FaceBox]:
    """New tracks starting in the same sample get ids left to right, then top to bottom."""
    return sorted(sample, key=lambda d: (d.box[0], d.box[1], d.box[2], d.box[3], -d.score))


def link_window(
    samples: Sequence[Sequence[FaceBox]], state: TrackerState, cfg: TrackerConfig
) -> tuple[TrackerState, list[Track]]:
    """Continue linking over the next window of samples.

    Args:
        samples: one entry per sampled frame, in time order, each the faces found in it.
        state: what the previous window returned (``TrackerState()`` for the first).
        cfg: the linking thresholds; must be the same for every window of a video.

    Returns:
        The state for the next window, and the tracks that closed in this one (a track
        closes once it has missed more than ``max_gap`` samples), ordered by id.
    """
    ids = [t.id for t in state.open]
    dets = [list(t.detections) for t in state.open]
    last = [t.last_sample for t in state.open]
    next_id = state.next_id
    closed: list[Track] = []

    for offset, sample in enumerate(samples):
        index = state.next_sample + offset
        alive = [k for k in range(len(ids)) if index - last[k] - 1 <= cfg.max_gap]
        closed += [Track(ids[k], tuple(dets[k])) for k in sorted(set(range(len(ids))) - set(alive))]
        ids = [ids[k] for k in alive]
        dets = [dets[k] for k in alive]
        last = [last[k] for k in alive]

        ordered = _in_reading_order(sample)
        matched = set()
        for ti, di in _match(dets, ordered, cfg):
            dets[ti].append(ordered[di])
            last[ti] = index
            matched.add(di)
        for di, det in enumerate(ordered):
            if di not in matched:
                ids.append(next_id)
                dets.append([det])
                last.append(index)
                next_id += 1

    open_tracks = tuple(OpenTrack(i, tuple(d), s) for i, d, s in zip(ids, dets, last, strict=True))
    new_state = TrackerState(next_id, state.next_sample + len(samples), open_tracks)
    return new_state, _kept(closed, cfg)


def close_all(state: TrackerState, cfg: TrackerConfig) -> list[Track]:
    """The tracks still open at the end of the video, ordered by id."""
    return _kept([Track(t.id, t.detections) for t in state.open], cfg)


def link_tracks(samples: Sequence[Sequence[FaceBox]], cfg: TrackerConfig) -> list[Track]:
    """All tracks of a video in one pass, ordered by id."""
    state, closed = link_window(samples, TrackerState(), cfg)
    return sorted(closed + close_all(state, cfg), key=lambda t: t.id)


def _kept(tracks: list[Track], cfg: TrackerConfig) -> list[Track]:
    return sorted(
        (t for t in tracks if len(t.detections) >= cfg.min_detections), key=lambda t: t.id
    )


def split_at_cuts(tracks: Sequence[Track], cuts: Sequence[float]) -> list[Track]:
    """Tracks never cross a hard cut: a face on both sides of one is two shots, usually two
    people framed alike. Each track is split at the cuts between its detections, and ids are
    given again in order of first appearance (then left to right)."""
    bounds = sorted(cuts)
    pieces: list[tuple[FaceBox, ...]] = []
    for track in tracks:
        current: list[FaceBox] = []
        for det in track.detections:
            if current and any(current[-1].t < c <= det.t for c in bounds):
                pieces.append(tuple(current))
                current = []
            current.append(det)
        if current:
            pieces.append(tuple(current))
    pieces.sort(key=lambda p: (p[0].t, p[0].box[0], p[0].box[1]))
    return [Track(i, dets) for i, dets in enumerate(pieces)]
