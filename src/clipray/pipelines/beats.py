"""The beats of a job's music track, for beat-synced cuts (``clips/effects/beats.py``).

FFmpeg decodes the track (a local path or a presigned URL) to mono samples and librosa's
beat tracker finds the beats, with fixed parameters, so the same track gives the same
beats (and so the same render spec) every time:

    >>> beats = track_beats("/music/bed.mp3")                     # doctest: +SKIP
    >>> beats.times[:3], beats.period                              # doctest: +SKIP
    ((0.499, 0.998, 1.498), 30.0)
"""

from __future__ import annotations

import numpy as np

from clipray.clips.effects.beats import Beats
from clipray.config import Settings
from clipray.domain.errors import CodedError, DependencyMissing
from clipray.media.ffmpeg import run
from clipray.pipelines.music import music_uri

SAMPLE_RATE = 22050
"""librosa's own rate: its onset and tempo defaults are tuned for it."""
HOP = 256
"""Samples between onset frames: 11.6 ms at 22.05 kHz, so a beat lands within a frame of
the output's 30 fps grid (librosa's default 512 would be 23 ms)."""
ONSET_REACH = 0.06
"""How far before a tracked beat its onset's start is looked for (about five frames)."""
MAX_SECONDS = 600.0
"""Only the track's first ten minutes are read: no clip is longer, and the track loops."""


class BeatTrackingError(CodedError):
    """The music track could not be decoded."""

    status = 422

    def __init__(self, message: str) -> None:
        super().__init__("MUSIC_UNREADABLE", message)


def track_beats(uri: str, ffmpeg: str = "ffmpeg") -> Beats:
    """The beats of the track at ``uri`` (seconds from its start) and its length.

    Raises:
        BeatTrackingError: 422 ``MUSIC_UNREADABLE`` when FFmpeg cannot decode it.
        DependencyMissing: librosa (the ``ml`` extra) is not installed.
    """
    try:
        import librosa
    except ImportError as exc:
        raise DependencyMissing("librosa", "install clipray[ml] for beat-synced cuts") from exc
    proc = run([ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-t", f"{MAX_SECONDS}",
                "-i", uri, "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"],
               text=False, timeout=300)  # fmt: skip
    if proc.returncode != 0:
        raise BeatTrackingError(f"the music track could not be decoded: "
                                f"{proc.stderr.decode(errors='replace')[-400:]}")  # fmt: skip
    y = np.frombuffer(proc.stdout, dtype=np.float32)
    if y.size < SAMPLE_RATE:  # under a second: no tempo to find
        return Beats((), y.size / SAMPLE_RATE)
    env = librosa.onset.onset_strength(y=y, sr=SAMPLE_RATE, hop_length=HOP)
    _, frames = librosa.beat.beat_track(onset_envelope=env, sr=SAMPLE_RATE, hop_length=HOP,
                                        start_bpm=120.0, tightness=100.0, trim=False)  # fmt: skip
    # The tracker's beat is the onset envelope's peak, a frame or two after the sound
    # starts; a beat moves to the start of its onset (backtracked), where one is near.
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=SAMPLE_RATE, hop_length=HOP,
                                        backtrack=True)  # fmt: skip
    times = librosa.frames_to_time(frames, sr=SAMPLE_RATE, hop_length=HOP)
    starts = librosa.frames_to_time(onsets, sr=SAMPLE_RATE, hop_length=HOP)
    return Beats(tuple(round(_onset_of(float(t), starts), 4) for t in times),
                 y.size / SAMPLE_RATE)  # fmt: skip


def _onset_of(beat: float, starts: np.ndarray, reach: float = ONSET_REACH) -> float:
    """The onset start nearest before-or-at ``beat`` within ``reach`` seconds, else the beat."""
    near = starts[(starts <= beat + 1e-6) & (starts >= beat - reach)]
    return float(near[-1]) if near.size else beat


def music_beats(music: str | None, settings: Settings, workspace_id: str) -> Beats | None:
    """The beats of a job's music track (a media key or a local path); None without one."""
    if not music:
        return None
    return track_beats(music_uri(music, settings, workspace_id), settings.ffmpeg_bin)


__all__ = ["BeatTrackingError", "music_beats", "track_beats"]
