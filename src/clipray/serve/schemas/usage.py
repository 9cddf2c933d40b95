"""Usage: what a job used, and a workspace's month with its quotas (``jobs/usage.py`` says
how each figure is derived)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StageUsageOut(BaseModel):
    seconds: float = Field(description="Seconds the stage's resources were held for the job; "
                           "summed over parallel parts, so above the wall time where they ran "
                           "side by side.")  # fmt: skip
    cpu_seconds: float = Field(description="seconds x the stage's num_cpus.")
    gpu_seconds: float = Field(description="seconds x the stage's num_gpus.")


class BytesStored(BaseModel):
    source: int = Field(description="The source video on the media bucket (storage quota).")
    clips: int = Field(description="Rendered clips still on the app-owned bucket.")
    total: int


class LlmTokens(BaseModel):
    prompt: int
    completion: int


class JobUsageOut(BaseModel):
    job_id: str
    status: str
    steps: dict[str, float] = Field(
        description="Seconds per step, summed over its attempts (failed ones too).")
    cached: bool | None = Field(
        description="The analysis was reused (its stages cost this job nothing); null "
                    "until an analyze attempt succeeds.")  # fmt: skip
    stages: dict[str, StageUsageOut]
    cpu_seconds: float = Field(description="The sum of the stages' cpu_seconds.")
    gpu_seconds: float = Field(description="The sum of the stages' gpu_seconds.")
    bytes_stored: BytesStored
    llm_tokens: LlmTokens | None = Field(
        description="Tokens the LLM re-ranking reported; null when no LLM was used.")


class AllowanceOut(BaseModel):
    limit: float
    used: float
    left: float


class QuotasOut(BaseModel):
    minutes_per_month: AllowanceOut = Field(description="Source minutes of the month's jobs.")
    storage_bytes: AllowanceOut = Field(
        description="The workspace's sources and unconfirmed uploads, now.")
    concurrent_jobs: AllowanceOut = Field(description="Jobs in progress, now.")


class WorkspaceUsageOut(BaseModel):
    workspace_id: str
    month: str = Field(description="YYYY-MM, UTC.")
    jobs: int = Field(description="Jobs created in the month.")
    source_minutes: float
    cpu_seconds: float
    gpu_seconds: float
    bytes_stored: BytesStored = Field(
        description="Of the month's jobs; a source several of them share counts once.")
    llm_tokens: LlmTokens
    quotas: QuotasOut
