"""What routes depend on: the services of the app, a database session, the caller.

Routes declare ``session: SessionDep`` and ``who: Caller`` (``Annotated`` aliases) and ask
``who.require(Action.CREATE_JOB)``; records are loaded with :func:`owned`, which answers
404 for a missing record and 403 for another workspace's.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request
from sqlalchemy.orm import Session

from clipray.cluster.services import (
    ServiceUnavailableError,
    open_database,
    open_index,
    open_storage,
)
from clipray.config import Settings, get_settings
from clipray.domain.audit import Actor
from clipray.domain.errors import Unavailable
from clipray.serve.encoders import Encoders, LocalEncoders
from clipray.serve.permissions import Action
from clipray.serve.ratelimit import admit_user
from clipray.serve.security import TokenConfig, client_address, trusted_networks
from clipray.services import access, accounts
from clipray.services.access import Membership
from clipray.services.generation import require_generation as check_generation
from clipray.storage.db import Database
from clipray.storage.objects import Buckets
from clipray.storage.orm import ApiToken, Role, User

if TYPE_CHECKING:
    from clipray.storage.index import SearchIndex

T = TypeVar("T")


def jwt_secret(settings: Settings) -> str:
    """``CLIPRAY_JWT_SECRET``, else a secret generated once under ``{home}`` (0600)."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = settings.home_dir / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{path}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic; a concurrent replica's secret wins if it was first
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


@dataclass
class Services:
    """The app's connections, opened on first use (a replica that only serves /healthz opens
    nothing)."""

    settings: Settings
    _db: Database | None = None
    _buckets: Buckets | None = None
    _tokens: TokenConfig | None = None
    _index: SearchIndex | None = None
    _encoders: Encoders | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def db(self) -> Database:
        with self._lock:
            if self._db is None:
                self._db = open_database(self.settings)
            return self._db

    @property
    def buckets(self) -> Buckets:
        with self._lock:
            if self._buckets is None:
                try:
                    self._buckets = open_storage(self.settings)
                except ServiceUnavailableError as exc:
                    raise Unavailable("STORAGE_UNAVAILABLE", str(exc)) from exc
            return self._buckets

    @property
    def index(self) -> SearchIndex:
        with self._lock:
            if self._index is None:
                self._index = open_index(self.settings)
            return self._index

    @property
    def encoders(self) -> Encoders:
        """The Serve encoder deployment's handle when there is one, else in process."""
        with self._lock:
            if self._encoders is None:
                self._encoders = _encoders or LocalEncoders(self.settings)
            return self._encoders

    @property
    def tokens(self) -> TokenConfig:
        with self._lock:
            if self._tokens is None:
                self._tokens = TokenConfig(
                    secret=jwt_secret(self.settings), access_ttl_s=self.settings.access_token_ttl_s
                )
            return self._tokens


_configured: Settings | None = None
_encoders: Encoders | None = None


def configure(settings: Settings, encoders: Encoders | None = None) -> None:
    """Settings (and the query encoders' handle) for the apps of this process that were not
    given their own (the Serve replica: Serve ships the app to the replica as a copy, so
    the deployment's constructor cannot reach the copy's ``state``; this module is
    imported, not copied)."""
    global _configured, _encoders
    _configured = settings
    _encoders = encoders


def app_services(app: Any) -> Services:
    """The services of ``app`` (a FastAPI app), made on first use; middleware that needs
    the settings before any route runs reads them here too."""
    state = app.state
    if getattr(state, "services", None) is None:
        settings = getattr(state, "settings", None) or _configured or get_settings()
        state.services = Services(settings)
    return state.services


def services(request: Request) -> Services:
    return app_services(request.app)


ServicesDep = Annotated[Services, Depends(services)]


def db_session(svc: ServicesDep) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, before its answer is
    sent (a commit that fails is the answer), rolled back if it raises."""
    with svc.db.session() as s:
        yield s


SessionDep = Annotated[Session, Depends(db_session, scope="function")]


@dataclass(frozen=True)
class Principal:
    """Who is calling, in which workspace, with which role (and scopes, for API tokens)."""

    user: User
    workspace_id: str
    role: Role
    scopes: frozenset[str] | None = None
    """None for a person's access token; an API token's scopes otherwise."""

    @classmethod
    def of(cls, user: User, membership: Membership) -> Principal:
        return cls(user, membership.workspace_id, membership.role, membership.scopes)

    @property
    def membership(self) -> Membership:
        """The caller's place in the workspace, as the services take it."""
        return Membership(self.workspace_id, self.role, self.scopes)

    def can(self, action: Action) -> bool:
        return access.can(self.role, self.scopes, action)

    def require(self, action: Action) -> None:
        """403 ``FORBIDDEN_ROLE`` / ``FORBIDDEN_SCOPE`` unless the caller may ``action``."""
        access.require(self.role, self.scopes, action)


def authenticated_user(
    request: Request,
    svc: ServicesDep,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> tuple[User, ApiToken | None]:
    """The user behind the bearer credential, and the API token row if it is one; counted
    against the user's rate limit (``serve.ratelimit``)."""
    user, token = accounts.authenticate(session, svc.tokens, authorization)
    admit_user(request, svc, session, user.id)
    return user, token


UserDep = Annotated[tuple[User, ApiToken | None], Depends(authenticated_user)]


def principal(
    auth: UserDep,
    session: SessionDep,
    x_workspace_id: Annotated[str | None, Header()] = None,
) -> Principal:
    user, api_token = auth
    membership = accounts.caller_membership(session, user, api_token, x_workspace_id)
    # End the authentication's transaction here: the route's own work begins a new one,
    # so a slow route (an upload's validation, an event stream) holds no lock meanwhile.
    session.commit()
    return Principal.of(user, membership)


Caller = Annotated[Principal, Depends(principal)]


def owned(session: Session, model: type[T], ident: str, who: Principal, kind: str) -> T:
    """The record ``ident`` if it is in the caller's workspace: 404 missing, 403 elsewhere."""
    return access.owned(session, model, ident, who.workspace_id, kind)


def client_ip(request: Request, trusted_proxies: tuple[str, ...] = ()) -> str:
    """The client's address: the peer, or from ``X-Forwarded-For`` when the peer is one of
    ``trusted_proxies`` (``CLIPRAY_TRUSTED_PROXIES``; see ``security.client_address``)."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, trusted_networks(trusted_proxies))


def request_actor(request: Request, svc: ServicesDep, auth: UserDep) -> Actor:
    """Who acts, for the audit log: the signed-in user and the client's address."""
    return Actor(auth[0].id, client_ip(request, svc.settings.trusted_proxies))


ActorDep = Annotated[Actor, Depends(request_actor)]


def install_owner(request: Request, svc: ServicesDep, session: SessionDep, auth: UserDep
                  ) -> Actor:  # fmt: skip
    """The installation's owner, signed in in person (``services.access.is_install_owner``),
    as the audit log names them; anyone else is 403."""
    user, api_token = auth
    access.require_install_owner(session, svc.settings.install_owners, user,
                                 through_api_token=api_token is not None)  # fmt: skip
    session.commit()
    return Actor(user.id, client_ip(request, svc.settings.trusted_proxies))


InstallOwner = Annotated[Actor, Depends(install_owner)]
"""Routes that administer the whole installation (``/api/admin/...``) depend on it."""


def require_generation(svc: Services, session: Session, workspace_id: str) -> None:
    """Refuse, before any work, what could not be stored as a generated clip: 503 without
    the app-owned bucket, 409 ``GENERATED_CLIP_LIMIT`` at the workspace's cap."""
    check_generation(svc.settings, svc.buckets, session, workspace_id)


PageNo = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page.")]


def wake_runner() -> None:
    """Tell the job runner to look now; it polls anyway, so a miss only costs latency."""
    import ray

    if not ray.is_initialized():
        return
    from clipray.actors.job_runner import job_runner

    handle = job_runner()
    if handle is not None:
        handle.wake.remote()


def runner_alive() -> None:
    """Raise unless this process is connected to Ray and the job runner actor runs (the
    readiness check's ``ray``)."""
    import ray

    if not ray.is_initialized():
        raise RuntimeError("Ray is not connected")
    from clipray.actors.job_runner import job_runner

    if job_runner() is None:
        raise RuntimeError("the job runner actor is not running")
