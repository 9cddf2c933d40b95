"""Driver side of an analysis: cache lookup, the Ray pipeline, artifacts and records.

The pipeline (``analyze.py``) only computes; this module decides what needs computing (the
same bytes under the same configuration are analysed once), writes each finished video's
artifacts under ``{workspace_id}/analysis/{source_id}/`` and records an ``analyses`` row.

    >>> runner = AnalysisRunner(settings, ctx, AnalyzeConfig())   # doctest: +SKIP
    >>> outcome = runner.run([ingested])[0]                       # doctest: +SKIP
    >>> outcome.analysis.scenes[0].kind
    'start'
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from clipray.cluster.services import connect_ray, open_index
from clipray.config import Settings
from clipray.domain.analysis import Analysis, Audio, AudioPeak, EmbeddingsRef, Faces, SourceInfo
from clipray.observability import stages_done
from clipray.pipelines.analyze import AnalysisResult, AnalyzeConfig, build_analysis, collect
from clipray.pipelines.index import SourceToIndex, index_frames, index_sources
from clipray.pipelines.ingest import IngestContext, Ingested, parse_s3_uri
from clipray.schemas import FaceBox, Track, Transcript, VideoRow
from clipray.storage.keys import object_key
from clipray.storage.objects import ObjectNotFoundError
from clipray.storage.orm import AnalysisStatus, Source
from clipray.storage.repos import AnalysisRepo

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, str], None]


@dataclass(frozen=True)
class Outcome:
    source_id: str
    analysis: Analysis | None
    """None on failure."""
    cached: bool = False
    error: str | None = None
    index_error: str | None = None
    """Why the source is not searchable (the analysis itself is stored); None when it is."""


def analysis_of(
    source: Source,
    has_audio: bool,
    result: AnalysisResult,
    cfg: AnalyzeConfig,
    embeddings_uri: str | None,
    *,
    has_video: bool = True,
) -> Analysis:
    """The analysis as it is stored and read back: times in seconds, frames 0-based, source
    pixels; boxes to 0.1 px, scores to 1e-4, loudness to 1e-5 (what the document keeps)."""
    tr = result.transcript
    return Analysis(
        source=SourceInfo(
            id=source.id,
            sha256=source.sha256,
            duration=source.duration_s,
            fps=source.fps,
            width=source.width or 0,
            height=source.height or 0,
            has_audio=has_audio,
            has_video=has_video,
        ),
        scenes=tuple(result.scenes),
        transcript=Transcript(
            language=tr.language if tr else "",
            model=tr.model if tr else cfg.asr.model,
            segments=tuple(tr.segments) if tr else (),
        ),
        faces=Faces(  # not looked for (no model, no rate) in an audio-only source
            model=cfg.faces.weights if has_video else None,
            sample_fps=cfg.sample_fps if has_video else None,
            tracks=tuple(
                Track(t.id, tuple(
                    FaceBox(d.t, _box(round(v, 1) for v in d.box), round(d.score, 4))
                    for d in t.detections
                ), t.speaking)
                for t in result.tracks
            ),
        ),
        audio=Audio(
            hop=cfg.audio.hop_s,
            rms=tuple(round(float(v), 5) for v in result.rms),
            peaks=tuple(AudioPeak(p.t, round(p.value, 5)) for p in result.peaks),
        ),
        embeddings=None
        if result.embeddings is None or embeddings_uri is None
        else EmbeddingsRef(
            model=cfg.embed.model_name,
            dim=int(result.embeddings.shape[1]),
            count=int(result.embeddings.shape[0]),
            uri=embeddings_uri,
        ),
        timings={k: round(v, 3) for k, v in sorted(result.timings.items())},
    )


def _box(v: Iterable[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = v
    return (x1, y1, x2, y2)


class AnalysisRunner:
    def __init__(
        self,
        settings: Settings,
        ctx: IngestContext,
        cfg: AnalyzeConfig,
        *,
        log_to_driver: bool = True,
        ray_progress: bool = True,
        warm: bool = False,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        """``warm``: the model stages use the warm model services (the service path);
        else this run's own actor pools load the models (the batch pipeline). ``prepare``
        runs once, connected to Ray, before the first model work (not for a cached
        analysis): the service path makes sure its services run there."""
        self.settings = settings
        self.warm = warm
        self._prepare = prepare
        self.log_to_driver = log_to_driver
        self.ray_progress = ray_progress
        self.ctx = ctx
        self.cfg = cfg
        self.fingerprint = cfg.fingerprint()
        self.media = ctx.buckets.media.scoped(ctx.workspace_id)

    def cached(self, source: Source) -> Analysis | None:
        """The stored analysis of these bytes with this config, if there is one."""
        with self.ctx.db.session() as s:
            row = AnalysisRepo(s, self.ctx.workspace_id).find(source.id, self.fingerprint)
        if row is None or row.status is not AnalysisStatus.SUCCEEDED or not row.artifact_key:
            return None
        try:
            return Analysis.from_json(json.loads(self.media.read_bytes(row.artifact_key)))
        except ObjectNotFoundError:
            return None  # the artifact was removed: analyse again
        except (ValueError, KeyError, TypeError) as exc:  # unreadable: analyse again
            log.warning("analysis %s of source %s is unreadable (%s): analysing again",
                        row.artifact_key, source.id, exc)  # fmt: skip
            return None

    def worker_uri(self, item: Ingested, local: Path | None) -> str:
        """What workers open: the local file where the workers share this machine, else a
        presigned URL of the stored original (PyAV and ffmpeg read it with range requests)."""
        if local is not None and self.settings.ray_address is None:
            return str(local)
        return self.media.presign_get(item.source.storage_key, expires_in=24 * 3600)

    def run(
        self,
        items: list[tuple[Ingested, Path | None]],
        progress: ProgressFn | None = None,
    ) -> list[Outcome]:
        """Analyse what is not cached yet; one outcome per item, in order."""
        outcomes: dict[str, Outcome] = {}
        to_index: list[SourceToIndex] = []
        frame_problems: dict[str, str | None] = {}
        videos: dict[str, VideoRow] = {}
        sources: dict[str, Ingested] = {}
        for item, local in items:
            found = self.cached(item.source)
            if found is not None:
                outcomes[item.source.id] = Outcome(item.source.id, found, cached=True)
                continue
            info = item.info
            videos[item.source.id] = VideoRow(
                source_id=item.source.id,
                uri=self.worker_uri(item, local),
                duration=info.duration,
                has_audio=info.has_audio,
                width=info.width,
                height=info.height,
                has_video=info.has_video,
            )
            sources[item.source.id] = item
        if videos:
            self._connect()
            if not self.ray_progress:  # the caller shows its own progress
                import ray

                ray.data.DataContext.get_current().enable_progress_bars = False
                logging.getLogger("ray.data").setLevel(logging.WARNING)
            ds = build_analysis(list(videos.values()), self.cfg, self.settings, warm=self.warm)
            index = open_index(self.settings)
            for fin in collect(ds.iter_rows(), videos, self.cfg, progress):
                item = sources[fin.source_id]
                if fin.result is None:
                    self._record(item.source, None, {}, fin.error)
                    outcomes[fin.source_id] = Outcome(fin.source_id, None, error=fin.error)
                    continue
                analysis = self._store(item, fin.result)
                stages_done(fin.result.timings, fin.source_id)
                outcomes[fin.source_id] = Outcome(fin.source_id, analysis)
                # Frames go to the index now; transcripts wait to be embedded in one pass.
                rest, problem = index_frames(index, SourceToIndex.of(
                    self.ctx.workspace_id, fin.source_id, analysis, fin.result.embeddings,
                    fin.result.embedding_times,
                ))
                to_index.append(rest)
                frame_problems[fin.source_id] = problem
        to_index += self._unindexed([o for o in outcomes.values() if o.cached])
        if to_index and self.warm:
            self._connect()  # the segments' embeddings need the warm text service
        for sid, problem in index_sources(self.settings, to_index, warm=self.warm).items():
            problem = frame_problems.get(sid) or problem
            outcomes[sid] = replace(outcomes[sid], index_error=problem)
        return [outcomes[item.source.id] for item, _ in items]

    def _connect(self) -> None:
        connect_ray(self.settings, log_to_driver=self.log_to_driver)
        if self._prepare is not None:
            prepare, self._prepare = self._prepare, None
            prepare()

    def _unindexed(self, cached: list[Outcome]) -> list[SourceToIndex]:
        """Cached analyses whose source has no rows in the search index (indexed before the
        index existed, or its rows were lost): index them from the stored artifacts."""
        if not cached:
            return []
        index = open_index(self.settings)
        todo = []
        for o in cached:
            if o.analysis is None or index.has_source(self.ctx.workspace_id, o.source_id):
                continue
            vectors = times = None
            if o.analysis.embeddings is not None:
                key = parse_s3_uri(o.analysis.embeddings.uri)[1]
                with np.load(io.BytesIO(self.media.read_bytes(key))) as npz:
                    vectors, times = npz["vectors"], npz["times"]
            todo.append(SourceToIndex.of(self.ctx.workspace_id, o.source_id, o.analysis,
                                         vectors, times))
        return todo

    def _store(self, item: Ingested, result: AnalysisResult) -> Analysis:
        src = item.source
        tag = self.fingerprint[:12]
        emb_uri = None
        if result.embeddings is not None:
            key = object_key(self.ctx.workspace_id, "analysis", src.id, f"embeddings-{tag}.npz")
            buf = io.BytesIO()
            np.savez(buf, vectors=result.embeddings, times=result.embedding_times)
            self.media.put_bytes(key, buf.getvalue(), content_type="application/octet-stream")
            emb_uri = f"s3://{self.media.bucket}/{key}"
        analysis = analysis_of(src, item.info.has_audio, result, self.cfg, emb_uri,
                               has_video=item.info.has_video)  # fmt: skip
        key = object_key(self.ctx.workspace_id, "analysis", src.id, f"analysis-{tag}.json")
        body = json.dumps(analysis.to_json()).encode()
        self.media.put_bytes(key, body, content_type="application/json")
        summary = {
            "scenes": len(result.scenes),
            "segments": len(analysis.transcript.segments),
            "tracks": len(result.tracks),
            "embeddings": 0 if result.embeddings is None else int(result.embeddings.shape[0]),
            "timings": dict(analysis.timings),
        }
        self._record(src, key, summary, None)
        return analysis

    def _record(
        self, source: Source, key: str | None, summary: dict[str, Any], error: str | None
    ) -> None:
        with self.ctx.db.session() as s:
            AnalysisRepo(s, self.ctx.workspace_id).record(
                source, self.fingerprint, artifact_key=key, summary=summary, error=error
            )
