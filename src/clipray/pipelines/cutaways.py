"""Where a render reads its clip's B-roll and sound effects (the effects graph's ``broll``
and ``sfx`` steps), as :func:`~clipray.pipelines.music.music_at` does for its music.

The steps store object keys of the workspace's media bucket (a library's videos and
sounds; a local path where the CLI passed one); the render task, on a worker, turns each
into something FFmpeg opens, and a clip whose B-roll or sound is gone is refused before
anything is rendered.

    >>> cutaways_at(spec, settings, workspace_id)  # doctest: +SKIP
    {'lib/city.mp4': 'https://s3.../media/ws/lib/city.mp4?X-Amz-...'}
"""

from __future__ import annotations

from pathlib import Path

from clipray.clips.render import RenderSpec
from clipray.config import Settings
from clipray.domain.errors import NotFound

URL_EXPIRY = 3600
"""Seconds a presigned URL lives: longer than one clip's render."""


def cutaways_at(spec: RenderSpec, settings: Settings, workspace_id: str) -> dict[str, str]:
    """Where FFmpeg reads each B-roll and sound-effect key of ``spec``: a local path as it
    is, a key as a presigned URL of the workspace's media object; empty without either.

    Raises:
        NotFound: ``BROLL_MISSING`` or ``SFX_MISSING`` when no such object (or file) exists.
    """
    fx = spec.effects
    wanted: dict[str, str] = {}
    if fx is not None and fx.broll is not None:
        wanted |= {i.key: "BROLL_MISSING" for i in fx.broll.inserts}
    if fx is not None and fx.sfx is not None:
        wanted |= {h.key: "SFX_MISSING" for h in fx.sfx.hits if h.key not in wanted}
    if not wanted:
        return {}
    from clipray.cluster.services import open_storage  # as the render task: on the worker

    media = None
    found: dict[str, str] = {}
    for key, code in wanted.items():
        what = "B-roll" if code == "BROLL_MISSING" else "sound effect"
        if Path(key).is_absolute():
            if not Path(key).is_file():
                raise NotFound(code, f"no {what} file at {key}")
            found[key] = key
            continue
        media = media or open_storage(settings).media.scoped(workspace_id)
        if media.head(key) is None:
            raise NotFound(code, f"no {what} object {key!r} in the workspace")
        found[key] = media.presign_get(key, expires_in=URL_EXPIRY)
    return found
