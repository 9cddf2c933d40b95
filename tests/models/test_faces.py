"""The face detector on real media, with the bundled nudenet weights, fully offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ultralytics", reason="the ml extra is not installed")
av = pytest.importorskip("av", reason="the ml extra is not installed")

from clipray.models.faces import (  # noqa: E402
    NUDENET_LABELS,
    FaceDetector,
    FacesConfig,
    face_class_ids,
    resolve_weights,
)
from clipray.pipelines.analyze import AnalyzeConfig  # noqa: E402
from clipray.pipelines.stages.tracks import TrackerConfig, iou, link_tracks  # noqa: E402

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
HEADS = MEDIA / "talking_head"
OBAMA = HEADS / "face_recognition" / "obama.jpg"
# face_recognition's own test: (top, right, bottom, left) = (142, 617, 409, 349).
OBAMA_BOX = (349.0, 142.0, 617.0, 409.0)

MIN_OBAMA_IOU = 0.5
MIN_TRACK_COVERAGE = 0.9
SAMPLE_FPS = AnalyzeConfig().sample_fps  # what the pipeline feeds the detector


def sample_frames(path: Path, fps: float) -> tuple[np.ndarray, list[float]]:
    """Decode with PyAV and keep the first frame at or after each ``k / fps`` seconds, which
    also holds for variable-frame-rate files."""
    frames, times = [], []
    with av.open(str(path)) as container:
        due = 0.0
        for frame in container.decode(video=0):
            t = float(frame.time)
            if t + 1e-6 >= due:
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(t)
                while due <= t + 1e-6:
                    due += 1.0 / fps
    return np.stack(frames), times


def read_rgb(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.load(FacesConfig())


@pytest.mark.parametrize(
    "clip",
    [
        pytest.param("sadtalker_hdtf/WDA_AlexandriaOcasioCortez_000.mp4", id="sadtalker/aoc"),
        pytest.param("sadtalker_hdtf/WDA_KatieHill_000.mp4", id="sadtalker/katiehill"),
        pytest.param("video_retalking/face_1.mp4", id="retalking/face_1"),
    ],
)
def test_talking_head_is_one_track(detector, clip):
    frames, times = sample_frames(HEADS / clip, SAMPLE_FPS)
    per_frame = detector.detect(frames, times)
    assert len(per_frame) == len(frames)
    for t, faces in zip(times, per_frame, strict=True):
        assert all(f.t == t for f in faces)
        assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    (track,) = link_tracks(per_frame, TrackerConfig())
    assert len(track.detections) >= MIN_TRACK_COVERAGE * len(frames)
    h, w = frames.shape[1:3]
    for det in track.detections:
        x1, y1, x2, y2 = det.box
        assert 0 <= x1 < x2 <= w
        assert 0 <= y1 < y2 <= h


def test_obama_still_matches_face_recognition_reference(detector):
    (faces,) = detector.detect(read_rgb(OBAMA)[None])
    assert faces, "no face found"
    assert iou(faces[0].box, OBAMA_BOX) >= MIN_OBAMA_IOU


def test_agrees_with_nudenets_own_pipeline(detector):
    """nudenet pads bottom-right and parses the ONNX output itself; ultralytics letterboxes
    centred: the same face must come out of both, which checks the coordinate mapping."""
    nudenet = pytest.importorskip("nudenet")
    theirs = [
        d for d in nudenet.NudeDetector().detect(str(OBAMA)) if d["class"].startswith("FACE_")
    ]
    x, y, w, h = theirs[0]["box"]
    (ours,) = detector.detect(read_rgb(OBAMA)[None])
    assert iou(ours[0].box, (x, y, x + w, y + h)) >= 0.9


def test_frames_without_faces_give_empty_lists(detector):
    still = read_rgb(OBAMA)
    frames = np.stack([still, np.zeros_like(still), np.full_like(still, 255)])
    got = detector.detect(frames, times=[1.0, 2.0, 3.0])
    assert [len(f) for f in got] == [1, 0, 0]
    assert got[0][0].t == 1.0


def test_batching_does_not_change_boxes(detector):
    frames, _ = sample_frames(HEADS / "video_retalking" / "face_1.mp4", SAMPLE_FPS)
    frames = frames[:5]
    one_call = detector.detect(frames)
    by_two = FaceDetector(
        detector.model, FacesConfig(batch_size=2), detector.imgsz, detector.face_ids
    ).detect(frames)
    for a, b in zip(one_call, by_two, strict=True):
        assert [f.t for f in a] == [f.t for f in b]
        for fa, fb in zip(a, b, strict=True):
            assert fa.box == pytest.approx(fb.box, abs=1e-3)


def test_one_sleeping_thread_gives_the_same_boxes(detector):
    """The session runs on the threads it is given, does not spin, and finds what ONNX
    Runtime's default session (a thread per core, spinning) finds, to the bit."""
    import onnxruntime

    frames, times = sample_frames(HEADS / "face_recognition" / "short_hamilton_clip.mp4",
                                  SAMPLE_FPS)  # fmt: skip
    one = FaceDetector.load(FacesConfig(), threads=1)
    session = one.model.predictor.model.backend.session
    options = session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    default = FaceDetector.load(FacesConfig(), threads=1)
    path = str(resolve_weights(FacesConfig().weights)[0])
    default.model.predictor.model.backend.session = onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"]
    )
    found = one.detect(frames, times)
    assert sum(map(len, found)) >= len(frames) // 2  # faces are there to compare
    assert found == default.detect(frames, times)


def test_bundled_labels_match_the_weights_metadata(detector):
    assert dict(detector.model.names) == dict(enumerate(NUDENET_LABELS))
    assert [NUDENET_LABELS[i] for i in detector.face_ids] == ["FACE_FEMALE", "FACE_MALE"]
    assert detector.imgsz == 320


def test_ultralytics_stays_offline(detector):
    """This module imported ultralytics before the detector loaded (importorskip above), the
    case where the environment variables come too late."""
    from ultralytics.utils import checks, events

    assert not checks.AUTOINSTALL
    assert not events.events.enabled


def test_missing_weights_are_an_error_not_a_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="from disk only"):
        resolve_weights(str(tmp_path / "yolov8n-face.pt"))
    with pytest.raises(FileNotFoundError):
        resolve_weights("yolov8n-face.pt")
    with pytest.raises(ValueError, match="unknown bundled"):
        resolve_weights("bundled:nope")


@pytest.mark.parametrize(
    ("names", "face_classes", "expected"),
    [
        pytest.param(
            dict(enumerate(NUDENET_LABELS)), FacesConfig().face_classes, [1, 12], id="nudenet"
        ),
        pytest.param({0: "Face"}, FacesConfig().face_classes, [0], id="face-only-weights"),
        pytest.param({0: "person", 1: "face"}, ("FACE",), [1], id="case-insensitive"),
    ],
)
def test_face_class_ids(names, face_classes, expected):
    assert face_class_ids(names, face_classes) == expected


def test_weights_without_a_face_class_are_rejected():
    with pytest.raises(ValueError, match="no face class"):
        face_class_ids({0: "person", 1: "car"}, FacesConfig().face_classes)
