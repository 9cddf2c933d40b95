"""A source's analysis, stored the way the analysis pipeline stores it (a document on the
media bucket, an ``analyses`` row under the configuration's fingerprint), for tests that
need an analysed source but not the models: the JFK sentence's words spread over its
speech, scene cuts where the test says, no faces (crops are centred)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from clipray.config import Settings
from clipray.pipelines.analyze import analyze_config
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import Buckets
from clipray.storage.orm import Source
from clipray.storage.repos import AnalysisRepo

JFK = ("And so my fellow Americans, ask not what your country can do for you, ask what you "
       "can do for your country.")  # fmt: skip


def analysis_of(source: Source, cuts: tuple[float, ...] = (8.0,), *, speech: bool = True
                ) -> dict[str, Any]:  # fmt: skip
    """The document of ``source`` with scenes split at ``cuts`` and the sentence spoken
    over 0.3-10.5 s (no speech with ``speech=False``: nothing for the search index to
    embed, so reading it back as a cached analysis starts no Ray)."""
    words = JFK.split()
    step = 10.2 / len(words)
    spoken = [{"start": round(0.3 + i * step, 3), "end": round(0.3 + (i + 1) * step, 3),
               "word": f" {w}", "probability": 0.9} for i, w in enumerate(words)]  # fmt: skip
    bounds = [0.0, *cuts, source.duration_s]
    scenes = [{"start": a, "end": b, "start_frame": round(a * source.fps),
               "end_frame": round(b * source.fps), "kind": "cut"}
              for a, b in itertools.pairwise(bounds)]  # fmt: skip
    return {
        "source": {"id": source.id, "sha256": source.sha256, "duration": source.duration_s,
                   "fps": source.fps, "width": source.width, "height": source.height,
                   "has_audio": True, "has_video": True},
        "scenes": scenes,
        "transcript": {"language": "en", "model": "test", "segments": [
            {"start": 0.3, "end": 10.5, "text": JFK, "words": spoken}] if speech else []},
        "faces": {"model": "test", "sample_fps": 2.0, "tracks": []},
        "audio": {"hop": 0.5, "rms": [], "peaks": []},
        "embeddings": None,
        "timings": {},
    }  # fmt: skip


def store_analysis(settings: Settings, buckets: Buckets, db: Database, source_id: str, *,
                   speech: bool = True) -> dict[str, Any]:  # fmt: skip
    """Store :func:`analysis_of` the source as its cached analysis; returns the document."""
    fingerprint = analyze_config(settings).fingerprint()
    with db.session() as s:
        source = s.get(Source, source_id)
        doc = analysis_of(source, speech=speech)
        ws = source.workspace_id
        key = object_key(ws, "analysis", source_id, f"analysis-{fingerprint[:12]}.json")
        buckets.media.scoped(ws).put_bytes(key, json.dumps(doc).encode(),
                                           content_type="application/json")  # fmt: skip
        AnalysisRepo(s, ws).record(source, fingerprint, artifact_key=key, summary={})
    return doc
