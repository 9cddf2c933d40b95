"""Cut-point algebra: golden cases, and properties over random edit sequences (hypothesis):
the cover stays valid, refused operations change nothing, undo restores the cover exactly."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipray.clips.cuts import (
    CutError,
    VClip,
    add_cut,
    cuts_of,
    initial_cover,
    move_cut,
    remove_cut,
    undo,
    validate,
)

pytestmark = pytest.mark.unit


def ids():
    counter = itertools.count()
    return lambda: f"c{next(counter)}"


def spans(cover):
    return [(c.start, c.end) for c in cover]


def test_initial_cover_from_scene_cuts_drops_out_of_range_points():
    cover = initial_cover(100, [0, 30, 30, 60, 100, 150], ids())
    assert spans(cover) == [(0, 30), (30, 60), (60, 100)]
    assert spans(initial_cover(5, [], ids())) == [(0, 5)]
    with pytest.raises(CutError):
        initial_cover(0, [], ids())


@pytest.mark.parametrize(
    ("cover", "problem"),
    [
        pytest.param([VClip("a", 0, 10)], None, id="one-clip"),
        pytest.param([VClip("a", 1, 10)], "starts at frame 1", id="late-start"),
        pytest.param([VClip("a", 0, 4), VClip("b", 5, 10)], "gap: frames [4, 5)", id="gap"),
        pytest.param([VClip("a", 0, 6), VClip("b", 5, 10)], "overlap: frames [5, 6)",
                     id="overlap"),
        pytest.param([VClip("a", 0, 0), VClip("b", 0, 10)], "clip a is empty", id="empty"),
        pytest.param([VClip("a", 0, 9)], "ends at frame 9, not 10", id="short"),
        pytest.param([], "no clips", id="nothing"),
    ],
)  # fmt: skip
def test_validate_names_the_first_violation(cover, problem):
    got = validate(cover, 10)
    if problem is None:
        assert got is None
    else:
        assert problem in got


def test_add_remove_move_goldens():
    cover = initial_cover(100, [50], ids())
    added = add_cut(cover, 20, ids())
    assert spans(added.cover) == [(0, 20), (20, 50), (50, 100)]
    assert spans(added.archived) == [(0, 50)]
    assert (added.frames_before, added.frames_after) == ((50,), (20, 50))
    moved = move_cut(added.cover, 20, 30, ids())
    assert spans(moved.cover) == [(0, 30), (30, 50), (50, 100)]
    removed = remove_cut(moved.cover, 50, ids())
    assert spans(removed.cover) == [(0, 30), (30, 100)]


@pytest.mark.parametrize(
    ("op", "code"),
    [
        pytest.param(lambda c: add_cut(c, 50, ids()), "CUT_EXISTS", id="add-existing"),
        pytest.param(lambda c: add_cut(c, 0, ids()), "CUT_OUT_OF_RANGE", id="add-at-0"),
        pytest.param(lambda c: add_cut(c, 100, ids()), "CUT_OUT_OF_RANGE", id="add-at-end"),
        pytest.param(lambda c: remove_cut(c, 40, ids()), "CUT_NOT_FOUND", id="remove-missing"),
        pytest.param(lambda c: move_cut(c, 50, 20, ids()), "CUT_WOULD_CROSS", id="move-onto-cut"),
        pytest.param(lambda c: move_cut(c, 50, 10, ids()), "CUT_WOULD_CROSS", id="move-across"),
        pytest.param(lambda c: move_cut(c, 50, 100, ids()), "CUT_WOULD_CROSS", id="move-to-end"),
        pytest.param(lambda c: move_cut(c, 50, 50, ids()), "CUT_NOT_MOVED", id="move-nowhere"),
    ],
)  # fmt: skip
def test_invalid_operations_are_refused_with_a_reason(op, code):
    cover = initial_cover(100, [20, 50], ids())
    before = list(cover)
    with pytest.raises(CutError) as err:
        op(cover)
    assert err.value.code == code
    assert err.value.reason
    assert list(cover) == before


# --- properties ------------------------------------------------------------------------
OPS = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "move"]), st.integers(0, 10_000),
              st.integers(0, 10_000)),
    max_size=40,
)  # fmt: skip


def apply(cover, op, a, b, make):
    n = cover[-1].end
    cuts = cuts_of(cover)
    if op == "add":
        return add_cut(cover, a % (n + 1), make)
    if op == "remove":
        frame = cuts[a % len(cuts)] if cuts and a % 3 else a % (n + 1)
        return remove_cut(cover, frame, make)
    frame = cuts[a % len(cuts)] if cuts else a % (n + 1)
    return move_cut(cover, frame, b % (n + 1), make)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 5000), seeds=st.lists(st.integers(0, 5000), max_size=6), ops=OPS)
def test_any_sequence_of_operations_keeps_the_cover_valid(n, seeds, ops):
    make = ids()
    cover = initial_cover(n, seeds, make)
    assert validate(cover, n) is None
    history = []
    for op, a, b in ops:
        before = cover
        try:
            edit, refusal = apply(cover, op, a, b, make), None
        except CutError as exc:
            refusal = exc.reason
        if refusal is not None:
            assert refusal  # refused with a reason...
            assert cover == before  # ...and nothing changed
            continue
        assert validate(edit.cover, n) is None
        # what was archived and created account for exactly the frames that changed
        assert sum(c.frames for c in edit.created) == sum(c.frames for c in edit.archived)
        assert set(edit.archived) <= set(before)
        assert set(edit.created) <= set(edit.cover)
        history.append((before, edit))
        cover = edit.cover
    # undo, last first, walks back through every earlier cover exactly (ids included)
    for before, edit in reversed(history):
        reverted = undo(cover, edit)
        assert reverted.cover == tuple(before)
        assert validate(reverted.cover, n) is None
        cover = reverted.cover


def test_undo_of_an_older_edit_is_refused_once_the_cover_moved_on():
    make = ids()
    cover = initial_cover(100, [50], make)
    first = add_cut(cover, 20, make)
    second = remove_cut(first.cover, 20, make)
    with pytest.raises(CutError) as err:
        undo(second.cover, first)
    assert err.value.code == "UNDO_STALE"
