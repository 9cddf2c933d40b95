"""A workspace's usage in a month, with its quotas and what is left of each.

The route parses the month, calls ``services/usage.py`` and formats; a job's own usage is
``GET /api/jobs/{id}/usage`` (``routes/jobs.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clipray.serve.deps import Caller, ServicesDep, SessionDep
from clipray.serve.permissions import Action
from clipray.serve.schemas.usage import WorkspaceUsageOut
from clipray.services import usage

router = APIRouter(prefix="/api/usage", tags=["usage"])


@router.get("")
def workspace_usage(
    who: Caller,
    session: SessionDep,
    svc: ServicesDep,
    month: Annotated[str | None, Query(
        description="YYYY-MM (UTC); this month when left out. Anything else is 422 "
                    "MONTH_INVALID.", examples=["2026-01"])] = None,
) -> WorkspaceUsageOut:  # fmt: skip
    """The totals of the jobs created in the month (jobs, source minutes, CPU and GPU
    seconds, bytes stored, LLM tokens) and the workspace's quotas: the month's source
    minutes, storage and jobs in progress as they are now, each with what is left."""
    who.require(Action.READ)
    used = usage.month_usage(svc.settings, session, who.workspace_id, month)
    return WorkspaceUsageOut(workspace_id=who.workspace_id, **used.to_json())
