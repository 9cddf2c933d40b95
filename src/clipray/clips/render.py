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
speech) runs on the cut audio in one FFmpeg run, also before the normalisation, which so
stays the last pass on the level.

Every encode is reproducible: bit-exact flags, a fixed thread count and no varying
metadata, so the same spec on the same machine gives the same bytes.

:func:`thumbnail` takes one still of a rendered clip (a stream clip's; a job's clips get
titled candidates, ``clips/thumb_render.py``). The :class:`RenderSpec` holds every parameter
and the tool versions, so the same spec renders the same output; how the loudness came out
(:class:`~clipray.clips.loudness.Normalised`) is stored next to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from clipray.clips.audiogram import (
    AudiogramSpec,
    audiogram_args,
    audiogram_graph,
    cover_args,
    escape_filter_path,
)
from clipray.clips.captions import emoji_fallback
from clipray.clips.effects.audio import audio_filter, music_graph
from clipray.clips.effects.graph import Audio, BaseCut, EffectsGraph
from clipray.clips.effects.zooms import zoom_filter
from clipray.clips.loudness import LoudnessConfig, Normalised, extract, measure, normalise
from clipray.media.ffmpeg import FfmpegError, check, run, run_ffmpeg, version

ASPECTS: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "16:9": (1920, 1080),
}


THREADS = 4
"""Encoder threads, fixed: x264's output depends on its thread count, so a fixed count is
what makes the same spec give the same bytes on any machine size (4 keeps a 1080x1920
encode near full speed on the render workers' CPU budget)."""

BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", "-threads", str(THREADS)]  # fmt: skip
"""Output options of every encode: no encoder version strings, no copied metadata, the
fixed thread count."""


class RenderError(FfmpegError):
    """FFmpeg failed; the message carries the end of its log."""

    code = "RENDER_FAILED"


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
        fields = {k: v for k, v in data.items() if k != LOUDNESS_RESULT}
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


@dataclass(frozen=True)
class Rendered:
    video: Path
    loudness: Normalised | None
    """How the clip's audio was normalised, measured on the encoded clip; None without
    audio."""


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


def video_filter(spec: RenderSpec, src_w: int, src_h: int, ass: Path | None) -> str:
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
    if effects.base_cut is not None:
        chain += ["fps=30", f"select='{keep_expr(effects.base_cut)}'", "setpts=N/30/TB"]
    if effects.zooms is not None and (zoom := zoom_filter(effects.zooms, (w, h))):
        # zoompan stamps one output frame per input frame at its own rate: feed it 30 fps
        chain += [*([] if effects.base_cut is not None else ["fps=30"]), zoom, "setsar=1"]
    if ass is not None:
        chain.append(f"subtitles=filename={escape_filter_path(ass)}")
    chain.append("format=yuv420p")
    return ",".join(chain)


def keep_expr(cut: BaseCut) -> str:
    """A ``select`` expression for the frames of the kept parts (30 fps, on the grid);
    each part but the last ends a crossfade early, as its audio overlaps the next."""
    last = len(cut.keep) - 1
    eps = 0.5 / 30
    return "+".join(
        f"between(t,{a - eps:.4f},{(b if i == last else b - cut.crossfade) - eps:.4f})"
        for i, (a, b) in enumerate(cut.keep)
    )


def cut_audio_args(ffmpeg: str, wav: Path, cut: BaseCut, out: Path) -> list[str]:
    """The kept parts of ``wav`` (the span's audio) joined by crossfades of one frame."""
    n = len(cut.keep)
    parts = [f"[0:a]asplit={n}" + "".join(f"[s{i}]" for i in range(n))] if n > 1 else []
    src = [f"[s{i}]" for i in range(n)] if n > 1 else ["[0:a]"]
    for i, (a, b) in enumerate(cut.keep):
        parts.append(f"{src[i]}atrim=start={a:.6f}:end={b:.6f},asetpts=PTS-STARTPTS[p{i}]")
    last = "[p0]"
    for i in range(1, n):
        parts.append(f"{last}[p{i}]acrossfade=d={cut.crossfade:.6f}:c1=tri:c2=tri[x{i}]")
        last = f"[x{i}]"
    return [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(wav),
            "-filter_complex", ";".join(parts), "-map", last, "-c:a", "pcm_f32le",
            *BITEXACT, str(out)]  # fmt: skip


def audio_effects_args(ffmpeg: str, wav: Path, step: Audio, out: Path,
                       music: str | None = None) -> list[str] | None:  # fmt: skip
    """The audio step over ``wav`` (the clip's audio, cut), with ``music`` (where FFmpeg
    reads the step's music: a path or URL) looped under it; None: a passthrough."""
    head = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(wav)]
    tail = ["-c:a", "pcm_f32le", *BITEXACT, str(out)]
    if step.music is not None:
        if music is None:
            raise RenderError("the clip's music track was not resolved to a file")
        return [*head, "-stream_loop", "-1", "-i", music, "-filter_complex", music_graph(step),
                "-map", "[out]", *tail]  # fmt: skip
    chain = audio_filter(step)
    return None if chain is None else [*head, "-af", chain, *tail]


def encode_args(
    ffmpeg: str, source: str, spec: RenderSpec, vf: str, audio: Path | None, out: Path
) -> list[str]:
    """The encode: video from the source span, audio (when any) the normalised WAV."""
    args = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-ss", f"{spec.start:.3f}", "-t", f"{spec.duration:.3f}", "-i", source]  # fmt: skip
    if audio is not None:
        args += ["-i", str(audio)]
    args += ["-map", "0:v:0", "-vf", vf,
             "-c:v", "libx264", "-preset", spec.preset, "-crf", str(spec.crf),
             "-profile:v", "high", "-r", "30"]  # fmt: skip
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
) -> Rendered:
    """Render ``spec`` from ``source`` (a path or URL FFmpeg can read) into ``workdir``;
    ``music``: where FFmpeg reads the audio step's music track (a path or URL)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ass = None
    hook = spec.effects is not None and spec.effects.hook is not None
    if ass_text is not None and (spec.captions != "none" or hook):
        ass = workdir / "captions.ass"
        ass.write_text(emoji_fallback(ass_text), encoding="utf-8")
    norm, wav = None, None
    if has_audio:
        raw = workdir / "audio.wav"
        cut = spec.effects.base_cut if spec.effects else None
        step = spec.effects.audio if spec.effects else None
        fx = audio_effects_args(ffmpeg, workdir / "audio-cut.wav", step, raw,
                                music) if step else None  # fmt: skip
        got = raw if fx is None else workdir / "audio-cut.wav"
        if cut is None:
            extract(ffmpeg, source, spec.start, spec.duration, got)
        else:
            span = extract(ffmpeg, source, spec.start, spec.duration, workdir / "span.wav")
            check(run(cut_audio_args(ffmpeg, span, cut, got)), "audio cut", RenderError)
        if fx is not None:
            check(run(fx), "audio effects", RenderError)
        wav = workdir / "audio-normalised.wav"
        norm = normalise(ffmpeg, raw, wav, spec.loudness)
    video = workdir / "clip.mp4"
    if spec.audiogram is not None:
        if wav is None:
            raise RenderError("an audiogram needs the source's sound, and it has none")
        _audiogram(ffmpeg, spec, spec.audiogram, source, wav, ass, workdir, video)
    else:
        vf = video_filter(spec, *src_size, ass)
        check(run(encode_args(ffmpeg, source, spec, vf, wav, video)), "encode", RenderError)
    if norm is not None and wav is not None:
        norm = _verify(ffmpeg, spec, video, workdir, norm)
    return Rendered(video, norm)


def thumbnail(ffmpeg: str, video: Path, length: float, at: float | None, out: Path) -> Path:
    """One still of a rendered clip ``length`` seconds long, at ``at`` (its middle when
    None), kept inside the clip."""
    at = min(max(at if at is not None else length / 2, 0.0), max(length - 0.1, 0.0))
    return still(ffmpeg, str(video), at, out)


def _audiogram(ffmpeg: str, spec: RenderSpec, look: AudiogramSpec, source: str, wav: Path,
               ass: Path | None, workdir: Path, out: Path) -> None:  # fmt: skip
    """Draw the audiogram of ``spec`` in one encode (after a one-frame extraction of the
    cover art, when it has one)."""
    cover = None
    if look.cover:
        cover = workdir / "cover.png"
        check(run(cover_args(ffmpeg, source, cover)), "cover art extraction", RenderError)
    graph = audiogram_graph(look, spec.size, spec.duration, ass)
    args = audiogram_args(ffmpeg, wav, cover, graph, spec.duration, spec.crf, spec.preset,
                          spec.audio_bitrate, out)  # fmt: skip
    check(run(args), "audiogram encode", RenderError)


def _verify(ffmpeg: str, spec: RenderSpec, video: Path, workdir: Path,
            norm: Normalised) -> Normalised:  # fmt: skip
    """Measure the encoded clip; when the encoder moved it more than half the tolerance off
    the target and the normalisation had reached it, aim the gain that much the other way
    and encode the audio again. Returns the record with the clip's own measurement."""
    cfg = spec.loudness
    got = measure(ffmpeg, video)
    drift = got.integrated - norm.output_i
    if norm.reached and abs(got.integrated - cfg.integrated) > cfg.tolerance_lu / 2:
        raw, wav = workdir / "audio.wav", workdir / "audio-normalised.wav"
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
