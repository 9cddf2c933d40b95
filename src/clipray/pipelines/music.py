"""Where a render reads its clip's music track (the effects graph's audio step).

The step stores a key of the workspace's media bucket: what the API takes, and what
``clipray run --music FILE`` stores the file under (named by its bytes,
``services.main_job.music_on_bucket``). A local path is still read where a spec stored
before holds one. The render task, on a worker, turns it into something FFmpeg opens.

    >>> music_at(spec, settings, workspace_id)  # doctest: +SKIP
    'https://s3.../media/ws/music/bed.mp3?X-Amz-...'
"""

from __future__ import annotations

from pathlib import Path

from clipray.clips.render import RenderSpec
from clipray.config import Settings
from clipray.domain.errors import NotFound


def music_at(spec: RenderSpec, settings: Settings, workspace_id: str) -> str | None:
    """Where FFmpeg reads the clip's music: a local path as it is, a key as a presigned URL
    of the workspace's media object.

    Raises:
        NotFound: ``MUSIC_NOT_FOUND`` when no such object (or file) exists."""

    audio = spec.effects.audio if spec.effects is not None else None
    if audio is None or audio.music is None:
        return None
    return music_uri(audio.music, settings, workspace_id)


def music_uri(music: str, settings: Settings, workspace_id: str) -> str:
    """Where FFmpeg reads the music track ``music`` (a local path or a media key).

    Raises:
        NotFound: ``MUSIC_NOT_FOUND`` when no such object (or file) exists."""
    from clipray.cluster.services import open_storage

    if Path(music).is_absolute():
        if not Path(music).is_file():
            raise NotFound("MUSIC_NOT_FOUND", f"no music file at {music}")
        return music
    media = open_storage(settings).media.scoped(workspace_id)
    if media.head(music) is None:
        raise NotFound("MUSIC_NOT_FOUND", f"no music object {music!r} in the workspace")
    return media.presign_get(music, expires_in=3600)
