"""Rendering one clip with FFmpeg: reframe, burned-in captions, -14 LUFS, faststart MP4.

Every FFmpeg run takes an argument list (never a shell string):

1. the span's audio is decoded once and normalised to the target loudness, gain and (where
   the peaks need it) a true-peak limiter, each step measured (``clips/loudness.py``);
2. one encode crops along the reframe path, scales to the output size, burns the ``.ass``
   captions in with libass, and muxes the normalised audio as AAC;
3. the encoded clip's loudness is measured; a clip more than half the tolerance off the
   target gets its gain corrected and its audio encoded again (the video is copied).

A clip of an audio-only source is an audiogram instead (``clips/audiogram.py``): step 2
draws the canvas, the cover art, the animated sound and the captions in one encode, with
the same normalised audio, the same check of the encoded loudness after it.

A clip with an effects graph (``clips/effects/``: silence and filler cuts, zooms, a hook)
gets it in the same encode: the kept parts are selected on the frame grid after the
reframe, zooms drawn on the output frames, the hook drawn by libass with the captions;
the audio is cut the same way (with one-frame crossfades) before it is normalised, and
its audio step (censored words muted or bleeped, denoising, music ducked under the
speech, sound effects mixed in at their instants) runs on the cut audio in one FFmpeg
run, also before the normalisation, which so stays the last pass on the level. With
transitions the parts are joined by ``xfade`` (and their sound by an ``acrossfade`` as
long); B-roll inserts are extra inputs of the encode overlaid under the captions
(``clips/effects/cutaways.py``). Its brand step (``clips/effects/brand.py``) overlays
the kit's logo in the same encode, and joins the kit's intro and outro around the clip
with one ``concat``, their sound normalised with the clip's before the last loudness pass.

Every encode is reproducible: bit-exact flags, a fixed thread count and no varying
metadata, so the same spec on the same machine gives the same bytes. That holds for
libx264; ``CLIPRAY_RENDER_ENCODER`` may hand the video to NVENC instead
(``media/encoders.py``: ``auto`` where a GPU can encode), whose output differs between GPUs
and drivers. The encoder actually used is recorded beside the spec (:data:`ENCODER_RESULT`),
not in it, so it is not part of the hash that decides reuse (see there for why).

:func:`thumbnail` takes one still of a rendered clip (a stream clip's; a job's clips get
titled candidates, ``clips/thumb_render.py``). The :class:`RenderSpec` holds every parameter
and the tool versions, so the same spec renders the same output; how the loudness came out
(:class:`~clipray.clips.loudness.Normalised`) is stored next to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from clipray.clips.audio_run import audio_effects_args, cut_audio_args, resolved
from clipray.clips.audiogram import (
    AudiogramSpec,
    audiogram_args,
    audiogram_graph,
    cover_args,
    escape_filter_path,
)
from clipray.clips.brand_render import bumpers, font_family, join_audio
from clipray.clips.captions import emoji_fallback
from clipray.clips.effects.brand import (
    BrandInputs,
    audiogram_graph_branded,
    join_graph,
    subtitles_filter,
    video_graph,
    with_font,
)
from clipray.clips.effects.cutaways import broll_graph, broll_inputs, joined_filter
from clipray.clips.effects.graph import BaseCut, EffectsGraph
from clipray.clips.effects.zooms import zoom_filter
from clipray.clips.encoding import BITEXACT, RenderError
from clipray.clips.loudness import LoudnessConfig, Normalised, extract, measure, normalise
from clipray.media.encoders import X264, Choice, choose, video_args
from clipray.media.ffmpeg import check, run, run_ffmpeg, version

ASPECTS: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "16:9": (1920, 1080),
}


@dataclass(frozen=True)
class RenderSpec:
    """Everything that determines a rendered clip; stored with the clip."""

    source_id: str
    start: float
    end: float
    aspect: str = "9:16"
    reframe_filter: str | None = None
    """FFmpeg filters from source frames to output-size frames (the reframe path's crop
    moving over time, then scale); None: a centred crop of the target aspect."""
    captions: str = "highlight_word"
    crf: int = 20
    preset: str = "veryfast"
    audio_bitrate: str = "160k"
    loudness: LoudnessConfig = field(default_factory=LoudnessConfig)
    versions: dict[str, str] = field(default_factory=dict)
    """clipray, ffmpeg and model ids at render time."""
    audiogram: AudiogramSpec | None = None
    """Set for a clip of an audio-only source: drawn as an audiogram (no reframe)."""
    layout: str = "auto"
    """How the reframe framed faces (auto, speaker, split, wide): what a re-render keeps."""
    effects: EffectsGraph | None = None
    """The effects graph (cuts, zooms, hook); None: every step a passthrough."""
    emoji: bool = False
    """Emoji after the captions' dictionary words (``clips/emoji.py``)."""
    safe_area: str | None = None
    """The platform safe area the captions of a vertical clip are laid out in
    (``clips/safe_area.py``); None: the captions' plain margins (other aspects, no captions,
    or a clip rendered before safe areas)."""

    @property
    def size(self) -> tuple[int, int]:
        return ASPECTS[self.aspect]

    @property
    def duration(self) -> float:
        """The source span's length."""
        return self.end - self.start

    @property
    def output_duration(self) -> float:
        """The clip's length: the span, less what the base cut removes."""
        return self.effects.output_duration(self.duration) if self.effects else self.duration

    def to_json(self) -> dict[str, Any]:
        """The stored spec; ``audiogram`` only where set, so a video clip's spec (and its
        hash, which decides whether a render is reused) is what it was before audiograms;
        ``layout`` only where it is not the default ``auto``, and ``effects`` only where some
        step is not a passthrough, ``emoji`` and ``safe_area`` only where set, for the same
        reason."""
        data = asdict(self)
        if self.audiogram is None:
            del data["audiogram"]
        if self.layout == "auto":
            del data["layout"]
        del data["effects"]
        for name in ("emoji", "safe_area"):
            if not data[name]:
                del data[name]
        if self.effects is not None and self.effects.held:
            data["effects"] = self.effects.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderSpec:
        """The spec ``to_json`` wrote (a stored clip's ``render_spec``)."""
        fields = {k: v for k, v in data.items() if k not in RESULT_KEYS}
        fields["loudness"] = LoudnessConfig(**fields.get("loudness", {}))
        fields["versions"] = dict(fields.get("versions", {}))
        if fields.get("audiogram") is not None:
            fields["audiogram"] = AudiogramSpec.from_json(fields["audiogram"])
        if fields.get("effects") is not None:
            fields["effects"] = EffectsGraph.from_json(fields["effects"])
        return cls(**fields)


LOUDNESS_RESULT = "loudness_result"
"""The key of a stored spec (a clip's ``render_spec``) under which the render records how
its loudness came out (:meth:`Normalised.to_json`); not part of the spec itself."""

ENCODER_RESULT = "encoder"
"""The key of a stored spec under which the render records the H.264 encoder that made the
clip's bytes (``libx264`` or ``h264_nvenc``). Beside the spec, not in it, so not hashed:

* the hash is taken when the clip is planned, on the driver, which probes no GPU; ``auto``
  is resolved on the node that renders, so the encoder used is known only afterwards;
* the hash says what the clip shows (span, framing, captions, effects, tool versions), and
  either encoder shows that at the same quality target: a clip made on a GPU node is the
  answer for its spec on a CPU node too, not something to render again;
* only libx264 promises bytes (the same spec on the same machine, the same bytes); NVENC's
  differ between GPUs and drivers, so a hash of it would promise what it cannot. What a
  record of ``h264_nvenc`` tells a reader is that a re-render gives another encoding of the
  same clip; the byte-for-byte path is ``CLIPRAY_RENDER_ENCODER=libx264``."""

RESULT_KEYS = (LOUDNESS_RESULT, ENCODER_RESULT)
"""The keys of a stored spec that say how its render came out (not part of the spec)."""


def with_results(stored: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """A stored spec with one render's results in place of any earlier render's."""
    return {**{k: v for k, v in stored.items() if k not in RESULT_KEYS}, **results}


@dataclass(frozen=True)
class Rendered:
    video: Path
    loudness: Normalised | None
    """How the clip's audio was normalised, measured on the encoded clip; None without
    audio."""
    encoder: Choice = field(default_factory=lambda: Choice(X264, ""))
    """The H.264 encoder that made the video, and why it was chosen."""
    intro: float = 0.0
    """Seconds of a brand kit's intro before the clip itself (its stills are taken after)."""

    def results(self) -> dict[str, Any]:
        """What the stored spec records of this render (:func:`with_results`)."""
        out: dict[str, Any] = {ENCODER_RESULT: self.encoder.encoder}
        if self.loudness is not None:
            out[LOUDNESS_RESULT] = self.loudness.to_json()
        return out


def ffmpeg_version(ffmpeg: str = "ffmpeg") -> str:
    return version(ffmpeg).removeprefix("ffmpeg version ").split(" ", 1)[0]


def centred_crop(src_w: int, src_h: int, aspect: str) -> str:
    """The largest crop of ``aspect`` that fits the source, centred."""
    out_w, out_h = ASPECTS[aspect]
    if src_w * out_h > src_h * out_w:  # source is wider: full height
        w, h = round(src_h * out_w / out_h), src_h
    else:
        w, h = src_w, round(src_w * out_h / out_w)
    w, h = w - w % 2, h - h % 2
    return f"crop={w}:{h}:{(src_w - w) // 2}:{(src_h - h) // 2}"


def video_filter(spec: RenderSpec, src_w: int, src_h: int, ass: Path | None,
                 fonts: Path | None = None, first: int = 1) -> str:  # fmt: skip
    """The encode's video filters from the source's frames to the captioned clip: a ``-vf``
    chain, or with B-roll a ``-filter_complex`` whose output is ``[v]`` (the inserts are
    inputs ``first``, ``first + 1`` ...); ``fonts``: a directory libass also looks in (a
    brand kit's uploaded font)."""
    w, h = spec.size
    if spec.reframe_filter:
        chain = [spec.reframe_filter]
    else:
        chain = [
            centred_crop(src_w, src_h, spec.aspect),
            f"scale={w}:{h}",  # bicubic, as the reframe path: lanczos cost ~1/4 more
            "setsar=1",
        ]
    effects = spec.effects or EffectsGraph()
    if effects.base_cut is not None and effects.transitions is not None:
        chain += ["fps=30", joined_filter(effects.base_cut, effects.transitions)]
    elif effects.base_cut is not None:
        chain += ["fps=30", f"select='{keep_expr(effects.base_cut)}'", "setpts=N/30/TB"]
    if effects.zooms is not None and (zoom := zoom_filter(effects.zooms, (w, h))):
        # zoompan stamps one output frame per input frame at its own rate: feed it 30 fps
        chain += [*([] if effects.base_cut is not None else ["fps=30"]), zoom, "setsar=1"]
    top = [subtitles_filter(ass, fonts)] if ass is not None else []
    top.append("format=yuv420p")
    if effects.broll is not None:  # under the captions and the hook
        return broll_graph(",".join(chain), effects.broll, (w, h), ",".join(top), first)
    return ",".join(chain + top)


def keep_expr(cut: BaseCut) -> str:
    """A ``select`` expression for the frames of the kept parts (30 fps, on the grid);
    each part but the last ends a crossfade early, as its audio overlaps the next."""
    last = len(cut.keep) - 1
    eps = 0.5 / 30
    return "+".join(
        f"between(t,{a - eps:.4f},{(b if i == last else b - cut.crossfade) - eps:.4f})"
        for i, (a, b) in enumerate(cut.keep)
    )


def encode_args(
    ffmpeg: str, source: str, spec: RenderSpec, vf: str, audio: Path | None, out: Path,
    inputs: Sequence[str] = (),
    encoder: str = X264,
) -> list[str]:
    """The encode: video from the source span by ``encoder`` (``libx264`` or
    ``h264_nvenc``), audio (when any) the normalised WAV (input 1). ``inputs``: the options
    of more inputs (B-roll inserts, a brand kit's logo, intro and outro), numbered after
    those; ``vf`` is then a graph over them all whose output is ``[v]``."""
    args = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-ss", f"{spec.start:.3f}", "-t", f"{spec.duration:.3f}", "-i", source]  # fmt: skip
    if audio is not None:
        args += ["-i", str(audio)]
    video = ["-map", "0:v:0", "-vf", vf]
    if vf.startswith("["):
        video = ["-filter_complex", vf, "-map", "[v]"]
    args += [*inputs, *video, *video_args(encoder, spec.crf, spec.preset), "-r", "30"]
    if audio is not None:
        args += ["-map", "1:a:0", "-c:a", "aac", "-b:a", spec.audio_bitrate]
    return [*args, *BITEXACT, "-movflags", "+faststart", str(out)]


def remux_audio_args(ffmpeg: str, clip: Path, audio: Path, bitrate: str, out: Path) -> list[str]:
    """``clip``'s video copied, with ``audio`` encoded again in its place."""
    return [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(clip),
            "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
            "-c:a", "aac", "-b:a", bitrate, *BITEXACT, "-movflags", "+faststart",
            str(out)]  # fmt: skip


def render_clip(
    spec: RenderSpec,
    source: str,
    src_size: tuple[int, int],
    has_audio: bool,
    workdir: Path,
    ass_text: str | None = None,
    ffmpeg: str = "ffmpeg",
    music: str | None = None,
    media: Mapping[str, str] | None = None,
    brand: BrandInputs | None = None,
    encoder: str = "auto",
) -> Rendered:
    """Render ``spec`` from ``source`` (a path or URL FFmpeg can read) into ``workdir``;
    ``music``: where FFmpeg reads the audio step's music track (a path or URL); ``media``:
    where it reads each B-roll and sound effect, by object key; ``brand``: where it reads
    the brand step's assets (``clips/effects/brand.py``); ``encoder``:
    ``CLIPRAY_RENDER_ENCODER`` (``auto``, ``libx264`` or ``h264_nvenc``), chosen before
    anything is written.

    Raises:
        EncoderUnavailable: ``h264_nvenc`` asked for where NVENC cannot encode.
        RenderError: FFmpeg failed.
    """
    chosen = choose(encoder, ffmpeg)
    workdir.mkdir(parents=True, exist_ok=True)
    ass, fonts = None, None
    hook = spec.effects is not None and spec.effects.hook is not None
    kit = spec.effects.brand if spec.effects is not None else None
    inputs = brand or BrandInputs()
    if kit is not None and kit.font_key is not None and ass_text is not None:
        if inputs.font is None:
            raise RenderError("the brand kit's font was not resolved to a file")
        ass_text, fonts = with_font(ass_text, font_family(inputs.font)), inputs.font.parent
    intro, outro = (None, None) if kit is None else bumpers(
        ffmpeg, inputs, kit, spec.loudness, workdir, with_audio=has_audio)
    if ass_text is not None and (spec.captions != "none" or hook):
        ass = workdir / "captions.ass"
        ass.write_text(emoji_fallback(ass_text), encoding="utf-8")
    norm, wav, raw = None, None, None
    if has_audio:
        raw = workdir / "audio.wav"
        cut = spec.effects.base_cut if spec.effects else None
        step = spec.effects.audio if spec.effects else None
        sfx = spec.effects.sfx if spec.effects else None
        fx = audio_effects_args(ffmpeg, workdir / "audio-cut.wav", step, raw,
                                music, sfx, media) if step or sfx else None  # fmt: skip
        got = raw if fx is None else workdir / "audio-cut.wav"
        if cut is None:
            extract(ffmpeg, source, spec.start, spec.duration, got)
        else:
            span = extract(ffmpeg, source, spec.start, spec.duration, workdir / "span.wav")
            check(run(cut_audio_args(ffmpeg, span, cut, got)), "audio cut", RenderError)
        if fx is not None:
            check(run(fx), "audio effects", RenderError)
        if intro is not None or outro is not None:  # each part at the target, then the whole
            body = workdir / "clip-normalised.wav"
            normalise(ffmpeg, raw, body, spec.loudness)
            parts = [*([intro.wav] if intro else []), body, *([outro.wav] if outro else [])]
            raw = join_audio(ffmpeg, parts, workdir / "audio-joined.wav")
        wav = workdir / "audio-normalised.wav"
        norm = normalise(ffmpeg, raw, wav, spec.loudness)
    video = workdir / "clip.mp4"
    joined = (intro and (intro.url, intro.duration), outro and (outro.url, outro.duration))
    if spec.audiogram is not None:
        if wav is None:
            raise RenderError("an audiogram needs the source's sound, and it has none")
        _audiogram(ffmpeg, spec, spec.audiogram, source, wav, ass, workdir, video, inputs,
                   fonts, joined, chosen.encoder)  # fmt: skip
    else:
        first = 2 if wav is not None else 1
        broll = spec.effects.broll if spec.effects else None
        cutaways = [a for options in broll_inputs(broll, {
            i.key: resolved(media, i.key, "B-roll") for i in broll.inserts}) for a in options
        ] if broll else []  # fmt: skip
        vf = video_filter(spec, *src_size, ass, fonts, first)
        try:
            vf, extra = video_graph(vf, kit, spec.size, inputs, joined,
                                    first + cutaways.count("-i"))  # fmt: skip
        except ValueError as exc:
            raise RenderError(str(exc)) from exc
        check(run(encode_args(ffmpeg, source, spec, vf, wav, video, [*cutaways, *extra],
                              chosen.encoder)), "encode", RenderError)  # fmt: skip
    if norm is not None and wav is not None and raw is not None:
        norm = _verify(ffmpeg, spec, video, workdir, norm, raw)
    return Rendered(video, norm, chosen, intro.duration if intro is not None else 0.0)


def thumbnail(ffmpeg: str, video: Path, length: float, at: float | None, out: Path) -> Path:
    """One still of a rendered clip ``length`` seconds long, at ``at`` (its middle when
    None), kept inside the clip."""
    at = min(max(at if at is not None else length / 2, 0.0), max(length - 0.1, 0.0))
    return still(ffmpeg, str(video), at, out)


def _audiogram(ffmpeg: str, spec: RenderSpec, look: AudiogramSpec, source: str, wav: Path,
               ass: Path | None, workdir: Path, out: Path, brand: BrandInputs,
               fonts: Path | None,
               joined: tuple[tuple[str, float] | None, tuple[str, float] | None],
               encoder: str) -> None:  # fmt: skip
    """Draw the audiogram of ``spec`` in one encode (after a one-frame extraction of the
    cover art, when it has one), with the brand kit's background picture and logo, and its
    intro and outro (``(url, seconds)``) joined around it: ``wav`` is then the joined
    sound, whose clip part the wave is drawn from."""
    cover = None
    if look.cover:
        cover = workdir / "cover.png"
        check(run(cover_args(ffmpeg, source, cover)), "cover art extraction", RenderError)
    graph = audiogram_graph(look, spec.size, spec.duration, ass)
    if fonts is not None and ass is not None:
        graph = graph.replace(f"subtitles=filename={escape_filter_path(ass)}",
                              subtitles_filter(ass, fonts))  # fmt: skip
    kit = spec.effects.brand if spec.effects is not None else None
    try:
        graph, extra = audiogram_graph_branded(graph, kit, spec.size, brand,
                                               2 if cover is not None else 1)  # fmt: skip
    except ValueError as exc:
        raise RenderError(str(exc)) from exc
    lead, tail = (b[1] if b is not None else 0.0 for b in joined)
    if lead or tail:
        graph = graph.replace("[0:a]", f"[0:a]atrim=start={lead:.6f}:duration="
                              f"{spec.duration:.6f},asetpts=PTS-STARTPTS,", 1)  # fmt: skip
        graph, more = join_graph(graph, spec.size, joined, (2 if cover else 1) + len(extra) // 2)
        extra += more
    args = audiogram_args(ffmpeg, wav, cover, graph, lead + spec.duration + tail, spec.crf,
                          spec.preset, spec.audio_bitrate, out, encoder, BITEXACT)  # fmt: skip
    at = args.index("-filter_complex")
    args[at:at] = extra
    check(run(args), "audiogram encode", RenderError)


def _verify(ffmpeg: str, spec: RenderSpec, video: Path, workdir: Path,
            norm: Normalised, raw: Path) -> Normalised:  # fmt: skip
    """Measure the encoded clip; when the encoder moved it more than half the tolerance off
    the target and the normalisation had reached it, aim the gain that much the other way
    and encode the audio again. Returns the record with the clip's own measurement."""
    cfg = spec.loudness
    got = measure(ffmpeg, video)
    drift = got.integrated - norm.output_i
    if norm.reached and abs(got.integrated - cfg.integrated) > cfg.tolerance_lu / 2:
        wav = workdir / "audio-normalised.wav"
        norm = normalise(ffmpeg, raw, wav, cfg, nudge_db=-drift)
        fixed = workdir / "clip-corrected.mp4"
        check(run(remux_audio_args(ffmpeg, video, wav, spec.audio_bitrate, fixed)),
              "audio re-encode", RenderError)  # fmt: skip
        fixed.replace(video)
        got = measure(ffmpeg, video)
    reached = norm.reached and abs(got.integrated - cfg.integrated) <= cfg.tolerance_lu
    note = norm.note
    if norm.reached and not reached:
        note = f"the encoded clip measures {got.integrated:.1f} LUFS"
    return replace(norm, output_i=got.integrated, output_tp=got.true_peak, reached=reached,
                   note=note)  # fmt: skip


def still(ffmpeg: str, source: str, at: float, out: Path, width: int | None = None) -> Path:
    """One frame of ``source`` (a path or URL) at ``at`` seconds as a JPEG, scaled to
    ``width`` (height kept in proportion, even) when given.

    At 0 the input is not seeked at all: FFmpeg hands out an audio file's cover art (an
    attached picture) only to a run that does not seek."""
    scale = ["-vf", f"scale={width}:-2"] if width else []
    seek = ["-ss", f"{at:.3f}"] if at > 0 else []
    run_ffmpeg(["-y", *seek, "-i", source, "-frames:v", "1", *scale, "-q:v", "3", "-update", "1",
                str(out)], ffmpeg=ffmpeg, what="thumbnail", error=RenderError)  # fmt: skip
    if not out.is_file():
        raise RenderError(f"thumbnail failed: ffmpeg wrote no {out.name}")
    return out
