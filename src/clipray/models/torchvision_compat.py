"""Import torchvision even where its compiled ops cannot load.

The only torchvision wheel on PyPI for torch 2.13.0 (``torchvision==0.28.0``) is built
against CUDA. On a CPU-only torch its ``_C`` extension fails to load, and torchvision's own
``__init__`` then dies with ``operator torchvision::nms does not exist`` while registering
fake kernels, so ultralytics and open_clip cannot even be imported.

:func:`import_torchvision` tries the compiled ops first. When they do not load, it defines
the two operators torchvision's import needs (``nms``, ``qnms``) under their official
schemas, with a pure-torch CPU kernel for ``nms`` (the only one clipray's models call:
ultralytics' post-processing), and lets ``torchvision.ops`` box functions call it.
Where torchvision's ops load (a matching CUDA or CPU build), nothing is replaced.

    >>> tv = import_torchvision()                    # doctest: +SKIP
    >>> tv.ops.nms(boxes, scores, 0.5)               # doctest: +SKIP
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import sys
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

_fallback_lib: Any = None  # keeps the torch.library.Library alive for the process


def compiled_ops_load() -> bool:
    """True when torchvision's compiled extension loads into this torch."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    for lib in glob.glob(f"{spec.submodule_search_locations[0]}/_C*.so"):
        try:
            torch.ops.load_library(lib)
        except OSError:
            return False
        return True
    return False


def nms_reference(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy non-maximum suppression, as ``torchvision.ops.nms`` defines it.

    Boxes are ``(x1, y1, x2, y2)``; returns the kept indices by decreasing score. Vectorised
    per kept box: O(n * kept), fine for the few hundred candidates a detector emits.
    """
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    order = scores.argsort(descending=True)
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou <= iou_threshold]
    return torch.stack(keep).to(torch.int64)


def _register_fallback_ops() -> None:
    global _fallback_lib
    import torch

    if _fallback_lib is not None:
        return
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.impl("nms", nms_reference, "CPU")
    _fallback_lib = lib


def import_torchvision() -> ModuleType:
    """``import torchvision``, registering pure-torch ops first when the compiled ones fail."""
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    fallback = not compiled_ops_load()
    if fallback:
        log.info("torchvision's compiled ops do not load here; using clipray's CPU nms")
        _register_fallback_ops()
    import torchvision

    if fallback:
        # torchvision.ops.boxes guards every box op with "are the compiled ops loaded?";
        # nms is now registered, and an op we did not register still fails by name.
        import torchvision.ops.boxes as boxes

        boxes._assert_has_ops = lambda: None
    return torchvision
