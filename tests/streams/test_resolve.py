"""Resolving what a user pastes: media URLs pass through; pages go through streamlink's
Python API (here its generic HLS plugin against a local server); a page nothing knows is a
clear refusal."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipray.streams.resolve import ResolveError, resolve

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:1.000000,
s0.ts
#EXTINF:1.000000,
s1.ts
"""


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "live.m3u8").write_text(PLAYLIST)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_streamlink_resolves_a_page_to_its_media_url(http_root: str):
    pytest.importorskip("streamlink", reason="the live extra is not installed")
    url = f"{http_root}/live.m3u8"
    # "hls://" makes it a page for streamlink: its HLS plugin fetches and parses the playlist.
    assert resolve(f"hls://{url}") == url


def test_a_page_no_plugin_knows_is_refused():
    pytest.importorskip("streamlink", reason="the live extra is not installed")
    with pytest.raises(ResolveError) as err:
        resolve("https://127.0.0.1:9/watch/some-page")
    assert (err.value.code, err.value.status) == ("STREAM_URL_UNSUPPORTED", 422)
    assert err.value.detail == {"url": "https://127.0.0.1:9/watch/some-page"}


def test_a_resolved_page_with_an_unreadable_playlist_is_unresolved(http_root: str):
    pytest.importorskip("streamlink", reason="the live extra is not installed")
    with pytest.raises(ResolveError) as err:
        resolve(f"hls://{http_root}/missing.m3u8")
    assert (err.value.code, err.value.status, err.value.retryable) == (
        "STREAM_UNRESOLVED", 503, True)
