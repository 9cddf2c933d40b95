"""The effects graph as pure planning: its place in the render spec, filler cuts, zooms that
keep the face in frame, the hook and the two new caption styles."""

import itertools
import re

import pytest

from clipray.clips.captions import CaptionConfig, build_ass, hook_event
from clipray.clips.effects.fillers import FillerConfig, plan_cut, retime
from clipray.clips.effects.graph import (
    FPS,
    STEP_ORDER,
    ZOOM_STYLES,
    BaseCut,
    EffectsGraph,
    GraphError,
    Hook,
    Zoom,
    Zooms,
)
from clipray.clips.effects.plan import EffectsConfig, plan_graph
from clipray.clips.effects.zooms import plan_zooms, window, zoom_filter
from clipray.clips.render import RenderSpec, keep_expr
from clipray.pipelines.clipjob import spec_hash
from clipray.schemas import Word

pytestmark = pytest.mark.unit

REFRAME = "crop=270:480:105:0,scale=1080:1920,setsar=1"
VERSIONS = {"clipray": "1.0", "ffmpeg": "5.1.9"}


def _words(*items: tuple[float, float, str]) -> list[Word]:
    return [Word(a, b, f" {w}", 1.0) for a, b, w in items]


# --- the graph in the spec -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "golden"),
    [
        pytest.param(
            RenderSpec(source_id="a" * 32, start=4.0, end=20.0, reframe_filter=REFRAME,
                       versions=VERSIONS),
            "ff3efc3a0b3974211fb2105242fa6b60a9d16a846d433c38e014d5aa8d985911",
            id="reframed",
        ),
        pytest.param(
            RenderSpec(source_id="a" * 32, start=4.0, end=20.0, effects=EffectsGraph()),
            "51a499420f390a209b1b0db56f924378f58c07056a3eb1b524d298f97effb58d",
            id="centred/empty-graph",
        ),
    ],
)
def test_a_plain_clip_keeps_the_spec_hash_it_had_before_the_graph(spec, golden):
    # the goldens are the hashes these specs had before effects existed: a plain clip
    # already rendered is reused, not rendered again
    assert spec_hash(spec) == golden
    assert "effects" not in spec.to_json()


def test_the_whole_graph_round_trips_through_the_stored_spec():
    graph = EffectsGraph((
        Hook("Why sleep matters"),
        Zooms("pulse", (Zoom(1.0, 1.5, 1.2, 0.5, 0.4),)),
        BaseCut(((0.0, 2.0), (3.0, 6.0)), crossfade=0.25),
    ))  # fmt: skip
    spec = RenderSpec(source_id="b" * 32, start=1.0, end=9.0, effects=graph)
    back = RenderSpec.from_json(spec.to_json())
    assert back == spec
    assert [s.name for s in back.effects.held] == ["base_cut", "zooms", "hook"]
    names = [name for name, _ in graph.steps()]
    assert names == list(STEP_ORDER)
    assert [n for n, step in graph.steps() if step is None] == [
        "transitions", "reframe", "broll", "captions", "brand", "sfx", "audio",
        "export"]  # fmt: skip


def test_a_changed_step_changes_the_spec_hash():
    base = RenderSpec(source_id="c" * 32, start=0.0, end=10.0)
    hooked = RenderSpec(source_id="c" * 32, start=0.0, end=10.0,
                        effects=EffectsGraph((Hook("One"),)))  # fmt: skip
    other = RenderSpec(source_id="c" * 32, start=0.0, end=10.0,
                       effects=EffectsGraph((Hook("Two"),)))  # fmt: skip
    assert len({spec_hash(base), spec_hash(hooked), spec_hash(other)}) == 3


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: Hook(""), id="empty-hook"),
        pytest.param(lambda: Zooms("wobble", ()), id="unknown-zoom-style"),
        pytest.param(lambda: BaseCut(((2.0, 3.0), (1.0, 4.0))), id="unordered-cut"),
        pytest.param(lambda: EffectsGraph.from_json([{"step": "sparkles"}]), id="unknown-step"),
        pytest.param(lambda: EffectsGraph((Hook("a"), Hook("b"))), id="step-twice"),
    ],
)
def test_invalid_steps_are_refused_with_a_code(bad):
    with pytest.raises(GraphError) as info:
        bad()
    assert info.value.code == "EFFECTS_INVALID"


# --- silence and filler removal ------------------------------------------------------------
def test_fillers_and_long_pauses_are_cut_on_the_frame_grid():
    words = _words((0.2, 0.5, "So"), (0.6, 0.9, "um,"), (1.0, 1.4, "this"),
                   (1.45, 1.8, "works."), (4.0, 4.3, "Uh"), (4.4, 4.8, "really"),
                   (4.9, 5.3, "well."))  # fmt: skip
    cut = plan_cut(words, 0.0, 6.0, FillerConfig())
    assert cut is not None
    for a, b in cut.keep:
        assert abs(a * FPS - round(a * FPS)) < 1e-4
        assert abs(b * FPS - round(b * FPS)) < 1e-4
    kept = retime(words, 0.0, cut)
    assert [w.word.strip() for w in kept] == ["So", "this", "works.", "really", "well."]
    # every kept word is whole inside one kept part, fillers are in none
    for w in words:
        inside = any(a <= w.start and w.end <= b for a, b in cut.keep)
        assert inside != (w.word.strip().lower().strip(",") in {"um", "uh"})
    # the 2.2 s pause is gone, and the order and gaps of kept words are preserved
    assert cut.duration < 6.0 - 2.0
    starts = [w.start for w in kept]
    assert starts == sorted(starts)
    assert kept[1].start - kept[0].start == pytest.approx(0.8 - (cut.keep[1][0] - 0.65), abs=0.1)


def test_nothing_to_remove_is_a_passthrough():
    words = _words((0.1, 0.5, "Plain"), (0.6, 1.0, "speech"), (1.1, 1.9, "here."))
    assert plan_cut(words, 0.0, 2.0, FillerConfig()) is None


def test_the_select_expression_ends_each_part_a_crossfade_early():
    cut = BaseCut(((0.0, 1.0), (2.0, 3.0)))
    expr = keep_expr(cut)
    assert expr.startswith("between(t,-0.0167,0.9500)")
    assert cut.duration == pytest.approx(2.0 - 1 / FPS)
    assert cut.map_time(2.5) == pytest.approx(1.5 - 1 / FPS)
    assert cut.map_time(1.5) is None
    assert cut.source_time(cut.map_time(2.5)) == pytest.approx(2.5)


# --- zooms ---------------------------------------------------------------------------------
@pytest.mark.parametrize("style", ZOOM_STYLES)
@pytest.mark.parametrize(
    "face",
    [
        pytest.param((0.4, 0.2, 0.6, 0.45), id="centred"),
        pytest.param((0.0, 0.0, 0.3, 0.25), id="top-left-corner"),
        pytest.param((0.55, 0.6, 1.0, 1.0), id="bottom-right-large"),
        pytest.param((0.15, 0.15, 0.85, 0.8), id="large"),
    ],
)
def test_zooms_keep_the_face_inside_the_window_on_every_frame(style, face):
    plan = plan_zooms([1.0, 2.0, 6.0, 11.5], 12.0, style, lambda t: face)
    assert plan.zooms, "emphasis three seconds apart gets zooms"
    starts = [z.start for z in plan.zooms]
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(starts))
    for z in plan.zooms:
        for k in range(round((z.end - z.start) * FPS) + 1):
            x1, y1, x2, y2 = window(style, z, z.start + k / FPS)
            assert 0 <= x1 <= face[0] + 1e-9
            assert face[2] <= x2 + 1e-9 <= 1 + 2e-9
            assert 0 <= y1 <= face[1] + 1e-9
            assert face[3] <= y2 + 1e-9 <= 1 + 2e-9


def test_a_face_filling_the_frame_gets_no_zoom():
    assert plan_zooms([1.0, 6.0], 12.0, "snap", lambda t: (0.05, 0.1, 0.95, 0.9)).zooms == ()


def test_zoom_filter_draws_each_zoom_and_none_is_a_passthrough():
    assert zoom_filter(Zooms("snap", ()), (1080, 1920)) is None
    f = zoom_filter(Zooms("snap", (Zoom(1.0, 2.0, 1.25, 0.5, 0.3),)), (1080, 1920))
    assert f is not None
    assert f.startswith("zoompan=")
    assert "s=1080x1920" in f
    assert "between(it,1.0,2.0)" in f


def test_plan_graph_adds_only_what_is_asked():
    words = _words((0.2, 0.6, "Sleep"), (0.7, 1.0, "um"), (1.1, 1.6, "matters"))
    assert plan_graph(EffectsConfig(), words, 0.0, 10.0, "T", (), (), lambda t: None).held == ()
    g = plan_graph(EffectsConfig(zooms="smooth", hook="auto", remove_fillers=True), words,
                   0.0, 10.0, "Why sleep matters", ("#sleep",), (), lambda t: None)  # fmt: skip
    assert g.base_cut is not None
    assert g.hook.text == "Why sleep matters"
    assert g.zooms is not None
    assert g.zooms.zooms[0].start == 0.0  # on "Sleep", said at 0.2


# --- captions ------------------------------------------------------------------------------
WORDS = _words((0.1, 0.5, "Hello"), (0.7, 1.0, "there"), (1.0, 1.5, "world."))


def test_typewriter_types_each_word_over_the_time_it_is_said():
    ass = build_ass(WORDS, 0.0, 3.0, 1080, 1920, CaptionConfig(style="typewriter"))
    events = [line for line in ass.splitlines() if line.startswith("Dialogue:")]
    assert len(events) == 1
    text = events[0].split(",,", 1)[1].split(",", 4)[-1]
    assert text.startswith("{\\2a&HFF&}")
    durations = [int(d) for d in re.findall(r"\\ko(\d+)", text)]
    # letters of "Hello" share 40 cs, the pause before "there" is 20 cs, ...
    assert sum(durations) == 150 - 10
    assert durations[:5] == [8, 8, 8, 8, 8]
    assert durations[5] == 20
    assert re.sub(r"\{[^}]*\}", "", text) == "Hello there world."


def test_bounce_springs_the_spoken_word_only():
    ass = build_ass(WORDS, 0.0, 3.0, 1080, 1920, CaptionConfig(style="bounce"))
    events = [line for line in ass.splitlines() if line.startswith("Dialogue:")]
    sprung = [e for e in events if "\\fscx125" in e]
    assert len(sprung) == 3
    assert all(e.count("\\fscx125") == 1 for e in sprung)


def test_hook_is_a_title_over_the_first_seconds():
    line = hook_event("Why {sleep} matters", 3.0, 1080, 1920, CaptionConfig())
    assert line.startswith("Dialogue: 1,0:00:00.00,0:00:03.00,Caption,")
    assert "\\an8\\pos(540," in line
    assert "\\{sleep\\}" in line


def test_the_library_and_brand_steps_round_trip_and_check_their_ranges():
    from clipray.clips.effects.graph import Brand, BRoll, Insert, Sfx, SoundHit, Transitions
    from clipray.domain.brand import BrandKit

    kit = BrandKit(id="k" * 32, workspace_id="w" * 32, name="Main", logo_key="w/brand/a.png")
    graph = EffectsGraph((
        Brand.of(kit, outro_key="w/sources/o.mp4"),
        Sfx((SoundHit(1.0, "w/lib/whoosh.wav"),)),
        BRoll((Insert(2.0, 4.0, "w/lib/city.mp4", 1.5),)),
        Transitions("wipe"),
        BaseCut(((0.0, 2.0), (3.0, 6.0)), crossfade=0.25),
    ))  # fmt: skip
    spec = RenderSpec(source_id="b" * 32, start=1.0, end=9.0, effects=graph)
    back = RenderSpec.from_json(spec.to_json())
    assert back == spec
    assert [s.name for s in back.effects.held] == [
        "base_cut", "transitions", "broll", "brand", "sfx"]  # fmt: skip
    assert back.effects.brand.outro_key == "w/sources/o.mp4"
    bads = [lambda: Transitions("spin"), lambda: BRoll(()),  # type: ignore[arg-type]
            lambda: BRoll((Insert(3.0, 2.0, "k"),)), lambda: Sfx((SoundHit(1.0, "k", 30),)),
            lambda: Brand("k" * 32, logo_size=0.9),
            lambda: Brand("k" * 32, primary_color="red")]  # fmt: skip
    for bad in bads:
        with pytest.raises(GraphError):
            bad()
