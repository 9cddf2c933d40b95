"""Transcripts of a source, or of a job's source: segments and word times as JSON, or
subtitles (``?format=srt`` as ``application/x-subrip``, ``?format=vtt`` as ``text/vtt``).

They come from the stored analysis (:mod:`clipray.services.transcripts`): 409
``TRANSCRIPT_NOT_READY`` until a job has analysed the source.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from clipray.serve.deps import Caller, ServicesDep, SessionDep
from clipray.serve.permissions import Action
from clipray.serve.schemas import TranscriptOut
from clipray.services import transcripts

router = APIRouter(tags=["transcripts"])
Format = Annotated[Literal["json", "srt", "vtt"],
                   Query(alias="format", description="json, srt or vtt.")]  # fmt: skip
_DOC = {
    "response_model": TranscriptOut,
    "responses": {200: {"content": {"application/x-subrip": {"schema": {"type": "string"}},
                                    "text/vtt": {"schema": {"type": "string"}}}}},
}  # fmt: skip


def _answer(tr: transcripts.Transcript, fmt: str) -> TranscriptOut | Response:
    if fmt == "json":
        return TranscriptOut.model_validate(tr, from_attributes=True)
    sub: transcripts.SubtitleFormat = "srt" if fmt == "srt" else "vtt"
    return Response(tr.as_text(sub), media_type=transcripts.MEDIA_TYPES[sub])


@router.get("/api/sources/{source_id}/transcript", **_DOC)  # type: ignore[arg-type]
def source_transcript(source_id: str, who: Caller, session: SessionDep, svc: ServicesDep,
                      fmt: Format = "json") -> TranscriptOut | Response:  # fmt: skip
    """What was said in the source, with word times. Errors: 404 ``SOURCE_NOT_FOUND``, 409
    ``TRANSCRIPT_NOT_READY``."""
    who.require(Action.READ)
    return _answer(transcripts.of_source(session, svc.buckets, who.workspace_id, source_id), fmt)


@router.get("/api/jobs/{job_id}/transcript", **_DOC)  # type: ignore[arg-type]
def job_transcript(job_id: str, who: Caller, session: SessionDep, svc: ServicesDep,
                   fmt: Format = "json") -> TranscriptOut | Response:  # fmt: skip
    """What was said in the job's video, with word times. Errors: 404 ``JOB_NOT_FOUND``, 409
    ``JOB_HAS_NO_SOURCE`` / ``TRANSCRIPT_NOT_READY``."""
    who.require(Action.READ)
    return _answer(transcripts.of_job(session, svc.buckets, who.workspace_id, job_id), fmt)
