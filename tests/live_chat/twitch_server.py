"""A local IRC server speaking Twitch's dialect, for the chat reader's tests.

Written from Twitch's IRC documentation (dev.twitch.tv/docs/irc: "IRC Concepts",
"Authenticating", "Twitch IRC Tags", "Membership"): capability negotiation answers
``CAP * ACK`` for ``twitch.tv/tags``, ``twitch.tv/commands`` and ``twitch.tv/membership``
(``NAK`` for anything else); a ``NICK justinfan<digits>`` logs in anonymously without a
``PASS``, any other nick needs ``PASS oauth:...`` or gets ``NOTICE * :Login authentication
failed`` and a closed connection; the welcome is numerics 001-004 and the MOTD 375/372/376;
``JOIN #channel`` is echoed with the joiner's ``nick!nick@nick.tmi.twitch.tv`` prefix,
followed by NAMES (353/366) and, with tags, ``ROOMSTATE``; ``PING`` gets ``PONG``; chat
lines are ``PRIVMSG`` with the documented tags (``tmi-sent-ts`` in milliseconds, ``id``,
``display-name`` ...), escaped per IRCv3, only for clients that asked for tags. The test
drives it: send messages, flood, ping, drop every connection, or ask for a reconnect.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field

KNOWN_CAPS = frozenset({"twitch.tv/tags", "twitch.tv/commands", "twitch.tv/membership"})
_ANONYMOUS = re.compile(r"^justinfan\d+$")


def escape_tag(value: str) -> str:
    """A tag value escaped per IRCv3 (what Twitch sends)."""
    return (value.replace("\\", "\\\\").replace(";", "\\:").replace(" ", "\\s")
            .replace("\r", "\\r").replace("\n", "\\n"))  # fmt: skip


@dataclass
class _Client:
    sock: socket.socket
    caps: set[str] = field(default_factory=set)
    nick: str | None = None
    password: str | None = None
    channels: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, line: str) -> None:
        with self.lock, contextlib.suppress(OSError):
            self.sock.sendall(line.encode() + b"\r\n")


class FakeTwitchIrc:
    """The server, on a free loopback port, one thread per connection."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.received: list[str] = []
        """Every line every client sent, in order."""
        self.joins = 0
        self.pongs: list[str] = []
        self.answer_pings = True
        """False: the server goes mute to the client's PING (a half-dead link)."""
        self._clients: list[_Client] = []
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FakeTwitchIrc:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped = True
        self._listener.close()
        self.drop()

    # --- what the test drives --------------------------------------------------------
    def wait_for(self, predicate, timeout: float = 10.0) -> None:
        """Block until ``predicate()`` holds (checked whenever a client line arrives)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"server: condition not met in {timeout} s; "
                                       f"lines so far: {self.received[-10:]}")  # fmt: skip
                self._cond.wait(left)

    def privmsg(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        display_name: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """A chat message from ``user`` to everyone who joined ``#channel``, sent now."""
        all_tags = {
            "badge-info": "", "badges": "", "color": "#1E90FF",
            "display-name": display_name or user, "emotes": "", "first-msg": "0", "flags": "",
            "id": str(uuid.uuid4()), "mod": "0", "returning-chatter": "0",
            "room-id": "713936733", "subscriber": "0",
            "tmi-sent-ts": str(int(time.time() * 1000)), "turbo": "0",
            "user-id": str(abs(hash(user)) % 10**9), "user-type": "", **(tags or {}),
        }  # fmt: skip
        tag_part = ";".join(f"{k}={escape_tag(v)}" for k, v in all_tags.items())
        line = f":{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{channel} :{text}"
        for c in self._joined(channel):
            c.send(f"@{tag_part} {line}" if "twitch.tv/tags" in c.caps else line)

    def ping(self) -> None:
        for c in self._live():
            c.send("PING :tmi.twitch.tv")

    def reconnect(self) -> None:
        """Twitch's notice before maintenance: clients should reconnect."""
        for c in self._live():
            c.send(":tmi.twitch.tv RECONNECT")

    def drop(self) -> None:
        """Close every connection at once, as a crashed edge server would."""
        with self._cond:
            clients, self._clients = self._clients, []
        for c in clients:
            with contextlib.suppress(OSError):
                c.sock.shutdown(socket.SHUT_RDWR)
            c.sock.close()

    # --- the server side -------------------------------------------------------------
    def _live(self) -> list[_Client]:
        with self._cond:
            return list(self._clients)

    def _joined(self, channel: str) -> list[_Client]:
        return [c for c in self._live() if channel in c.channels]

    def _accept(self) -> None:
        while not self._stopped:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            client = _Client(sock)
            with self._cond:
                self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, c: _Client) -> None:
        buf = b""
        try:
            if self._tls is not None:
                c.sock = self._tls.wrap_socket(c.sock, server_side=True)
            while True:
                chunk = c.sock.recv(4096)
                if not chunk:
                    return
                buf += chunk
                while b"\r\n" in buf:
                    raw, buf = buf.split(b"\r\n", 1)
                    line = raw.decode()
                    with self._cond:
                        self.received.append(line)
                    if not self._handle(c, line):
                        return
                    with self._cond:
                        self._cond.notify_all()
        except OSError:
            return
        finally:
            with self._cond:
                if c in self._clients:
                    self._clients.remove(c)
                self._cond.notify_all()
            c.sock.close()

    def _handle(self, c: _Client, line: str) -> bool:
        """Answer one client line; False closes the connection."""
        command, _, rest = line.partition(" ")
        command = command.upper()
        if command == "CAP" and rest.startswith("REQ :"):
            wanted = rest[len("REQ :"):].split()
            ok = set(wanted) <= KNOWN_CAPS
            if ok:
                c.caps.update(wanted)
            c.send(f":tmi.twitch.tv CAP * {'ACK' if ok else 'NAK'} :{' '.join(wanted)}")
        elif command == "PASS":
            c.password = rest
        elif command == "NICK":
            c.nick = rest.strip().lower()
            if not _ANONYMOUS.match(c.nick) and not (c.password or "").startswith("oauth:"):
                c.send(":tmi.twitch.tv NOTICE * :Login authentication failed")
                return False
            n = c.nick
            for code, text in (("001", ":Welcome, GLHF!"), ("002", ":Your host is tmi.twitch.tv"),
                               ("003", ":This server is rather new"), ("004", ":-"),
                               ("375", ":-"), ("372", ":You are in a maze of twisty passages."),
                               ("376", ":>")):  # fmt: skip
                c.send(f":tmi.twitch.tv {code} {n} {text}")
        elif command == "JOIN" and c.nick:
            for chan in rest.lstrip(":").split(","):
                name = chan.strip().lstrip("#").lower()
                c.channels.add(name)
                n = c.nick
                c.send(f":{n}!{n}@{n}.tmi.twitch.tv JOIN #{name}")
                c.send(f":{n}.tmi.twitch.tv 353 {n} = #{name} :{n}")
                c.send(f":{n}.tmi.twitch.tv 366 {n} #{name} :End of /NAMES list")
                if "twitch.tv/tags" in c.caps:
                    c.send("@emote-only=0;followers-only=-1;r9k=0;room-id=713936733;slow=0;"
                           f"subs-only=0 :tmi.twitch.tv ROOMSTATE #{name}")  # fmt: skip
                with self._cond:
                    self.joins += 1
        elif command == "PING" and self.answer_pings:
            c.send(f":tmi.twitch.tv PONG tmi.twitch.tv {rest}")
        elif command == "PONG":
            with self._cond:
                self.pongs.append(rest)
        elif command == "QUIT":
            return False
        return True
