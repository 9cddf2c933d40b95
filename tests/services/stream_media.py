"""A synthetic live source for the stream tests: read speech with a loud tone and a
spoken keyword at known times, over a talking head, as an HLS-ready H.264/AAC file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clipray.media.ffmpeg import run_ffmpeg
from tests.conftest import MEDIA
from tests.streams.conftest import wait_until

TALK = MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4"
LJSPEECH = MEDIA / "speech/ljspeech/ljspeech_LJ001-0001_0032.flac"
TONE_AT, TONE_S, TONE_HZ = 38.0, 1.5, 2000
"""The loud moment: 1.5 s of a 2 kHz tone at amplitude 0.5 (-9 dBFS RMS, about 14 dB over
the reader's median level), in LJ001-0006 (35.97-41.66 s of the media)."""
MEDIA_S = 50.0
KEYWORD = "Netherlands"
"""Spoken at the end of LJ001-0003 (12.15-21.82 s of the media), far from the tone."""


def make_stream_media(out: Path) -> Path:
    """50 s: the talking head looped (160x160, 1 s GOPs) over LJSpeech with the tone mixed
    in at ``TONE_AT``."""
    run_ffmpeg(["-stream_loop", "-1", "-i", TALK, "-i", LJSPEECH,
                "-f", "lavfi", "-i", f"sine=frequency={TONE_HZ}:sample_rate=48000:"
                f"duration={TONE_S}",
                "-filter_complex", f"[2:a]volume=4,adelay={int(TONE_AT * 1000)}:all=1[tone];"
                "[1:a]aresample=48000[speech];[speech][tone]amix=inputs=2:normalize=0:"
                "duration=first[a]",
                "-map", "0:v:0", "-map", "[a]", "-t", f"{MEDIA_S}",
                "-vf", "scale=160:160", "-r", "25", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
                "-c:a", "aac", "-b:a", "96k", "-ar", "48000", out],
               what="stream media", timeout=300)  # fmt: skip
    return out


def run_past_tone(pipeline: Any, timeout: float = 240) -> None:
    """Step a started live pipeline until its stream has run past the tone (the ingest starts
    a few seconds into the media), then drain it: its clips are made."""

    def advance() -> bool:
        pipeline.step()
        return pipeline.ring.span()[1] >= MEDIA_S - 8.0

    wait_until(advance, timeout, "the stream to pass the tone", every=0)
    pipeline.drain()

