"""The web studio at ``/``: the single-page app's ``index.html`` and its hashed assets,
served by the ingress next to the API (``/api``) and the docs (``/docs``).

The studio routes with the URL's hash (``/#/jobs``), so the server only ever serves ``/``
and ``/assets/...``; any other path keeps the API's JSON 404. Without a build the studio
answers 503 ``STUDIO_NOT_BUILT`` naming the command that builds it, not a 500.

    >>> install_studio(api, DIST)  # doctest: +SKIP
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from clipray.domain.errors import Unavailable, not_found
from clipray.web import BUILD_COMMAND

_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
# Asset names carry a content hash, so a browser may keep them for good.
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable",
              "X-Content-Type-Options": "nosniff"}  # fmt: skip
mimetypes.add_type("text/javascript", ".js")  # some systems' tables map .js elsewhere


def install_studio(api: FastAPI, dist: Path) -> None:
    """Serve the build in ``dist`` at ``/`` (``index.html``) and ``/assets/{name}``."""
    root = dist.resolve()

    def index() -> Path:
        page = root / "index.html"
        if not page.is_file():
            raise Unavailable(
                "STUDIO_NOT_BUILT",
                f"the web studio is not built; run `{BUILD_COMMAND}` and restart "
                "(the API is at /api, its docs at /docs)",
                detail={"build_command": BUILD_COMMAND, "dist": str(root)},
            )
        return page

    @api.get("/", include_in_schema=False)
    def studio_index() -> FileResponse:
        return FileResponse(index(), media_type="text/html", headers=_NO_CACHE)

    @api.get("/assets/{name:path}", include_in_schema=False)
    def studio_asset(name: str) -> FileResponse:
        path = (root / "assets" / name).resolve()
        if not path.is_relative_to(root / "assets") or not path.is_file():
            raise not_found("asset", name)
        return FileResponse(path, headers=_IMMUTABLE)

    @api.get("/favicon.svg", include_in_schema=False)
    def studio_icon() -> FileResponse:
        path = root / "favicon.svg"
        if not path.is_file():
            raise not_found("asset", "favicon.svg")
        return FileResponse(path, media_type="image/svg+xml", headers=_NO_CACHE)
