"""Transitions between a base cut's parts: planned (pure, ``unit``) and rendered by the
real FFmpeg: the clip as long as the arithmetic says, the frame mid-join a blend of the
two parts' own frames, the captions in step with the sound, the same bytes every time
(with B-roll and a sound effect in the same render)."""

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.captions import CaptionConfig, build_ass
from clipray.clips.effects.cutaways import XFADE, joined_filter
from clipray.clips.effects.fillers import retime
from clipray.clips.effects.graph import (
    FPS,
    BaseCut,
    BRoll,
    EffectsGraph,
    GraphError,
    Insert,
    Sfx,
    SoundHit,
    Transitions,
)
from clipray.clips.effects.plan import (
    TRANSITION_FRAMES,
    EffectsConfig,
    plan_graph,
    plan_transitions,
)
from clipray.clips.render import RenderSpec, render_clip
from clipray.schemas import Word
from tests.clips.test_effects_render import HEAD, LENGTH, MEDIA, SCRIPT, _audio_onsets, _word_starts

TESTVIDEO = MEDIA / "scene_cuts" / "pyscenedetect" / "testvideo.mp4"
FRAME = 1 / FPS
SIDE = 48
WORDS = [Word(a, b, f" {w}", 1.0) for a, b, w in SCRIPT]
SCENES = [(HEAD, 0.0, 1.0), (TESTVIDEO, 2.0, 2.0), (TESTVIDEO, 7.0, LENGTH - 3.0)]
"""(file, from, seconds): the source's picture changes at 1.0 s and 3.0 s, between the
script's fillers, so each part the cut keeps shows other pictures."""


def _plan(style: str = "crossfade") -> EffectsGraph:
    return plan_graph(EffectsConfig(remove_fillers=True, transition=style), WORDS, 0.0,  # type: ignore[arg-type]
                      LENGTH, "", (), (), lambda t: None)  # fmt: skip


# --- planning (pure) ---------------------------------------------------------------------
@pytest.mark.unit
def test_a_transition_joins_the_cut_parts_and_shortens_the_clip_by_one_per_join():
    g = _plan()
    cut, joins = g.base_cut, g.transitions
    assert joins is not None
    assert joins.style == "crossfade"
    assert len(cut.keep) == 3
    assert cut.crossfade == joins.duration == TRANSITION_FRAMES / FPS
    parts = sum(b - a for a, b in cut.keep)
    assert g.output_duration(LENGTH) == pytest.approx(parts - 2 * joins.duration)
    plain = plan_graph(EffectsConfig(remove_fillers=True), WORDS, 0.0, LENGTH, "", (), (),
                       lambda t: None)  # fmt: skip
    assert plain.base_cut.keep == cut.keep
    assert plain.transitions is None
    # each part starts that much earlier than with one-frame joins, its words with it
    shift = joins.duration - plain.base_cut.crossfade
    for k, (off, base) in enumerate(zip(cut.offsets(), plain.base_cut.offsets(),
                                        strict=True)):  # fmt: skip
        assert off == pytest.approx(base - k * shift)
    for w, p in zip(retime(WORDS, 0.0, cut), retime(WORDS, 0.0, plain.base_cut), strict=True):
        k = max(i for i, o in enumerate(plain.base_cut.offsets()) if o <= p.start + 1e-9)
        assert w.start == pytest.approx(p.start - k * shift)


@pytest.mark.unit
def test_no_transition_without_joins_and_none_on_a_straight_cut():
    one = plan_graph(EffectsConfig(transition="wipe"), WORDS, 0.0, LENGTH, "", (), (),
                     lambda t: None)  # fmt: skip
    assert one.transitions is None
    assert one.base_cut is None
    assert EffectsConfig(transition="zoom").any


@pytest.mark.unit
def test_short_parts_get_a_shorter_transition_on_the_frame_grid():
    cut = BaseCut(((0.0, 0.2), (1.0, 3.0)))  # 6 frames: room for 3 on each side
    joined, joins = plan_transitions(cut, "zoom")
    assert joins.duration == pytest.approx(3 / FPS)
    assert joined.crossfade == joins.duration
    assert joined.duration == pytest.approx(0.2 + 2.0 - 3 / FPS)
    with pytest.raises(GraphError):
        plan_transitions(BaseCut(((0.0, 2.0),)), "zoom")


@pytest.mark.unit
def test_a_transitions_step_must_fit_its_cut():
    cut = BaseCut(((0.0, 1.0), (2.0, 3.0)), crossfade=0.2)
    EffectsGraph((cut, Transitions("wipe", 0.2)))
    for bad in [(Transitions("wipe", 0.2),),  # nothing to join
                (BaseCut(((0.0, 1.0), (2.0, 3.0))), Transitions("wipe", 0.2)),  # other lengths
                (BaseCut(((0.0, 1.0),), 0.2), Transitions("wipe", 0.2))]:  # one part
        with pytest.raises(GraphError):
            EffectsGraph(bad)


@pytest.mark.unit
@pytest.mark.parametrize("style", ["crossfade", "wipe", "zoom"])
def test_the_join_filter_trims_the_parts_and_fades_at_their_offsets(style):
    cut = BaseCut(((0.0, 1.0), (2.0, 3.0), (4.0, 5.5)), crossfade=0.2)
    f = joined_filter(cut, Transitions(style, 0.2))  # type: ignore[arg-type]
    assert f.startswith("split=3[j0][j1][j2];")
    assert f.count("xfade=") == 2
    assert f"xfade=transition={XFADE[style]}:duration=0.200000:offset=0.800000[x1]" in f
    assert f.endswith(f"[x1][p2]xfade=transition={XFADE[style]}:duration=0.200000:"
                      f"offset=1.600000")  # fmt: skip
    assert "[j1]trim=start=1.9833:end=2.9833" in f


@pytest.mark.unit
def test_the_setting_travels_from_a_job_and_a_rerender():
    from clipray.pipelines.clipjob import RunOptions
    from clipray.serve.schemas.jobs import JobSettings
    from clipray.services.rerender import EffectsChange, effects_of

    assert RunOptions(transition="none").effects.transition is None
    assert RunOptions(transition="wipe").effects.transition == "wipe"
    assert JobSettings().transition == "none"
    with pytest.raises(ValueError, match="transition"):
        JobSettings(transition="spin")  # type: ignore[arg-type]
    spec = RenderSpec(source_id="t" * 32, start=0.0, end=LENGTH, effects=_plan("zoom"))
    own = effects_of(RenderSpec.from_json(spec.to_json()))
    assert own.transition == "zoom"
    assert own.remove_fillers
    assert EffectsChange().applied(own).transition == "zoom"
    assert EffectsChange(transition="none").applied(own).transition is None
    assert EffectsChange(transition="wipe").applied(own).transition == "wipe"


# --- rendering ---------------------------------------------------------------------------
def _source(path: Path) -> None:
    """:data:`SCENES` at 480x480 and 30 fps, with the script's tones as the sound."""
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    chains = []
    for n, (file, at, length) in enumerate(SCENES):
        args += ["-ss", str(at), "-t", str(length), "-i", str(file)]
        chains.append(f"[{n}:v]scale=-2:480,crop=480:480,fps={FPS},setsar=1[s{n}]")
    on = "+".join(f"between(t,{a},{b})" for a, b, _ in SCRIPT)
    args += ["-f", "lavfi", "-i", f"aevalsrc='0.5*sin(2*PI*1000*t)*gt({on},0)':s=48000:d={LENGTH}"]
    graph = ";".join(chains) + ";[s0][s1][s2]concat=n=3:v=1:a=0[v]"
    subprocess.run([*args, "-filter_complex", graph, "-map", "[v]", "-map", "3:a:0",
                    "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-c:a", "pcm_s16le",
                    str(path)], check=True)  # fmt: skip


def _frames(path: Path) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf",
         f"fps={FPS},scale={SIDE}:{SIDE}:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, SIDE, SIDE, 3).astype(float)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    if not HEAD.exists() or not TESTVIDEO.exists():
        pytest.fail(f"shared media missing under {MEDIA}")
    src = tmp_path_factory.mktemp("joins") / "source.mkv"
    _source(src)
    return src


@pytest.fixture(scope="module")
def crossfaded(source, tmp_path_factory):
    g = _plan("crossfade")
    spec = RenderSpec(source_id="t" * 32, start=0.0, end=LENGTH, aspect="1:1", effects=g)
    ass = build_ass(retime(WORDS, 0.0, g.base_cut), 0.0, g.base_cut.duration, 1080, 1080,
                    CaptionConfig())  # fmt: skip
    done = render_clip(spec, str(source), (480, 480), True, tmp_path_factory.mktemp("xf"), ass)
    return spec, ass, done


def _expected(src: np.ndarray, cut: BaseCut, part: int, k: int) -> np.ndarray:
    """The source's frame that part ``part`` shows at output frame ``k``."""
    a, _ = cut.keep[part]
    return src[round((a + k / FPS - cut.offsets()[part]) * FPS)]


@pytest.mark.integration
def test_the_clip_is_as_long_as_the_parts_less_the_joins(crossfaded):
    spec, _, done = crossfaded
    cut = spec.effects.base_cut
    joins = spec.effects.transitions
    want = sum(b - a for a, b in cut.keep) - (len(cut.keep) - 1) * joins.duration
    assert spec.output_duration == pytest.approx(want)
    got = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(done.video)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert float(got) == pytest.approx(want, abs=FRAME)
    assert len(_frames(done.video)) == round(want * FPS)


@pytest.mark.integration
def test_mid_join_the_picture_is_a_blend_of_the_two_parts(crossfaded, source):
    spec, _, done = crossfaded
    cut = spec.effects.base_cut
    out, src = _frames(done.video), _frames(source)
    d = round(cut.crossfade * FPS)
    for i in range(1, len(cut.keep)):
        start = round(cut.offsets()[i] * FPS)  # the join's first frame
        for k in (start - 2, start + d + 1):  # before it the part before, after it the next
            want = _expected(src, cut, i - 1 if k < start else i, k)
            assert _diff(out[k], want) < 8, (i, k)
        k = start + d // 2
        a, b = _expected(src, cut, i - 1, k), _expected(src, cut, i, k)
        assert _diff(a, b) > 25, "the two parts show other pictures"
        w = float(((out[k] - b) * (a - b)).sum() / ((a - b) ** 2).sum())
        assert 0.25 < w < 0.75, (i, w)
        assert _diff(out[k], w * a + (1 - w) * b) < 6, (i, w)


@pytest.mark.integration
def test_captions_stay_in_step_with_the_sound_across_the_joins(crossfaded):
    _, ass, done = crossfaded
    heard = _audio_onsets(done.video)
    captions = _word_starts(ass)
    assert len(captions) == len(heard) == 6, (captions, heard)
    for c, a in zip(captions, heard, strict=True):
        assert abs(c - a) <= FRAME, (captions, heard)


@pytest.mark.integration
def test_a_wipe_shows_each_part_on_its_side_of_the_edge(source, tmp_path):
    g = _plan("wipe")
    spec = RenderSpec(source_id="t" * 32, start=0.0, end=LENGTH, aspect="1:1", captions="none",
                      effects=g)  # fmt: skip
    done = render_clip(spec, str(source), (480, 480), True, tmp_path, None)
    cut = g.base_cut
    out, src = _frames(done.video), _frames(source)
    k = round(cut.offsets()[2] * FPS) + round(cut.crossfade * FPS) // 2
    a, b = _expected(src, cut, 1, k), _expected(src, cut, 2, k)
    left, right = slice(0, SIDE // 5), slice(SIDE - SIDE // 5, SIDE)
    # wipeleft: the next part comes in from the right, the edge moving left
    assert _diff(out[k][:, right], b[:, right]) < 8 < _diff(out[k][:, right], a[:, right])
    assert _diff(out[k][:, left], a[:, left]) < 8 < _diff(out[k][:, left], b[:, left])


@pytest.mark.integration
def test_transitions_broll_and_sound_effects_render_the_same_bytes(source, tmp_path):
    broll, blip = tmp_path / "broll.mp4", tmp_path / "blip.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "12", "-t", "2", "-i",
                    str(TESTVIDEO), "-c:v", "libx264", "-preset", "ultrafast", str(broll)],
                   check=True)  # fmt: skip
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=3000:duration=0.2", str(blip)], check=True)  # fmt: skip
    g = _plan("crossfade")
    g = EffectsGraph((*g.held, BRoll((Insert(0.2, 0.6, "lib/b.mp4", 0.5),)),
                      Sfx((SoundHit(1.0, "lib/blip.wav", -3.0),))))  # fmt: skip
    spec = RenderSpec(source_id="t" * 32, start=0.0, end=LENGTH, aspect="1:1", effects=g)
    ass = build_ass(retime(WORDS, 0.0, g.base_cut), 0.0, g.base_cut.duration, 1080, 1080,
                    CaptionConfig())  # fmt: skip
    media = {"lib/b.mp4": str(broll), "lib/blip.wav": str(blip)}
    digests = []
    for run in ("one", "two"):
        done = render_clip(spec, str(source), (480, 480), True, tmp_path / run, ass,
                           media=media)  # fmt: skip
        digests.append(hashlib.sha256(done.video.read_bytes()).hexdigest())
        assert done.loudness is not None
        assert done.loudness.reached
    assert digests[0] == digests[1]
