"""The per-user rate limit of every authenticated request.

``deps.authenticated_user`` calls :func:`admit_user` once it knows who is calling, so every
route that takes a bearer credential counts, whichever replica serves it:

    admit_user(request, svc, session, user.id)   # 429 RATE_LIMITED past the limit

The decision is ``services.accounts.admit_user``; the hits are the login limit's rows
(``storage.accounts.RateLimitRepo``, key
``user:<id>``), so the count is shared by every Serve replica and every app on the database,
over a sliding window (never twice the limit across a clock minute). The decision and the
hit go in the request's own first transaction, committed at once: no second connection per
request, the key's lock is held for a few statements only, and an admitted request counts
even if its route then fails. A refused request is not recorded, so ``Retry-After`` is when
the window frees a slot and hammering cannot push it further away. Login and register keep
their own per-address limits (they come before any user).

The clock is the app's (``create_api(clock=...)``): tests move time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy.orm import Session

from clipray.services import accounts
from clipray.storage.orm import utcnow

if TYPE_CHECKING:
    from clipray.serve.deps import Services


def app_clock(request: Request) -> Callable[[], datetime]:
    """The clock of the app serving ``request``: ``create_api``'s ``clock``, else UTC now."""
    return getattr(request.app.state, "clock", None) or utcnow


def admit_user(request: Request, svc: Services, session: Session, user_id: str) -> None:
    """Count this request against ``user_id``'s limit, or refuse it.

    Raises:
        RateLimited: 429 ``RATE_LIMITED`` with ``Retry-After`` (whole seconds, at least 1)
            when the user had ``CLIPRAY_RATE_LIMIT_PER_MINUTE`` requests admitted in the
            last 60 s.
    """
    accounts.admit_user(session, user_id, svc.settings.rate_limit_per_minute,
                        app_clock(request)())
