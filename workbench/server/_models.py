"""The JSON bodies of the HTTP API (and so of its OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.runtime import Approval, ExecutionResult

__all__ = [
    "ApprovalView",
    "CostReport",
    "DecisionAccepted",
    "DecisionRequest",
    "ErrorBody",
    "ExecutionAccepted",
    "ExecutionRequest",
    "ExecutionView",
]


class ErrorBody(BaseModel):
    """Every error answer: the stable code of ``docs/errors.md``, the error type, a message."""

    code: str
    """Stable code, e.g. ``rate_limited``."""
    type: str
    """The error class, e.g. ``RateLimited``."""
    message: str
    """What happened, for people."""
    retry_after: float | None = None
    """Seconds to wait before retrying (429 only; also the ``Retry-After`` header)."""


class ExecutionRequest(BaseModel):
    """``POST /v1/executions``: run an agent on a task."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(min_length=1, max_length=64)
    """The served agent's name."""
    task: str = Field(min_length=1)
    """The task, the first user message (the gateway limits its size)."""
    input: Any = None
    """Structured input, checked against the gateway's input schema when it has one."""
    thread_id: str | None = Field(default=None, min_length=1, max_length=128)
    """Conversation to join; a new one when omitted."""


class ExecutionAccepted(BaseModel):
    """The answer to ``POST /v1/executions``: the execution runs in the background."""

    execution_id: str
    status: str
    """``running``."""
    agent: str
    events_url: str
    """Server-sent events of its steps."""


class ExecutionView(BaseModel):
    """An execution as its owner sees it."""

    execution_id: str
    agent: str
    version: str
    thread_id: str | None
    status: str
    """``running``, ``awaiting_approval`` or a final status (``completed``, ...)."""
    answer: str | None = None
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    error: str | None = None
    pending_approval: str | None = None
    """The approval it waits for, when ``awaiting_approval``."""
    created_at: float
    """Unix time the request was accepted."""

    @classmethod
    def of(
        cls,
        *,
        execution_id: str,
        agent: str,
        version: str,
        thread_id: str | None,
        created_at: float,
        result: ExecutionResult | None,
        status: str,
    ) -> ExecutionView:
        """The view of an execution that may not have a result yet."""
        base = {
            "execution_id": execution_id,
            "agent": agent,
            "version": version,
            "thread_id": thread_id,
            "created_at": created_at,
            "status": status,
        }
        if result is None:
            return cls.model_validate(base)
        return cls.model_validate(
            {
                **base,
                "thread_id": result.thread_id,
                "answer": result.answer,
                "steps": result.steps,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "cost_usd": result.cost_usd,
                "latency_s": result.latency_s,
                "error": result.error,
                "pending_approval": result.pending_approval,
            }
        )


class ApprovalView(BaseModel):
    """A tool call waiting at an approval gate."""

    id: str
    execution_id: str
    tool: str
    arguments: str
    reason: str | None
    created_at: float
    deadline: float
    """Unix time after which the call counts as denied."""

    @classmethod
    def of(cls, approval: Approval) -> ApprovalView:
        """The view of a journal approval."""
        return cls(
            id=approval.id,
            execution_id=approval.execution_id,
            tool=approval.tool,
            arguments=approval.arguments,
            reason=approval.reason,
            created_at=approval.created_at,
            deadline=approval.deadline,
        )


class DecisionRequest(BaseModel):
    """``POST /v1/approvals/{id}``: approve or deny the call."""

    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: str | None = Field(default=None, max_length=2000)


class DecisionAccepted(BaseModel):
    """The decision is recorded; the execution resumes in the background."""

    approval_id: str
    execution_id: str
    decision: Literal["approved", "denied"]
    events_url: str


class CostReport(BaseModel):
    """``GET /v1/costs``: the caller's USD and tokens grouped by the dimensions asked for."""

    by: list[str]
    rows: list[dict[str, Any]]
    """One object per group: the dimension columns, then ``executions, llm_calls,
    prompt_tokens, completion_tokens, tokens, cost_usd``."""
