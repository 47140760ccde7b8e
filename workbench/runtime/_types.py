"""Typed records of one execution: its live step events and its result."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ExecutionResult", "ExecutionStatus", "StepEvent"]


class ExecutionStatus(StrEnum):
    """Where an execution stands. Every value but ``running`` and ``awaiting_approval``
    (paused at an approval gate, resumed by ``workbench approve``) is final."""

    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    STEP_LIMIT = "step_limit"
    TIMEOUT = "timeout"
    STOPPED = "stopped"
    BUDGET_EXCEEDED = "budget_exceeded"
    MALFORMED_OUTPUT = "malformed_output"
    MODEL_ERROR = "model_error"
    ERROR = "error"


class StepEvent(BaseModel):
    """One thing that happened in an execution, streamed to the CLI and widgets."""

    model_config = ConfigDict(frozen=True)

    execution_id: str
    """The execution it belongs to."""
    type: Literal["model", "tool", "retry", "repair", "status", "guardrail", "policy", "approval"]
    """``model``: a model reply; ``tool``: a tool result; ``retry``: a model call is
    retried; ``repair``: malformed output sent back; ``status``: the execution ended or
    paused; ``guardrail``: a guardrail flagged text; ``policy``: the policy denied a call;
    ``approval``: a call waits at an approval gate (``approval_id``) or was decided."""
    step: int
    """Zero-based step (model call) number."""
    text: str | None = None
    """Model text, tool result, repair message or final status detail."""
    tool_name: str | None = None
    """The tool of a ``tool`` event or of a repaired call."""
    arguments: str | None = None
    """The raw arguments of a tool call."""
    tool_calls: list[dict[str, Any]] | None = None
    """Tool calls of a ``model`` event, as ``{"name", "arguments"}``."""
    error: str | None = None
    """Stable error code, when the event is a failure."""
    replayed: bool = False
    """True when the result came from the effect journal (a resumed execution)."""
    prompt_tokens: int = 0
    """Prompt tokens of the execution so far."""
    completion_tokens: int = 0
    """Completion tokens of the execution so far."""
    cost_usd: float = 0.0
    """USD of the execution so far."""
    status: str | None = None
    """Final status, on a ``status`` event."""
    approval_id: str | None = None
    """The approval request, on an ``approval`` event."""


class ExecutionResult(BaseModel):
    """The outcome of one execution."""

    model_config = ConfigDict(frozen=True)

    execution_id: str
    """Id to resume, query or approve it by."""
    thread_id: str
    """Conversation the execution belongs to (a Phoenix session)."""
    agent_name: str
    """Agent name from the spec."""
    agent_version: str
    """Agent version from the spec."""
    status: ExecutionStatus
    """Final status."""
    answer: str | None
    """The final answer, when ``status`` is ``completed``."""
    steps: int
    """Model calls made (replayed ones included)."""
    prompt_tokens: int
    """Prompt tokens over all model calls."""
    completion_tokens: int
    """Completion tokens over all model calls."""
    cost_usd: float
    """USD over all model calls; a workflow's includes its delegations' (the trace store's
    ``executions`` row of the supervisor counts only its own calls)."""
    latency_s: float
    """Wall-clock time spent running (pauses excluded)."""
    error: str | None = None
    """What stopped it, when it did not complete."""
    trace_id: str
    """Trace of every span of the execution."""
    pending_approval: str | None = None
    """The approval it waits for, when ``status`` is ``awaiting_approval``."""

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def summary(self) -> dict[str, Any]:
        """The ``--json`` object of ``workbench run``."""
        return {
            "execution_id": self.execution_id,
            "status": self.status.value,
            "answer": self.answer,
            "steps": self.steps,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "pending_approval": self.pending_approval,
        }
