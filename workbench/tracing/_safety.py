"""Safety events: one row per rejection, guardrail hit, policy decision, approval or budget stop.

Every part of the platform that refuses, flags or pauses something calls
:func:`record_safety_event`. It writes a ``GUARDRAIL`` span (a child of the current
span, so the decision shows in the execution's trace and in Phoenix) and a row of the
``safety_events`` table through the tracer's off-thread path, which the trace store
exposes as the ``safety_events`` view. See ``docs/trace-store.md``.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.tracing._model import SpanKind
from workbench.tracing._tracer import Tracer

__all__ = ["SAFETY_EVENTS", "SafetyEvent", "Severity", "record_safety_event"]

SAFETY_EVENTS = "safety_events"
"""``records.table_name`` of safety events (and the name of their view)."""

Severity = Literal["info", "low", "medium", "high", "critical"]

_EXCERPT = 240


class SafetyEvent(BaseModel):
    """One safety decision, as stored in the ``safety_events`` view."""

    model_config = ConfigDict(frozen=True)

    kind: str
    """What decided: ``auth``, ``rate_limit``, ``budget``, ``input``, ``guardrail``,
    ``policy``, ``approval``, ``output_guard``, ``cost_alert``."""
    rule: str
    """Which rule, detector or policy id decided."""
    severity: Severity = "medium"
    """How bad it is."""
    action: str = "block"
    """What was done: ``block``, ``redact``, ``mark``, ``deny``, ``ask``, ``approve``,
    ``allow``, ``stop``, ``alert``."""
    principal: str | None = None
    """Who asked."""
    execution_id: str | None = None
    """The execution concerned, if one exists yet."""
    channel: str | None = None
    """Where the text came from: ``user_input``, ``tool_output``, ``tool_argument``,
    ``final_answer``; ``None`` when not about text."""
    tool: str | None = None
    """The tool concerned, if any."""
    excerpt: str = ""
    """A short excerpt of the offending text (secrets already redacted by the caller)."""
    detail: dict[str, Any] = Field(default_factory=dict)
    """Anything else worth keeping (scores, detectors, reasons)."""
    at: float = Field(default_factory=time.time)
    """Unix time of the decision."""


def record_safety_event(tracer: Tracer, event: SafetyEvent) -> None:
    """Record ``event`` as a ``GUARDRAIL`` span and a ``safety_events`` row.

    Args:
        tracer: Where it goes (the execution's tracer, or the process-wide one).
        event: The decision.
    """
    excerpt = event.excerpt[:_EXCERPT]
    attributes: dict[str, Any] = {
        "workbench.safety.kind": event.kind,
        "workbench.safety.rule": event.rule,
        "workbench.safety.severity": event.severity,
        "workbench.safety.action": event.action,
        "input.value": excerpt,
    }
    optional = {
        "workbench.principal": event.principal,
        "workbench.execution_id": event.execution_id,
        "workbench.safety.channel": event.channel,
        "tool.name": event.tool,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    with tracer.span(f"guardrail {event.kind}", SpanKind.GUARDRAIL, attributes):
        pass
    tracer.record(SAFETY_EVENTS, {**event.model_dump(mode="json"), "excerpt": excerpt})
