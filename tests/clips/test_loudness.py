"""Every rendered clip at -14 LUFS whatever its source, or a record that says why not.

The sources are made here with FFmpeg from real speech (../shared/media) and generated
sound, each over a still picture, and rendered by the real ``render_clip``; the clips are
measured with FFmpeg's ``ebur128`` over the whole clip (``tests/loudness.py``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clipray.clips.loudness import LoudnessConfig, Measured, parse_ebur128
from clipray.clips.render import LOUDNESS_RESULT, Rendered, RenderSpec, render_clip
from tests.conftest import MEDIA
from tests.loudness import TARGET_LUFS, TOLERANCE_LU, ebur128

JFK = MEDIA / "speech" / "whisper_jfk" / "jfk.flac"
LJ = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032.flac"
STILL = MEDIA / "talking_head" / "face_recognition" / "obama.jpg"
PHONE = "highpass=f=300,lowpass=f=3400,aresample=8000,aresample=44100"
"""Telephone band: 300-3400 Hz at 8 kHz, back at the source's rate."""
CLICKS = "aevalsrc='if(lt(mod(t,2),0.002),0.99,0)':s=44100:d={d}"
"""A 2 ms full-scale click every 2 s: peaks with almost no loudness."""

# name -> (seconds, FFmpeg filter_complex producing [a] from inputs 1.. (0 is the still))
SOURCES: dict[str, tuple[float, list[str], str]] = {
    # the case: phone-band speech over a still picture, two clips of 15 s
    "phone-speech": (30.0, [str(JFK)],
                     f"[1:a]{PHONE},volume=-12dB,apad=pad_dur=4,asplit[x][y];"
                     "[x][y]concat=n=2:v=0:a=1,apad[a]"),
    # a reader with 6 s pauses between sentences, quiet (wide loudness range)
    "long-pauses": (18.0, [str(LJ)],
                    "[1:a]asplit[l][m];[l]atrim=0:5,volume=-20dB,apad=pad_dur=6[p];"
                    "[m]atrim=5:10,asetpts=PTS-STARTPTS[q];[p][q]concat=n=2:v=0:a=1,apad[a]"),
    # a loud chord whose notes change every 2 s: little crest, no pauses
    "music-tones": (8.0, [],
                    "aevalsrc='0.3*sin(2*PI*(220+110*floor(t/2))*t)"
                    "+0.25*sin(2*PI*330*t)*(0.6+0.4*sin(2*PI*3*t))"
                    "+0.2*sin(2*PI*(440+55*floor(t/2))*t)':s=44100:d=8[a]"),
    # speech with full-scale clicks: loudnorm fell back to its dynamic mode (-19.7 LUFS)
    "speech-with-clicks": (8.0, [str(JFK)],
                           f"[1:a]volume=-10dB[s];{CLICKS.format(d=8)}[c];"
                           "[s][c]amix=inputs=2:normalize=0[a]"),
    # room tone about 60 dB down: needs +47 dB, which its peaks allow with a little limiting
    "near-silence": (6.0, [], "anoisesrc=a=0.005:c=pink:r=44100:d=6:seed=1[a]"),
}
UNREACHABLE: dict[str, tuple[float, list[str], str, str]] = {
    # clicks over near silence: their peaks forbid the gain the clip would need
    "clicks-in-near-silence": (6.0, [], f"anoisesrc=a=0.0001:c=pink:r=44100:d=6:seed=1[n];"
                               f"{CLICKS.format(d=6)}[c];[n][c]amix=inputs=2:normalize=0[a]",
                               "peak-limited"),
    "digital-silence": (4.0, [], "anullsrc=r=44100:cl=mono:d=4[a]", "silent"),
}  # fmt: skip
SPANS = {"phone-speech": [(0.0, 15.0), (15.0, 30.0)], "long-pauses": [(2.0, 18.0)]}


def _make(out: Path, seconds: float, inputs: list[str], graph: str) -> Path:
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-loop", "1", "-framerate", "25",
            "-i", str(STILL)]  # fmt: skip
    for path in inputs:
        args += ["-i", path]
    args += ["-filter_complex", f"{graph};[0:v]scale=320:320,format=yuv420p[v]",
             "-map", "[v]", "-map", "[a]", "-t", f"{seconds}", "-c:v", "libx264",
             "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k", str(out)]  # fmt: skip
    subprocess.run(args, check=True)
    return out


def _render(source: Path, start: float, end: float, work: Path) -> Rendered:
    spec = RenderSpec(source_id="b" * 32, start=start, end=end, aspect="1:1", captions="none",
                      preset="ultrafast")  # fmt: skip
    return render_clip(spec, str(source), (320, 320), True, work)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Rendered]]:
    """Every source rendered: its spans (the whole source by default)."""
    if not JFK.exists():
        pytest.fail(f"shared media missing: {JFK}")
    base = tmp_path_factory.mktemp("loudness")
    out: dict[str, list[Rendered]] = {}
    every = {**SOURCES, **{k: v[:3] for k, v in UNREACHABLE.items()}}
    for name, (seconds, inputs, graph) in every.items():
        source = _make(base / f"{name}.mp4", seconds, inputs, graph)
        spans = SPANS.get(name, [(0.0, seconds)])
        out[name] = [_render(source, a, b, base / f"{name}-{n}") for n, (a, b) in
                     enumerate(spans)]  # fmt: skip
    return out


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_clip_is_at_minus_14_lufs(rendered: dict[str, list[Rendered]], name: str) -> None:
    for clip in rendered[name]:
        integrated, peak = ebur128(clip.video)
        assert abs(integrated - TARGET_LUFS) <= TOLERANCE_LU, f"{name}: {integrated} LUFS"
        assert clip.loudness is not None
        assert clip.loudness.reached, clip.loudness
        assert clip.loudness.note is None
        assert clip.loudness.output_i == pytest.approx(integrated, abs=0.05)
        # the ceiling holds before the encode; AAC may overshoot it a little, never clip
        assert peak <= 0.0, f"{name}: true peak {peak} dBTP"


@pytest.mark.parametrize("name", list(UNREACHABLE))
def test_a_clip_that_cannot_reach_the_target_says_why(rendered, name: str) -> None:
    (clip,) = rendered[name]
    why = UNREACHABLE[name][3]
    assert clip.loudness is not None
    assert not clip.loudness.reached
    assert clip.loudness.note is not None
    assert clip.loudness.note.startswith(why)
    integrated, peak = ebur128(clip.video)
    assert integrated < TARGET_LUFS - TOLERANCE_LU  # it is quieter, and says so
    assert peak <= 0.0  # rather than clipped
    stored = clip.loudness.to_json()
    assert stored["reached"] is False
    assert stored["note"] == clip.loudness.note


def test_the_record_round_trips_through_a_stored_spec() -> None:
    """The outcome is stored next to the spec; reading the spec back ignores it, so a clip
    re-rendered from its stored spec hashes as before."""
    spec = RenderSpec(source_id="c" * 32, start=1.0, end=9.0)
    stored = {**spec.to_json(), LOUDNESS_RESULT: {"reached": False, "note": "silent: ..."}}
    assert RenderSpec.from_json(stored) == spec
    old = spec.to_json()
    old["loudness"] = {"integrated": -14.0, "true_peak": -1.5, "lra": 11.0}  # before this
    assert RenderSpec.from_json(old).loudness == LoudnessConfig()


@pytest.mark.parametrize(
    ("log", "measured"),
    [
        pytest.param("Summary:\n\n  Integrated loudness:\n    I:         -23.4 LUFS\n"
                     "  True peak:\n    Peak:       -3.2 dBFS\n", Measured(-23.4, -3.2),
                     id="speech"),
        pytest.param("Summary:\n\n  Integrated loudness:\n    I:         -70.0 LUFS\n"
                     "  True peak:\n    Peak:       -inf dBFS\n",
                     Measured(-70.0, float("-inf")), id="silence"),
    ],
)  # fmt: skip
def test_ebur128_summary_is_parsed(log: str, measured: Measured) -> None:
    assert parse_ebur128(log) == measured
