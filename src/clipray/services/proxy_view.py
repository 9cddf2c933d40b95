"""The source's all-intra proxy for frame-exact viewing in the browser (the cut editor).

Every frame of the proxy is a keyframe on the clips' frame grid, so a player seeking to
``(N + 0.5) / rate`` shows frame ``N`` exactly, with no decoding from a distant keyframe.
The proxy is built once per source, by the job runner, when something first wants it: an
approved clip's export, or here a reviewer opening the editor. Until it is ready the
answer says so (``status`` pending or building) and the caller asks again.

    >>> view = proxy_view(db, buckets, workspace_id, source_id, wake=wake_runner)  # doctest: +SKIP
    >>> view.url or view.status
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clipray.domain.errors import Conflict
from clipray.services.access import owned
from clipray.storage.db import Database
from clipray.storage.objects import Buckets
from clipray.storage.orm import ProxyStatus, Source

URL_TTL_S = 3600
"""How long a proxy URL works: an editing session, with the page asking again after."""


@dataclass(frozen=True)
class ProxyView:
    status: str
    """``ready`` (``url`` set), ``pending`` (queued) or ``building``."""
    url: str | None
    frame_count: int
    frame_rate: str
    error: str | None
    """Why the previous build failed, while it is being tried again."""


def proxy_view(db: Database, buckets: Buckets, workspace_id: str, source_id: str, *,
               wake: Callable[[], None] | None = None) -> ProxyView:  # fmt: skip
    """The proxy's presigned URL when it is ready; otherwise its build is queued (a failed
    one again) and the runner woken. A source without a frame grid (analysis pending, or
    sound only) is 409 ``NO_FRAME_GRID``."""
    queued = False
    with db.session() as s:
        source = owned(s, Source, source_id, workspace_id, "source")
        if not source.frame_count or not source.frame_rate:
            raise Conflict("NO_FRAME_GRID", "the source has no frames to edit yet: its "
                           "analysis is pending, or it is sound only")  # fmt: skip
        error = source.proxy_error
        if source.proxy_status in (ProxyStatus.NONE, ProxyStatus.FAILED):
            source.proxy_status, queued = ProxyStatus.PENDING, True
        status, key = source.proxy_status, source.proxy_key
        grid = (source.frame_count, source.frame_rate)
    if queued and wake is not None:
        wake()  # after the commit: the runner reads the wanted build from its own session
    url = None
    if status is ProxyStatus.READY and key:
        url = buckets.media.scoped(workspace_id).presign_get(key, expires_in=URL_TTL_S)
        error = None
    return ProxyView(status.value, url, grid[0], grid[1], error)
