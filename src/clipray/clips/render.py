"""Rendering one clip with FFmpeg: reframe, burned-in captions, -14 LUFS, faststart MP4.

Two FFmpeg runs per clip, both with argument lists (never a shell string):

1. loudnorm's measuring pass over the clip's audio (EBU R128 integrated loudness, true
   peak, range);
2. one encode that crops along the reframe path, scales to the output size, burns the
   ``.ass`` captions in with libass, and applies loudnorm's second, linear pass with the
   measured values, so the clip lands at -14 LUFS integrated without pumping.

A thumbnail is taken from the rendered clip. The :class:`RenderSpec` holds every parameter
and the tool versions, so the same spec renders the same output.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clipray.media.ffmpeg import FfmpegError, check, run, run_ffmpeg, tail, version

ASPECTS: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "16:9": (1920, 1080),
}


class RenderError(FfmpegError):
    """FFmpeg failed; the message carries the end of its log."""

    code = "RENDER_FAILED"


@dataclass(frozen=True)
class LoudnessConfig:
    integrated: float = -14.0
    """Target integrated loudness, LUFS (what the short-video platforms normalise to)."""
    true_peak: float = -1.5
    """Ceiling in dBTP: leaves headroom for the platforms' lossy re-encode."""
    lra: float = 11.0
    """Target loudness range, LU."""


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

    @property
    def size(self) -> tuple[int, int]:
        return ASPECTS[self.aspect]

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderSpec:
        """The spec ``to_json`` wrote (a stored clip's ``render_spec``)."""
        fields = dict(data)
        fields["loudness"] = LoudnessConfig(**fields.get("loudness", {}))
        fields["versions"] = dict(fields.get("versions", {}))
        return cls(**fields)


@dataclass(frozen=True)
class Rendered:
    video: Path
    thumbnail: Path
    measured: dict[str, float]
    """loudnorm's first-pass measurement of the clip's audio."""


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


def _escape_filter_path(path: Path) -> str:
    """A file path as an FFmpeg filter option value (``:``, ``\\`` and quotes escaped)."""
    return re.sub(r"([\\:'\[\],;])", r"\\\1", str(path))


def video_filter(spec: RenderSpec, src_w: int, src_h: int, ass: Path | None) -> str:
    w, h = spec.size
    if spec.reframe_filter:
        chain = [spec.reframe_filter]
    else:
        chain = [
            centred_crop(src_w, src_h, spec.aspect),
            f"scale={w}:{h}:flags=lanczos",
            "setsar=1",
        ]
    if ass is not None:
        chain.append(f"subtitles=filename={_escape_filter_path(ass)}")
    chain.append("format=yuv420p")
    return ",".join(chain)


def measure_args(ffmpeg: str, source: str, spec: RenderSpec) -> list[str]:
    ln = spec.loudness
    return [
        ffmpeg, "-nostdin", "-hide_banner",
        "-ss", f"{spec.start:.3f}", "-t", f"{spec.duration:.3f}", "-i", source, "-vn", "-af",
        f"loudnorm=I={ln.integrated}:TP={ln.true_peak}:LRA={ln.lra}:print_format=json",
        "-f", "null", "-",
    ]  # fmt: skip


def parse_loudnorm(log: str) -> dict[str, float]:
    """The JSON block loudnorm prints at the end of its measuring pass."""
    match = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", log, re.S)
    if not match:
        raise RenderError(f"loudnorm printed no measurement: {tail(log)}")
    return {k: float(v) for k, v in json.loads(match.group(0)).items() if k != "normalization_type"}


def encode_args(
    ffmpeg: str, source: str, spec: RenderSpec, vf: str, measured: dict[str, float] | None,
    out: Path,
) -> list[str]:  # fmt: skip
    ln = spec.loudness
    args = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-ss", f"{spec.start:.3f}", "-t", f"{spec.duration:.3f}", "-i", source,
            "-map", "0:v:0", "-vf", vf,
            "-c:v", "libx264", "-preset", spec.preset, "-crf", str(spec.crf),
            "-profile:v", "high", "-r", "30"]  # fmt: skip
    if measured is not None:
        af = (
            f"loudnorm=I={ln.integrated}:TP={ln.true_peak}:LRA={ln.lra}"
            f":measured_I={measured['input_i']}:measured_TP={measured['input_tp']}"
            f":measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}"
            f":offset={measured['target_offset']}:linear=true,aresample=48000,"
            "aformat=sample_fmts=fltp:channel_layouts=stereo"
        )
        args += ["-map", "0:a:0", "-af", af, "-c:a", "aac", "-b:a", spec.audio_bitrate]
    return [*args, "-movflags", "+faststart", str(out)]


def render_clip(
    spec: RenderSpec,
    source: str,
    src_size: tuple[int, int],
    has_audio: bool,
    workdir: Path,
    ass_text: str | None = None,
    thumbnail_at: float | None = None,
    ffmpeg: str = "ffmpeg",
) -> Rendered:
    """Render ``spec`` from ``source`` (a path or URL FFmpeg can read) into ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    ass = None
    if ass_text is not None and spec.captions != "none":
        ass = workdir / "captions.ass"
        ass.write_text(ass_text, encoding="utf-8")
    measured = None
    if has_audio:
        proc = check(run(measure_args(ffmpeg, source, spec)), "loudness measurement",
                     RenderError)  # fmt: skip
        measured = parse_loudnorm(proc.stderr)
    video = workdir / "clip.mp4"
    vf = video_filter(spec, *src_size, ass)
    check(run(encode_args(ffmpeg, source, spec, vf, measured, video)), "encode", RenderError)
    thumb = workdir / "thumbnail.jpg"
    at = min(max(thumbnail_at if thumbnail_at is not None else spec.duration / 2, 0.0),
             max(spec.duration - 0.1, 0.0))  # fmt: skip
    still(ffmpeg, str(video), at, thumb)
    return Rendered(video, thumb, measured or {})


def still(ffmpeg: str, source: str, at: float, out: Path, width: int | None = None) -> Path:
    """One frame of ``source`` (a path or URL) at ``at`` seconds as a JPEG, scaled to
    ``width`` (height kept in proportion, even) when given."""
    scale = ["-vf", f"scale={width}:-2"] if width else []
    run_ffmpeg(["-y", "-ss", f"{at:.3f}", "-i", source, "-frames:v", "1", *scale, "-q:v", "3",
                str(out)], ffmpeg=ffmpeg, what="thumbnail", error=RenderError)  # fmt: skip
    if not out.is_file():
        raise RenderError(f"thumbnail failed: ffmpeg wrote no {out.name}")
    return out
