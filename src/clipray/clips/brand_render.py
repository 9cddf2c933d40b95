"""The FFmpeg runs a brand kit adds to a render: the intro's and outro's sound, the join.

The picture of the kit is drawn in the clip's one encode (``clips/effects/brand.py``
writes the filters); its sound is prepared before it, as the clip's own is: each of the
intro and the outro is decoded to the clip's layout (48 kHz stereo float, silence where it
has no sound) for as long as its picture lasts and normalised to the clip's target, then
the three are joined and the whole normalised once more, so the joined file's loudness is
the target and the loudness pass stays the last word on the level.

    >>> parts = bumpers("ffmpeg", inputs, step, cfg, workdir)       # doctest: +SKIP
    >>> join_audio("ffmpeg", [parts[0].wav, clip_wav], out)          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

from clipray.clips.effects.brand import BrandInputs
from clipray.clips.effects.graph import Brand
from clipray.clips.loudness import LoudnessConfig, normalise
from clipray.media.ffmpeg import FfmpegError, check, ffprobe_json, run

LAYOUT = "aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo"
"""The clip's audio layout (``clips/loudness.py``'s extraction): what is joined must match."""


class BrandRenderError(FfmpegError):
    """An intro, an outro or a font of the kit could not be read or prepared."""

    code = "RENDER_FAILED"


@dataclass(frozen=True)
class Bumper:
    """An intro or outro ready to join: where FFmpeg reads its picture, how long it
    plays, and its sound normalised in the clip's layout."""

    url: str
    duration: float
    wav: Path


def font_family(path: Path) -> str:
    """The family name an uploaded font file declares (what libass matches it by)."""
    try:
        family, _ = ImageFont.truetype(str(path), 12).getname()
    except OSError as exc:
        raise BrandRenderError(f"the brand kit's font {path.name} cannot be read: {exc}",
                               code="BRAND_ASSET_UNREADABLE") from exc  # fmt: skip
    if not family:
        raise BrandRenderError(f"the brand kit's font {path.name} names no family",
                               code="BRAND_ASSET_UNREADABLE")  # fmt: skip
    return family


def _ffprobe(ffmpeg: str) -> str:
    """The ffprobe next to ``ffmpeg`` (the same build reads what it writes)."""
    p = Path(ffmpeg)
    return str(p.with_name(p.name.replace("ffmpeg", "ffprobe"))) if p.parent != Path() else (
        ffmpeg.replace("ffmpeg", "ffprobe"))  # fmt: skip


def probe(ffmpeg: str, url: str) -> tuple[float, bool]:
    """How long a bumper's picture plays (its video stream's duration, else the file's)
    and whether it has sound."""
    info = ffprobe_json(url, "-show_format", "-show_streams", ffprobe=_ffprobe(ffmpeg),
                        timeout=60, error=BrandRenderError)  # fmt: skip
    streams = info.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video"]
    if not video:
        raise BrandRenderError("the brand kit's intro or outro has no picture",
                               code="BRAND_ASSET_UNREADABLE")  # fmt: skip
    raw = video[0].get("duration") or info.get("format", {}).get("duration")
    try:
        duration = float(raw)
    except (TypeError, ValueError) as exc:
        raise BrandRenderError("the brand kit's intro or outro has no duration",
                               code="BRAND_ASSET_UNREADABLE") from exc  # fmt: skip
    return duration, any(s.get("codec_type") == "audio" for s in streams)


def bumper_audio_args(ffmpeg: str, url: str, duration: float, has_audio: bool,
                      out: Path) -> list[str]:  # fmt: skip
    """A bumper's sound in the clip's layout, exactly ``duration`` long (padded with
    silence, or all silence when it has none)."""
    head = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y"]
    if has_audio:
        src = ["-i", url, "-map", "0:a:0", "-af",
               f"{LAYOUT},apad,atrim=end={duration:.6f}"]  # fmt: skip
    else:
        src = ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-af",
               f"{LAYOUT},atrim=end={duration:.6f}"]  # fmt: skip
    return [*head, *src, "-c:a", "pcm_f32le", "-fflags", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", str(out)]  # fmt: skip


def bumpers(ffmpeg: str, inputs: BrandInputs, step: Brand, cfg: LoudnessConfig, workdir: Path,
            with_audio: bool = True) -> tuple[Bumper | None, Bumper | None]:  # fmt: skip
    """The step's intro and outro, probed, their sound decoded and normalised to ``cfg``
    (none prepared when the clip has no sound: the joined file has none either).

    Raises:
        BrandRenderError: a key the step holds has no resolved input, or FFmpeg failed."""
    out: list[Bumper | None] = []
    for kind, key, url in (("intro", step.intro_key, inputs.intro),
                           ("outro", step.outro_key, inputs.outro)):  # fmt: skip
        if key is None:
            out.append(None)
            continue
        if url is None:
            raise BrandRenderError(f"the brand kit's {kind} was not resolved to a file")
        duration, has_audio = probe(ffmpeg, url)
        wav = workdir / f"{kind}-normalised.wav"
        if with_audio:
            raw = workdir / f"{kind}.wav"
            check(run(bumper_audio_args(ffmpeg, url, duration, has_audio, raw)),
                  f"{kind} audio", BrandRenderError)  # fmt: skip
            normalise(ffmpeg, raw, wav, cfg)
        out.append(Bumper(url, duration, wav))
    return out[0], out[1]


def join_audio_args(ffmpeg: str, parts: list[Path], out: Path) -> list[str]:
    """``parts`` (WAVs in one layout) one after the other, by one ``concat``."""
    ins = [a for p in parts for a in ("-i", str(p))]
    graph = "".join(f"[{i}:a]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1"
    return [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", *ins,
            "-filter_complex", f"{graph}[a]", "-map", "[a]", "-c:a", "pcm_f32le",
            "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1",
            str(out)]  # fmt: skip


def join_audio(ffmpeg: str, parts: list[Path], out: Path) -> Path:
    check(run(join_audio_args(ffmpeg, parts, out)), "brand audio join", BrandRenderError)
    return out


__all__ = ["BrandRenderError", "Bumper", "bumper_audio_args", "bumpers", "font_family",
           "join_audio", "join_audio_args", "probe"]  # fmt: skip
