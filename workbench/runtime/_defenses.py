"""The runtime's defenses: guardrails, tool policies, approval gates and budget reservations.

An agent spec switches them on (``guardrails:``, ``policy:``), the gateway adds the
principal's scopes and budget caps to the execution, and the loop asks this module at
four points:

- before every model call, :meth:`Defenses.reserve` reserves the worst case of the call
  in the budget ledger (and :meth:`Defenses.settle` settles it to the actual cost);
- before every tool call, :meth:`Defenses.authorize` asks the policy engine
  (principal x tool x arguments x taint) and guards arguments sent to a tool with
  external egress; the answer is allow, a refusal, or an approval gate;
- after every tool call, :meth:`Defenses.guard_tool_output` scans what the model is about
  to read (indirect injection);
- on the final answer, :meth:`Defenses.guard_answer` checks for secrets, PII and canaries.

Every decision that refuses, flags or pauses is a safety event (a span and a row).
The concrete engines live in :mod:`workbench.guardrails`, :mod:`workbench.policy` and
:mod:`workbench.gateway`; they are imported only when a spec asks for them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from workbench.errors import (
    ApprovalDenied,
    BudgetExceeded,
    ConfigError,
    PolicyDenied,
    ToolError,
    ToolRefused,
)
from workbench.tracing import SafetyEvent, Tracer, record_safety_event

if TYPE_CHECKING:
    from workbench.gateway import BudgetLedger, Reservation
    from workbench.guardrails import Guard
    from workbench.policy import PolicyEngine
    from workbench.runtime._spec import AgentSpec
    from workbench.tools import Tool

__all__ = [
    "CONTENT_ARGUMENTS",
    "Authorization",
    "Defenses",
    "taint_sources",
    "tainted_arguments",
]

_TAINT_MIN = 6
"""Shortest argument string that counts as copied from a tool output."""
_EXCERPT = 240


@dataclass(frozen=True, slots=True)
class Authorization:
    """What the defenses say about one tool call."""

    effect: Literal["allow", "deny", "ask"]
    reason: str = ""
    refusal: ToolError | None = None
    """For ``deny``: the error the model sees."""
    tainted: bool = False
    taint_sources: tuple[str, ...] = ()


CONTENT_ARGUMENTS = frozenset(
    {"body", "content", "text", "message", "subject", "summary", "note", "notes", "title"}
)
"""Argument names that carry content rather than choose where or how a call acts: data
copied from a tool output into them (a summary mailed to the user's own address) does
not taint the call. Every other argument (a recipient, URL, path, command, account)
does."""


def taint_sources(arguments: Any, tool_outputs: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Names of the tools whose output an argument value was copied from.

    Every string leaf of ``arguments`` at least six characters long that occurs verbatim
    in a tool output the model has read counts: an address, URL or path an injected
    document asked for travels this way.
    """
    leaves = [s for s in _string_leaves(arguments) if len(s) >= _TAINT_MIN]
    if not leaves:
        return ()
    found: list[str] = []
    for tool, text in tool_outputs:
        if tool not in found and any(leaf in text for leaf in leaves):
            found.append(tool)
    return tuple(found)


def tainted_arguments(
    arguments: Mapping[str, Any],
    tool_outputs: Iterable[tuple[str, str]],
    *,
    flagged_context: bool = False,
    trusted_text: str = "",
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which arguments carry untrusted data, and where it came from.

    An argument is tainted when one of its string values (six characters or more) was
    copied from a tool output. Once a guardrail has flagged text the model read
    (``flagged_context``), an argument that chooses where or how the call acts (any
    argument not in :data:`CONTENT_ARGUMENTS`) is tainted too unless its value appears in
    ``trusted_text`` (the user's task): the model may have been steered to it.

    Returns:
        The tainted argument names that are not content arguments, and the sources.
    """
    outputs = list(tool_outputs)
    names: list[str] = []
    sources: list[str] = []
    for name, value in arguments.items():
        found = taint_sources(value, outputs)
        if not found and flagged_context and name not in CONTENT_ARGUMENTS:
            leaves = [s for s in _string_leaves(value) if s]
            if any(leaf not in trusted_text for leaf in leaves):
                found = ("flagged_context",)
        if found and name not in CONTENT_ARGUMENTS:
            names.append(name)
        sources.extend(s for s in found if s not in sources)
    return tuple(names), tuple(sources)


def _string_leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value.strip()
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _string_leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _string_leaves(item)


@functools.lru_cache(maxsize=32)
def _policy_engine(path: str) -> PolicyEngine:
    from workbench.policy import PolicyEngine

    return PolicyEngine.default() if path == "default" else PolicyEngine.from_path(Path(path))


@dataclass
class Defenses:
    """The defenses of one execution in this process.

    Args:
        tracer: Where safety events go.
        principal: Who asked (``None`` for a local, trusted run).
        scopes: The principal's scopes; ``None`` means a local run with every scope.
        execution_id: The execution defended.
        guard: Guardrails, when the spec has a ``guardrails`` section.
        policy: The policy engine, when the spec names a ``policy``.
        ledger: The budget ledger, when the gateway set caps for the execution.
    """

    tracer: Tracer
    principal: str | None
    scopes: tuple[str, ...] | None
    execution_id: str
    guard: Guard | None = None
    policy: PolicyEngine | None = None
    ledger: BudgetLedger | None = None
    caps: dict[str, float] | None = None
    """The budget caps the gateway set (passed on to a workflow's delegations)."""
    task: str = ""
    """The user's task: values that appear in it were chosen by the user."""
    untrusted_task: bool = False
    """The gateway's guard flagged the task (and marked it): its values are untrusted too."""
    flagged_context: bool = False
    """Set once a guardrail flagged text the model read: from then on an argument that
    chooses where a call acts is tainted unless the user's task named it."""
    _events: list[SafetyEvent] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        spec: AgentSpec,
        *,
        tracer: Tracer,
        execution_id: str,
        principal: str | None,
        scopes: tuple[str, ...] | None,
        ledger: BudgetLedger | None,
        caps: dict[str, float] | None = None,
        task: str = "",
        untrusted_task: bool = False,
    ) -> Defenses:
        """The defenses ``spec`` asks for; a :class:`ConfigError` if they are misconfigured."""
        guard = None
        if spec.guardrails is not None:
            from workbench.guardrails import Guard, GuardConfig

            try:
                # The runtime records its own events (with principal and execution).
                config = {**spec.guardrails, "record_events": False}
                guard = Guard(GuardConfig.model_validate(config))
            except ValidationError as exc:
                raise ConfigError(f"agent {spec.name}: guardrails are invalid: {exc}") from exc
        policy = _policy_engine(spec.policy) if spec.policy is not None else None
        return cls(
            tracer=tracer,
            principal=principal,
            scopes=scopes,
            execution_id=execution_id,
            guard=guard,
            policy=policy,
            ledger=ledger,
            caps=caps,
            task=task,
            untrusted_task=untrusted_task,
            flagged_context=untrusted_task,
        )

    def event(self, **fields: Any) -> None:
        """Record a safety event about this execution."""
        event = SafetyEvent(principal=self.principal, execution_id=self.execution_id, **fields)
        record_safety_event(self.tracer, event)

    # -- the system prompt -----------------------------------------------------------

    def system_prompt(self, prompt: str) -> str:
        """The system prompt, with this execution's canary token when guardrails are on."""
        if self.guard is None:
            return prompt
        return self.guard.system_prompt_with_canary(prompt, self.execution_id)

    # -- budget ----------------------------------------------------------------------

    def reserve(self, *, tokens: int, usd: float) -> Reservation | None:
        """Reserve the worst case of one model call; ``None`` when no ledger applies.

        Raises:
            BudgetExceeded: A cap has no room; recorded as a safety event.
        """
        if self.ledger is None:
            return None
        try:
            from workbench.gateway import BudgetCaps

            caps = BudgetCaps.model_validate(self.caps) if self.caps is not None else None
            return self.ledger.reserve(
                principal=self.principal,
                execution_id=self.execution_id,
                tokens=tokens,
                usd=usd,
                caps=caps,
            )
        except BudgetExceeded as exc:
            self.event(
                kind="budget",
                rule="reserve",
                severity="medium",
                action="stop",
                excerpt=exc.message,
                detail={"tokens": tokens, "usd": usd},
            )
            raise

    def settle(self, reservation: Reservation | None, *, tokens: int, usd: float) -> None:
        """Replace a reservation by the call's actual cost (zero when it failed)."""
        if reservation is not None and self.ledger is not None:
            self.ledger.settle(reservation, tokens=tokens, usd=usd)

    # -- tool calls ------------------------------------------------------------------

    def authorize(
        self,
        tool: Tool,
        arguments: dict[str, Any],
        raw_arguments: str,
        tool_outputs: Iterable[tuple[str, str]],
    ) -> Authorization:
        """Decide one tool call: policy first, then the egress guard, then approval marks."""
        outputs = list(tool_outputs)
        if self.untrusted_task:
            outputs.append(("user_input", self.task))
        tainted_names, sources = tainted_arguments(
            arguments,
            outputs,
            flagged_context=self.flagged_context,
            trusted_text="" if self.untrusted_task else self.task,
        )
        tainted = bool(tainted_names)
        if self.policy is not None:
            from workbench.policy import ToolRequest

            decision = self.policy.decide(
                ToolRequest.for_tool(
                    tool,
                    arguments,
                    principal=self.principal,
                    scopes=self.scopes if self.scopes is not None else ("agent:*", "tool:*"),
                    tainted=tainted,
                    taint_sources=sources,
                )
            )
            if decision.effect == "deny":
                self.event(
                    kind="policy",
                    rule=",".join(decision.policy_ids) or "default_deny",
                    severity="high" if tainted else "medium",
                    action="deny",
                    tool=tool.name,
                    channel="tool_argument",
                    excerpt=self._safe_excerpt(raw_arguments),
                    detail={"reason": decision.reason, "taint_sources": list(sources)},
                )
                refusal: ToolError = PolicyDenied(
                    f"the policy denied this call: {decision.reason}", tool=tool.name
                )
                return Authorization("deny", decision.reason, refusal, tainted, sources)
            if decision.effect == "ask":
                return Authorization("ask", decision.reason, None, tainted, sources)
        if self.guard is not None and tool.egress:
            verdict = self.guard.scan(
                raw_arguments, channel="tool_argument", execution_id=self.execution_id
            )
            if verdict.flagged and verdict.action == "block":
                names = sorted({d.name for d in verdict.detectors})
                self.event(
                    kind="output_guard",
                    rule=",".join(names),
                    severity="high",
                    action="block",
                    tool=tool.name,
                    channel="tool_argument",
                    excerpt=_redacted_excerpt(self.guard, raw_arguments),
                    detail={"score": verdict.score},
                )
                reason = "its arguments carry " + ", ".join(names)
                refusal = ToolRefused(
                    f"the output guard refused this call: {reason}", tool=tool.name
                )
                return Authorization("deny", reason, refusal, tainted, sources)
        if tool.requires_approval:
            return Authorization("ask", "the tool requires approval", None, tainted, sources)
        return Authorization("allow", "", None, tainted, sources)

    def _safe_excerpt(self, text: str) -> str:
        return _redacted_excerpt(self.guard, text) if self.guard else text[:_EXCERPT]

    def denied_at_gate(self, tool: str, reason: str) -> ApprovalDenied:
        """The tool error the model sees when a person denied the call (or it timed out)."""
        return ApprovalDenied(f"the call was not approved: {reason}", tool=tool)

    # -- text the model reads, and the answer ----------------------------------------

    def guard_tool_output(self, tool: str, content: str) -> tuple[str, bool]:
        """The tool output the model may read, and whether a guardrail flagged it."""
        if self.guard is None:
            return content, False
        guarded = self.guard.apply(
            content, channel="tool_output", execution_id=self.execution_id, tool=tool
        )
        verdict = guarded.verdict
        if not verdict.flagged:
            return content, False
        self.flagged_context = True
        names = sorted({d.name for d in verdict.detectors})
        self.event(
            kind="guardrail",
            rule=",".join(names),
            severity=_severity(verdict.detectors),
            action="block" if guarded.blocked else verdict.action,
            tool=tool,
            channel="tool_output",
            excerpt=content[:_EXCERPT],
            detail={"score": verdict.score},
        )
        if guarded.blocked:
            return f"[output of {tool} withheld by a guardrail: {', '.join(names)}]", True
        return guarded.text, True

    def guard_answer(self, answer: str) -> str:
        """The final answer with secrets, PII and canaries handled per the channel's action."""
        if self.guard is None:
            return answer
        guarded = self.guard.apply(answer, channel="final_answer", execution_id=self.execution_id)
        verdict = guarded.verdict
        if not verdict.flagged:
            return answer
        names = sorted({d.name for d in verdict.detectors})
        self.event(
            kind="output_guard",
            rule=",".join(names),
            severity=_severity(verdict.detectors),
            action="block" if guarded.blocked else verdict.action,
            channel="final_answer",
            excerpt=_redacted_excerpt(self.guard, answer),
            detail={"score": verdict.score},
        )
        if guarded.blocked:
            return f"[answer withheld by a guardrail: {', '.join(names)}]"
        return guarded.text


_SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _severity(detections: Iterable[Any]) -> Literal["low", "medium", "high", "critical"]:
    worst = max((str(d.severity) for d in detections), key=lambda s: _SEVERITY_ORDER.get(s, 1))
    return worst if worst in ("low", "medium", "high", "critical") else "medium"  # type: ignore[return-value]


def _redacted_excerpt(guard: Guard, text: str) -> str:
    """An excerpt safe to store: secrets redacted, whatever the channel's action."""
    try:
        from workbench.guardrails import GuardConfig

        redactor = type(guard)(
            GuardConfig.model_validate(
                {"actions": {"final_answer": "redact"}, "record_events": False}
            )
        )
        return redactor.apply(text, channel="final_answer").text[:_EXCERPT]
    except Exception:
        return json.dumps({"withheld": len(text)})
