"""What travels over the queue: a job, and what a worker records about it."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Job", "JobState", "JobStatus"]

JobStatus = Literal["queued", "running", "retrying", "completed", "dead"]


class Job(BaseModel):
    """One unit of work: an execution of an agent spec on a task.

    The spec travels whole (as JSON), so a worker needs only the modules it imports.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: f"job-{uuid.uuid4().hex[:12]}")
    """Stable across retries and reclaims."""
    kind: Literal["execution"] = "execution"
    """What the job runs (only executions for now)."""
    execution_id: str
    """The execution it runs; a retried or reclaimed job continues this execution."""
    spec: dict[str, Any]
    """The agent spec (``AgentSpec.model_dump(mode="json")``)."""
    task: str
    """The task of the execution."""
    principal: str | None = None
    """Who asked; the shared rate limit and budget are this principal's."""
    scopes: tuple[str, ...] | None = None
    """The principal's scopes (``None``: a local run with every scope)."""
    caps: dict[str, float] | None = None
    """Budget caps (``BudgetCaps`` fields), enforced through the shared ledger."""
    requests_per_minute: float | None = None
    """The principal's request rate, charged to the shared limiter before the job starts."""
    tokens_per_minute: float | None = None
    """The principal's token rate (charged with ``estimated_tokens``)."""
    estimated_tokens: int = 0
    """Tokens charged to the token rate when the job starts."""
    enqueued_at: float = Field(default_factory=time.time)


class JobState(BaseModel):
    """Where a job stands, as stored in Redis (``<prefix>job:<id>``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job: Job
    status: JobStatus
    attempts: int = 0
    """Deliveries so far: a first run, a retry after an error, or a reclaim after a
    worker died all count."""
    worker: str | None = None
    """The consumer that last took it."""
    result: dict[str, Any] | None = None
    """``ExecutionResult.summary()`` once completed."""
    error: str | None = None
    """The last error (``Type: message``), if any."""
    updated_at: float = 0.0
