"""Credentials through ``services/accounts.py``, on SQLite and PostgreSQL: who a bearer
credential is, where a request acts, refresh rotation and API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clipray.domain.enums import Role
from clipray.domain.errors import CodedError
from clipray.serve.security import TokenConfig, hash_token
from clipray.services import accounts, workspaces
from clipray.services.access import Membership
from clipray.storage.orm import RefreshToken, new_id
from clipray.storage.repos import UserRepo

TOKENS = TokenConfig(secret="s" * 48, access_ttl_s=60)
TTL = timedelta(days=1)
PASSWORD = "correct horse battery staple"


def _refused(call, code, status):
    with pytest.raises(CodedError) as exc:
        call()
    assert (exc.value.code, exc.value.status) == (code, status), exc.value.message
    return exc.value


def _account(session, name="ada"):
    email = f"{name}-{new_id()[:8]}@example.com"
    return accounts.register(session, email, name, PASSWORD)


def test_register_login_and_bearer(session):
    user, ws = _account(session)
    assert user.personal_workspace_id == ws.id
    _refused(lambda: accounts.register(session, user.email, "again", PASSWORD), "EMAIL_TAKEN",
             409)  # fmt: skip
    _refused(lambda: accounts.login(session, TOKENS, TTL, user.email, "wrong password!"),
             "INVALID_CREDENTIALS", 401)  # fmt: skip
    pair = accounts.login(session, TOKENS, TTL, user.email.upper(), PASSWORD)
    assert pair.expires_in == 60
    who, api_token = accounts.authenticate(session, TOKENS, f"Bearer {pair.access_token}")
    assert (who.id, api_token) == (user.id, None)
    for header in (None, "Basic abc", "Bearer  "):
        err = _refused(lambda h=header: accounts.authenticate(session, TOKENS, h),
                       "UNAUTHORIZED", 401)  # fmt: skip
        assert err.headers == {"WWW-Authenticate": "Bearer"}
    _refused(lambda: accounts.authenticate(session, TOKENS, "Bearer not-a-jwt"),
             "TOKEN_INVALID", 401)  # fmt: skip
    membership = accounts.caller_membership(session, user, None, None)
    assert (membership.workspace_id, membership.role) == (ws.id, Role.OWNER)


def test_refresh_rotates_and_a_replay_revokes_the_family(session):
    user, _ = _account(session)
    first = accounts.login(session, TOKENS, TTL, user.email, PASSWORD)
    second = accounts.refresh(session, TOKENS, TTL, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    _refused(lambda: accounts.refresh(session, TOKENS, TTL, first.refresh_token),
             "TOKEN_REUSED", 401)  # fmt: skip
    # The replay revoked the whole family: the newer token is dead too.
    _refused(lambda: accounts.refresh(session, TOKENS, TTL, second.refresh_token),
             "TOKEN_REUSED", 401)  # fmt: skip
    _refused(lambda: accounts.refresh(session, TOKENS, TTL, "crr_unknown"), "TOKEN_INVALID", 401)
    expired = accounts.login(session, TOKENS, timedelta(seconds=-1), user.email, PASSWORD)
    _refused(lambda: accounts.refresh(session, TOKENS, TTL, expired.refresh_token),
             "TOKEN_EXPIRED", 401)  # fmt: skip
    live = accounts.login(session, TOKENS, TTL, user.email, PASSWORD)
    accounts.logout(session, live.refresh_token)
    accounts.logout(session, "crr_unknown")  # nothing to revoke: no error
    _refused(lambda: accounts.refresh(session, TOKENS, TTL, live.refresh_token),
             "TOKEN_REUSED", 401)  # fmt: skip
    # Only the expired token was never revoked: refusing it for its age changes nothing.
    alive = session.query(RefreshToken).filter_by(user_id=user.id, revoked_at=None).all()
    assert [r.token_hash for r in alive] == [hash_token(expired.refresh_token)]


def test_caller_membership_needs_a_workspace(session):
    user = UserRepo(session).create(f"nows-{new_id()[:8]}@example.com")
    _refused(lambda: accounts.caller_membership(session, user, None, None),
             "WORKSPACE_REQUIRED", 400)  # fmt: skip
    _refused(lambda: accounts.caller_membership(session, user, None, new_id()),
             "WORKSPACE_FORBIDDEN", 403)  # fmt: skip


def test_api_tokens_act_in_their_workspace_and_are_revoked_by_owner_or_admin(session):
    owner, ws = _account(session, "owner")
    editor, _ = _account(session, "editor")
    mine = Membership(ws.id, Role.OWNER)
    workspaces.add_member(session, mine, editor.email, Role.EDITOR)
    _refused(lambda: accounts.create_api_token(session, owner, mine, "ci", ["root"]),
             "SCOPE_UNKNOWN", 422)  # fmt: skip
    row, token = accounts.create_api_token(session, editor, Membership(ws.id, Role.EDITOR),
                                           "ci", ["read", "jobs:write"])  # fmt: skip
    assert row.scopes == ["jobs:write", "read"]
    assert row.token_hash == hash_token(token)  # stored only as its digest
    who, api_token = accounts.authenticate(session, TOKENS, f"Bearer {token}")
    assert (who.id, api_token.id) == (editor.id, row.id)
    assert api_token.last_used_at is not None
    scoped = accounts.caller_membership(session, who, api_token, None)
    assert (scoped.workspace_id, scoped.scopes) == (ws.id, frozenset({"read", "jobs:write"}))
    _refused(lambda: accounts.caller_membership(session, who, api_token, new_id()),
             "WORKSPACE_FORBIDDEN", 403)  # fmt: skip
    _refused(lambda: accounts.create_api_token(session, editor, scoped, "more", ["read"]),
             "FORBIDDEN_SCOPE", 403)  # fmt: skip
    assert [r.id for r in accounts.list_api_tokens(session, editor.id, ws.id)] == [row.id]

    stranger, _ = _account(session, "stranger")
    _refused(lambda: accounts.revoke_api_token(session, stranger.id, row.id), "FORBIDDEN", 403)
    _refused(lambda: accounts.revoke_api_token(session, owner.id, "nope"), "TOKEN_NOT_FOUND",
             404)  # fmt: skip
    accounts.revoke_api_token(session, owner.id, row.id)  # the workspace's owner may
    _refused(lambda: accounts.revoke_api_token(session, editor.id, row.id), "TOKEN_NOT_FOUND",
             404)  # fmt: skip
    _refused(lambda: accounts.authenticate(session, TOKENS, f"Bearer {token}"),
             "TOKEN_INVALID", 401)  # fmt: skip
    assert accounts.list_api_tokens(session, editor.id, ws.id) == []
