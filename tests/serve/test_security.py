"""Password hashing, JWT access tokens and opaque tokens, with an injected clock."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from clipray.serve.security import (
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    InvalidTokenError,
    TokenConfig,
    check_password_strength,
    decode_access_token,
    hash_password,
    hash_token,
    is_api_token,
    issue_access_token,
    needs_rehash,
    new_api_token,
    new_refresh_token,
    verify_password,
)

pytestmark = pytest.mark.unit

# 64 bytes, so forging an HS512 token with it below raises no key-length warning.
SECRET = "clipray-test-secret-" * 3 + "pad!"
CFG = TokenConfig(secret=SECRET)
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

# --- passwords -------------------------------------------------------------------------


def test_hash_verify_roundtrip():
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery staple")
    assert not needs_rehash(stored)


def test_same_password_hashes_differently():
    assert hash_password("hunter2hunter2") != hash_password("hunter2hunter2")


def test_wrong_password_is_false():
    assert not verify_password(hash_password("correct horse"), "correct horsf")


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-hash", id="garbage"),
        pytest.param("$argon2id$v=19$m=65536,t=3,p=4$AAAA$BBBB", id="truncated-argon2"),
        pytest.param("$2b$12$" + "a" * 53, id="bcrypt"),
    ],
)
def test_garbage_hash_is_false(stored):
    assert verify_password(stored, "whatever") is False


def test_weaker_parameters_need_rehash():
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("password1")
    assert verify_password(weak, "password1")
    assert needs_rehash(weak)
    assert needs_rehash("not-a-hash")


@pytest.mark.parametrize(
    ("password", "weak"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("abc1234", True, id="7-chars"),
        pytest.param("abcd1234", False, id="8-chars"),
        pytest.param("aaaaaaaaaaaa", True, id="one-char-repeated"),
        pytest.param("x" * 7 + "y", False, id="two-distinct-chars"),
        pytest.param("pässwört-ünïcode", False, id="unicode"),
        pytest.param("ab" * 128, False, id="256-chars"),
        pytest.param("ab" * 128 + "c", True, id="257-chars"),
    ],
)
def test_password_strength(password, weak):
    reason = check_password_strength(password)
    assert (reason is not None) is weak
    if weak:
        assert reason


@given(st.text(min_size=8, max_size=256).filter(lambda s: len(set(s)) > 1))
def test_password_strength_accepts_every_long_enough_varied_password(password):
    assert check_password_strength(password) is None


# --- JWT access tokens -----------------------------------------------------------------


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _forge(claims: dict, *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def test_access_token_roundtrip():
    token = issue_access_token(CFG, "user-42", now=T0)
    assert decode_access_token(CFG, token, now=T0) == "user-42"
    claims = _claims(token)
    assert claims["sub"] == "user-42"
    assert claims["iss"] == "clipray"
    assert claims["aud"] == "clipray-api"
    assert claims["typ"] == "access"
    assert claims["iat"] == int(T0.timestamp())
    assert claims["exp"] == int(T0.timestamp()) + 900
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_roundtrip_with_real_clock():
    assert decode_access_token(CFG, issue_access_token(CFG, "u")) == "u"


def test_every_token_has_its_own_jti():
    a = issue_access_token(CFG, "u", now=T0)
    b = issue_access_token(CFG, "u", now=T0)
    assert a != b
    assert _claims(a)["jti"] != _claims(b)["jti"]


@pytest.mark.parametrize(
    ("age", "code"),
    [
        pytest.param(timedelta(seconds=899), None, id="just-before-exp"),
        pytest.param(timedelta(seconds=900), TOKEN_EXPIRED, id="at-exp"),
        pytest.param(timedelta(hours=1), TOKEN_EXPIRED, id="an-hour-later"),
    ],
)
def test_expiry_against_injected_now(age, code):
    token = issue_access_token(CFG, "u", now=T0)
    if code is None:
        assert decode_access_token(CFG, token, now=T0 + age) == "u"
    else:
        with pytest.raises(InvalidTokenError) as err:
            decode_access_token(CFG, token, now=T0 + age)
        assert err.value.code == code


def test_expired_with_real_clock():
    token = issue_access_token(CFG, "u", now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(InvalidTokenError) as err:
        decode_access_token(CFG, token)
    assert err.value.code == TOKEN_EXPIRED


def test_invalid_token_error_is_a_value_error():
    assert issubclass(InvalidTokenError, ValueError)


def _tamper_signature(token: str) -> str:
    head, body, sig = token.split(".")
    # The first character carries 6 full bits of the signature (the last may be padding).
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return f"{head}.{body}.{flipped}"


def _tamper_payload(token: str) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def _valid_claims(**overrides) -> dict:
    claims = {
        "sub": "u",
        "iat": int(T0.timestamp()),
        "exp": int(T0.timestamp()) + 900,
        "iss": "clipray",
        "aud": "clipray-api",
        "jti": "j",
        "typ": "access",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_forged_valid_claims_are_accepted():
    # Guards the cases below: each differs from this one in exactly one way.
    assert decode_access_token(CFG, _forge(_valid_claims()), now=T0) == "u"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_tamper_signature(issue_access_token(CFG, "u", now=T0)), id="tampered-sig"),
        pytest.param(_tamper_payload(issue_access_token(CFG, "u", now=T0)), id="tampered-body"),
        pytest.param(_forge(_valid_claims(), secret="x" * 40), id="other-secret"),
        pytest.param(_forge(_valid_claims(), secret=None, algorithm="none"), id="alg-none"),
        pytest.param(_forge(_valid_claims(), algorithm="HS512"), id="alg-hs512"),
        pytest.param(_forge(_valid_claims(aud="other-api")), id="wrong-audience"),
        pytest.param(_forge(_valid_claims(iss="someone-else")), id="wrong-issuer"),
        pytest.param(_forge(_valid_claims(typ="refresh")), id="wrong-typ"),
        pytest.param(_forge(_valid_claims(sub="")), id="empty-sub"),
        pytest.param(_forge(_valid_claims(exp="tomorrow")), id="non-numeric-exp"),
        *(
            pytest.param(_forge(_valid_claims(**{claim: None})), id=f"missing-{claim}")
            for claim in ("sub", "iat", "exp", "iss", "aud", "jti", "typ")
        ),
        pytest.param(new_refresh_token(), id="refresh-token-string"),
        pytest.param(new_api_token(), id="api-token-string"),
        pytest.param("", id="empty"),
        pytest.param("a.b.c", id="not-base64-json"),
    ],
)
def test_invalid_tokens(token):
    with pytest.raises(InvalidTokenError) as err:
        decode_access_token(CFG, token, now=T0)
    assert err.value.code == TOKEN_INVALID


def test_token_from_another_audience_config():
    other = TokenConfig(secret=SECRET, audience="clipray-admin")
    token = issue_access_token(other, "u", now=T0)
    with pytest.raises(InvalidTokenError) as err:
        decode_access_token(CFG, token, now=T0)
    assert err.value.code == TOKEN_INVALID


def test_expired_and_forged_is_invalid_not_expired():
    # A bad signature must not leak "expired": the client would try to refresh.
    token = _forge(_valid_claims(), secret="x" * 40)
    with pytest.raises(InvalidTokenError) as err:
        decode_access_token(CFG, token, now=T0 + timedelta(days=1))
    assert err.value.code == TOKEN_INVALID


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"secret": "short"}, id="short-secret"),
        pytest.param({"secret": SECRET, "access_ttl_s": 0}, id="zero-ttl"),
    ],
)
def test_token_config_refuses_unsafe_settings(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - the message is incidental here
        TokenConfig(**kwargs)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        issue_access_token(CFG, "u", now=datetime(2025, 1, 1))


# --- opaque tokens ---------------------------------------------------------------------


def test_token_prefixes():
    refresh, api = new_refresh_token(), new_api_token()
    assert refresh.startswith("crr_")
    assert api.startswith("crt_")
    assert is_api_token(api)
    assert not is_api_token(refresh)
    assert not is_api_token(issue_access_token(CFG, "u"))
    # 32 random bytes in URL-safe base64, without padding.
    assert len(refresh) == len(api) == 4 + 43


def test_opaque_tokens_are_unique():
    tokens = {new_api_token() for _ in range(100)} | {new_refresh_token() for _ in range(100)}
    assert len(tokens) == 200


def test_hash_token_is_deterministic_and_per_token():
    a, b = new_api_token(), new_api_token()
    assert hash_token(a) == hash_token(a)
    assert hash_token(a) != hash_token(b)
    assert len(hash_token(a)) == 64
    assert int(hash_token(a), 16) >= 0
    assert a not in hash_token(a)
    # A known answer, so the stored form cannot change silently between releases.
    assert hash_token("crt_x") == "ca36514c53ad1e5b91d9ac994611d5211595397505d639353f077cbbad4c4c1e"


def test_an_access_token_s_expiry_is_when_it_stops_being_accepted():
    from clipray.serve.security import access_token_expiry

    token = issue_access_token(CFG, "user-1", now=T0)
    at = access_token_expiry(token)
    assert at == T0 + timedelta(seconds=CFG.access_ttl_s)
    assert decode_access_token(CFG, token, now=at - timedelta(seconds=1)) == "user-1"
    with pytest.raises(InvalidTokenError) as info:
        decode_access_token(CFG, token, now=at)
    assert info.value.code == TOKEN_EXPIRED
    with pytest.raises(InvalidTokenError) as info:
        access_token_expiry("not.a.jwt")
    assert info.value.code == TOKEN_INVALID
