"""B-roll cutaways and sound effects rendered by the real FFmpeg, read from the real S3
server through presigned URLs: the B-roll's picture inside its span and the clip's
outside it (frames compared with the sources' own), the clip's sound under it, the hook
drawn over it, a sound effect's energy at its instant, the loudness on target."""

import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.captions import CaptionConfig, build_ass, hook_event
from clipray.clips.effects.graph import FPS, BRoll, EffectsGraph, Hook, Insert, Sfx, SoundHit
from clipray.clips.render import RenderSpec, render_clip
from clipray.domain.errors import NotFound
from clipray.pipelines.cutaways import cutaways_at
from tests.clips.test_effects_audio_render import (
    RATE,
    _band,
    _on_target,
    _pcm,
    _rms,
    _share_at,
)
from tests.clips.test_effects_render import HEAD, MEDIA, SCRIPT

pytestmark = pytest.mark.integration

TESTVIDEO = MEDIA / "scene_cuts" / "pyscenedetect" / "testvideo.mp4"  # 1280x720, scenes
LENGTH = 5.0
SIDE = 48
"""Frames are compared at 48x48: the encode's detail is not what is checked."""
INSERT = Insert(1.0, 2.5, "", 8.0)  # key set per test: testvideo's second scene (6-13 s)
SFX_AT = 2.6
"""In the pause between "is" (ends 2.0 s) and "uh" (3.9 s) of the script: silence."""


def _source(path: Path) -> None:
    """The talking head's picture with the script's tones (``test_effects_render``) as its
    sound: which sound is the clip's is known to the sample."""
    on = "+".join(f"between(t,{a},{b})" for a, b, _ in SCRIPT)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-t", str(LENGTH), "-i", str(HEAD),
         "-f", "lavfi", "-i", f"aevalsrc='0.5*sin(2*PI*1000*t)*gt({on},0)':s=48000:d={LENGTH}",
         "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "ultrafast",
         "-qp", "0", "-c:a", "pcm_s16le", str(path)], check=True,
    )  # fmt: skip


def _broll(path: Path) -> None:
    """testvideo.mp4 (no sound of its own) with a loud 440 Hz tone: a B-roll whose sound
    must never be heard."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(TESTVIDEO),
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=24",
         "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "ultrafast",
         "-crf", "10", "-c:a", "aac", "-shortest", str(path)], check=True,
    )  # fmt: skip


def _frames(path: Path, vf: str, start: float = 0.0, side: int = SIDE) -> np.ndarray:
    """Every frame of ``path`` from ``start`` at 30 fps, ``vf`` then ``side`` square, as
    floats."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-i", str(path),
         "-map", "0:v:0", "-vf", f"{vf}fps={FPS},scale={side}:{side}:flags=area",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, side, side, 3).astype(float)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture(scope="module")
def library(tmp_path_factory, settings, buckets):
    """A workspace with a B-roll video and a 3 kHz blip on the real media bucket."""
    if not HEAD.exists() or not TESTVIDEO.exists():
        pytest.fail(f"shared media missing under {MEDIA}")
    base = tmp_path_factory.mktemp("library")
    ws = uuid.uuid4().hex
    media = buckets.media.scoped(ws)
    broll, blip = base / "city.mp4", base / "blip.wav"
    _broll(broll)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=3000:sample_rate=44100:duration=0.25", "-ac", "1",
                    str(blip)], check=True)  # fmt: skip
    keys = {"broll": f"{ws}/library/city.mp4", "sfx": f"{ws}/library/blip.wav"}
    media.put_file(keys["broll"], broll, content_type="video/mp4")
    media.put_file(keys["sfx"], blip, content_type="audio/wav")
    src = base / "source.mkv"
    _source(src)
    return ws, keys, src, base


@pytest.fixture(scope="module")
def cutaway_render(library, settings):
    ws, keys, src, base = library
    insert = Insert(INSERT.start, INSERT.end, keys["broll"], INSERT.src_start)
    hook = Hook("Over the B-roll", 3.0)
    spec = RenderSpec(source_id="b" * 32, start=0.0, end=LENGTH, aspect="1:1",
                      captions="none", effects=EffectsGraph((
                          BRoll((insert,)), hook, Sfx((SoundHit(SFX_AT, keys["sfx"], 0.0),)))))
    media = cutaways_at(spec, settings, ws)
    assert set(media) == set(keys.values())
    assert all(url.startswith("http") for url in media.values())  # presigned, not files
    ass = build_ass([], 0.0, 1.0, 1080, 1080, CaptionConfig()) + hook_event(
        hook.text, hook.duration, 1080, 1080, CaptionConfig())
    done = render_clip(spec, str(src), (480, 480), True, base / "out", ass, media=media)
    return spec, done, src, base


def test_the_broll_shows_inside_its_span_and_the_clip_outside(cutaway_render):
    _, done, src, base = cutaway_render
    out = _frames(done.video, "")
    own = _frames(src, "")
    # the B-roll filling the square frame: its centre 720x720, from src_start on
    cutaway = _frames(base / "city.mp4", "crop=720:720:280:0,", INSERT.src_start)
    assert len(out) == pytest.approx(LENGTH * FPS, abs=1)
    below = slice(SIDE // 3, SIDE)  # under the hook, drawn at the top
    inside = [k for k in range(len(out)) if INSERT.start <= k / FPS < INSERT.end]
    assert len(inside) == round((INSERT.end - INSERT.start) * FPS)
    for k in range(len(out)):
        mine, theirs = _diff(out[k, below], own[k, below]), None
        if k in inside:
            theirs = _diff(out[k, below], cutaway[k - inside[0], below])
            assert theirs < 10 < mine, (k, theirs, mine)
        elif k >= 3.2 * FPS:  # after the hook: the clip's own frame, whole
            assert _diff(out[k], own[k]) < 10, k
        else:
            assert mine < 10, (k, mine)


def test_the_hook_is_drawn_over_the_broll(cutaway_render):
    _, done, _, base = cutaway_render
    at = 2.0  # inside the insert and the hook (faded in by 0.2 s)
    out = _frames(done.video, "", at, 270)[0]
    cutaway = _frames(base / "city.mp4", "crop=720:720:280:0,", INSERT.src_start
                      + at - INSERT.start, 270)[0]  # fmt: skip
    band = slice(round(0.12 * 270), round(0.22 * 270))  # the hook's line (``hook_event``)
    white = (out[band].min(axis=-1) > 220).mean()
    plain = (cutaway[band].min(axis=-1) > 220).mean()
    assert white > plain + 0.03, (white, plain)
    rest = slice(round(0.3 * 270), 270)  # below it: the B-roll alone
    assert _diff(out[rest], cutaway[rest]) < 6


def test_the_sound_under_the_broll_is_the_clips_own(cutaway_render):
    _, done, _, _ = cutaway_render
    x = _pcm(done.video)
    for a, b, _ in SCRIPT:  # the words said inside the insert sound as the source's tone
        if INSERT.start <= a and b <= INSERT.end:
            assert _share_at(x, a + 0.05, b - 0.05, 1000) > 0.9
    # the pause after "is" (2.0 s) is silent under the B-roll, whose own 440 Hz is loud
    assert _rms(x, 2.05, INSERT.end - 0.05) < 1e-3 * _rms(x, 1.3, 1.55)


def test_a_sound_effect_sounds_at_its_instant_at_the_target_loudness(cutaway_render):
    _, done, _, _ = cutaway_render
    x = _pcm(done.video)
    assert _share_at(x, SFX_AT + 0.02, SFX_AT + 0.23, 3000) > 0.9
    assert _band(x, SFX_AT + 0.02, SFX_AT + 0.23, 3000) > 1e4 * _band(x, 2.1, SFX_AT - 0.02,
                                                                      3000)  # fmt: skip
    # its onset, to the millisecond: a 3 kHz band envelope crossing half its peak
    seg = x[int((SFX_AT - 0.1) * RATE):int((SFX_AT + 0.2) * RATE)]
    env = np.convolve(np.abs(seg), np.ones(48) / 48, mode="same")
    onset = SFX_AT - 0.1 + np.flatnonzero(env > 0.5 * env.max())[0] / RATE
    assert abs(onset - SFX_AT) < 0.005, onset
    assert done.loudness is not None
    assert done.loudness.reached
    _on_target(done.video)


def test_missing_library_media_is_refused_with_a_code(library, settings):
    ws, keys, _, _ = library
    gone = f"{ws}/library/gone.mp4"
    for step, code in [(BRoll((Insert(0.5, 1.0, gone),)), "BROLL_MISSING"),
                       (Sfx((SoundHit(0.5, keys["sfx"]), SoundHit(1.0, gone))), "SFX_MISSING")]:
        spec = RenderSpec(source_id="b" * 32, start=0.0, end=3.0,
                          effects=EffectsGraph((step,)))  # fmt: skip
        with pytest.raises(NotFound) as err:
            cutaways_at(spec, settings, ws)
        assert err.value.code == code
    plain = RenderSpec(source_id="b" * 32, start=0.0, end=3.0)
    assert cutaways_at(plain, settings, ws) == {}


def test_a_render_without_its_resolved_media_fails_before_writing_a_clip(library, tmp_path):
    _, keys, src, _ = library
    spec = RenderSpec(source_id="b" * 32, start=0.0, end=2.0, aspect="1:1", captions="none",
                      effects=EffectsGraph((BRoll((Insert(0.5, 1.0, keys["broll"]),)),)))
    with pytest.raises(Exception, match="B-roll"):
        render_clip(spec, str(src), (480, 480), True, tmp_path / "out", None)
    assert not (tmp_path / "out" / "clip.mp4").exists()
