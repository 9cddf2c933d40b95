"""Search ranking: reciprocal rank fusion, grouping hits into moments, pages."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clipray.storage.ranking import JOIN_RATIO, Hit, fuse, group_moments, paginate

# Sentences of the JFK recording, back to back (seconds), as the transcript's index rows.
JFK = [(0.0, 4.5, "And so my fellow Americans,"),
       (4.5, 7.8, "ask not what your country can do for you,"),
       (7.8, 11.0, "ask what you can do for your country."),
       (11.0, 17.2, "My fellow citizens of the world,"),
       (17.2, 24.0, "ask not what America will do for you.")]  # fmt: skip

pytestmark = pytest.mark.unit


def test_fusion_rewards_agreement_across_lists():
    fused = fuse([["a", "b"], ["b", "c"]])
    assert [item for item, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1][1] == pytest.approx(1 / 61)
    # second in both lists beats first in one and third in the other
    assert [i for i, _ in fuse([["p", "q", "r"], ["q", "s", "p"]])][:2] == ["q", "p"]


def test_fusion_counts_an_item_once_per_list_and_keeps_first_seen_order_on_ties():
    assert fuse([["x", "x", "y"]]) == [("x", 1 / 61), ("y", 1 / 63)]
    assert [i for i, _ in fuse([["p"], ["q"]])] == ["p", "q"]
    assert fuse([]) == []


def h(src: str, start: float, end: float, score: float, mode: str = "transcript", **kw) -> Hit:
    return Hit(source_id=src, start=start, end=end, score=score, mode=mode, **kw)


def test_neighbouring_hits_merge_into_one_moment_per_span():
    hits = [
        h("s1", 10.0, 12.0, 0.6, text="we choose"),
        h("s1", 13.0, 13.0, 0.9, mode="visual", thumbnail_key="t/13.jpg"),
        h("s1", 30.0, 31.0, 0.7, text="to go to the moon"),
        h("s2", 11.0, 12.0, 0.6, text="other video"),
    ]
    moments = group_moments(hits, gap_s=2.0)
    assert [(m.source_id, m.start, m.end, m.score) for m in moments] == [
        ("s1", 10.0, 13.0, 0.9), ("s1", 30.0, 31.0, 0.7), ("s2", 11.0, 12.0, 0.6)]  # fmt: skip
    first = moments[0]
    assert (first.modes, first.thumbnail_key, first.text) == (("transcript", "visual"),
                                                              "t/13.jpg", "we choose")  # fmt: skip


def test_a_contiguous_transcript_is_not_joined_into_one_moment():
    """Ten back-to-back sentences, all hits: moments stay within the span limit, around the
    best hits, instead of one moment of the whole talk."""
    hits = [h("s", 5.0 * i, 5.0 * i + 4.7, score=1.0 - abs(i - 6) / 10) for i in range(10)]
    moments = group_moments(hits, gap_s=2.0, max_span_s=12.0)
    assert moments[0].start == 30.0 - 5.0
    assert moments[0].end <= 30.0 + 12.0
    assert all(m.end - m.start <= 12.0 for m in moments)
    assert len(moments) >= 4


def _fused(bm25: list[int], vector: list[int]) -> list[Hit]:
    """What ``run_search`` hands to grouping: the two lists' JFK rows, fused by rank."""
    fused = fuse([bm25, vector])
    return [h("jfk", JFK[i][0], JFK[i][1], score, text=JFK[i][2]) for i, score in fused]


def test_a_one_word_query_gives_a_moment_tight_around_its_sentence():
    """"Americans" is said once (sentence 0); the sentence embedding ranks every sentence,
    neighbours first. The moment is that sentence, not 24 s of the talk."""
    moments = group_moments(_fused(bm25=[0], vector=[1, 3, 0, 2, 4]), max_span_s=30.0)
    assert (moments[0].start, moments[0].end) == (0.0, 4.5)
    assert moments[0].text == "And so my fellow Americans,"
    assert all(m.start >= 4.5 for m in moments[1:])  # the weaker hits: moments of their own


def test_sentences_found_by_both_lists_still_join():
    moments = group_moments(_fused(bm25=[2, 1], vector=[1, 2, 0, 3, 4]), max_span_s=30.0)
    assert (moments[0].start, moments[0].end) == (4.5, 11.0)


def test_a_moments_text_is_in_spoken_order_whatever_the_rank():
    hits = [h("s", 7.8, 11.0, 0.9, text="ask what you can do for your country."),
            h("s", 0.0, 4.5, 0.8, text="And so my fellow Americans,"),
            h("s", 4.5, 7.8, 0.85, text="ask not what your country can do for you,")]  # fmt: skip
    (m,) = group_moments(hits, max_span_s=30.0)
    assert m.text == " ".join(t for _, _, t in JFK[:3])
    assert m.score == 0.9


@pytest.mark.parametrize("bound", [5.0, 12.5, 30.0])
def test_no_moment_is_longer_than_the_bound(bound):
    long_one = h("s", 100.0, 140.0, 1.0, text="a forty second segment")
    hits = [h("s", 5.0 * i, 5.0 * i + 4.9, 0.9) for i in range(12)] + [long_one]
    moments = group_moments(hits, gap_s=2.0, max_span_s=bound)
    assert all(m.end - m.start <= bound + 1e-9 for m in moments)
    first = moments[0]
    assert (first.start, first.end) == (120.0 - bound / 2, 120.0 + bound / 2)
    with pytest.raises(ValueError, match="positive"):
        group_moments(hits, max_span_s=0)


def test_padding_never_goes_below_zero():
    (m,) = group_moments([h("s", 0.5, 1.0, 1.0)], pad_s=1.0)
    assert (m.start, m.end) == (0.0, 2.0)


HITS = st.lists(
    st.builds(
        lambda s, a, d, sc: Hit(source_id=s, start=a, end=a + d, score=sc, mode="transcript"),
        st.sampled_from(["s1", "s2", "s3"]), st.floats(0, 500), st.floats(0, 20),
        st.floats(0, 1),
    ),
    min_size=1, max_size=60,
)  # fmt: skip


@given(hits=HITS, gap=st.floats(0, 10), span=st.floats(0.5, 60))
def test_moments_are_disjoint_bounded_and_cover_every_hit(hits, gap, span):
    moments = group_moments(hits, gap_s=gap, max_span_s=span)
    for src in {m.source_id for m in moments}:
        spans = sorted((m.start, m.end) for m in moments if m.source_id == src)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start > end  # no two moments of a source overlap
    held = [hit for m in moments for hit in m.hits]
    assert len({id(x) for x in held}) == len(held)  # no hit in two moments
    for x in hits:  # a hit left out is inside a moment that holds a hit at least as good
        if all(x is not y for y in held):
            assert any(m.source_id == x.source_id and x.start <= m.end and m.start <= x.end
                       and m.score >= x.score for m in moments)  # fmt: skip
    for m in moments:
        if len(m.hits) > 1:  # one hit longer than the bound is cut to it
            assert all(m.start <= x.start and x.end <= m.end for x in m.hits)
        assert m.end - m.start <= span + 1e-9
        assert all(x.score >= JOIN_RATIO * m.score for x in m.hits)
        assert m.score == max(x.score for x in m.hits)
    assert [m.score for m in moments] == sorted((m.score for m in moments), reverse=True)
    assert max(x.score for x in hits) == moments[0].score


def test_pages():
    assert paginate(list(range(5)), 1, 2) == ([0, 1], 3)
    assert paginate(list(range(5)), 3, 2) == ([4], 3)
    assert paginate([], 1, 10) == ([], 1)
    assert paginate(list(range(5)), 9, 2) == ([], 3)
    with pytest.raises(ValueError, match="start at 1"):
        paginate([1], 0, 10)
