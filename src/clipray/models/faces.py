"""Face detection with any ultralytics YOLO weights that have a face class.

Production passes its own face weights (a ``.pt`` or an exported ``.onnx``); with none, the
detector runs the YOLOv8n ONNX that ships inside the ``nudenet`` wheel (320 px, 18 classes,
two of them faces). Weights are only ever read from disk: clipray never lets ultralytics
download a model or pip-install a package at run time.

    >>> det = FaceDetector.load(FacesConfig())                      # doctest: +SKIP
    >>> det.detect(np.stack([obama, black]), times=[0.0, 0.5])      # doctest: +SKIP
    [[FaceBox(t=0.0, box=(366.8, 154.0, 616.1, 432.0), score=0.76)], []]

Frames are RGB ``uint8`` arrays; boxes come back in the frame's own pixel coordinates.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clipray.models import package_path
from clipray.schemas import FaceBox

BUNDLED_PREFIX = "bundled:"

NUDENET_LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
"""Class ids of nudenet 3.4.2's ``320n.onnx``, copied from ``nudenet/nudenet.py``: an export
without ultralytics' metadata would otherwise only have ``class0`` ... ``class17``."""


@dataclass(frozen=True)
class BundledWeights:
    """Weights that come inside an installed package, so that no hub is needed."""

    package: str
    filename: str
    imgsz: int
    labels: tuple[str, ...]


BUNDLED: dict[str, BundledWeights] = {
    "nudenet-320n": BundledWeights("nudenet", "320n.onnx", 320, NUDENET_LABELS),
}


@dataclass(frozen=True)
class FacesConfig:
    """What the face detector runs and how it filters; built on the driver, so cheap."""

    weights: str = "bundled:nudenet-320n"
    """``bundled:<name>`` (see :data:`BUNDLED`) or a local path to YOLO weights (.pt, .onnx,
    any format ultralytics loads). Never a hub name: a missing file is an error, not a download."""
    imgsz: int | None = None
    """Inference size in pixels. ``None``: the bundled model's training size (320), else
    ultralytics' default (640, or the size a static-shape export was made at)."""
    conf: float = 0.25
    """Lowest face score kept; ultralytics' own default."""
    iou: float = 0.45
    """NMS IoU threshold; nudenet uses 0.45 for this model."""
    device: str | None = None
    """Torch device (``"cpu"``, ``"cuda:0"``). ``None`` lets ultralytics choose on the actor,
    where :meth:`FaceDetector.load` runs; the driver never probes for GPUs."""
    face_classes: tuple[str, ...] = ("face", "FACE_FEMALE", "FACE_MALE")
    """Class names that count as a face (matched case-insensitively). Face-only YOLO weights
    name their single class ``face``; nudenet splits faces by gender."""
    class_names: tuple[str, ...] | None = None
    """Names of the class ids, for weights exported without ultralytics' metadata. ``None``:
    the bundled label list, or the names stored in the weights."""
    max_det: int = 50
    """Most faces kept per frame: a crowd shot needs dozens, never hundreds."""
    batch_size: int = 16
    """Frames per ``predict`` call. The bundled ONNX was exported for batch 1, so ultralytics
    feeds it frame by frame anyway; ``.pt`` weights on a GPU gain from larger batches."""


def resolve_weights(weights: str) -> tuple[Path, BundledWeights | None]:
    """The weights file on disk, and the bundled entry it came from (``None`` for a path).

    Raises:
        FileNotFoundError: the path does not exist, or the bundling package is not installed.
        ValueError: an unknown ``bundled:`` name.
    """
    if weights.startswith(BUNDLED_PREFIX):
        name = weights.removeprefix(BUNDLED_PREFIX)
        if name not in BUNDLED:
            raise ValueError(f"unknown bundled weights {name!r}; known: {sorted(BUNDLED)}")
        bundled = BUNDLED[name]
        try:
            path = package_path(bundled.package, bundled.filename, weights)
        except ModuleNotFoundError as exc:  # one error type for "weights not on disk"
            raise FileNotFoundError(str(exc)) from exc
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing from the installed {bundled.package!r}")
        return path, bundled
    path = Path(weights).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"face weights {weights!r} not found; clipray loads weights from disk only"
        )
    return path, None


def _keep_ultralytics_offline() -> None:
    """Stop ultralytics from reaching the network: when online it pip-installs missing
    requirements (``onnx`` for ONNX weights) and sends usage events. A policy, not a default:
    clipray's weights come from disk and its packages from the image.

    The variables cover an ultralytics imported after this call (it reads them once, at
    import). One that another module imported earlier has already read them, so its two
    switches are turned off directly as well.
    """
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    if "ultralytics" in sys.modules:
        from ultralytics.utils import checks, events

        checks.AUTOINSTALL = False
        events.events.enabled = False


def face_class_ids(names: dict[int, str], face_classes: Sequence[str]) -> list[int]:
    """Ids of the classes named in ``face_classes``; an error when there are none, since a
    detector with no face class would silently find nothing."""
    wanted = {c.casefold() for c in face_classes}
    ids = sorted(i for i, n in names.items() if n.casefold() in wanted)
    if not ids:
        raise ValueError(
            f"the weights have no face class among {sorted(names.values())}; "
            "set FacesConfig.face_classes (or class_names for an export without metadata)"
        )
    return ids


class FaceDetector:
    """An ultralytics YOLO model restricted to its face classes. Load once per actor."""

    def __init__(self, model: Any, cfg: FacesConfig, imgsz: int | None, face_ids: list[int]):
        self.model = model
        """The ultralytics ``YOLO``."""
        self.cfg = cfg
        self.imgsz = imgsz
        self.face_ids = face_ids

    @classmethod
    def load(cls, cfg: FacesConfig, threads: int | None = None) -> FaceDetector:
        """Resolve the weights and build the model (on the Ray actor, not the driver).

        Args:
            threads: CPU threads of ONNX weights' inference; ``None`` takes
                ``OMP_NUM_THREADS``, which Ray sets to the actor's CPUs (see
                :func:`_limit_onnx_threads`). Detections do not depend on it.
        """
        path, bundled = resolve_weights(cfg.weights)
        _keep_ultralytics_offline()
        # ultralytics imports torchvision, whose PyPI wheel breaks on CPU-only torch 2.13.
        from clipray.models.torchvision_compat import import_torchvision

        import_torchvision()
        from ultralytics import YOLO

        model = YOLO(str(path), task="detect")
        if cfg.class_names is not None:
            names = dict(enumerate(cfg.class_names))
        elif bundled is not None:
            names = dict(enumerate(bundled.labels))
        else:
            names = dict(model.names)
        imgsz = cfg.imgsz or (bundled.imgsz if bundled is not None else None)
        detector = cls(model, cfg, imgsz, face_class_ids(names, cfg.face_classes))
        if path.suffix == ".onnx":
            # ultralytics builds its ONNX Runtime session on the first predict: make it, then
            # replace it with one that runs on the actor's share of the CPUs.
            detector.detect(np.zeros((1, 32, 32, 3), np.uint8))
            _limit_onnx_threads(model, path, threads)
        return detector

    def detect(
        self, frames: np.ndarray, times: Sequence[float] | None = None
    ) -> list[list[FaceBox]]:
        """Faces per frame, best score first.

        Args:
            frames: ``(N, H, W, 3)`` RGB ``uint8``; all frames of one call share a size.
            times: each frame's time in seconds; ``None`` stamps a frame with its index.

        Returns:
            One list per frame of boxes ``(x1, y1, x2, y2)`` in that frame's pixels.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be (N, H, W, 3) uint8 RGB, got {frames.dtype}{frames.shape}"
            )
        stamps = [float(i) for i in range(len(frames))] if times is None else list(times)
        if len(stamps) != len(frames):
            raise ValueError(f"{len(stamps)} times for {len(frames)} frames")
        out: list[list[FaceBox]] = []
        for start in range(0, len(frames), self.cfg.batch_size):
            # ultralytics reads numpy images as OpenCV's BGR and flips them back to RGB itself.
            batch = [
                np.ascontiguousarray(f[..., ::-1])
                for f in frames[start : start + self.cfg.batch_size]
            ]
            kwargs: dict[str, Any] = {"imgsz": self.imgsz} if self.imgsz else {}
            results = self.model.predict(
                batch,
                conf=self.cfg.conf,
                iou=self.cfg.iou,
                classes=self.face_ids,
                # One face is often scored as both FACE_FEMALE and FACE_MALE: suppress across
                # the face classes, not per class.
                agnostic_nms=True,
                max_det=self.cfg.max_det,
                device=self.cfg.device,
                verbose=False,
                **kwargs,
            )
            for t, result in zip(stamps[start : start + len(batch)], results, strict=True):
                xyxy = result.boxes.xyxy.cpu().numpy().astype(float)
                scores = result.boxes.conf.cpu().numpy().astype(float)
                order = np.argsort(-scores, kind="stable")
                out.append([_face_box(t, xyxy[i], scores[i]) for i in order])
        return out


def _limit_onnx_threads(model: Any, path: Path, threads: int | None) -> None:
    """Give a CPU ONNX Runtime session ``threads`` intra-op threads that sleep when idle.

    ultralytics opens the session with ONNX Runtime's defaults: one thread per physical core,
    each spinning between the model's operators. Measured on a 2-core box that is 50 ms of
    CPU per 320-pixel frame instead of 21 ms with one thread, and the spinning is taken from
    the decoder and ASR beside it in the same pipeline. Ray's ``OMP_NUM_THREADS`` (the
    actor's CPUs) caps torch and CTranslate2 but is not read by ONNX Runtime, hence this.
    Each operator's arithmetic does not depend on the thread count, so neither do the
    detections (tests/models/test_faces.py compares them). A session on a GPU provider, or a
    backend laid out otherwise than ultralytics 8.4's, is left as it is.
    """
    backend = getattr(getattr(model.predictor, "model", None), "backend", None)
    session = getattr(backend, "session", None)
    if session is None or session.get_providers() != ["CPUExecutionProvider"]:
        return
    import onnxruntime

    if threads is None:
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(0, threads)  # 0: ONNX Runtime's default
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    backend.session = onnxruntime.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"]
    )


def _face_box(t: float, xyxy: np.ndarray, score: float) -> FaceBox:
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return FaceBox(t=t, box=(x1, y1, x2, y2), score=float(score))
