"""The one error model: every refusal is a `CodedError`.

A refusal carries a machine-readable ``code`` (upper snake case, stable: clients switch on
it), a message for people, the HTTP status it answers with, and whether retrying the same
request later can help. One FastAPI handler turns it into the API's JSON error shape, one
printer into a CLI message (exit 2), one mapping into a job step's failure (retried when
``retryable``), so no door re-types a code.

    raise NotFound("JOB_NOT_FOUND", f"job {job_id} not found")
    raise DependencyMissing("ffprobe", "install FFmpeg: apt-get install -y ffmpeg")

Subclass per module for refusals a caller may want to catch by type (``CutError``,
``UrlRefusedError``); the class sets the default status, the instance may override it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class CodedError(ValueError):
    """A refusal with a machine-readable ``code``, an HTTP ``status`` and ``retryable``."""

    status: ClassVar[int] = 422
    """HTTP status of the refusal (instances may override it)."""
    retryable: ClassVar[bool] = False
    """Whether the same request can succeed later without being changed."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool | None = None,
        detail: Any | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status  # type: ignore[misc]
        if retryable is not None:
            self.retryable = retryable  # type: ignore[misc]
        self.detail = detail
        self.headers = dict(headers or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # Ray pickles exceptions raised in tasks; the default reduce would call
        # ``cls(message)`` and lose the code.
        return (_restore, (type(self), self.message, dict(self.__dict__)))

    def as_dict(self) -> dict[str, Any]:
        """The error's public fields, as a step failure or a ``--json`` CLI error shows them."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


def _restore(cls: type[CodedError], message: str, state: dict[str, Any]) -> CodedError:
    obj = cls.__new__(cls)
    Exception.__init__(obj, message)
    obj.__dict__.update(state)
    return obj


class NotFound(CodedError):
    status = 404


class Unauthorized(CodedError):
    status = 401


class Forbidden(CodedError):
    status = 403


class Conflict(CodedError):
    status = 409


class PayloadTooLarge(CodedError):
    status = 413


class RateLimited(CodedError):
    """Too many requests; ``retry_after`` (seconds) becomes the ``Retry-After`` header."""

    status = 429
    retryable = True

    def __init__(self, code: str, message: str, *, retry_after: int | None = None,
                 **kw: Any) -> None:  # fmt: skip
        headers = dict(kw.pop("headers", None) or {})
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, int(retry_after)))
        super().__init__(code, message, headers=headers, **kw)


class Unavailable(CodedError):
    """A service clipray depends on is down or unreachable; later may work."""

    status = 503
    retryable = True


class DependencyMissing(CodedError):
    """A tool clipray needs is not installed (ffmpeg, ffprobe): 503 with the fix."""

    status = 503

    def __init__(self, tool: str, fix: str, **kw: Any) -> None:
        super().__init__("DEPENDENCY_MISSING", f"{tool} is not installed or not runnable: {fix}",
                         detail=kw.pop("detail", {"tool": tool}), **kw)  # fmt: skip


def not_found(kind: str, ident: str) -> NotFound:
    """``JOB_NOT_FOUND`` and friends: the one way a missing record is reported."""
    return NotFound(f"{kind.upper().replace(' ', '_')}_NOT_FOUND", f"{kind} {ident} not found")
