"""Per-call decoding options on the warm ASR service (real Ray and Serve, ``tiny.en``): a
request that asks for beam 1 gets what the same model gives at beam 1 in this process, one
that asks for nothing keeps the service's configured beam (5), and the two sent at once,
so that ``@serve.batch`` gathers them into one pass, each still get their own. The audio is
LJSpeech's first 30 s, where tiny.en punctuates and words differently at beam 1 and 5, so
a service that ignored the option would fail the check. The live clips' other warm call,
the face detector their reframe follows, finds on the warm service what it finds in
process."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from clipray.models.asr import AsrModel, DecodeOptions
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.stages.decode import analysis_size
from clipray.pipelines.warm import ASR, MODELS_APP, ServiceCall
from clipray.schemas import Transcript
from clipray.serve.models import ensure_model_services, model_stats
from clipray.services.stream_faces import local_detector, sample_frames, warm_detector
from clipray.services.stream_pipeline import warm_transcriber
from tests.conftest import MEDIA
from tests.streams.conftest import TALK

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

LJSPEECH = MEDIA / "speech/ljspeech/ljspeech_LJ001-0001_0032.flac"
RATE = 16_000


@pytest.fixture(scope="module")
def chunk() -> list[tuple[np.ndarray, float]]:
    pcm = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", LJSPEECH, "-t", "30",
                          "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout  # fmt: skip
    return [(np.frombuffer(pcm, np.float32).copy(), 12.5)]


@pytest.fixture(scope="module")
def asr_settings(settings, ray_local):
    """The session's settings; the model services deployed for the module, then removed."""
    from ray import serve

    cfg = analyze_config(settings).asr
    assert cfg.beam_size == 5, "the service must be configured with a beam other than 1"
    ensure_model_services(settings)
    yield settings
    if model_stats() is not None:
        serve.delete(MODELS_APP)


@pytest.fixture(scope="module")
def local(asr_settings) -> AsrModel:
    """The model the service loaded (same config: weights, threads), in this process."""
    return AsrModel.load(analyze_config(asr_settings).asr)


def words(transcripts: list[Transcript]) -> list[str]:
    """The words of a one-chunk answer: what the beam decides. (Their probabilities and a
    time now and then differ in the last digits between this process and a replica, whose
    CPU threads Ray sets: numerics, not decoding.)"""
    [transcript] = transcripts
    assert transcript.segments[0].words[0].start >= 12.5  # the chunk's offset applies
    return [w.word for seg in transcript.segments for w in seg.words]


def test_the_warm_service_decodes_with_the_beam_a_call_asks_for(asr_settings, local, chunk):
    greedy = words(local.transcribe_batch(chunk, DecodeOptions(beam_size=1)))
    beam = words(local.transcribe_batch(chunk))
    assert greedy != beam, "the audio must decode differently at beam 1 and 5"

    call = ServiceCall.of(asr_settings, ASR, "transcribe")
    assert words(call(chunk, DecodeOptions(beam_size=1))) == greedy
    assert words(call(chunk)) == beam
    # The live pipeline's warm transcriber asks for the live beam (1) on every call.
    assert asr_settings.stream_clips.asr_beam_size == 1
    assert words(warm_transcriber(asr_settings)(chunk)) == greedy


def test_requests_batched_together_keep_their_own_options(asr_settings, local, chunk):
    greedy = words(local.transcribe_batch(chunk, DecodeOptions(beam_size=1)))
    beam = words(local.transcribe_batch(chunk))
    call = ServiceCall.of(asr_settings, ASR, "transcribe")
    asks = [DecodeOptions(beam_size=1), None, DecodeOptions(beam_size=1), None]
    with ThreadPoolExecutor(len(asks)) as pool:
        got = list(pool.map(lambda o: call(chunk, o) if o else call(chunk), asks))
    assert [words(g) for g in got] == [greedy, beam, greedy, beam]
    assert got[0] == got[2]  # one replica, one beam: the very same answer
    assert got[1] == got[3]


def test_live_clips_find_faces_on_the_warm_service_as_in_process(asr_settings, tmp_path):
    frames, times = sample_frames(TALK, 0.0, 6.0, 1.0, analysis_size(512, 512))
    assert len(frames) == 6
    warm = warm_detector(asr_settings)(frames, times)
    local = local_detector(asr_settings)(frames, times)
    assert all(len(found) == 1 for found in warm), warm  # one face on every sample
    for w, lo in zip(warm, local, strict=True):
        assert len(w) == len(lo)
        for a, b in zip(w, lo, strict=True):
            assert a.t == b.t
            assert a.box == pytest.approx(b.box, abs=1.0)
