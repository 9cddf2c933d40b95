"""Parsing Twitch's IRC lines (the examples of Twitch's IRC documentation)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clipray.domain.errors import CodedError
from clipray.live_chat.twitch import ChatProtocolError, channel_name, chat_message, parse_line
from tests.live_chat.twitch_server import escape_tag

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DOC_PRIVMSG = (
    "@badge-info=;badges=broadcaster/1;client-nonce=997dcf443c31e258c1d32a8da47b6936;"
    "color=#0000FF;display-name=abc;emotes=;first-msg=0;flags=0-6:S.7;"
    "id=eb24e920-8065-492a-8aea-266a00fc5126;mod=0;room-id=713936733;subscriber=0;"
    "tmi-sent-ts=1642786203573;turbo=0;user-id=713936733;user-type= "
    ":abc!abc@abc.tmi.twitch.tv PRIVMSG #xyz :HeyGuys"
)


def test_the_documented_privmsg_becomes_a_chat_message():
    msg = parse_line(DOC_PRIVMSG)
    assert msg.command == "PRIVMSG"
    assert msg.params == ("#xyz", "HeyGuys")
    assert msg.nick == "abc"
    assert msg.tags["flags"] == "0-6:S.7"
    assert msg.tags["user-type"] == ""
    chat = chat_message(msg, NOW)
    assert chat is not None
    assert (chat.channel, chat.user, chat.display_name, chat.text) == ("xyz", "abc", "abc",
                                                                      "HeyGuys")  # fmt: skip
    assert chat.id == "eb24e920-8065-492a-8aea-266a00fc5126"
    assert chat.sent_at == datetime(2022, 1, 21, 17, 30, 3, 573000, tzinfo=UTC)
    assert chat.time == chat.sent_at
    assert chat.received_at == NOW


@pytest.mark.parametrize(
    ("line", "command", "params", "prefix"),
    [
        pytest.param("PING :tmi.twitch.tv", "PING", ("tmi.twitch.tv",), None, id="ping"),
        pytest.param(":tmi.twitch.tv RECONNECT", "RECONNECT", (), "tmi.twitch.tv",
                     id="reconnect"),
        pytest.param(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands", "CAP",
                     ("*", "ACK", "twitch.tv/tags twitch.tv/commands"), "tmi.twitch.tv",
                     id="cap-ack"),
        pytest.param(":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!", "001",
                     ("justinfan1", "Welcome, GLHF!"), "tmi.twitch.tv", id="welcome"),
        pytest.param(":ronni!ronni@ronni.tmi.twitch.tv JOIN #dallas", "JOIN", ("#dallas",),
                     "ronni!ronni@ronni.tmi.twitch.tv", id="join"),
        pytest.param(":abc!abc@abc.tmi.twitch.tv PRIVMSG #xyz :a :colon, inside\r\n",
                     "PRIVMSG", ("#xyz", "a :colon, inside"), "abc!abc@abc.tmi.twitch.tv",
                     id="trailing-with-colon"),
    ],
)
def test_lines_parse(line, command, params, prefix):
    msg = parse_line(line)
    assert (msg.command, msg.params, msg.prefix) == (command, params, prefix)
    assert chat_message(msg, NOW) is None or command == "PRIVMSG"


@pytest.mark.parametrize(
    "value",
    ["plain", "two words", "semi;colon", "back\\slash", "line\r\nbreak", "", "a\\s literal"],
)
def test_tag_values_round_trip_through_ircv3_escaping(value):
    msg = parse_line(f"@reply-parent-msg-body={escape_tag(value)};x=1 :a!a@a PRIVMSG #c :hi")
    assert msg.tags["reply-parent-msg-body"] == value
    assert msg.tags["x"] == "1"


def test_an_action_loses_its_ctcp_wrapping():
    chat = chat_message(parse_line(":a!a@a.tmi.twitch.tv PRIVMSG #c :\x01ACTION waves\x01"), NOW)
    assert chat is not None
    assert (chat.text, chat.action, chat.sent_at, chat.time) == ("waves", True, None, NOW)


def test_a_line_without_a_command_is_a_protocol_error():
    with pytest.raises(ChatProtocolError):
        parse_line("@a=b :prefix.only")


@pytest.mark.parametrize("name", ["", "#", "two words", "x" * 26, "bad-dash", "émile"])
def test_a_bad_channel_name_is_refused_with_a_code(name):
    with pytest.raises(CodedError) as err:
        channel_name(name)
    assert err.value.code == "TWITCH_CHANNEL_INVALID"


def test_channel_names_are_lower_case_without_the_hash():
    assert channel_name("#SomeStreamer_42") == "somestreamer_42"
