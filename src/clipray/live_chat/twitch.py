"""Reading a Twitch channel's chat anonymously over IRC, reconnecting when it drops.

Twitch's chat speaks IRC with IRCv3 message tags. An anonymous reader needs no account:
it logs in as ``justinfan<digits>`` without a password, asks for the ``twitch.tv/tags``
and ``twitch.tv/commands`` capabilities (the tags carry each message's id, author and
``tmi-sent-ts``, the server's send time in milliseconds), joins ``#channel`` and answers
the server's ``PING`` with ``PONG``. A dropped connection, a ``RECONNECT`` from the server
(sent before maintenance) or a silent link (our own ``PING`` unanswered) is reconnected
with exponential backoff; repeated failures end the reader with ``TWITCH_CHAT_UNAVAILABLE``.

This is an edge (network); what it yields are plain :class:`ChatMessage` values that the
stream worker maps to stream time and feeds to the pure live analysis.

    >>> reader = TwitchChatReader("somechannel")
    >>> for msg in reader.messages():  # doctest: +SKIP
    ...     velocity.feed([to_stream_time(msg.time)])
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from clipray.domain.errors import CodedError, Unavailable

log = logging.getLogger(__name__)

CAPABILITIES = "twitch.tv/tags twitch.tv/commands"
_CHANNEL = re.compile(r"^[a-z0-9_]{1,25}$")
_TAG_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


class ChatProtocolError(ConnectionError):
    """The server broke the exchange (no welcome, a refused login): worth a reconnect."""


@dataclass(frozen=True)
class IrcMessage:
    """One IRC line: IRCv3 tags, the prefix (who sent it), the command and its parameters
    (the trailing one, after ``" :"``, may hold spaces)."""

    command: str
    params: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    prefix: str | None = None

    @property
    def nick(self) -> str | None:
        """The sender's nick (``nick!user@host``), where the prefix names a user."""
        return self.prefix.split("!", 1)[0] if self.prefix and "!" in self.prefix else None


def unescape_tag(value: str) -> str:
    """An IRCv3 tag value unescaped (``\\s`` a space, ``\\:`` a semicolon, ...)."""
    out, chars = [], iter(value)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            out.append(_TAG_ESCAPES.get(nxt, nxt))
        else:
            out.append(c)
    return "".join(out)


def parse_line(line: str) -> IrcMessage:
    """Parse one IRC line (without its CRLF).

    Raises:
        ChatProtocolError: the line has no command.
    """
    rest = line.rstrip("\r\n")
    tags: dict[str, str] = {}
    prefix = None
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        for item in raw.split(";"):
            key, _, value = item.partition("=")
            if key:
                tags[key] = unescape_tag(value)
        rest = rest.lstrip(" ")
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    head, sep, trailing = rest.partition(" :")
    if not sep and rest.startswith(":"):
        head, trailing, sep = "", rest[1:], ":"
    words = head.split()
    if not words:
        raise ChatProtocolError(f"IRC line without a command: {line[:120]!r}")
    params = tuple(words[1:]) + ((trailing,) if sep else ())
    return IrcMessage(words[0].upper(), params, tags, prefix)


@dataclass(frozen=True)
class ChatMessage:
    """A chat message of the channel."""

    channel: str
    user: str
    """The author's login name."""
    text: str
    received_at: datetime
    """When this reader got it (UTC)."""
    sent_at: datetime | None = None
    """When Twitch's server sent it (``tmi-sent-ts``, UTC), where the tag is present."""
    id: str | None = None
    display_name: str | None = None
    action: bool = False
    """A ``/me`` message (its text is the action, without the CTCP wrapping)."""
    tags: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def time(self) -> datetime:
        """The best time of the message: the server's send time, else its arrival."""
        return self.sent_at or self.received_at


def chat_message(msg: IrcMessage, received_at: datetime) -> ChatMessage | None:
    """The chat message a ``PRIVMSG`` line carries; None for any other line."""
    if msg.command != "PRIVMSG" or len(msg.params) < 2:
        return None
    text = msg.params[-1]
    action = text.startswith("\x01ACTION ") and text.endswith("\x01")
    if action:
        text = text[len("\x01ACTION ") : -1]
    sent_at = None
    if (ts := msg.tags.get("tmi-sent-ts", "")).isdigit():
        sent_at = datetime.fromtimestamp(int(ts) / 1000, tz=UTC)
    return ChatMessage(
        channel=msg.params[0].lstrip("#"), user=msg.nick or msg.tags.get("login", ""),
        text=text, received_at=received_at, sent_at=sent_at, id=msg.tags.get("id") or None,
        display_name=msg.tags.get("display-name") or None, action=action, tags=msg.tags,
    )  # fmt: skip


def channel_name(channel: str) -> str:
    """A channel as Twitch names it: lower case, without ``#``.

    Raises:
        CodedError: ``TWITCH_CHANNEL_INVALID``, not a Twitch login name.
    """
    name = channel.strip().lstrip("#").lower()
    if not _CHANNEL.match(name):
        raise CodedError("TWITCH_CHANNEL_INVALID", f"{channel!r} is not a Twitch channel name "
                         "(1 to 25 letters, digits or underscores)")  # fmt: skip
    return name


@dataclass(frozen=True)
class TwitchChatConfig:
    """Where the chat is and how patiently it is read."""

    host: str = "irc.chat.twitch.tv"
    port: int | None = None
    """Default: 6697 with TLS, 6667 without."""
    tls: bool = True
    ca_file: str | None = None
    """A CA bundle to trust instead of the system's (a TLS-inspecting proxy, a test
    server); None: the system's CAs, as for Twitch itself."""
    connect_timeout_s: float = 10.0
    """For the TCP (and TLS) connect, and for the server's welcome and the JOIN."""
    poll_s: float = 0.5
    """How often a blocked read looks at the stop flag."""
    idle_ping_s: float = 90.0
    """After this long without a line, the reader sends its own PING..."""
    pong_timeout_s: float = 15.0
    """...and reconnects when no line comes back within this."""
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_failures: int = 8
    """Consecutive failed connections before the reader gives up."""

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port or (6697 if self.tls else 6667)


class TwitchChatReader:
    """An anonymous reader of one channel's chat, reconnecting on its own.

    :meth:`messages` yields the chat as it comes, from any thread; :meth:`close` (from
    another thread) ends it within ``poll_s``.
    """

    def __init__(self, channel: str, cfg: TwitchChatConfig | None = None,
                 *, nick: str | None = None) -> None:  # fmt: skip
        self.channel = channel_name(channel)
        self.cfg = cfg or TwitchChatConfig()
        self.nick = nick or f"justinfan{random.randint(10_000, 99_999_999)}"  # noqa: S311 (a name)
        self.connections = 0
        """Successful joins so far: 1 + the reconnects."""
        self.last_error: str | None = None
        self._stop = threading.Event()

    def close(self) -> None:
        self._stop.set()

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def messages(self) -> Iterator[ChatMessage]:
        """The channel's chat messages until :meth:`close`.

        Raises:
            Unavailable: ``TWITCH_CHAT_UNAVAILABLE`` after ``max_failures`` connections in
                a row failed (the reason in ``detail``).
        """
        failures = 0
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    self._join(conn)
                    failures = 0
                    self.connections += 1
                    yield from self._read(conn)
            except (OSError, ChatProtocolError) as exc:
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("twitch chat #%s: %s (failure %d)", self.channel, exc, failures)
                if failures >= self.cfg.max_failures:
                    raise Unavailable("TWITCH_CHAT_UNAVAILABLE",
                                      f"Twitch chat of #{self.channel} unreachable after "
                                      f"{failures} attempts: {self.last_error}",
                                      detail={"reason": self.last_error}) from exc  # fmt: skip
            if not self._stop.is_set():
                delay = min(self.cfg.max_backoff_s, self.cfg.backoff_s * 2 ** max(0, failures - 1))
                self._stop.wait(delay if failures else 0.0)

    def run(self, on_message: Callable[[ChatMessage], object],
            on_error: Callable[[Exception], object] | None = None) -> threading.Thread:  # fmt: skip
        """Read in a daemon thread, handing each message to ``on_message``."""

        def loop() -> None:
            try:
                for msg in self.messages():
                    on_message(msg)
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(exc)

        thread = threading.Thread(target=loop, name=f"twitch-chat-{self.channel}", daemon=True)
        thread.start()
        return thread

    # --- one connection ----------------------------------------------------------------
    def _connect(self) -> _Conn:
        host, port = self.cfg.address
        sock = socket.create_connection((host, port), timeout=self.cfg.connect_timeout_s)
        if self.cfg.tls:
            try:
                ctx = ssl.create_default_context(cafile=self.cfg.ca_file)
                sock = ctx.wrap_socket(sock, server_hostname=host)
            except OSError:
                sock.close()
                raise
        sock.settimeout(self.cfg.poll_s)
        return _Conn(sock)

    def _join(self, conn: _Conn) -> None:
        """Capabilities, anonymous login, JOIN; returns once the server confirms the JOIN."""
        conn.send(f"CAP REQ :{CAPABILITIES}")
        conn.send(f"NICK {self.nick}")
        deadline = time.monotonic() + self.cfg.connect_timeout_s
        welcomed = False
        while time.monotonic() < deadline and not self._stop.is_set():
            line = conn.readline()
            if line is None:
                continue
            msg = parse_line(line)
            if msg.command == "PING":
                conn.send(f"PONG :{msg.params[-1] if msg.params else 'tmi.twitch.tv'}")
            elif msg.command == "CAP" and len(msg.params) >= 2 and msg.params[1] == "NAK":
                log.warning("twitch chat: capabilities refused (%s); messages lack tags",
                            msg.params[-1])  # fmt: skip
            elif msg.command == "NOTICE" and not welcomed:
                raise ChatProtocolError(f"login refused: {msg.params[-1] if msg.params else ''}")
            elif msg.command in ("001", "376") and not welcomed:
                welcomed = True
                conn.send(f"JOIN #{self.channel}")
            elif msg.command == "JOIN" and msg.nick == self.nick:
                return
        if not self._stop.is_set():
            raise ChatProtocolError("no welcome and JOIN from the server within "
                                    f"{self.cfg.connect_timeout_s:g} s")  # fmt: skip

    def _read(self, conn: _Conn) -> Iterator[ChatMessage]:
        last_line = time.monotonic()
        pinged = False
        while not self._stop.is_set():
            line = conn.readline()
            now = time.monotonic()
            if line is None:
                idle = now - last_line
                if pinged and idle >= self.cfg.idle_ping_s + self.cfg.pong_timeout_s:
                    raise ChatProtocolError(f"no answer to PING in {self.cfg.pong_timeout_s:g} s")
                if not pinged and idle >= self.cfg.idle_ping_s:
                    conn.send("PING :tmi.twitch.tv")
                    pinged = True
                continue
            last_line, pinged = now, False
            msg = parse_line(line)
            if msg.command == "PING":
                conn.send(f"PONG :{msg.params[-1] if msg.params else 'tmi.twitch.tv'}")
            elif msg.command == "RECONNECT":
                log.info("twitch chat #%s: the server asked for a reconnect", self.channel)
                return
            elif (chat := chat_message(msg, datetime.now(UTC))) is not None:
                yield chat


class _Conn:
    """A socket read line by line (CRLF or LF), with a timeout per read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""

    def __enter__(self) -> _Conn:
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self) -> str | None:
        """The next line; None when none came within the socket's timeout.

        Raises:
            ConnectionResetError: the server closed the connection.
        """
        while b"\n" not in self._buf:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionResetError("the server closed the connection")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", errors="replace")
