"""Audiograms: the pure planning of the filter graph, then real renders with FFmpeg (cover
art from an MP3's attached picture, a FLAC without one), checked by their pixels and their
loudness."""

from __future__ import annotations

from pathlib import Path

import pytest

from clipray.clips.audiogram import (
    AudiogramError,
    AudiogramSpec,
    audiogram_args,
    audiogram_graph,
    cover_box,
    wave_box,
)
from clipray.clips.captions import CaptionConfig, build_ass
from clipray.clips.render import RenderSpec, render_clip, thumbnail
from clipray.schemas import Word
from tests.podcast import BACKGROUND_RGB, caption_band, check_audiogram, episode, frame_rgb, ink

SIZES = [pytest.param((1080, 1920), id="9:16"), pytest.param((1080, 1080), id="1:1"),
         pytest.param((1920, 1080), id="16:9")]  # fmt: skip


# --- planning (pure) ---------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("size", SIZES)
def test_the_cover_the_wave_and_the_captions_do_not_overlap(size):
    w, h = size
    cover, wave = cover_box(size), wave_box(size)
    captions_top = h * (1 - CaptionConfig().margin_bottom) - 2 * CaptionConfig().font_size * h
    assert cover.x >= 0
    assert cover.x + cover.w <= w
    assert wave.x >= 0
    assert wave.x + wave.w <= w
    assert cover.y + cover.h <= wave.y  # the cover ends above the band
    assert wave.y + wave.h <= captions_top  # two caption lines fit under the band
    assert all(v % 2 == 0 for v in (cover.w, cover.h, wave.w, wave.h))  # 4:2:0 sizes


@pytest.mark.unit
def test_a_graph_with_cover_art_overlays_it_held_for_the_whole_clip():
    graph = audiogram_graph(AudiogramSpec(cover=True), (1080, 1920), 12.5, Path("/t/c.ass"))
    steps = graph.split(";")
    assert steps[0] == "color=c=0x1d2433:s=1080x1920:r=30:d=12.500[bg]"
    assert steps[1].startswith("[1:v]scale=864:806:force_original_aspect_ratio=decrease")
    assert "eof_action=repeat" in steps[2]
    assert steps[2].startswith("[bg][cover]overlay")
    assert steps[3].startswith("[0:a]")
    assert "showwaves=s=972x230" in steps[3]
    assert steps[4] == ("[base][wave]overlay=x=54:y=1056:shortest=1,"
                        "subtitles=filename=/t/c.ass,format=yuv420p[v]")  # fmt: skip


@pytest.mark.unit
@pytest.mark.parametrize(
    ("wave", "drawn"),
    [pytest.param("waves", "showwaves=", id="waves"),
     pytest.param("freqs", "showfreqs=", id="freqs"),
     pytest.param("spectrum", "showspectrum=", id="spectrum")],
)  # fmt: skip
def test_without_cover_art_the_wave_goes_straight_onto_the_background(wave, drawn):
    graph = audiogram_graph(AudiogramSpec(wave=wave, background="#102030"), (1080, 1080),
                            5.0, None)  # fmt: skip
    assert "[1:v]" not in graph  # no second input is read
    assert graph.startswith("color=c=0x102030:s=1080x1080")
    assert drawn in graph
    assert graph.endswith("[bg][wave]overlay=x=54:y=594:shortest=1,format=yuv420p[v]")


@pytest.mark.unit
def test_the_encode_maps_the_graph_and_the_normalised_audio_only():
    args = audiogram_args("ffmpeg", Path("a.wav"), None, "G", 7.25, 20, "veryfast", "160k",
                          Path("o.mp4"))  # fmt: skip
    assert args[args.index("-i") + 1] == "a.wav"
    assert args.count("-i") == 1
    assert args[args.index("-filter_complex") + 1] == "G"
    assert [args[i + 1] for i, a in enumerate(args) if a == "-map"] == ["[v]", "0:a:0"]
    assert args[args.index("-t") + 1] == "7.250"


@pytest.mark.unit
@pytest.mark.parametrize(
    "kw",
    [pytest.param({"wave": "bars"}, id="unknown-wave"),
     pytest.param({"background": "0x12345"}, id="short-colour"),
     pytest.param({"background": "red:x=1"}, id="filter-injection"),
     pytest.param({"wave_colour": "#zzzzzz"}, id="not-hex")],
)  # fmt: skip
def test_what_ffmpeg_could_not_draw_is_refused_when_planned(kw):
    with pytest.raises(AudiogramError):
        AudiogramSpec(**kw)


@pytest.mark.unit
def test_the_spec_of_an_audiogram_round_trips_and_a_video_spec_keeps_its_shape():
    look = AudiogramSpec(cover=True, background="navy", wave="freqs")
    spec = RenderSpec(source_id="s", start=1.0, end=9.0, audiogram=look)
    assert RenderSpec.from_json(spec.to_json()) == spec
    plain = RenderSpec(source_id="s", start=1.0, end=9.0)
    assert "audiogram" not in plain.to_json()  # so the hash of a video clip did not change
    assert RenderSpec.from_json(plain.to_json()) == plain
    with pytest.raises(AudiogramError, match="positive duration"):
        audiogram_graph(look, (1080, 1920), 0.0, None)


# --- rendering (FFmpeg) ------------------------------------------------------------------
WORDS = [Word(0.5, 1.2, " And", 1.0), Word(1.2, 1.5, " so", 1.0), Word(1.5, 1.8, " my", 1.0),
         Word(1.8, 2.6, " fellow", 1.0), Word(2.6, 3.6, " Americans,", 1.0),
         Word(4.4, 4.8, " ask", 1.0), Word(4.8, 5.1, " not", 1.0)]  # fmt: skip


@pytest.mark.integration
@pytest.mark.parametrize(
    ("ext", "cover"),
    [pytest.param("flac", False, id="flac/no-cover"), pytest.param("mp3", True, id="mp3/cover"),
     pytest.param("m4a", True, id="m4a/cover")],
)  # fmt: skip
def test_an_audiogram_renders_with_cover_captions_and_loudness(tmp_path, ext, cover):
    src = episode(tmp_path / "in", ext, cover=cover)
    spec = RenderSpec(source_id="p" * 32, start=1.0, end=6.0, aspect="9:16",
                      audiogram=AudiogramSpec(cover=cover))  # fmt: skip
    ass = build_ass(WORDS, spec.start, spec.end, 1080, 1920)
    done = render_clip(spec, str(src), (0, 0), True, tmp_path / "out", ass)
    assert done.loudness is not None
    assert done.loudness.reached, done.loudness
    # its still, at 0 too, where FFmpeg hands out a cover only to a run that does not seek
    assert thumbnail("ffmpeg", done.video, spec.output_duration, 0.0,
                     tmp_path / "t.jpg").is_file()  # fmt: skip
    # clip times 1.0 and 2.0 are "fellow" and "Americans," (source 2.0 and 3.0)
    check_audiogram(done.video, cover=cover, spoken_at=[1.0, 2.0])


@pytest.mark.integration
def test_an_audiogram_has_no_captions_where_none_are_asked(tmp_path):
    src = episode(tmp_path / "in", "flac", cover=False)
    spec = RenderSpec(source_id="p" * 32, start=1.0, end=4.0, aspect="1:1", captions="none",
                      audiogram=AudiogramSpec())  # fmt: skip
    done = render_clip(spec, str(src), (0, 0), True, tmp_path / "out",
                       build_ass(WORDS, 1.0, 4.0, 1080, 1080))  # fmt: skip
    assert ink(caption_band(frame_rgb(done.video, 1.0, (1080, 1080))), BACKGROUND_RGB) < 0.001
    # the same spec renders the same bytes, as a video clip's does
    again = render_clip(spec, str(src), (0, 0), True, tmp_path / "again",
                        build_ass(WORDS, 1.0, 4.0, 1080, 1080))  # fmt: skip
    assert again.video.read_bytes() == done.video.read_bytes()


# --- planning a clip of an audio-only source (pure) ---------------------------------------
def _podcast_item(cover: bool):  # type: ignore[no-untyped-def]
    from clipray.pipelines.ingest import Ingested
    from clipray.pipelines.stages.decode import VideoInfo
    from clipray.storage.orm import Source, SourceOrigin

    info = VideoInfo(duration=11.0, fps=0.0, base_fps=0.0, width=0, height=0, has_audio=True,
                     n_frames=None, video_codec="", audio_codec="mp3", start_time=0.0,
                     container="mp3", has_video=False, has_cover=cover)  # fmt: skip
    source = Source(id="p" * 32, origin=SourceOrigin.LOCAL, origin_uri="/eps/ep.mp3",
                    storage_key="k", sha256="0" * 64, size_bytes=1, duration_s=11.0)  # fmt: skip
    return Ingested(source, info, created=False)


@pytest.mark.unit
@pytest.mark.parametrize("cover", [pytest.param(True, id="cover"), pytest.param(False, id="plain")])
def test_a_moment_of_an_audio_only_source_is_planned_as_an_audiogram(cover):
    from clipray.clips.select import Candidate
    from clipray.domain.analysis import Analysis, SourceInfo
    from clipray.pipelines.clipjob import RunOptions, plan_moment, planned_of, planned_row
    from clipray.schemas import Segment, Transcript

    words = tuple(WORDS)
    analysis = Analysis(SourceInfo("p" * 32, duration=11.0, has_video=False),
                        transcript=Transcript("en", "m", (Segment(0.5, 5.1, "".join(
                            w.word for w in words), words),)))  # fmt: skip
    moment = Candidate(id="m1", start=1.0, end=5.0, text="so my fellow Americans",
                       title="Americans", hashtags=(), score=0.5, reasons=())  # fmt: skip
    look = AudiogramSpec(background="navy", wave="freqs", cover=not cover)  # cover: the file's
    p = plan_moment(analysis, _podcast_item(cover), moment, RunOptions(aspect="1:1"), {}, look)
    assert p.spec.audiogram == AudiogramSpec(background="navy", wave="freqs", cover=cover)
    assert (p.spec.reframe_filter, p.spec.size) == (None, (1080, 1080))
    assert p.ass is not None
    assert "Americans" in p.ass
    assert 'width="1080"' in p.fcpxml  # the timeline has the canvas' frame
    row = planned_row(p, "p" * 32, "m1")
    assert planned_of(row).spec == p.spec  # what the render task reads back from the row
