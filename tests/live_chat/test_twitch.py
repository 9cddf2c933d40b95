"""The anonymous Twitch chat reader against a local server speaking Twitch's IRC dialect
(tests/live_chat/twitch_server.py): login, capabilities and JOIN as Twitch expects them,
messages with their tags, PING/PONG, reconnects after a drop and after RECONNECT, giving
up with a code, and the chat velocity rising when the server floods the channel."""

from __future__ import annotations

import datetime as dt
import ipaddress
import queue
import re
import socket
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clipray.domain.errors import Unavailable
from clipray.live.events import EventKind
from clipray.live.settings import ChatConfig
from clipray.live.signals import ChatVelocityDetector
from clipray.live_chat.twitch import ChatMessage, TwitchChatConfig, TwitchChatReader
from tests.live_chat.twitch_server import FakeTwitchIrc

WAIT_S = 10.0


@pytest.fixture
def server():
    with FakeTwitchIrc() as s:
        yield s


def local(server: FakeTwitchIrc, **kw) -> TwitchChatConfig:
    return TwitchChatConfig(host="127.0.0.1", port=server.port, tls=False, poll_s=0.05, **kw)


@pytest.fixture
def reading(server):
    """A reader of #somechannel on the server, its messages on a queue."""
    reader = TwitchChatReader("#SomeChannel", local(server, backoff_s=0.05))
    inbox: queue.Queue[ChatMessage | Exception] = queue.Queue()
    thread = reader.run(inbox.put, on_error=inbox.put)
    server.wait_for(lambda: server.joins >= 1)
    until(lambda: reader.connections >= 1)
    yield reader, inbox
    reader.close()
    thread.join(timeout=WAIT_S)
    assert not thread.is_alive()


def until(predicate, timeout: float = WAIT_S) -> None:
    """Wait for the reader's side of a condition, with a deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def take(inbox: queue.Queue, n: int = 1) -> list[ChatMessage]:
    out = [inbox.get(timeout=WAIT_S) for _ in range(n)]
    assert all(isinstance(m, ChatMessage) for m in out), out
    return out


def test_logs_in_anonymously_asks_for_tags_and_joins(server, reading):
    reader, _ = reading
    cap, nick, join = server.received[:3]
    assert cap == "CAP REQ :twitch.tv/tags twitch.tv/commands"
    assert re.fullmatch(r"NICK justinfan\d+", nick)
    assert nick == f"NICK {reader.nick}"
    assert join == "JOIN #somechannel"
    assert not any(line.startswith("PASS") for line in server.received)
    assert reader.connections == 1


def test_messages_arrive_with_their_tags_and_send_time(server, reading):
    _, inbox = reading
    before = datetime.now(UTC)
    server.privmsg("somechannel", "viewer_1", "what a play", display_name="Viewer 1",
                   tags={"reply-parent-msg-body": "did you see that; wow"})  # fmt: skip
    server.privmsg("somechannel", "viewer_2", "\x01ACTION claps\x01")
    server.privmsg("otherchannel", "viewer_3", "not for us")
    first, second = take(inbox, 2)
    assert (first.channel, first.user, first.display_name, first.text) == (
        "somechannel", "viewer_1", "Viewer 1", "what a play")
    assert first.tags["reply-parent-msg-body"] == "did you see that; wow"
    assert first.id
    assert first.sent_at is not None
    assert before.replace(microsecond=0) <= first.sent_at <= first.received_at
    assert (second.user, second.text, second.action) == ("viewer_2", "claps", True)
    server.privmsg("somechannel", "viewer_4", "next")
    assert [m.user for m in take(inbox)] == ["viewer_4"]  # #otherchannel's never came


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "irc.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


def test_reads_over_tls_and_refuses_an_untrusted_certificate(tls_files):
    cert_file, key_file = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    with FakeTwitchIrc(tls=ctx) as server:
        cfg = TwitchChatConfig(host="127.0.0.1", port=server.port, tls=True,
                               ca_file=str(cert_file), poll_s=0.05)  # fmt: skip
        reader = TwitchChatReader("somechannel", cfg)
        inbox: queue.Queue = queue.Queue()
        thread = reader.run(inbox.put, on_error=inbox.put)
        try:
            server.wait_for(lambda: server.joins >= 1)
            server.privmsg("somechannel", "viewer_1", "encrypted hello")
            assert [m.text for m in take(inbox)] == ["encrypted hello"]
        finally:
            reader.close()
            thread.join(timeout=WAIT_S)
        # the system's CAs do not know this certificate: every attempt fails, then the code
        untrusted = TwitchChatReader("somechannel", TwitchChatConfig(
            host="127.0.0.1", port=server.port, tls=True, backoff_s=0.01, max_failures=2))
        with pytest.raises(Unavailable) as err:
            next(untrusted.messages())
        assert "CERTIFICATE_VERIFY_FAILED" in err.value.message


def test_ping_is_answered_with_pong(server, reading):
    server.ping()
    server.wait_for(lambda: server.pongs == [":tmi.twitch.tv"])


def test_reconnects_after_a_drop_and_after_reconnect(server, reading):
    reader, inbox = reading
    server.drop()
    server.wait_for(lambda: server.joins >= 2)
    server.privmsg("somechannel", "viewer_1", "back again")
    assert [m.text for m in take(inbox)] == ["back again"]
    server.reconnect()
    server.wait_for(lambda: server.joins >= 3)
    server.privmsg("somechannel", "viewer_1", "and again")
    assert [m.text for m in take(inbox)] == ["and again"]
    until(lambda: reader.connections == 3)
    assert reader.last_error is not None  # the drop


def test_a_silent_link_is_pinged_and_then_reconnected(server):
    server.answer_pings = False
    reader = TwitchChatReader("somechannel", local(server, idle_ping_s=0.3, pong_timeout_s=0.3))
    inbox: queue.Queue = queue.Queue()
    thread = reader.run(inbox.put, on_error=inbox.put)
    try:
        server.wait_for(lambda: any(line.startswith("PING") for line in server.received))
        server.wait_for(lambda: server.joins >= 2)
        assert "no answer to PING" in (reader.last_error or "")
    finally:
        reader.close()
        thread.join(timeout=WAIT_S)
    assert inbox.empty()


def test_an_unreachable_server_ends_the_reader_with_a_code():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed again: nothing listens there
    cfg = TwitchChatConfig(host="127.0.0.1", port=port, tls=False, backoff_s=0.01,
                           max_failures=3)  # fmt: skip
    reader = TwitchChatReader("somechannel", cfg)
    with pytest.raises(Unavailable) as err:
        next(reader.messages())
    assert err.value.code == "TWITCH_CHAT_UNAVAILABLE"
    assert err.value.retryable
    assert "ConnectionRefusedError" in err.value.detail["reason"]


def test_a_refused_login_is_a_failure_with_the_servers_notice(server):
    cfg = local(server, backoff_s=0.01, max_failures=2)
    reader = TwitchChatReader("somechannel", cfg, nick="notanonymous")
    with pytest.raises(Unavailable) as err:
        next(reader.messages())
    assert "Login authentication failed" in err.value.message


def test_chat_velocity_rises_when_the_server_floods(server, reading):
    """Four seconds at 5 messages a second, then 80 messages in one second: the velocity,
    measured on the messages' own ``tmi-sent-ts``, calls one spike on the flood."""
    _, inbox = reading
    cfg = ChatConfig(window_s=1.0, baseline_s=10.0, min_baseline_s=2.0, ratio=3.0,
                     min_rate=2.0, reaction_s=0.0)  # fmt: skip
    det = ChatVelocityDetector(cfg)
    origin = datetime.now(UTC)

    def stream_time(m: ChatMessage) -> float:
        return (m.time - origin).total_seconds()

    sent = 0
    for _ in range(20):
        server.privmsg("somechannel", f"v{sent % 7}", "gg")
        sent += 1
        time.sleep(0.2)
    flood_at = (datetime.now(UTC) - origin).total_seconds()
    for _ in range(80):
        server.privmsg("somechannel", f"v{sent % 7}", "OMG")
        sent += 1
        time.sleep(1 / 80)
    time.sleep(1.5)  # a calm stretch after the flood, so the spike ends
    events = det.feed(stream_time(m) for m in take(inbox, sent))
    events += det.advance((datetime.now(UTC) - origin).total_seconds())
    [spike] = events
    assert spike.kind is EventKind.CHAT
    assert flood_at - 0.5 <= spike.t_start <= flood_at + 0.5
    assert spike.detail["rate_per_s"] >= 25  # 5x the baseline, even if the flood is slowed
    assert spike.detail["baseline_per_s"] == pytest.approx(5.0, abs=1.5)
