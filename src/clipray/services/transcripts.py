"""Transcripts: what was said in a source, with word times, from its stored analysis.

The analysis document on the media bucket already holds every segment and word (the job
wrote it); this reads the newest successful analysis of the source, or of a job's source,
and gives it as data or as subtitles.

    >>> tr = of_job(session, buckets, ws, job_id)     # doctest: +SKIP
    >>> tr.as_text("srt")                             # doctest: +SKIP
    '1\\n00:00:00,000 --> 00:00:04,500\\nAnd so my fellow Americans,\\n\\n...'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.orm import Session

from clipray.clips.subtitles import to_srt, to_vtt
from clipray.domain.analysis import Analysis
from clipray.domain.errors import Conflict
from clipray.services.access import owned
from clipray.storage.objects import ObjectNotFoundError
from clipray.storage.orm import Job, Source
from clipray.storage.repos import AnalysisRepo

if TYPE_CHECKING:
    from clipray.storage.objects import Buckets

SubtitleFormat = Literal["srt", "vtt"]
MEDIA_TYPES: dict[SubtitleFormat, str] = {"srt": "application/x-subrip", "vtt": "text/vtt"}


@dataclass(frozen=True)
class Transcript:
    source_id: str
    language: str | None
    model: str | None
    segments: list[dict[str, Any]]
    """``{start, end, text, words: [{start, end, word, probability}]}``, in spoken order."""

    def as_text(self, fmt: SubtitleFormat) -> str:
        """The segments as subtitles, one cue each."""
        return to_srt(self.segments) if fmt == "srt" else to_vtt(self.segments)


def _not_ready(source_id: str) -> Conflict:
    return Conflict("TRANSCRIPT_NOT_READY",
                    f"source {source_id} has no finished analysis yet: its transcript is "
                    "made when a job analyses it")  # fmt: skip


def _segments(analysis: Analysis) -> list[dict[str, Any]]:
    segments = [
        {"start": s.start, "end": s.end, "text": s.text.strip(),
         "words": [{"start": w.start, "end": w.end, "word": w.word,
                    "probability": w.probability} for w in s.words]}
        for s in analysis.transcript.segments
    ]  # fmt: skip
    return sorted(segments, key=lambda s: (s["start"], s["end"]))


def of_source(session: Session, buckets: Buckets, workspace_id: str, source_id: str) -> Transcript:
    """The transcript of the source's newest successful analysis.

    Raises:
        NotFound / Forbidden: ``SOURCE_NOT_FOUND``, or another workspace's source.
        Conflict: 409 ``TRANSCRIPT_NOT_READY`` before an analysis stored its document.
    """
    source = owned(session, Source, source_id, workspace_id, "source")
    row = AnalysisRepo(session, workspace_id).latest(source.id)
    if row is None or row.artifact_key is None:
        raise _not_ready(source.id)
    try:
        doc = json.loads(buckets.media.scoped(workspace_id).read_bytes(row.artifact_key))
    except ObjectNotFoundError as exc:  # the document was removed: as if never analysed
        raise _not_ready(source.id) from exc
    analysis = Analysis.from_json(doc)
    tr = analysis.transcript
    return Transcript(source.id, tr.language or None, tr.model or None, _segments(analysis))


def of_job(session: Session, buckets: Buckets, workspace_id: str, job_id: str) -> Transcript:
    """The transcript of the job's source (see :func:`of_source`).

    Raises:
        NotFound / Forbidden: ``JOB_NOT_FOUND``, or another workspace's job.
        Conflict: 409 ``JOB_HAS_NO_SOURCE`` before the job stored its video, 409
            ``TRANSCRIPT_NOT_READY`` before it analysed it.
    """
    job = owned(session, Job, job_id, workspace_id, "job")
    if job.source_id is None:
        raise Conflict("JOB_HAS_NO_SOURCE", "the job has not stored its video yet")
    return of_source(session, buckets, workspace_id, job.source_id)
