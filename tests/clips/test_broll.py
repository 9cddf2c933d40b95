"""Choosing B-roll and sound effects for a clip (pure): by keywords, by CLIP similarity of
small real vectors, within the spacing and limits, deterministically, and on the output's
timeline after a filler cut."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from clipray.clips.broll import (
    BrollConfig,
    Library,
    LibraryClip,
    choose_broll,
    choose_sfx,
    rank,
    sentences,
    topics,
)
from clipray.clips.effects.graph import FPS, BRoll, EffectsGraph, Sfx
from clipray.clips.effects.plan import EffectsConfig, plan_graph
from clipray.schemas import Word

pytestmark = pytest.mark.unit


def talk(text: str, start: float = 0.0, step: float = 0.5) -> list[Word]:
    """One word every ``step`` seconds from ``start``."""
    return [Word(start + i * step, start + i * step + step * 0.8, f" {w}", 0.9)
            for i, w in enumerate(text.split())]  # fmt: skip


def item(ident: str, tags: tuple[str, ...], kind: str = "broll", title: str = "clip",
         duration: float = 10.0, **kw) -> LibraryClip:  # fmt: skip
    return LibraryClip(ident, f"ws/sources/{ident}/{title}.mp4", kind, tags, title,  # type: ignore[arg-type]
                       duration, **kw)  # fmt: skip


def check_rules(step: BRoll, duration: float, lib: Library, cfg: BrollConfig) -> None:
    """The invariants of every B-roll step."""
    by_key = {i.key: i for i in lib.items}
    assert len(step.inserts) <= cfg.max_inserts
    for ins in step.inserts:
        assert ins.start >= cfg.hook - 1e-9
        assert ins.end <= duration - cfg.tail + 1e-9
        assert cfg.min_len - 1e-6 <= ins.end - ins.start <= cfg.max_len + 1e-6
        assert abs(ins.start * FPS - round(ins.start * FPS)) < 0.02  # on the frame grid
        src = by_key[ins.key]
        assert 0 <= ins.src_start <= src.duration - (ins.end - ins.start) + 1e-6
    for a, b in itertools.pairwise(step.inserts):
        assert b.start - a.end >= cfg.gap - 1e-9


# --- keywords --------------------------------------------------------------------------------
def test_a_spoken_tag_brings_its_footage_at_that_word():
    words = talk("hello there everyone . today we walked along the ocean shore at dawn .")
    lib = Library((item("sea", ("ocean", "waves")), item("city", ("traffic", "skyline"))))
    step = choose_broll(words, 12.0, lib)
    assert step is not None
    (ins,) = step.inserts
    ocean = next(w for w in words if w.word.strip() == "ocean")
    assert (ins.key, ins.start) == ("ws/sources/sea/clip.mp4", ocean.start)
    assert ins.end - ins.start == pytest.approx(3.0)
    assert ins.src_start == pytest.approx((10.0 - 3.0) / 2)  # the item's middle
    check_rules(step, 12.0, lib, BrollConfig())


def test_title_words_count_and_common_words_do_not():
    words = talk("so it is what it is . then the drone flew over the harbour .")
    titled = item("d", ("aerial",), title="harbour_drone-4k")
    stop = item("s", ("the", "it", "is"))
    step = choose_broll(words, 14.0, Library((stop, titled)))
    assert step is not None
    assert [i.key for i in step.inserts] == [titled.key]


def test_a_clip_keyword_outweighs_a_plain_word():
    words = talk("we cooked pasta . later we baked bread in the old oven .", step=0.6)
    pasta, bread = item("p", ("pasta",)), item("b", ("bread",))
    first = choose_broll(words, 12.0, Library((pasta, bread)), (), BrollConfig(max_inserts=1))
    assert first is not None
    assert first.inserts[0].key == pasta.key
    tagged = choose_broll(words, 12.0, Library((pasta, bread)), ("#bread",),
                          BrollConfig(max_inserts=1))  # fmt: skip
    assert tagged is not None
    assert tagged.inserts[0].key == bread.key


def test_nothing_fits_gives_no_step():
    words = talk("hello and welcome to the show . today we talk about taxes .")
    assert choose_broll(words, 10.0, Library((item("sea", ("ocean",)),))) is None
    assert choose_broll(words, 10.0, Library()) is None
    sounds_only = Library((item("s", ("taxes",), kind="sfx", duration=1.0),))
    assert choose_broll(words, 10.0, sounds_only) is None
    # the tag is spoken, but the clip is too short for an insert after the hook
    assert choose_broll(talk("taxes ."), 3.0, Library((item("t", ("taxes",)),))) is None
    # footage shorter than the shortest insert is never used
    assert choose_broll(words, 10.0, Library((item("t", ("taxes",), duration=1.2),))) is None


def test_the_hook_stays_on_the_speaker():
    words = talk("ocean views . nothing else here for a while now .", start=0.2)
    step = choose_broll(words, 10.0, Library((item("sea", ("ocean",)),)))
    assert step is not None
    assert step.inserts[0].start == 2.0


def test_an_insert_never_outlasts_its_footage_nor_the_tail():
    words = talk("now the ocean .", start=4.0)
    short = item("sea", ("ocean",), duration=2.0)
    step = choose_broll(words, 9.0, Library((short,)))
    assert step is not None
    (ins,) = step.inserts
    assert ins.end - ins.start <= 2.0 + 1e-9
    assert ins.end <= 8.0
    assert ins.src_start == 0.0
    near_end = choose_broll(talk("ocean ."), 1.0 + 2.0 + 1.0, Library((short,)))
    assert near_end is None  # 2 s of hook and 1 s of tail leave 1 s: too short


# --- spacing, limits, determinism --------------------------------------------------------------
LONG = ("the city wakes up early . trains fill with people going to work . "
        "by noon the market is loud and busy . we ate noodles at a small stall . "
        "the river runs past the old bridge . boats carry fruit down to the harbour . "
        "at night the skyline glows . fireworks light up the whole sky .")  # fmt: skip
THEMES = {"city": ("city",), "train": ("trains",), "market": ("market",), "food": ("noodles",),
          "river": ("river", "bridge"), "boat": ("boats", "harbour"), "sky": ("skyline",),
          "fire": ("fireworks",)}  # fmt: skip


def long_library() -> Library:
    return Library(tuple(item(k, tags, duration=6.0 + n) for n, (k, tags) in
                         enumerate(THEMES.items())))  # fmt: skip


@pytest.mark.parametrize("max_inserts", [1, 2, 3], ids=["one", "two", "default"])
def test_spacing_and_limits_hold_on_a_long_clip(max_inserts):
    words = talk(LONG, step=0.7)  # 42 s, eight themes: more matches than inserts allowed
    duration = words[-1].end + 0.5
    cfg = BrollConfig(max_inserts=max_inserts)
    step = choose_broll(words, duration, long_library(), cfg=cfg)
    assert step is not None
    assert len(step.inserts) == max_inserts
    assert len({i.key for i in step.inserts}) == len(step.inserts)  # each item once
    check_rules(step, duration, long_library(), cfg)


def test_the_choice_is_deterministic_whatever_the_librarys_order():
    words = talk(LONG, step=0.55)
    duration = words[-1].end + 0.5
    first = choose_broll(words, duration, long_library())
    items = list(long_library().items)
    for seed in range(5):
        random.Random(seed).shuffle(items)  # noqa: S311 (a fixed order, not a secret)
        assert choose_broll(words, duration, Library(tuple(items))) == first


def test_one_item_is_used_again_when_it_is_all_there_is():
    words = talk("the ocean . " * 12, step=0.7)
    duration = words[-1].end + 0.5
    lib = Library((item("sea", ("ocean",)),))
    step = choose_broll(words, duration, lib)
    assert step is not None
    assert len(step.inserts) == 3
    assert {i.key for i in step.inserts} == {lib.items[0].key}
    check_rules(step, duration, lib, BrollConfig())


# --- CLIP similarity -----------------------------------------------------------------------------
AXES = {"beach": 0, "forest": 1, "city": 2}


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def encode(texts) -> np.ndarray:
    """A four-dimensional stand-in for CLIP's text tower: each theme word pulls toward its
    axis; what no theme names lies along the fourth, far from every theme's frames (as an
    unrelated text and picture are in CLIP's space: a cosine near 0.1)."""
    out = []
    for t in texts:
        v = np.array([0.0, 0.0, 0.0, 1.0])
        for w in t.lower().split():
            if w.strip(".,") in AXES:
                v[AXES[w.strip(".,")]] += 3.0
        out.append(v)
    return unit(out)


def framed(ident: str, vectors, times, tags=("unrelated",)) -> LibraryClip:
    return item(ident, tags, duration=10.0, frame_times=np.asarray(times, dtype=np.float32),
                frame_vectors=unit(vectors))  # fmt: skip


def test_clip_similarity_picks_the_footage_and_its_best_frame():
    words = talk("we spent the morning talking . then we hiked deep into the forest .")
    forest = framed("f", [[0.1, 0.2, 0.9, 0.1], [0.05, 0.95, 0.1, 0.1]], [1.0, 7.0])
    beach = framed("b", [[0.9, 0.1, 0.1, 0.1]], [4.0])
    lib = Library((beach, forest), encode)
    step = choose_broll(words, 12.0, lib)
    assert step is not None
    (ins,) = step.inserts
    assert ins.key == forest.key
    length = ins.end - ins.start
    assert ins.src_start == pytest.approx(7.0 - length / 2, abs=1e-3)  # centred on frame 2
    # the words match no tag: keywords alone would have chosen nothing
    assert choose_broll(words, 12.0, Library((beach, forest))) is None
    assert rank(lib, "a walk in the forest", 2) == [forest]
    assert rank(lib, "sand on the beach", 1) == [beach]
    from clipray.services.library import BrollProvider, LibraryProvider

    provider: BrollProvider = LibraryProvider(lib)
    assert provider.candidates("numbers on a spreadsheet", 2) == []  # near no frame
    assert LibraryProvider(Library((item("c", ("city",)),))).candidates("the city", 2)[0].id == "c"


def test_a_weak_similarity_is_no_match():
    words = talk("numbers and spreadsheets all day long . nothing to see .")
    lib = Library((framed("f", [[0.05, 0.95, 0.1, 0.1]], [2.0]),), encode)
    assert choose_broll(words, 12.0, lib) is None


def test_items_without_frames_fall_back_to_keywords():
    words = talk("a quiet start . the city at night is beautiful and the forest too .")
    plain = item("c", ("city",))
    woods = framed("f", [[0.05, 0.95, 0.1, 0.1]], [3.0])
    step = choose_broll(words, 14.0, Library((plain, woods), encode))
    assert step is not None
    assert {i.key for i in step.inserts} <= {plain.key, woods.key}
    assert plain.key in {i.key for i in step.inserts}


# --- sound effects -----------------------------------------------------------------------------
def test_a_sound_plays_on_each_spoken_tag_spaced_and_capped():
    words = talk("boom goes the drum . boom again . and boom boom boom " * 3, step=0.5)
    duration = words[-1].end + 0.5
    boom = item("z", ("boom",), kind="sfx", duration=1.0)
    step = choose_sfx(words, duration, Library((boom,)))
    assert isinstance(step, Sfx)
    assert len(step.hits) == 5
    assert all(h.key == boom.key and h.gain_db == -6.0 for h in step.hits)
    spoken = [w.start for w in words if w.word.strip() == "boom"]
    assert all(h.at in spoken for h in step.hits)
    assert all(b.at - a.at >= 3.0 for a, b in itertools.pairwise(step.hits))
    assert step.hits[0].at == spoken[0]


def test_sounds_only_on_their_own_tags():
    words = talk("Wow, that was fast! A whoosh and gone .", step=0.7)
    lib = Library((item("w", ("wow",), kind="sfx", duration=0.8),
                   item("v", ("whoosh",), kind="sfx", duration=0.5),
                   item("x", ("gone",), kind="broll")))  # fmt: skip
    step = choose_sfx(words, 6.0, lib)
    assert step is not None
    assert [(h.at, h.key) for h in step.hits] == [(0.0, lib.items[0].key),
                                                  (3.5, lib.items[1].key)]
    assert choose_sfx(talk("nothing tagged here ."), 4.0, lib) is None


# --- in the plan -----------------------------------------------------------------------------
def test_the_plan_places_inserts_on_the_cut_clips_timeline():
    """With fillers cut out, the insert sits where the word is said in the output, not in
    the source."""
    words = [*talk("so um uh um let me tell you", start=30.0),
             *talk("about the ocean and its waves .", start=36.0)]
    cfg = EffectsConfig(remove_fillers=True, broll=True, sfx=True)
    lib = Library((item("sea", ("ocean",)), item("s", ("waves",), kind="sfx", duration=1.0)))
    g = plan_graph(cfg, words, 30.0, 40.0, "", (), (), lambda t: None, lib)
    assert g.base_cut is not None
    assert g.broll is not None
    assert g.sfx is not None
    (ins,) = g.broll.inserts
    ocean = next(w for w in words if w.word.strip() == "ocean")
    assert ins.start == pytest.approx(g.base_cut.map_time(ocean.start - 30.0), abs=1 / FPS)
    assert ins.start < ocean.start - 30.0  # moved earlier by the cut
    assert EffectsGraph.from_json(g.to_json()) == g
    off = plan_graph(EffectsConfig(remove_fillers=True), words, 30.0, 40.0, "", (), (),
                     lambda t: None, lib)  # fmt: skip
    assert off.broll is None
    assert off.sfx is None


def test_sentences_split_on_stops_and_pauses():
    ws = [*talk("one two .", 0.0), *talk("three four", 2.0), *talk("five", 5.0)]
    got = [(m.text, m.start) for m in sentences(ws, 10.0)]
    assert got == [("one two .", 0.0), ("three four", 2.0), ("five", 5.0)]


def test_topics_are_the_words_said_most():
    words = talk("the ocean is calm . what a calm ocean , said the sailor . ocean ocean")
    assert topics(words) == ["ocean", "calm", "sailor"]
    assert topics(words, n=1) == ["ocean"]
    assert topics(talk("so what is it")) == []


def test_job_settings_reach_the_graph_and_a_rerender_keeps_or_changes_them():
    from clipray.clips.effects.graph import Insert, SoundHit
    from clipray.clips.render import RenderSpec
    from clipray.pipelines.clipjob import RunOptions
    from clipray.services.rerender import EffectsChange, effects_of

    opts = RunOptions(**{"broll": True, "sfx": True})
    assert (opts.effects.broll, opts.effects.sfx, opts.effects.any) == (True, True, True)
    assert not RunOptions().effects.any
    graph = EffectsGraph((BRoll((Insert(2.0, 4.0, "k/a.mp4", 1.0),)),
                          Sfx((SoundHit(1.0, "k/b.wav"),))))  # fmt: skip
    spec = RenderSpec(source_id="a" * 32, start=0.0, end=8.0, effects=graph)
    assert RenderSpec.from_json(spec.to_json()).effects == graph
    own = effects_of(spec)
    assert (own.broll, own.sfx) == (True, True)
    assert EffectsChange().applied(own) == own
    off = EffectsChange(broll=False, sfx=False).applied(own)
    assert (off.broll, off.sfx, off.any) == (False, False, False)
    assert EffectsChange(sfx=True).applied(effects_of(RenderSpec("a" * 32, 0.0, 8.0))).sfx
