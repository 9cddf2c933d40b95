"""From what a user pastes to what ffmpeg can read.

A media URL (an HLS ``.m3u8``, a DASH ``.mpd``, an RTMP or SRT address, a file) goes to
ffmpeg as it is. A platform page (``https://www.twitch.tv/channel``, a YouTube live page) is
resolved with streamlink's Python API, which keeps up with the platforms' private APIs so
clipray does not have to; it is an optional dependency (the ``live`` extra). The media URL of
a platform expires (Twitch signs it), so the ingest resolves again at every reconnect.

    >>> resolve("https://cdn.example.com/live/index.m3u8")
    'https://cdn.example.com/live/index.m3u8'
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from clipray.domain.errors import CodedError, DependencyMissing

MEDIA_SCHEMES = frozenset({"rtmp", "rtmps", "srt", "rtsp", "udp", "file"})
"""Schemes that only ever carry media."""

MEDIA_SUFFIXES = frozenset({".m3u8", ".mpd", ".ts", ".flv", ".mp4", ".m4v", ".mkv", ".webm",
                            ".mov", ".aac", ".m4a", ".mp3"})  # fmt: skip
"""Path endings of an http(s) URL that points at media rather than a page."""


class ResolveError(CodedError):
    """The URL leads to no stream ffmpeg can read."""

    code = "STREAM_URL_UNSUPPORTED"

    def __init__(self, message: str, *, code: str | None = None, **kw: Any) -> None:
        super().__init__(code or type(self).code, message, **kw)


def is_media_url(url: str) -> bool:
    """Whether ``url`` goes to ffmpeg without resolution."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", *MEDIA_SCHEMES):
        return True
    return scheme in ("http", "https") and PurePosixPath(parts.path).suffix.lower() in (
        MEDIA_SUFFIXES)  # fmt: skip


def resolve(url: str, *, quality: str = "best") -> str:
    """The media URL behind ``url``: ``url`` itself when it is media, else the ``quality``
    stream streamlink finds on the page (``best`` when that quality is not offered).

    Raises:
        ResolveError: ``STREAM_URL_UNSUPPORTED`` (422) no plugin knows the page, or its
            stream is not a single URL; ``STREAM_OFFLINE`` (409, retryable) the page has no
            live stream now; ``STREAM_UNRESOLVED`` (503, retryable) the platform failed.
        DependencyMissing: a page URL and streamlink is not installed.
    """
    if is_media_url(url):
        return url
    try:
        from streamlink import Streamlink
        from streamlink.exceptions import NoPluginError, PluginError
    except ImportError as exc:
        raise DependencyMissing("streamlink", "resolving a platform page needs it: "
                                "pip install 'clipray[live]'") from exc  # fmt: skip
    detail = {"url": url}
    try:
        streams = Streamlink().streams(url)
    except NoPluginError as exc:
        raise ResolveError(f"{url} is neither a media URL nor a page streamlink knows",
                           detail=detail) from exc  # fmt: skip
    except PluginError as exc:
        raise ResolveError(f"could not resolve {url}: {exc}", code="STREAM_UNRESOLVED",
                           status=503, retryable=True, detail=detail) from exc  # fmt: skip
    if not streams:
        raise ResolveError(f"{url} has no live stream now", code="STREAM_OFFLINE",
                           status=409, retryable=True, detail=detail)  # fmt: skip
    stream = streams.get(quality) or streams.get("best") or next(iter(streams.values()))
    try:
        return str(stream.to_url())
    except TypeError as exc:  # a muxed DASH stream is several URLs
        raise ResolveError(f"the stream of {url} is not a single media URL",
                           detail=detail) from exc  # fmt: skip
