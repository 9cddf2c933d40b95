"""Where a render reads its brand kit's assets (the effects graph's brand step).

The step names the kit's files by object keys of the workspace's media bucket (or, from
the CLI, local paths); the render task, on a worker, turns them into what FFmpeg opens,
as :func:`~clipray.pipelines.music.music_at` does for music: the intro and outro as
presigned URLs (FFmpeg seeks in them), the logo and background, small pictures, as
presigned URLs too, and the font downloaded into ``workdir``: libass reads fonts from a
directory, never a URL.

    >>> brand_inputs(spec, settings, workspace_id, workdir)  # doctest: +SKIP
    BrandInputs(logo='https://s3.../media/ws/brand/...png?X-Amz-...', font=...)
"""

from __future__ import annotations

from pathlib import Path

from clipray.clips.effects.brand import BrandInputs
from clipray.clips.render import RenderSpec
from clipray.config import Settings
from clipray.domain.errors import NotFound

FONT_DIR = "brand-fonts"
"""The folder of ``workdir`` the kit's font is downloaded into (libass's ``fontsdir``)."""


def brand_inputs(spec: RenderSpec, settings: Settings, workspace_id: str,
                 workdir: Path) -> BrandInputs | None:  # fmt: skip
    """The brand step's assets as FFmpeg inputs; None without a brand step.

    Raises:
        NotFound: ``BRAND_ASSET_MISSING`` when an asset's object (or file) is gone (the
            kit's asset deleted after the clip was planned)."""
    step = spec.effects.brand if spec.effects is not None else None
    if step is None:
        return None
    media = None

    def where(kind: str, key: str | None, download: bool = False) -> str | None:
        nonlocal media
        if key is None:
            return None
        if Path(key).is_absolute():
            if not Path(key).is_file():
                raise NotFound("BRAND_ASSET_MISSING", f"no brand {kind} file at {key}",
                               detail={"asset": kind})  # fmt: skip
            return key
        if media is None:
            from clipray.cluster.services import open_storage  # as the render task: a worker

            media = open_storage(settings).media.scoped(workspace_id)
        if media.head(key) is None:
            raise NotFound("BRAND_ASSET_MISSING",
                           f"the brand kit's {kind} ({key!r}) is not in the workspace",
                           detail={"asset": kind})  # fmt: skip
        if download:
            suffix = Path(key).suffix or ".ttf"
            return str(media.download(key, workdir / FONT_DIR / f"brand{suffix}"))
        return media.presign_get(key, expires_in=3600)

    font = where("font", step.font_key, download=True)
    if font is not None and Path(font).parent != workdir / FONT_DIR:
        # a local font: libass reads a directory, so the file gets one of its own
        (workdir / FONT_DIR).mkdir(parents=True, exist_ok=True)
        copy = workdir / FONT_DIR / f"brand{Path(font).suffix or '.ttf'}"
        copy.write_bytes(Path(font).read_bytes())
        font = str(copy)
    return BrandInputs(
        logo=where("logo", step.logo_key), font=Path(font) if font else None,
        background=where("background", step.background_key),
        intro=where("intro", step.intro_key), outro=where("outro", step.outro_key),
    )  # fmt: skip
