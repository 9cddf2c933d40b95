"""Secrets at rest: connected accounts' OAuth tokens encrypted with Fernet, under a ring of
keys configured newest first (``CLIPRAY_FERNET_KEYS``).

Each ciphertext is stored with the *version* of the key that made it: the first 8 hex of
the key's sha256, which does not depend on the key's place in the list, so keys can be
prepended and retired freely. Decryption tries the recorded key, then every key newest
first (MultiFernet's order); :meth:`KeyRing.is_current` tells the caller to re-encrypt with
the newest key, which the connections service does on the account's next refresh.

    ring = KeyRing(["new-key", "old-key"])
    token, version = ring.encrypt("ya29.secret")
    plain, used = ring.decrypt(token, version)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from clipray.domain.errors import CodedError, Unavailable

KEY_FILE = "fernet-keys"
"""Where embedded mode keeps its generated key, under ``CLIPRAY_HOME``."""


class FernetKeysMissing(Unavailable):
    """Production (a database URL set) with no ``CLIPRAY_FERNET_KEYS``: a generated key on
    one node's disk would leave every other replica unable to read the tokens."""

    retryable = False

    def __init__(self) -> None:
        super().__init__(
            "FERNET_KEYS_MISSING",
            "set CLIPRAY_FERNET_KEYS (comma-separated Fernet keys, newest first; make one "
            "with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`) to connect accounts",
        )


class FernetKeyInvalid(CodedError):
    status = 500

    def __init__(self, position: int) -> None:
        super().__init__("FERNET_KEY_INVALID",
                         f"CLIPRAY_FERNET_KEYS entry {position} is not a Fernet key "
                         "(32 url-safe base64-encoded bytes)")  # fmt: skip


class SecretUnreadable(CodedError):
    """No configured key decrypts the value: its key was retired too early."""

    status = 409

    def __init__(self, version: str | None) -> None:
        super().__init__("TOKENS_UNREADABLE",
                         f"no configured Fernet key decrypts these tokens (key {version}); "
                         "add that key back to CLIPRAY_FERNET_KEYS or connect the account again",
                         detail={"key_version": version})  # fmt: skip


def key_version(key: str | bytes) -> str:
    """The key's id: the first 8 hex of its sha256 (never the key, never its position)."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw.strip()).hexdigest()[:8]


class KeyRing:
    """Fernet keys, newest first."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise FernetKeysMissing()
        self._keys: list[tuple[str, Fernet]] = []
        for i, key in enumerate(keys, start=1):
            raw = key.encode() if isinstance(key, str) else key
            try:
                self._keys.append((key_version(raw), Fernet(raw.strip())))
            except ValueError as exc:
                raise FernetKeyInvalid(i) from exc

    @property
    def newest(self) -> str:
        """The version new ciphertext is made with."""
        return self._keys[0][0]

    def is_current(self, version: str | None) -> bool:
        return version == self.newest

    def encrypt(self, plaintext: str) -> tuple[str, str]:
        """``(ciphertext, key version)`` with the newest key."""
        version, fernet = self._keys[0]
        return fernet.encrypt(plaintext.encode()).decode(), version

    def decrypt(self, ciphertext: str, version: str | None = None) -> tuple[str, str]:
        """``(plaintext, version of the key that decrypted it)``: the recorded key first,
        then newest first.

        Raises:
            SecretUnreadable: 409 ``TOKENS_UNREADABLE`` when no key does.
        """
        order = sorted(self._keys, key=lambda kv: kv[0] != version)
        for v, fernet in order:
            try:
                return fernet.decrypt(ciphertext.encode()).decode(), v
            except InvalidToken:
                continue
        raise SecretUnreadable(version)


def load_keyring(keys: SecretStr | None, home: Path, production: bool) -> KeyRing:
    """The configured keys; unset, embedded mode's key from ``{home}/fernet-keys``
    (generated once, 0600, like the JWT secret), production's refusal.

    Raises:
        FernetKeysMissing: 503 ``FERNET_KEYS_MISSING`` in production without keys.
    """
    if keys is not None:
        parts = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        return KeyRing(parts)
    if production:
        raise FernetKeysMissing()
    path = home / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{path}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
        try:
            os.link(tmp, path)  # atomic: a concurrent process's key wins if it was first
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return KeyRing([k for k in path.read_text().replace("\n", ",").split(",") if k.strip()])
