"""The clip's sound before its loudness pass: the kept parts of the span joined by
crossfades (a base cut), then the audio step (censor, denoise, music) and the sound effects
in one FFmpeg run. ``clips/render.py`` runs them; each returns an argument list."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from clipray.clips.effects.audio import audio_filter, music_graph, sfx_graph, sfx_keys
from clipray.clips.effects.graph import Audio, BaseCut, Sfx
from clipray.clips.encoding import BITEXACT, RenderError


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


def audio_effects_args(ffmpeg: str, wav: Path, step: Audio | None, out: Path,
                       music: str | None = None, sfx: Sfx | None = None,
                       media: Mapping[str, str] | None = None) -> list[str] | None:  # fmt: skip
    """The audio step over ``wav`` (the clip's audio, cut), with ``music`` (where FFmpeg
    reads the step's music: a path or URL) looped under it and ``sfx``'s sounds (read
    where ``media`` maps their keys) mixed in; None: a passthrough."""
    head = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(wav)]
    tail = ["-c:a", "pcm_f32le", *BITEXACT, str(out)]
    inputs: list[str] = []
    graph, clip = [], "[0:a]"
    if step is not None and step.music is not None:
        if music is None:
            raise RenderError("the clip's music track was not resolved to a file")
        inputs += ["-stream_loop", "-1", "-i", music]
        graph, clip = [music_graph(step, "mixed" if sfx else "out")], "[mixed]"
    chain = audio_filter(step) if step is not None and step.music is None else None
    if sfx is None:
        if graph:
            return [*head, *inputs, "-filter_complex", graph[0], "-map", "[out]", *tail]
        return None if chain is None else [*head, "-af", chain, *tail]
    if chain is not None:
        graph, clip = [f"[0:a]{chain}[speech]"], "[speech]"
    for key in sfx_keys(sfx):
        inputs += ["-i", resolved(media, key, "sound effect")]
    graph.append(sfx_graph(sfx, clip, 1 + (1 if step is not None and step.music else 0)))
    return [*head, *inputs, "-filter_complex", ";".join(graph), "-map", "[out]", *tail]


def resolved(media: Mapping[str, str] | None, key: str, what: str) -> str:
    """Where FFmpeg reads the object ``key`` (the render task resolved it)."""
    if media is None or key not in media:
        raise RenderError(f"the clip's {what} {key!r} was not resolved to a file")
    return media[key]
