"""URL checks with an injected resolver, and real yt-dlp downloads from a loopback HTTP server."""

from __future__ import annotations

import functools
import hashlib
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from clipray.pipelines.fetch import (
    DownloadError,
    UrlPolicy,
    UrlRefusedError,
    check_public_url,
    check_url,
    download,
)

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
PUBLIC_V4 = "142.250.72.14"
PUBLIC_V6 = "2607:f8b0:4005:80a::200e"


def resolver(*addresses: str):
    """A DNS answer fixed by the test: the same addresses for any host."""
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


# --- check_url -----------------------------------------------------------------------------
REFUSED = [
    # Literal IPs are never on the default allowlist, whatever they point at.
    pytest.param("http://127.0.0.1/", (), "URL_DOMAIN_NOT_ALLOWED", id="ip/loopback"),
    pytest.param(
        "http://169.254.169.254/latest/meta-data", (), "URL_DOMAIN_NOT_ALLOWED", id="ip/metadata"
    ),
    pytest.param("http://[::1]/", (), "URL_DOMAIN_NOT_ALLOWED", id="ip/v6-loopback"),
    pytest.param("http://127.0.0.1./", (), "URL_DOMAIN_NOT_ALLOWED", id="ip/trailing-dot"),
    pytest.param("http://2130706433/", (), "URL_DOMAIN_NOT_ALLOWED", id="ip/decimal-form"),
    pytest.param("file:///etc/passwd", (), "URL_SCHEME_NOT_ALLOWED", id="scheme/file"),
    pytest.param("ftp://youtube.com/x", (), "URL_SCHEME_NOT_ALLOWED", id="scheme/ftp"),
    pytest.param("javascript:alert(1)", (), "URL_SCHEME_NOT_ALLOWED", id="scheme/javascript"),
    pytest.param("data:video/mp4;base64,AAAA", (), "URL_SCHEME_NOT_ALLOWED", id="scheme/data"),
    pytest.param("youtube.com/watch?v=x", (), "URL_SCHEME_NOT_ALLOWED", id="scheme/missing"),
    pytest.param("//youtube.com/watch?v=x", (), "URL_SCHEME_NOT_ALLOWED", id="scheme/relative"),
    pytest.param("http://example.com/v.mp4", (), "URL_DOMAIN_NOT_ALLOWED", id="domain/example"),
    pytest.param("https://evilyoutube.com/", (), "URL_DOMAIN_NOT_ALLOWED", id="domain/prefix"),
    pytest.param(
        "https://youtube.com.evil.net/", (), "URL_DOMAIN_NOT_ALLOWED", id="domain/as-subdomain"
    ),
    pytest.param("http://user:pw@youtube.com/", (), "URL_INVALID", id="invalid/userinfo"),
    pytest.param("https://youtube.com@evil.net/", (), "URL_INVALID", id="invalid/at-sign"),
    pytest.param("https://youtube.com\\@evil.net/", (), "URL_INVALID", id="invalid/backslash"),
    pytest.param("https:///watch", (), "URL_INVALID", id="invalid/no-host"),
    pytest.param("https://youtube.com:99999/", (), "URL_INVALID", id="invalid/port"),
    pytest.param("https://you tube.com/", (), "URL_INVALID", id="invalid/space"),
    pytest.param("https://a..youtube.com/", (), "URL_INVALID", id="invalid/empty-label"),
    pytest.param("https://www.youtube.com/", (), "URL_UNRESOLVABLE", id="dns/no-address"),
    # An allowlisted name is only as safe as the addresses it resolves to.
    *(
        pytest.param(
            "https://www.youtube.com/", answer, "URL_ADDRESS_NOT_ALLOWED", id=f"dns/{name}"
        )
        for name, answer in [
            ("private-10", ("10.0.0.5",)),
            ("private-192", ("192.168.1.2",)),
            ("loopback", ("127.0.0.1",)),
            ("v6-loopback", ("::1",)),
            ("v4-mapped-loopback", ("::ffff:127.0.0.1",)),
            ("metadata-aws", ("169.254.169.254",)),
            ("metadata-aws-v6", ("fd00:ec2::254",)),
            ("metadata-alibaba", ("100.100.100.200",)),
            ("shared-cgnat", ("100.64.0.1",)),
            ("multicast", ("224.0.0.1",)),
            ("unspecified", ("0.0.0.0",)),  # noqa: S104 (an answer to check, not a bind)
            ("link-local-scoped", ("fe80::1%eth0",)),
            ("site-local", ("fec0::1",)),
            ("6to4-loopback", ("2002:7f00:1::1",)),
            ("nat64-private", ("64:ff9b::a00:5",)),
            ("not-an-ip", ("not-an-ip",)),
            ("public-and-private", (PUBLIC_V4, "10.0.0.5")),
        ]
    ),
]


@pytest.mark.parametrize(("url", "addresses", "code"), REFUSED)
def test_refused(url: str, addresses: tuple[str, ...], code: str):
    with pytest.raises(UrlRefusedError) as info:
        check_url(url, UrlPolicy(), resolver(*addresses))
    assert info.value.code == code
    assert str(info.value)


@pytest.mark.parametrize(
    ("url", "allowed", "normalised"),
    [
        pytest.param("http://127.0.0.1/", "127.0.0.1", "http://127.0.0.1/", id="loopback"),
        pytest.param(
            "http://169.254.169.254/latest/meta-data",
            "169.254.169.254",
            "http://169.254.169.254/latest/meta-data",
            id="metadata",
        ),
        pytest.param("http://[::1]/", "::1", "http://[::1]/", id="v6-loopback"),
        pytest.param(
            "http://[0:0:0:0:0:0:0:1]:8080/", "[::1]", "http://[::1]:8080/", id="v6-long-form"
        ),
    ],
)
def test_an_allowlisted_ip_still_needs_a_public_address(url: str, allowed: str, normalised: str):
    with pytest.raises(UrlRefusedError) as info:
        check_url(url, UrlPolicy(allowed_domains=(allowed,)), resolver())
    assert info.value.code == "URL_ADDRESS_NOT_ALLOWED"
    unsafe = UrlPolicy(allowed_domains=(allowed,), allow_private=True)
    assert check_url(url, unsafe, resolver()) == normalised


@pytest.mark.parametrize(
    ("url", "addresses", "expected"),
    [
        pytest.param(
            "https://www.youtube.com/watch?v=x",
            (PUBLIC_V4,),
            "https://www.youtube.com/watch?v=x",
            id="subdomain",
        ),
        pytest.param("https://youtu.be/x", (PUBLIC_V6,), "https://youtu.be/x", id="public-v6"),
        pytest.param(
            "https://youtu.be/x",
            ("64:ff9b::8efa:480e", "2002:8efa:480e::1"),
            "https://youtu.be/x",
            id="nat64-and-6to4-of-public",
        ),
        pytest.param(
            "  HTTPS://WWW.YouTube.COM./watch?v=x#t=3 ",
            (PUBLIC_V4, PUBLIC_V6),
            "https://www.youtube.com/watch?v=x",
            id="normalised",
        ),
        pytest.param("https://vimeo.com", ("151.101.0.217",), "https://vimeo.com/", id="no-path"),
        pytest.param(
            "http://www.twitch.tv:8080/v", (PUBLIC_V4,), "http://www.twitch.tv:8080/v", id="port"
        ),
    ],
)
def test_accepted(url: str, addresses: tuple[str, ...], expected: str):
    resolve = resolver(*addresses)
    assert check_url(url, UrlPolicy(), resolve) == expected
    assert check_url(expected, UrlPolicy(), resolve) == expected  # normalising is idempotent
    host_port = resolve.calls[0]
    assert host_port[0] == expected.split("/")[2].split(":")[0]


def test_idna_host_is_encoded_before_matching_and_resolving():
    resolve = resolver(PUBLIC_V4)
    policy = UrlPolicy(allowed_domains=("bücher.example",))
    assert check_url("https://WWW.Bücher.example/v", policy, resolve) == (
        "https://www.xn--bcher-kva.example/v"
    )
    assert resolve.calls == [("www.xn--bcher-kva.example", 443)]


def test_allow_private_allows_any_address_but_not_any_domain():
    policy = UrlPolicy(allow_private=True)
    assert check_url("https://youtube.com/", policy, resolver("10.0.0.5", "169.254.169.254"))
    with pytest.raises(UrlRefusedError) as info:
        check_url("https://example.com/", policy, resolver(PUBLIC_V4))
    assert info.value.code == "URL_DOMAIN_NOT_ALLOWED"
    with pytest.raises(UrlRefusedError) as info:
        check_url("https://youtube.com/", policy, resolver())
    assert info.value.code == "URL_UNRESOLVABLE"


@pytest.mark.parametrize(
    ("url", "addresses", "code"),
    [
        pytest.param("https://hooks.example.com/in", (PUBLIC_V4,), None, id="public-name"),
        pytest.param("https://[2607:f8b0:4005:80a::200e]/", (), None, id="public-ipv6"),
        pytest.param("http://127.0.0.1:8080/", (), "URL_ADDRESS_NOT_ALLOWED", id="loopback"),
        pytest.param("https://hooks.example.com/", (PUBLIC_V4, "10.0.0.5"),
                     "URL_ADDRESS_NOT_ALLOWED", id="one-private-address"),
        pytest.param("ftp://hooks.example.com/", (PUBLIC_V4,), "URL_SCHEME_NOT_ALLOWED",
                     id="scheme"),
        pytest.param("https://nowhere.example/", (), "URL_UNRESOLVABLE", id="unresolvable"),
    ],
)  # fmt: skip
def test_public_url_check_has_no_allowlist_but_the_same_address_rules(url, addresses, code):
    """What webhook subscribers are held to: any host, public addresses only."""
    if code is None:
        assert check_public_url(url, False, resolver(*addresses))
        return
    with pytest.raises(UrlRefusedError) as info:
        check_public_url(url, False, resolver(*addresses))
    assert info.value.code == code


def test_public_url_check_allows_loopback_only_when_told_to():
    assert check_public_url("http://127.0.0.1:8080/hook", True) == "http://127.0.0.1:8080/hook"


# --- download from a real HTTP server on loopback ------------------------------------------
class _Handler(SimpleHTTPRequestHandler):
    """Static files, ``/stream/<path>`` without Content-Length, ``/off-site/<path>`` redirects."""

    def log_message(self, format: str, *args: object) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        if self.path.startswith("/off-site/"):
            self.send_response(302)
            port = self.server.server_address[1]
            target = self.path.removeprefix("/off-site")
            self.send_header("Location", f"http://localhost:{port}{target}")
            self.end_headers()
            return
        if self.path.startswith("/stream/"):
            path = Path(self.translate_path(self.path.removeprefix("/stream")))
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()  # HTTP/1.0 and no length: the body ends when the socket closes
            with open(path, "rb") as fh, _client_may_hang_up():
                shutil.copyfileobj(fh, self.wfile)
            return
        with _client_may_hang_up():
            super().do_GET()


class _client_may_hang_up:
    """yt-dlp's extractor reads only the head of a video response, then closes."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, ConnectionError)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[str]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client hanging up is not a test failure; assertions are on the client side


@pytest.fixture(scope="module")
def video() -> Path:
    """The smallest .mp4 in the shared media; a missing media dir is a failure, not a skip."""
    videos = sorted(MEDIA.rglob("*.mp4"), key=lambda p: p.stat().st_size)
    assert videos, f"no .mp4 under {MEDIA}"
    return videos[0]


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(MEDIA)))
    srv.hits = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def base(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _url(base: str, video: Path, prefix: str = "") -> str:
    return f"{base}{prefix}/{quote(video.relative_to(MEDIA).as_posix())}"


LOOPBACK = UrlPolicy(allowed_domains=("127.0.0.1",), allow_private=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_is_byte_identical_and_reports_progress(base, video, tmp_path):
    fractions: list[float] = []
    path = download(_url(base, video), tmp_path / "job", LOOPBACK, progress=fractions.append)
    assert path == tmp_path / "job" / "source.mp4"
    assert _sha256(path) == _sha256(video)
    assert fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == ["source.mp4"]


def test_a_podcast_episode_url_downloads_as_an_audio_only_source(base, tmp_path):
    from clipray.pipelines.validate import MediaLimits, validate_file

    flac = MEDIA / "speech" / "whisper_jfk" / "jfk.flac"
    path = download(_url(base, flac), tmp_path / "job", LOOPBACK)
    assert path.name == "source.flac"
    assert _sha256(path) == _sha256(flac)
    assert not validate_file(path, MediaLimits()).has_video  # a source, clipped as audiograms


def test_a_second_download_replaces_the_first(base, video, tmp_path):
    (tmp_path / "source.mp4").write_bytes(b"stale")
    path = download(_url(base, video), tmp_path, LOOPBACK)
    assert _sha256(path) == _sha256(video)


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        pytest.param(UrlPolicy(), "URL_DOMAIN_NOT_ALLOWED", id="default-policy"),
        pytest.param(
            UrlPolicy(allowed_domains=("127.0.0.1",)), "URL_ADDRESS_NOT_ALLOWED", id="no-private"
        ),
    ],
)
def test_refused_urls_are_never_requested(server, base, video, tmp_path, policy, code):
    before = len(server.hits)
    with pytest.raises(UrlRefusedError) as info:
        download(_url(base, video), tmp_path, policy)
    assert info.value.code == code
    assert len(server.hits) == before
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_off_the_allowlist_is_refused_before_downloading(base, video, tmp_path):
    with pytest.raises(UrlRefusedError) as info:
        download(_url(base, video, "/off-site"), tmp_path, LOOPBACK)
    assert info.value.code == "URL_DOMAIN_NOT_ALLOWED"
    assert "localhost" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_a_download_failure(base, tmp_path):
    with pytest.raises(DownloadError) as info:
        download(f"{base}/no/such/video.mp4", tmp_path, LOOPBACK)
    assert info.value.code == "DOWNLOAD_FAILED"
    assert "404" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("", id="content-length"),  # yt-dlp's max_filesize refuses up front
        pytest.param("/stream", id="no-content-length"),  # the progress hook stops it mid-way
    ],
)
def test_too_large_leaves_nothing_behind(base, video, tmp_path, prefix):
    size = video.stat().st_size
    policy = UrlPolicy(allowed_domains=("127.0.0.1",), allow_private=True, max_bytes=size // 2)
    with pytest.raises(DownloadError) as info:
        download(_url(base, video, prefix), tmp_path, policy)
    assert info.value.code == "DOWNLOAD_TOO_LARGE"
    assert list(tmp_path.iterdir()) == []


def test_stream_without_length_downloads_within_the_limit(base, video, tmp_path):
    path = download(_url(base, video, "/stream"), tmp_path, LOOPBACK)
    assert _sha256(path) == _sha256(video)
