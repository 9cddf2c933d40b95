"""torchvision imports and its nms works on the CPU build of torch 2.13 (see module doc)."""

import itertools

import pytest

torch = pytest.importorskip("torch", reason="the ml extra is not installed")

from clipray.models.torchvision_compat import import_torchvision, nms_reference  # noqa: E402


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _brute_force_nms(boxes, scores, thr) -> list[int]:
    """The definition, one box at a time: keep the best, drop what overlaps it too much."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep: list[int] = []
    for i in order:
        if all(_iou(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_matches_its_definition(seed, thr):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(60, 2, generator=g) * 100
    wh = torch.rand(60, 2, generator=g) * 40 + 1
    boxes = torch.cat([xy, xy + wh], dim=1)
    scores = torch.rand(60, generator=g)
    got = nms_reference(boxes, scores, thr).tolist()
    assert got == _brute_force_nms(boxes.tolist(), scores.tolist(), thr)


def test_nms_of_nothing_is_empty():
    assert nms_reference(torch.zeros((0, 4)), torch.zeros((0,)), 0.5).numel() == 0


def test_torchvision_imports_and_its_ops_work():
    tv = import_torchvision()
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    assert tv.ops.nms(boxes, scores, 0.5).tolist() == [3, 2]
    idxs = torch.tensor([0, 0, 1, 1])
    assert tv.ops.batched_nms(boxes, scores, idxs, 0.5).tolist() == [3, 0, 2]
    # ultralytics and open_clip import torchvision themselves: they must import too.
    for mod in ("ultralytics", "open_clip"):
        pytest.importorskip(mod)


def test_pairs_of_identical_boxes_keep_the_best():
    boxes = torch.tensor([[5, 5, 15, 15.0]] * 4)
    for perm in itertools.permutations(range(4)):
        scores = torch.tensor([0.1, 0.2, 0.3, 0.4])[list(perm)]
        assert nms_reference(boxes, scores, 0.5).tolist() == [int(scores.argmax())]
