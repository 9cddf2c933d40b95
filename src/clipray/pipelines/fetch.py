"""Fetch: download a video from a URL a user typed, without becoming a proxy into our network.

A URL from a user is an instruction to make requests from inside the cluster. Before
anything is fetched, :func:`check_url` insists on http(s), a host on the allowlist and
only globally routable addresses (no loopback, private ranges or cloud metadata
endpoints). :func:`download` then hands the checked URL to yt-dlp, re-checks where the
extraction actually led (redirects, embeds) before downloading the media, enforces a size
limit and a deadline, and leaves either one finished file or nothing in ``dest_dir``.

    >>> policy = UrlPolicy()
    >>> check_url("https://WWW.YouTube.com./watch?v=x", policy)  # doctest: +SKIP
    'https://www.youtube.com/watch?v=x'
    >>> path = download("https://youtu.be/x", Path("/tmp/job"), policy)  # doctest: +SKIP
    >>> path.name
    'source.mp4'
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from clipray.domain.errors import CodedError

RefusalCode = Literal[
    "URL_SCHEME_NOT_ALLOWED",
    "URL_INVALID",
    "URL_DOMAIN_NOT_ALLOWED",
    "URL_UNRESOLVABLE",
    "URL_ADDRESS_NOT_ALLOWED",
]
DownloadCode = Literal["DOWNLOAD_FAILED", "DOWNLOAD_TOO_LARGE"]
Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> addresses`` as strings; an empty list means the name does not resolve."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = {"http": 80, "https": 443}
# Longer than any real video page URL; refusing early keeps giant inputs out of logs and DNS.
_MAX_URL_LEN = 2048
_SCHEME_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_HOST_RE = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
# Answer a link-local scan with a refusal even when the range checks below would change.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT: is_private misses it
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # DNS64 answers: judged by the IPv4 inside
_RANGE_FLAGS = (
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_unspecified", "the unspecified address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)
# A stalled connection should fail well before the whole-download deadline; yt-dlp retries it.
_SOCKET_TIMEOUT_CAP_S = 60.0
_OUTPUT_STEM = "source"


class UrlRefusedError(CodedError):
    """The URL may not be fetched (400); ``code`` says why in a form a client can branch on.
    Not retryable: the policy refuses the same URL again."""

    status = 400

    def __init__(self, code: RefusalCode, message: str, **kw: Any) -> None:
        super().__init__(code, message, **kw)


class DownloadError(CodedError):
    """The URL was allowed but the download did not produce a usable file.

    ``DOWNLOAD_FAILED`` (502) is retryable: the site or the network may recover.
    ``DOWNLOAD_TOO_LARGE`` (413) is not: the same video is as large tomorrow."""

    status = 502

    def __init__(self, code: DownloadCode, message: str, **kw: Any) -> None:
        too_large = code == "DOWNLOAD_TOO_LARGE"
        kw.setdefault("status", 413 if too_large else 502)
        kw.setdefault("retryable", not too_large)
        super().__init__(code, message, **kw)


@dataclass(frozen=True)
class UrlPolicy:
    """What a user-given URL may point at, and how much of it may be fetched."""

    allowed_domains: tuple[str, ...] = ("youtube.com", "youtu.be", "twitch.tv", "vimeo.com")
    """A host matches a domain when equal to it or a subdomain of it. An IP address is
    matched only by the exact same IP here, never by a name."""
    allow_private: bool = False
    """Skip the address checks entirely. Only for tests that serve media from loopback."""
    max_bytes: int = 20 * 1024**3
    """Largest download accepted; a 2-hour 4K stream is a few GiB, 20 GiB is a runaway."""
    timeout_s: float = 600
    """Wall-clock limit for one download; each socket wait is capped lower (60 s)."""

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.timeout_s <= 0:
            raise ValueError("max_bytes and timeout_s must be positive")


# --- URL checks ----------------------------------------------------------------------------
def check_url(url: str, policy: UrlPolicy, resolve: Resolver | None = None, *,
              schemes: Mapping[str, int] = _SCHEMES) -> str:  # fmt: skip
    """Return the normalised form of ``url``, or raise :class:`UrlRefusedError`.

    The normalised URL (lowercase IDNA host, no trailing dot, no fragment) is the one to
    fetch: it is exactly what was checked.

    Args:
        url: What the user gave.
        policy: The allowlist and whether private addresses are allowed.
        resolve: ``(host, port) -> addresses``; defaults to :func:`socket.getaddrinfo`
            over all address families. Tests inject one to avoid real DNS.
        schemes: Allowed schemes and their default ports (live streams also pull RTMP
            and SRT); http(s) unless given.
    """
    _, host, ip, port, normalised = _parse(url, schemes)
    if not _host_allowed(host, ip, policy.allowed_domains):
        sites = ", ".join(policy.allowed_domains) or "none"
        raise UrlRefusedError(
            "URL_DOMAIN_NOT_ALLOWED", f"{host} is not one of the allowed sites ({sites})"
        )
    _check_addresses(host, ip, port, policy, resolve)
    return normalised


def check_public_url(url: str, allow_private: bool, resolve: Resolver | None = None) -> str:
    """:func:`check_url` without the site allowlist, for URLs clipray posts to (webhook
    subscribers): any host, but every address it resolves to must be public unless
    ``allow_private`` (the same ``URL_*`` codes)."""
    _, host, ip, port, normalised = _parse(url)
    _check_addresses(host, ip, port, UrlPolicy(allow_private=allow_private), resolve)
    return normalised


def _parse(url: str, schemes: Mapping[str, int] = _SCHEMES
           ) -> tuple[str, str, IPAddress | None, int, str]:  # fmt: skip
    """``url`` -> (scheme, host, host as IP or None, port, normalised URL)."""
    url = url.strip()
    m = _SCHEME_RE.match(url)
    scheme = m.group(1).lower() if m else ""
    if scheme not in schemes:
        shown = f"scheme {scheme!r}" if scheme else "a URL without a scheme"
        only = "http(s)" if schemes is _SCHEMES else ", ".join(sorted(schemes))
        raise UrlRefusedError("URL_SCHEME_NOT_ALLOWED", f"{shown} is not allowed, only {only}")
    if len(url) > _MAX_URL_LEN:
        raise UrlRefusedError("URL_INVALID", f"URL longer than {_MAX_URL_LEN} characters")
    # Browsers read a backslash as a slash, urllib does not: refuse what parsers disagree on.
    if "\\" in url or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UrlRefusedError("URL_INVALID", "URL contains whitespace, control characters or '\\'")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefusedError("URL_INVALID", f"malformed URL ({exc})") from exc
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefusedError("URL_INVALID", "URLs with a user name or password are not allowed")
    host, ip = _normalise_host(parts.hostname or "")
    netloc = f"[{ip.compressed}]" if isinstance(ip, ipaddress.IPv6Address) else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    normalised = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return scheme, host, ip, port or schemes[scheme], normalised


def _normalise_host(raw: str) -> tuple[str, IPAddress | None]:
    """Lowercase, one trailing dot off, IDNA-encoded; an IP literal comes back parsed too."""
    host = raw.lower().removesuffix(".")
    if not host:
        raise UrlRefusedError("URL_INVALID", "URL has no host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return ip.compressed, ip
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UrlRefusedError("URL_INVALID", f"{raw!r} is not a valid host name") from exc
    if not _HOST_RE.fullmatch(host) or len(host) > 253:
        raise UrlRefusedError("URL_INVALID", f"{raw!r} is not a valid host name")
    return host, None


def _host_allowed(host: str, ip: IPAddress | None, allowed: Iterable[str]) -> bool:
    for entry in allowed:
        try:
            domain, domain_ip = _normalise_host(entry.strip("[]"))
        except UrlRefusedError:
            continue  # a broken allowlist entry matches nothing
        if ip is not None or domain_ip is not None:
            if ip == domain_ip:
                return True
        elif host == domain or host.endswith("." + domain):
            return True
    return False


def _check_addresses(
    host: str, ip: IPAddress | None, port: int, policy: UrlPolicy, resolve: Resolver | None
) -> None:
    """Every address the host resolves to must be public, since any of them may be used."""
    if ip is not None:
        addresses = [ip.compressed]
    else:
        try:
            addresses = (resolve or _getaddrinfo)(host, port)
        except OSError:
            addresses = []
    if not addresses:
        raise UrlRefusedError("URL_UNRESOLVABLE", f"{host} does not resolve to any address")
    if policy.allow_private:
        return
    for address in addresses:
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 scope id
        except ValueError:
            why: str | None = "not an IP address"
        else:
            why = _why_not_public(parsed)
        if why is not None:
            raise UrlRefusedError(
                "URL_ADDRESS_NOT_ALLOWED",
                f"{host} resolves to {address}, {why}; only public addresses may be fetched",
            )


def _getaddrinfo(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _why_not_public(ip: IPAddress) -> str | None:
    """None for a globally routable address, otherwise what it is (for the error message).

    ``is_global`` alone is not enough: on Python 3.11 it is true for multicast, IPv6
    site-local and 6to4 addresses, and IPv4 addresses tunnelled inside IPv6 ones
    (``::ffff:127.0.0.1``) must be judged by the IPv4 address a gateway would reach.
    """
    if ip in _METADATA:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64:
            return _why_not_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and (why := _why_not_public(embedded)) is not None:
            return f"{why}, tunnelled in IPv6"
        if ip.is_site_local:
            return "a site-local address"
    elif ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    for flag, label in _RANGE_FLAGS:
        if getattr(ip, flag):
            return label
    return None if ip.is_global else "not a globally routable address"


# --- download ------------------------------------------------------------------------------
class _Abort(Exception):
    """Raised from the progress hook to stop yt-dlp mid-transfer; becomes DownloadError."""

    def __init__(self, code: DownloadCode, message: str) -> None:
        super().__init__(message)
        self.code: DownloadCode = code


class _Progress:
    """yt-dlp progress events -> one monotonic 0..1 fraction, the size limit and the deadline.

    A merged download is several files one after another (video, then audio), so the
    fraction is ``(finished parts + current part's fraction) / parts`` and the size limit
    counts the bytes of every part.
    """

    def __init__(
        self, parts: int, policy: UrlPolicy, callback: Callable[[float], None] | None
    ) -> None:
        self.parts = max(parts, 1)
        self.max_bytes = policy.max_bytes
        self.deadline = time.monotonic() + policy.timeout_s
        self.timeout_s = policy.timeout_s
        self.callback = callback
        self.done_parts = 0
        self.done_bytes = 0
        self.last = 0.0

    def __call__(self, d: dict[str, Any]) -> None:
        status = d.get("status")
        got = int(d.get("downloaded_bytes") or 0)
        total = d.get("total_bytes")
        if status == "downloading":
            if time.monotonic() > self.deadline:
                raise _Abort("DOWNLOAD_FAILED", f"download took longer than {self.timeout_s:g} s")
            if self.done_bytes + max(got, int(total or 0)) > self.max_bytes:
                raise _Abort("DOWNLOAD_TOO_LARGE", _too_large(self.max_bytes))
            total = total or d.get("total_bytes_estimate")
            if total:
                self.report((self.done_parts + min(got / total, 1.0)) / self.parts)
        elif status == "finished":
            self.done_parts += 1
            self.done_bytes += got or int(total or 0)
            self.report(self.done_parts / self.parts)

    def report(self, fraction: float) -> None:
        fraction = min(max(fraction, self.last), 1.0)
        self.last = fraction
        if self.callback is not None:
            self.callback(fraction)


class _Log:
    """yt-dlp's messages go to us, not to stdout/stderr; kept to explain a failure."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, msg: str) -> None:
        self.lines.append(msg)

    info = warning = error = debug

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)


def download(
    url: str,
    dest_dir: Path,
    policy: UrlPolicy,
    *,
    progress: Callable[[float], None] | None = None,
    resolve: Resolver | None = None,
) -> Path:
    """Download the single video at ``url`` into ``dest_dir/source.<ext>`` and return its path.

    The URL is checked (:func:`check_url`), the page is extracted, then the page yt-dlp
    ended on (after redirects and embeds) must pass :func:`check_url` again and each media
    URL must pass the scheme and address checks (CDN hosts differ from the page's, so the
    domain allowlist does not apply to them). Only then are bytes downloaded, into a
    private temporary directory that is moved into place on success and removed on any
    failure: ``dest_dir`` never holds a partial file. An earlier ``source.<ext>`` is replaced.

    Limitations (run downloads on workers whose egress is firewalled for defence in depth):
    yt-dlp resolves host names again itself, so a DNS server that answers a public address
    to the check and a private one to the fetch (DNS rebinding) is not stopped here; the
    allowlist limits this to the DNS of allowed sites. HTTP redirects while fetching the
    media, and fragment URLs inside HLS/DASH manifests, are not re-checked. Extraction
    itself may follow redirects before the re-check refuses them (the response is not kept).

    Args:
        url: What the user gave.
        dest_dir: Created if missing.
        policy: URL rules, ``max_bytes`` and ``timeout_s``.
        progress: Called with a non-decreasing fraction in 0..1; ends with 1.0 on success.
        resolve: Injected resolver for the checks (see :func:`check_url`).

    Raises:
        UrlRefusedError: The URL, or where it led, is not allowed.
        DownloadError: ``DOWNLOAD_TOO_LARGE`` past ``max_bytes``, ``DOWNLOAD_FAILED`` otherwise.
    """
    checked = check_url(url, policy, resolve)
    import yt_dlp  # heavy (every extractor); only workers that really download pay for it

    dest_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest_dir))
    log = _Log()
    try:
        opts = _ytdlp_options(work, policy, log)
        with yt_dlp.YoutubeDL(opts) as ydl:
            try:
                info = ydl.extract_info(checked, download=False)
                formats = _check_extracted(info, policy, resolve)
                hook = _Progress(len(formats), policy, progress)
                ydl.add_progress_hook(hook)
                done = ydl.process_ie_result(info, download=True)
            except (yt_dlp.utils.YoutubeDLError, OSError) as exc:
                raise DownloadError(
                    "DOWNLOAD_FAILED", f"could not download {checked}: {_short(str(exc))}"
                ) from exc
            except _Abort as exc:
                raise DownloadError(exc.code, str(exc)) from None
        result = _finished_file(done, work, policy, log)
        final = dest_dir / f"{_OUTPUT_STEM}{result.suffix}"
        result.replace(final)
        hook.report(1.0)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ytdlp_options(work: Path, policy: UrlPolicy, log: _Log) -> dict[str, Any]:
    return {
        "paths": {"home": str(work), "temp": str(work)},
        "outtmpl": {"default": f"{_OUTPUT_STEM}.%(ext)s"},
        "restrictfilenames": True,
        "noplaylist": True,
        "extract_flat": "in_playlist",  # a playlist is refused, so do not resolve its entries
        # Best picture up to 4K; at equal resolution prefer mp4/m4a so merging rarely re-muxes.
        "format": "bv*[height<=2160]+ba/b[height<=2160]/b",
        "format_sort": ["res:2160", "ext:mp4:m4a"],
        "merge_output_format": "mp4",
        "max_filesize": policy.max_bytes,
        "socket_timeout": min(policy.timeout_s, _SOCKET_TIMEOUT_CAP_S),
        "overwrites": True,
        "continuedl": False,
        "cachedir": False,
        "quiet": True,
        "noprogress": True,
        "no_color": True,
        "logger": log,
    }


def _check_extracted(
    info: dict[str, Any] | None, policy: UrlPolicy, resolve: Resolver | None
) -> list[dict[str, Any]]:
    """Refuse where extraction led; return the formats that will be downloaded."""
    if not info or info.get("_type", "video") != "video":
        raise DownloadError("DOWNLOAD_FAILED", "the URL is a playlist or channel, not one video")
    check_url(str(info.get("webpage_url") or ""), policy, resolve)
    formats = info.get("requested_formats") or [info]
    known = 0
    for fmt in formats:
        media_url = str(fmt.get("url") or "")
        _, host, ip, port, _ = _parse(media_url)
        _check_addresses(host, ip, port, policy, resolve)
        known += int(fmt.get("filesize") or 0)
    if known > policy.max_bytes:
        raise DownloadError("DOWNLOAD_TOO_LARGE", _too_large(policy.max_bytes))
    return formats


def _finished_file(done: dict[str, Any] | None, work: Path, policy: UrlPolicy, log: _Log) -> Path:
    downloads = (done or {}).get("requested_downloads") or []
    paths = [Path(d["filepath"]) for d in downloads if d.get("filepath")]
    path = next((p for p in paths if p.is_file() and p.parent == work), None)
    if path is None:
        # yt-dlp's own max_filesize check (Content-Length known) only logs and skips the file.
        if log.saw("larger than max-filesize"):
            raise DownloadError("DOWNLOAD_TOO_LARGE", _too_large(policy.max_bytes))
        raise DownloadError("DOWNLOAD_FAILED", "the downloader finished without writing a file")
    if path.stat().st_size > policy.max_bytes:
        raise DownloadError("DOWNLOAD_TOO_LARGE", _too_large(policy.max_bytes))
    return path


def _too_large(max_bytes: int) -> str:
    return f"the video is larger than the limit of {max_bytes} bytes"


def _short(message: str) -> str:
    """yt-dlp's ``ERROR: [generic] id: reason (caused by <...>)`` -> ``reason``-ish, one line."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", message).removeprefix("ERROR: ")
    lines = message.split(" (caused by ", 1)[0].strip().splitlines()
    return lines[0][:300] if lines else "unknown error"
