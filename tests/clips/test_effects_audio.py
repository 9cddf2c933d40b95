"""The audio step of the effects graph as pure planning: which words are censored and where,
the starred captions, the FFmpeg chain, its place in the stored spec and in the settings."""

import pytest

from clipray.clips.captions import CaptionConfig, build_ass
from clipray.clips.effects.audio import (
    CensorConfig,
    audio_filter,
    censor_spans,
    plan_audio,
    star,
    star_words,
    word_key,
)
from clipray.clips.effects.graph import Audio, EffectsGraph, GraphError, Hook
from clipray.clips.effects.plan import EffectsConfig, plan_graph
from clipray.clips.render import RenderSpec
from clipray.pipelines.clipjob import RunOptions, spec_hash
from clipray.schemas import Word
from clipray.services.rerender import EffectsChange, effects_of

pytestmark = pytest.mark.unit


def _words(*items: tuple[float, float, str]) -> list[Word]:
    return [Word(a, b, f" {w}", 1.0) for a, b, w in items]


SAID = _words((0.4, 0.7, "Well,"), (0.8, 1.1, "DAMN!"), (1.2, 1.5, "that's"),
              (1.6, 1.9, "damned"), (2.0, 2.4, "Damn."), (2.45, 2.8, "heck"))  # fmt: skip


@pytest.mark.parametrize(
    ("word", "key"),
    [pytest.param(" DAMN!", "damn", id="case+punct"), pytest.param(" that's,", "that's", id="apos"),
     pytest.param(' "heck"', "heck", id="quotes"), pytest.param(" ...", "", id="punct-only")],
)  # fmt: skip
def test_words_match_ignoring_case_and_punctuation(word, key):
    assert word_key(word) == key


def test_censored_spans_cover_each_listed_word_padded_and_merged():
    cfg = CensorConfig(("Damn", "HECK!"), pad=0.05)
    # "damned" is another word; "Damn." and "heck" sit 0.05 s apart: one span
    assert censor_spans(SAID, cfg, 3.0) == ((0.75, 1.15), (1.95, 2.85))
    assert censor_spans(SAID, cfg, 2.5) == ((0.75, 1.15), (1.95, 2.5))  # inside the clip


@pytest.mark.parametrize(
    ("word", "starred"),
    [pytest.param(" DAMN!", " D***!", id="punct-kept"), pytest.param(" fuck", " f***", id="plain"),
     pytest.param(" it's", " i***", id="apos"), pytest.param(" a", " a", id="one-letter")],
)  # fmt: skip
def test_a_censored_word_keeps_its_first_letter_in_the_captions(word, starred):
    assert star(word) == starred


def test_only_the_listed_words_are_starred_and_the_captions_show_them():
    starred = star_words(SAID, ["damn"])
    assert [w.word for w in starred] == [" Well,", " D***!", " that's", " damned", " D***.",
                                         " heck"]  # fmt: skip
    assert [(w.start, w.end) for w in starred] == [(w.start, w.end) for w in SAID]
    ass = build_ass(starred, 0.0, 3.0, 1080, 1920, CaptionConfig())
    assert "D***" in ass
    assert "DAMN" not in ass
    assert "Damn" not in ass


def test_the_step_is_planned_only_when_it_changes_something():
    cfg = CensorConfig(("damn",), "silence")
    step = plan_audio(SAID, 3.0, cfg, denoise=False)
    assert step == Audio(censor=("damn",), mode="silence", spans=((0.75, 1.15), (1.95, 2.45)))
    assert plan_audio(SAID, 3.0, CensorConfig(("never",)), denoise=False) is None
    assert plan_audio(SAID, 3.0, None, denoise=True) == Audio(denoise=True)
    assert plan_audio(SAID, 3.0, None, denoise=False) is None


def test_the_chain_mutes_each_span_bleeps_in_bleep_mode_and_denoises_first():
    spans = ((0.75, 1.15), (1.95, 2.45))
    silence = audio_filter(Audio(censor=("damn",), mode="silence", spans=spans))
    assert silence == ("aeval='val(ch)*(1-gt(between(t,0.75,1.15)+between(t,1.95,2.45),0))'"
                       ":c=same")  # fmt: skip
    bleep = audio_filter(Audio(censor=("damn",), spans=spans, denoise=True))
    assert bleep is not None
    assert bleep.startswith("afftdn=")
    assert "sin(2*PI*1000*t)" in bleep
    assert bleep.index("afftdn") < bleep.index("aeval")
    assert audio_filter(Audio(denoise=True)) == "afftdn=nr=12:nf=-50"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: CensorConfig(()), id="no-words"),
        pytest.param(lambda: CensorConfig(("!!",)), id="punct-only"),
        pytest.param(lambda: CensorConfig(("x" * 41,)), id="too-long"),
        pytest.param(lambda: CensorConfig(tuple(f"w{i}" for i in range(51))), id="too-many"),
        pytest.param(lambda: CensorConfig(("damn",), "mute"), id="mode"),  # type: ignore[arg-type]
        pytest.param(lambda: Audio(), id="does-nothing"),
        pytest.param(lambda: Audio(spans=((1.0, 2.0),)), id="spans-without-words"),
        pytest.param(lambda: Audio(censor=("a",), spans=((2.0, 1.0),)), id="backwards"),
        pytest.param(lambda: Audio(censor=("a",), spans=((1.0, 2.0), (1.5, 3.0))),
                     id="overlapping"),
        pytest.param(lambda: EffectsGraph.from_json([{"step": "audio", "mode": "loud",
                                                      "denoise": True}]), id="stored-mode"),
    ],
)
def test_bad_audio_config_is_refused_with_a_code(bad):
    with pytest.raises(GraphError) as err:
        bad()
    assert err.value.code == "EFFECTS_INVALID"


def test_the_audio_step_round_trips_through_the_stored_spec_and_changes_its_hash():
    plain = RenderSpec(source_id="a" * 32, start=4.0, end=10.0)
    step = Audio(censor=("damn",), mode="bleep", spans=((0.75, 1.15),), denoise=True)
    spec = RenderSpec(**{**plain.__dict__, "effects": EffectsGraph((step, Hook("Hi")))})
    assert RenderSpec.from_json(spec.to_json()) == spec
    assert [s["step"] for s in spec.to_json()["effects"]] == ["hook", "audio"]
    assert spec_hash(spec) != spec_hash(plain)
    # a plain clip planned with no censored word said stays plain
    g = plan_graph(EffectsConfig(censor=CensorConfig(("never",))), SAID, 0.0, 3.0, "", (), (),
                   lambda t: None)  # fmt: skip
    assert not g.held


def test_plan_graph_censors_on_the_cut_clips_timeline():
    words = _words((0.2, 0.5, "So"), (0.6, 0.9, "um,"), (1.0, 1.4, "damn"), (3.0, 3.3, "ok"))
    g = plan_graph(EffectsConfig(remove_fillers=True, censor=CensorConfig(("damn",)),
                                 denoise=True), words, 0.0, 4.0, "", (), (),
                   lambda t: None)  # fmt: skip
    cut, audio = g.base_cut, g.audio
    assert cut is not None
    assert audio is not None
    assert audio.denoise
    (a, b), = audio.spans
    assert a == pytest.approx(cut.map_time(1.0) - 0.05, abs=1e-3)
    assert b == pytest.approx(cut.map_time(1.0) + 0.45, abs=1e-3)
    assert a < 1.0 - 0.05  # the "um" before it was cut: the word moved earlier


def test_settings_reach_the_graph_and_a_rerender_keeps_or_changes_them():
    opts = RunOptions(**{"censor": {"words": ["Damn"], "mode": "silence"}, "denoise": True})
    assert opts.effects.censor == CensorConfig(("damn",), "silence")
    assert opts.effects.denoise
    assert RunOptions(**{"censor": {"words": [], "mode": "bleep"}}).censor is None
    step = Audio(censor=("damn",), mode="silence", spans=((0.75, 1.15),), denoise=True)
    spec = RenderSpec(source_id="a" * 32, start=0.0, end=3.0, effects=EffectsGraph((step,)))
    own = effects_of(spec)
    assert own.censor == CensorConfig(("damn",), "silence")
    assert own.denoise
    assert EffectsChange().applied(own) == own
    off = EffectsChange(censor={"words": [], "mode": "bleep"}, denoise=False).applied(own)
    assert off.censor is None
    assert not off.denoise
    assert not off.any
    other = EffectsChange(censor={"words": ["heck"], "mode": "bleep"}).applied(own)
    assert other.censor == CensorConfig(("heck",))
    assert other.denoise


@pytest.mark.parametrize(
    "censor",
    [pytest.param({"words": ["!!"]}, id="punct-only"), pytest.param({"words": "damn"}, id="str"),
     pytest.param({"words": ["x" * 41]}, id="too-long"),
     pytest.param({"words": ["damn"], "mode": "mute"}, id="mode"),
     pytest.param({"words": [f"w{i}" for i in range(51)]}, id="too-many")],
)  # fmt: skip
def test_requests_with_a_bad_censor_are_refused_before_any_work(censor):
    from pydantic import ValidationError

    from clipray.serve.schemas import JobSettings, RerenderIn

    for model in (JobSettings, RerenderIn):
        with pytest.raises(ValidationError):
            model.model_validate({"censor": censor})
    body = RerenderIn.model_validate({"censor": {"words": ["Damn"]}, "denoise": True})
    assert body.censor is not None
    change = EffectsChange(censor=body.censor.model_dump(), denoise=body.denoise)
    assert change.censor == CensorConfig(("damn",), "bleep")
    job = JobSettings.model_validate({"censor": {"words": ["Damn"], "mode": "silence"}})
    assert RunOptions(**job.model_dump()).censor == CensorConfig(("damn",), "silence")


def test_music_is_ducked_under_the_speech_in_one_graph_and_reaches_the_settings():
    from pydantic import ValidationError

    from clipray.clips.effects.audio import music_graph
    from clipray.serve.schemas import JobSettings, RerenderIn

    step = plan_audio(SAID, 3.0, None, denoise=True, music="music/bed.mp3")
    assert step == Audio(denoise=True, music="music/bed.mp3")
    graph = music_graph(step)
    assert graph.startswith("[0:a]afftdn")
    assert "[bed][key]sidechaincompress" in graph
    assert graph.endswith("amix=inputs=2:duration=first:normalize=0[out]")
    with pytest.raises(GraphError):
        Audio(music="")
    spec = RenderSpec(source_id="a" * 32, start=0.0, end=3.0, effects=EffectsGraph((step,)))
    assert RenderSpec.from_json(spec.to_json()) == spec
    own = effects_of(spec)
    assert own.music == "music/bed.mp3"
    assert EffectsChange(music="").applied(own).music is None
    assert EffectsChange().applied(own).music == "music/bed.mp3"
    job = JobSettings.model_validate({"music": "music/bed.mp3"})
    assert RunOptions(**job.model_dump()).effects.music == "music/bed.mp3"
    for bad in ("/etc/passwd", "x" * 1025):  # a server path is never a client's to name
        for model in (JobSettings, RerenderIn):
            with pytest.raises(ValidationError):
                model.model_validate({"music": bad})
    with pytest.raises(ValidationError):
        JobSettings.model_validate({"music": ""})
    assert RerenderIn.model_validate({"music": ""}).music == ""  # a re-render takes it off
