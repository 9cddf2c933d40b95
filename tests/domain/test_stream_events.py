"""The stream feed's message shape: its own keys win over a payload's, times are RFC 3339."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from clipray.domain.stream_events import StreamEventType, end_message, message

pytestmark = pytest.mark.unit


def test_a_message_is_its_type_seq_and_time_then_its_payload():
    at = datetime(2026, 12, 6, 19, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
    msg = message(7, StreamEventType.CLIP, {"id": "c1", "score": 0.5, "type": "x", "seq": 0},
                  at)  # fmt: skip
    assert msg == {"type": "clip", "seq": 7, "at": "2026-12-06T17:00:00.250000Z", "id": "c1",
                   "score": 0.5}  # fmt: skip
    assert message(1, StreamEventType.STATUS, {}, datetime(2026, 1, 1, tzinfo=UTC))["at"] == (
        "2026-01-01T00:00:00Z")


@pytest.mark.parametrize(("status", "shown"), [
    pytest.param("stopped", "stopped", id="stopped"),
    pytest.param(None, "deleted", id="gone"),
])  # fmt: skip
def test_the_end_message(status, shown):
    assert end_message(status) == {"type": "end", "status": shown}
