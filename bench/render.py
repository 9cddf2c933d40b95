"""Render throughput: clipray's clip render against one plain FFmpeg re-encode of the spans.

    python bench/render.py [VIDEO] [--clips 3] [--seconds 20] [--audio AUDIO] [--encoder]

Renders ``--clips`` spans of ``--seconds`` each with clipray, twice: a **plain** clip
(centred crop to 1080x1920, captions burned in, loudness normalised to -14 LUFS,
thumbnail) and a **full-graph** clip (the same, plus filler and pause removal, zooms on
emphasis and a hook). Side by side in the same process it re-encodes the same spans with
a plain ``ffmpeg -ss -t -i VIDEO -vf scale=1080:1920 -r 30 -c:v libx264 -c:a aac`` at the
same size, frame rate, preset and CRF as the baseline (clipray delivers 30 fps, the
platforms' rate and the effects graph's frame grid, so the baseline makes as many frames).
Where the plain clip's time goes is printed too: the video encode alone (clipray's filter
chain, no audio), and the rest (audio extraction, the two loudness passes, the check of
the encoded clip).
Prints clips rendered per minute, render seconds per output second, and the ratios.

An **audiogram** row renders the same number of spans of an audio-only file (``--audio``,
LJSpeech by default: speech without a picture) as audiograms (the wave, the captions, the
loudness passes), against the same span's sound over a still canvas of the audiogram's own
background colour at the same size, preset and CRF (``ffmpeg -f lavfi -i color=... -i
AUDIO``). That baseline is the least any tool pays to make a 1080x1920 video of that sound:
frames that do not change, plus the AAC encode; it was chosen over a re-encode of some
video because the audiogram has no source picture to decode, and over a still of cover art
because the audiogram here has none (the colour is what it draws behind the wave).

These rows all encode with libx264, as the baseline does. ``--encoder`` adds the plain clip
and its video encode alone with ``h264_nvenc`` beside libx264 (with the bitrate each gives
at the same CRF/CQ), where the NVENC probe (``media/encoders.py``) finds it usable; where
not, it prints ``nvenc: unavailable (reason)``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clipray.clips.audiogram import AudiogramSpec
from clipray.clips.captions import CaptionConfig, build_ass, hook_event
from clipray.clips.effects.fillers import FillerConfig, plan_cut, retime
from clipray.clips.effects.graph import EffectsGraph, Hook
from clipray.clips.effects.zooms import plan_zooms
from clipray.clips.render import ASPECTS, RenderSpec, encode_args, render_clip, video_filter
from clipray.media.encoders import NVENC, X264, probe_nvenc
from clipray.pipelines.stages.decode import probe
from clipray.schemas import Word

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
DEFAULT = MEDIA / "talking_head" / "liveportrait" / "d6.mp4"
AUDIO = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032.flac"


def _words(start: float, end: float) -> list[Word]:
    """Two words a second over the span, an "um" every fourth and a 1.5 s pause every
    eighth: enough caption events to cost what real ones do, and fillers to cut."""
    words, t, k = [], start, 0
    while t + 0.4 < end:
        words.append(Word(t, t + 0.4, " um" if k % 4 == 3 else " word", 1.0))
        t += 2.0 if k % 8 == 7 else 0.5
        k += 1
    return words


def _full(spec: RenderSpec, words: list[Word]) -> tuple[RenderSpec, str]:
    """``spec`` with the whole graph (cut, zooms, hook) and its captions."""
    w, h = spec.size
    cut = plan_cut(words, spec.start, spec.end, FillerConfig())
    kept = retime(words, spec.start, cut)
    length = cut.duration if cut else spec.duration
    zooms = plan_zooms([k.start for k in kept[::6]], length, "smooth",
                       lambda t: (0.35, 0.25, 0.65, 0.5))  # fmt: skip
    hook = Hook("A hook over the first seconds", 3.0)
    steps = tuple(s for s in (cut, zooms, hook) if s is not None)
    full = RenderSpec(**{**spec.__dict__, "effects": EffectsGraph(steps)})
    ass = build_ass(kept, 0.0, length, w, h, CaptionConfig())
    return full, ass + hook_event(hook.text, hook.duration, w, h, CaptionConfig())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("video", nargs="?", default=str(DEFAULT))
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--audio", default=str(AUDIO), help="audio-only file of the audiogram row")
    parser.add_argument("--encoder", action="store_true",
                        help="also bench h264_nvenc beside libx264 (where it probes usable)")
    args = parser.parse_args()
    info = probe(args.video)
    length = min(args.seconds, info.duration / args.clips)
    spans = [(i * length, (i + 1) * length) for i in range(args.clips)]
    out_w, out_h = ASPECTS["9:16"]
    size = (info.width, info.height)
    print(f"input: {args.video}  {info.duration:.1f} s  {info.width}x{info.height}  "
          f"{args.clips} clips of {length:.1f} s")  # fmt: skip
    sound = probe(args.audio)
    a_len = min(args.seconds, sound.duration / args.clips)
    a_spans = [(i * a_len, (i + 1) * a_len) for i in range(args.clips)]
    look = AudiogramSpec(cover=sound.has_cover)
    nvenc = probe_nvenc("ffmpeg") if args.encoder else None

    with tempfile.TemporaryDirectory(prefix="clipray-bench-") as tmp:
        specs = [RenderSpec(source_id="0" * 32, start=a, end=b) for a, b in spans]

        def clipray(full: bool, encoder: str = X264) -> tuple[float, float, int]:
            """Seconds taken, seconds of output, bytes of video written."""
            t0, out_s, size_b = time.perf_counter(), 0.0, 0
            for i, spec in enumerate(specs):
                words = _words(spec.start, spec.end)
                ass = build_ass(words, spec.start, spec.end, out_w, out_h, CaptionConfig())
                if full:
                    spec, ass = _full(spec, words)
                done = render_clip(spec, args.video, size, info.has_audio,
                                   Path(tmp) / f"{'full' if full else 'plain'}-{encoder}{i}",
                                   ass, encoder=encoder)  # fmt: skip
                out_s += spec.output_duration
                size_b += done.video.stat().st_size
            return time.perf_counter() - t0, out_s, size_b

        def video_only(encoder: str = X264) -> float:
            """clipray's encode alone: its filter chain and encoder settings, no audio."""
            t0 = time.perf_counter()
            for i, spec in enumerate(specs):
                ass = Path(tmp) / f"v{i}.ass"
                ass.write_text(build_ass(_words(spec.start, spec.end), spec.start, spec.end,
                                         out_w, out_h, CaptionConfig()))  # fmt: skip
                vf = video_filter(spec, *size, ass)
                cmd = encode_args("ffmpeg", args.video, spec, vf, None,
                                  Path(tmp) / f"v-{encoder}{i}.mp4", encoder=encoder)  # fmt: skip
                subprocess.run(cmd, check=True)
            return time.perf_counter() - t0

        def audiogram() -> float:
            """clipray's audiogram of each audio span, captions burned in (libx264)."""
            t0 = time.perf_counter()
            for i, (start, end) in enumerate(a_spans):
                spec = RenderSpec(source_id="0" * 32, start=start, end=end, audiogram=look)
                ass = build_ass(_words(start, end), start, end, out_w, out_h, CaptionConfig())
                render_clip(spec, args.audio, (0, 0), True, Path(tmp) / f"ag{i}", ass,
                            encoder=X264)  # fmt: skip
            return time.perf_counter() - t0

        def canvas() -> float:
            """The audiogram's baseline: each span's sound over a still canvas of its
            background, same size, preset and CRF."""
            t0 = time.perf_counter()
            for i, (start, end) in enumerate(a_spans):
                d = f"{end - start:.3f}"
                cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
                       "-i", f"color=c={look.background}:s={out_w}x{out_h}:r=30:d={d}",
                       "-ss", f"{start:.3f}", "-t", d, "-i", args.audio,
                       "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
                       "-preset", specs[0].preset, "-crf", str(specs[0].crf),
                       "-c:a", "aac", "-shortest", str(Path(tmp) / f"c{i}.mp4")]  # fmt: skip
                subprocess.run(cmd, check=True)
            return time.perf_counter() - t0

        def plain() -> float:
            t0 = time.perf_counter()
            for i, (start, end) in enumerate(spans):
                cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{start:.3f}",
                       "-t", f"{end - start:.3f}", "-i", args.video,
                       "-vf", f"scale={out_w}:{out_h}", "-r", "30", "-c:v", "libx264",
                       "-preset", specs[0].preset, "-crf", str(specs[0].crf),
                       "-c:a", "aac", str(Path(tmp) / f"p{i}.mp4")]  # fmt: skip
                subprocess.run(cmd, check=True)
            return time.perf_counter() - t0

        base_s = plain()
        plain_s, plain_out, plain_b = clipray(full=False)
        encode_s = video_only()
        full_s, full_out, _ = clipray(full=True)
        canvas_s = canvas()
        audiogram_s = audiogram()
        gpu = None
        if nvenc is not None and nvenc.usable:
            gpu = (*clipray(full=False, encoder=NVENC), video_only(NVENC))
        canvas2_s = canvas()
        base2_s = plain()  # again after: the load on a shared machine drifts
    base_s = (base_s + base2_s) / 2
    canvas_s = (canvas_s + canvas2_s) / 2
    span_s = length * args.clips

    def line(name: str, took: float, out_s: float) -> None:
        print(f"{name:<28}{args.clips / took * 60:7.1f} clips/min  "
              f"{took / out_s:.3f} s per output second")  # fmt: skip

    line("plain ffmpeg re-encode", base_s, span_s)
    line("clipray plain clip", plain_s, plain_out)
    line("  its video encode alone", encode_s, plain_out)
    line("clipray full graph", full_s, full_out)
    print(f"plain clip / re-encode: {plain_s / base_s:.2f}x (the encode alone "
          f"{encode_s / base_s:.2f}x; audio, loudness, check, thumbnail "
          f"{(plain_s - encode_s) / base_s:.2f}x)")  # fmt: skip
    print(f"full graph / re-encode of the same span: {full_s / base_s:.2f}x "
          f"({full_out:.1f} s of output from {span_s:.1f} s of source)")  # fmt: skip
    a_out = a_len * args.clips
    line("audio over a still canvas", canvas_s, a_out)
    line("clipray audiogram", audiogram_s, a_out)
    print(f"audiogram / still canvas of the same sound: {audiogram_s / canvas_s:.2f}x "
          f"({args.clips} spans of {a_len:.1f} s of {Path(args.audio).name})")  # fmt: skip
    if nvenc is None:
        return 0
    if gpu is None:
        print(f"nvenc: unavailable ({nvenc.reason})")
        return 0
    gpu_s, _, gpu_b, gpu_encode_s = gpu
    line("clipray plain clip, nvenc", gpu_s, plain_out)
    line("  its video encode alone", gpu_encode_s, plain_out)
    rate = [b * 8 / plain_out / 1000 for b in (gpu_b, plain_b)]  # the clips' kbit/s
    print(f"nvenc / libx264: plain clip {gpu_s / plain_s:.2f}x, video encode alone "
          f"{gpu_encode_s / encode_s:.2f}x; clips of {rate[0]:.0f} kbit/s against "
          f"{rate[1]:.0f} at CQ/CRF {specs[0].crf}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
