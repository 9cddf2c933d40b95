"""Webhook signing and verifying, by the documented formulas written out here with hmac
(not with ``sign``), and which delivery failures are retried when."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from clipray.domain.webhooks import (
    InboundOutcome,
    WebhookRefused,
    backoff_s,
    check_fresh,
    retryable_status,
    sign,
    verifier,
    verify_generic,
    verify_tiktok,
)

pytestmark = pytest.mark.unit

SECRET = b"whsec_test"
BODY = b'{"event":"post.publish.complete","n":1}'
TS = 1_700_000_000


def _hex(message: bytes, key: bytes = SECRET) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def test_outbound_signature_is_the_documented_formula():
    assert sign(SECRET, TS, BODY) == "sha256=" + _hex(f"{TS}.".encode() + BODY)


def _generic(body: bytes = BODY, ts: int = TS, nonce: str = "n-1", key: bytes = SECRET
             ) -> dict[str, str]:  # fmt: skip
    return {"x-clipray-signature": "sha256=" + _hex(f"{ts}.{nonce}.".encode() + body, key),
            "x-clipray-timestamp": str(ts), "x-clipray-nonce": nonce}  # fmt: skip


def _tiktok(body: bytes = BODY, ts: int = TS, key: bytes = SECRET) -> dict[str, str]:
    return {"tiktok-signature": f"t={ts},s={_hex(f'{ts}.'.encode() + body, key)}"}


def test_generic_scheme_accepts_a_good_request_and_reads_timestamp_and_nonce():
    signed = verify_generic(_generic(), BODY, SECRET)
    assert (signed.timestamp, signed.nonce) == (TS, "n-1")


def test_tiktok_scheme_accepts_its_documented_header_and_uses_the_signature_as_nonce():
    headers = _tiktok()
    signed = verify_tiktok(headers, BODY, SECRET)
    assert signed.timestamp == TS
    assert signed.nonce == headers["tiktok-signature"].split("s=")[1]
    assert verifier("tiktok") is verify_tiktok
    assert verifier("x") is verify_generic


@pytest.mark.parametrize(
    ("verify", "headers", "body"),
    [
        pytest.param(verify_generic, _generic(key=b"other"), BODY, id="generic/wrong-secret"),
        pytest.param(verify_generic, _generic(), BODY + b" ", id="generic/body-changed"),
        pytest.param(verify_generic, {**_generic(), "x-clipray-nonce": "n-2"}, BODY,
                     id="generic/nonce-swapped"),
        pytest.param(verify_generic, {**_generic(), "x-clipray-timestamp": str(TS + 1)}, BODY,
                     id="generic/timestamp-changed"),
        pytest.param(verify_generic, {**_generic(), "x-clipray-timestamp": "soon"}, BODY,
                     id="generic/timestamp-not-a-number"),
        pytest.param(verify_generic, {k: v for k, v in _generic().items()
                                      if k != "x-clipray-nonce"}, BODY, id="generic/no-nonce"),
        pytest.param(verify_generic, {}, BODY, id="generic/no-headers"),
        pytest.param(verify_tiktok, _tiktok(key=b"other"), BODY, id="tiktok/wrong-secret"),
        pytest.param(verify_tiktok, _tiktok(), BODY + b" ", id="tiktok/body-changed"),
        pytest.param(verify_tiktok, {"tiktok-signature": _tiktok()["tiktok-signature"]
                                     .replace(f"t={TS}", f"t={TS + 5}")}, BODY,
                     id="tiktok/timestamp-changed"),
        pytest.param(verify_tiktok, {}, BODY, id="tiktok/no-header"),
    ],
)  # fmt: skip
def test_a_bad_signature_is_refused_with_its_code(verify, headers, body):
    with pytest.raises(WebhookRefused) as err:
        verify(headers, body, SECRET)
    assert err.value.code == "WEBHOOK_BAD_SIGNATURE"
    assert err.value.status == 401
    assert err.value.outcome is InboundOutcome.BAD_SIGNATURE


@pytest.mark.parametrize(("age", "fresh"), [(0, True), (300, True), (-300, True),
                                            (301, False), (-301, False)])  # fmt: skip
def test_timestamp_window(age, fresh):
    if fresh:
        check_fresh(TS - age, TS, 300)
        return
    with pytest.raises(WebhookRefused) as err:
        check_fresh(TS - age, TS, 300)
    assert (err.value.code, err.value.outcome) == ("WEBHOOK_STALE", InboundOutcome.STALE)


@pytest.mark.parametrize(
    ("status", "retry"),
    [(None, True), (500, True), (502, True), (503, True), (408, True), (429, True),
     (400, False), (401, False), (404, False), (410, False), (422, False), (301, False)],
)  # fmt: skip
def test_which_failures_are_retried(status, retry):
    assert retryable_status(status) is retry


def test_backoff_doubles_from_the_base_and_is_capped():
    assert [backoff_s(n, 10) for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff_s(30, 10) == 3600
