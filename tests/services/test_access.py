"""Who may do what: the one role-and-scope check every door asks (``services/access.py``)."""

from __future__ import annotations

import pytest

from clipray.domain.enums import Role
from clipray.domain.errors import Forbidden
from clipray.serve.permissions import Action
from clipray.services.access import Membership, can, require

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("role", "scopes", "action", "code"),
    [
        pytest.param(Role.OWNER, None, Action.MANAGE_MEMBERS, None, id="owner/members"),
        pytest.param(Role.VIEWER, None, Action.READ, None, id="viewer/read"),
        pytest.param(Role.VIEWER, None, Action.UPLOAD, "FORBIDDEN_ROLE", id="viewer/upload"),
        pytest.param(Role.EDITOR, frozenset({"read"}), Action.CREATE_JOB, "FORBIDDEN_SCOPE",
                     id="editor-token-read/create-job"),
        pytest.param(Role.EDITOR, frozenset({"read", "jobs:write"}), Action.CREATE_JOB, None,
                     id="editor-token-jobs/create-job"),
        # The role is checked first: a token's scope never widens what the role allows.
        pytest.param(Role.VIEWER, frozenset({"jobs:write"}), Action.CREATE_JOB,
                     "FORBIDDEN_ROLE", id="viewer-token-jobs/create-job"),
    ],
)  # fmt: skip
def test_require_and_can_agree(role, scopes, action, code):
    who = Membership("w" * 32, role, scopes)
    assert can(role, scopes, action) is (code is None)
    assert who.can(action) is (code is None)
    if code is None:
        require(role, scopes, action)
        who.require(action)
        return
    with pytest.raises(Forbidden) as exc:
        who.require(action)
    assert (exc.value.code, exc.value.status) == (code, 403)
    assert action.value in exc.value.message
