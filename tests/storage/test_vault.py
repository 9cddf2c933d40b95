"""The Fernet key ring: versions independent of order, decryption newest first, rotation,
embedded mode's generated key, production's refusal."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from clipray.storage.vault import (
    KEY_FILE,
    FernetKeyInvalid,
    FernetKeysMissing,
    KeyRing,
    SecretUnreadable,
    key_version,
    load_keyring,
)

pytestmark = pytest.mark.unit

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_version_names_the_key_not_its_place():
    assert KeyRing([NEW, OLD]).newest == key_version(NEW) == KeyRing([NEW]).newest
    assert len(key_version(NEW)) == 8
    assert key_version(NEW) != key_version(OLD)
    assert NEW not in key_version(NEW)


def test_encrypt_with_the_newest_decrypt_with_any():
    old_ring = KeyRing([OLD])
    token, version = old_ring.encrypt("ya29.secret")
    assert version == key_version(OLD)
    assert "ya29.secret" not in token
    rotated = KeyRing([NEW, OLD])
    assert rotated.decrypt(token, version) == ("ya29.secret", key_version(OLD))
    assert rotated.decrypt(token) == ("ya29.secret", key_version(OLD))  # no version: tries all
    assert not rotated.is_current(version)
    again, newer = rotated.encrypt("ya29.secret")
    assert newer == key_version(NEW)
    assert rotated.is_current(newer)
    assert KeyRing([NEW]).decrypt(again, newer)[0] == "ya29.secret"


def test_a_retired_key_leaves_its_tokens_unreadable_with_a_code():
    token, version = KeyRing([OLD]).encrypt("x")
    with pytest.raises(SecretUnreadable) as err:
        KeyRing([NEW]).decrypt(token, version)
    assert (err.value.code, err.value.detail) == ("TOKENS_UNREADABLE", {"key_version": version})


def test_a_bad_key_is_refused_by_position():
    with pytest.raises(FernetKeyInvalid) as err:
        KeyRing([NEW, "not-a-key"])
    assert err.value.code == "FERNET_KEY_INVALID"
    assert "entry 2" in err.value.message
    with pytest.raises(FernetKeysMissing):
        KeyRing([])


def test_configured_keys_are_comma_separated_newest_first(tmp_path):
    ring = load_keyring(SecretStr(f" {NEW} , {OLD} "), tmp_path, production=True)
    assert ring.newest == key_version(NEW)
    assert not (tmp_path / KEY_FILE).exists()


def test_embedded_mode_generates_one_key_and_keeps_it(tmp_path):
    first = load_keyring(None, tmp_path, production=False)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token, version = first.encrypt("t")
    second = load_keyring(None, tmp_path, production=False)
    assert second.newest == first.newest
    assert second.decrypt(token, version)[0] == "t"


def test_production_without_keys_is_refused(tmp_path):
    with pytest.raises(FernetKeysMissing) as err:
        load_keyring(None, tmp_path, production=True)
    assert (err.value.code, err.value.status, err.value.retryable) == (
        "FERNET_KEYS_MISSING", 503, False)
    assert "CLIPRAY_FERNET_KEYS" in err.value.message
    assert not (tmp_path / KEY_FILE).exists()
