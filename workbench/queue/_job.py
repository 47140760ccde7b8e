"""What travels over the queue: a job, and what a worker records about it."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["EvalUnit", "Job", "JobState", "JobStatus"]

JobStatus = Literal["queued", "running", "retrying", "completed", "dead", "cancelled"]


class EvalUnit(BaseModel):
    """What an ``eval_sample`` job adds to its execution: the unit of an eval run.

    The suite travels whole (``Suite.model_dump``), so the worker scores, judges and
    runs the sample exactly as the runner would, with the suite class of its ``kind``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    """The eval run."""
    suite: dict[str, Any]
    """The suite (``Suite.model_dump(mode="json")``, ``kind`` included)."""
    suite_source: str | None = None
    """The suite file (for messages and the row)."""
    version: str
    """Version label."""
    sample: dict[str, Any]
    """The dataset line (``Sample.model_dump(mode="json")``)."""
    epoch: int
    """Which repetition."""
    durable: bool = False
    """Checkpoint the execution to disk (a reclaimed unit then resumes it)."""


class Job(BaseModel):
    """One unit of work: an execution of an agent spec on a task, or one unit of an
    eval run (``kind="eval_sample"``: the execution plus its scoring and its row).

    The spec travels whole (as JSON), so a worker needs only the modules it imports.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: f"job-{uuid.uuid4().hex[:12]}")
    """Stable across retries and reclaims."""
    kind: Literal["execution", "eval_sample"] = "execution"
    """What the job runs: an execution, or an eval sample (then ``eval`` is set)."""
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
    eval: EvalUnit | None = None
    """The eval unit of an ``eval_sample`` job."""

    @model_validator(mode="after")
    def _check_kind(self) -> Job:
        if (self.kind == "eval_sample") != (self.eval is not None):
            raise ValueError("an eval_sample job (and only one) carries `eval`")
        return self


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
    entry: str | None = None
    """The job's live stream entry; a delivery of any other entry is stale and skipped
    (a cancelled job enqueued again, a retry)."""
    updated_at: float = 0.0
