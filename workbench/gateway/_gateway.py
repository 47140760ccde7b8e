"""The gateway: admits a request to the loop or refuses it with a typed error and a safety event."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from workbench.errors import BudgetExceeded, GatewayRejected, GuardrailBlocked, PermissionDenied
from workbench.gateway._budget import BudgetLedger, Spend, SqliteBudgetLedger
from workbench.gateway._config import BudgetCaps, GatewayConfig
from workbench.gateway._keys import KeyStore, Principal
from workbench.gateway._ratelimit import InMemoryRateLimiter, RateLimiter
from workbench.gateway._validation import InputValidator
from workbench.tracing import SafetyEvent, SpanKind, Tracer, get_tracer, record_safety_event

__all__ = ["Admission", "AdmissionRequest", "Gateway", "InputGuard"]

_EXCERPT = 240


class _Detection(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def severity(self) -> str: ...
    @property
    def excerpt(self) -> str: ...
    @property
    def category(self) -> str: ...


class _Verdict(Protocol):
    @property
    def flagged(self) -> bool: ...
    @property
    def score(self) -> float: ...
    @property
    def action(self) -> str: ...
    @property
    def detectors(self) -> Sequence[_Detection]: ...


class _Guarded(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def verdict(self) -> _Verdict: ...
    @property
    def blocked(self) -> bool: ...


class InputGuard(Protocol):
    """What the gateway needs of a guard: ``workbench.guardrails.Guard`` fulfils it."""

    def apply(self, text: str, channel: Any = ...) -> _Guarded:
        """Scan ``text`` on ``channel``; return the (maybe transformed) text and verdict."""
        ...


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """A request to run an agent, as it reaches the gateway.

    Attributes:
        api_key: The caller's secret (``wbk_...``), or None.
        agent: The agent asked for.
        task: The task text.
        input: Structured task input (JSON-able), if any.
        estimated_tokens: Tokens the caller expects the request to use (charged to the
            token rate limit; a request over a token cap is refused at once).
    """

    api_key: str | None
    agent: str
    task: str
    input: Any = None
    estimated_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted request.

    Attributes:
        principal: Who asked.
        task: The task, transformed by the guard when its action is redact or mark.
        caps: Budget caps to pass to :meth:`BudgetLedger.reserve` for this execution.
        verdict: The guard's verdict, when a guard ran.
    """

    principal: Principal
    task: str
    caps: BudgetCaps
    verdict: Any = None


class Gateway:
    """Admits requests before they reach the loop: auth, scope, rate, budget, input, guard.

    Each step is a child span of one ``gateway admit`` span; each refusal records a
    safety event (:func:`~workbench.tracing.record_safety_event`) and raises a
    :class:`~workbench.errors.GatewayRejected` subclass with its ``http_status``.
    Nothing on the admitted path touches disk once a key is cached (see ``KeyStore``),
    except the day-budget pre-check, re-read at most every ``budget_check_ttl_s``.

    Args:
        config: Defaults; ``GatewayConfig()`` if None.
        keys: The key store; ``KeyStore()`` (under the settings' home) if None.
        rate_limiter: ``InMemoryRateLimiter()`` if None.
        ledger: ``SqliteBudgetLedger()`` (under the settings' home) if None.
        guard: A guardrail guard for the task (e.g. ``workbench.guardrails.Guard``).
        tracer: Where spans and safety events go; ``get_tracer()`` if None.
    """

    def __init__(
        self,
        config: GatewayConfig | None = None,
        keys: KeyStore | None = None,
        rate_limiter: RateLimiter | None = None,
        ledger: BudgetLedger | None = None,
        guard: InputGuard | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.config = config if config is not None else GatewayConfig()
        self.keys = keys if keys is not None else KeyStore(cache_ttl_s=self.config.key_cache_ttl_s)
        self.rate_limiter = rate_limiter if rate_limiter is not None else InMemoryRateLimiter()
        self.ledger: BudgetLedger = ledger if ledger is not None else SqliteBudgetLedger()
        self.guard = guard
        self.tracer = tracer if tracer is not None else get_tracer()
        self._validator = InputValidator(self.config)
        self._caps: dict[str, tuple[Principal, BudgetCaps]] = {}
        self._day_spend: dict[str, tuple[float, Spend]] = {}

    def admit(self, request: AdmissionRequest) -> Admission:
        """Admit ``request`` or refuse it.

        Returns:
            The principal, the (maybe transformed) task, the budget caps and the verdict.

        Raises:
            AuthenticationFailed: No, unknown, revoked or expired key.
            PermissionDenied: The agent is outside the principal's scopes.
            RateLimited: The request or token rate is spent (``retry_after``).
            BudgetExceeded: The principal's day cap, or the execution cap for the
                estimated tokens, has no room.
            InputTooLarge: Over ``max_input_bytes``.
            InputInvalid: Bad text or the input schema fails.
            GuardrailBlocked: The guard's action on the task is ``block``.
        """
        tracer = self.tracer
        attrs = {"workbench.agent": request.agent}
        with tracer.span("gateway admit", SpanKind.CHAIN, attrs) as root:
            with tracer.span("gateway auth", SpanKind.CHAIN):
                try:
                    principal = self.keys.authenticate(request.api_key)
                except GatewayRejected as exc:
                    self._reject(exc, "auth", "api_key", request, excerpt="", severity="medium")
            name = principal.name
            root.set_attribute("workbench.principal", name)
            with tracer.span("gateway scope", SpanKind.CHAIN):
                if not principal.may_use_agent(request.agent):
                    denied = PermissionDenied(
                        f"principal {name} may not use agent {request.agent!r} "
                        f"(its scopes: {', '.join(sorted(principal.scopes)) or 'none'})",
                        principal=name,
                    )
                    self._reject(denied, "auth", "scope.agent", request, principal, severity="high")
            with tracer.span("gateway rate_limit", SpanKind.CHAIN):
                rpm = principal.rate_per_minute
                tpm = principal.tokens_per_minute
                try:
                    self.rate_limiter.acquire(
                        name,
                        requests_per_minute=self.config.rate_per_minute if rpm is None else rpm,
                        tokens_per_minute=self.config.tokens_per_minute if tpm is None else tpm,
                        tokens=request.estimated_tokens,
                    )
                except GatewayRejected as exc:
                    self._reject(exc, "rate_limit", "rate_limit", request, principal, excerpt="")
            with tracer.span("gateway budget", SpanKind.CHAIN):
                caps = self._caps_of(principal)
                try:
                    self._check_budget(principal, caps, request.estimated_tokens)
                except GatewayRejected as exc:
                    self._reject(exc, "budget", "budget", request, principal, excerpt="")
            with tracer.span("gateway input", SpanKind.CHAIN):
                try:
                    self._validator.validate(
                        request.task, request.input, agent=request.agent, principal=name
                    )
                except GatewayRejected as exc:
                    self._reject(exc, "input", exc.code, request, principal, severity="low")
            task = request.task
            verdict = None
            if self.guard is not None:
                task, verdict = self._guard(self.guard, request, principal)
            return Admission(principal=principal, task=task, caps=caps, verdict=verdict)

    # -- steps ------------------------------------------------------------------------------

    def _caps_of(self, principal: Principal) -> BudgetCaps:
        cached = self._caps.get(principal.key_id)
        if cached is not None and cached[0] is principal:
            return cached[1]
        caps = self.config.caps.merged(principal.key_caps())
        self._caps[principal.key_id] = (principal, caps)
        return caps

    def _check_budget(self, principal: Principal, caps: BudgetCaps, tokens: int) -> None:
        name = principal.name
        if caps.execution_tokens is not None and tokens > caps.execution_tokens:
            raise BudgetExceeded(
                f"{tokens} estimated tokens is over the execution cap of {caps.execution_tokens}",
                principal=name,
            )
        if caps.principal_day_tokens is None and caps.principal_day_usd is None:
            return
        now = time.monotonic()
        seen = self._day_spend.get(name)
        if seen is None or now - seen[0] > self.config.budget_check_ttl_s:
            seen = (now, self.ledger.spent(principal=name))
            self._day_spend[name] = seen
        spend = seen[1]
        day_tokens = caps.principal_day_tokens
        used = spend.total_tokens
        if day_tokens is not None and (used >= day_tokens or used + tokens > day_tokens):
            raise BudgetExceeded(
                f"principal {name} has {max(0, day_tokens - spend.total_tokens)} tokens left "
                f"today of {day_tokens} (asked {tokens})",
                principal=name,
            )
        day_usd = caps.principal_day_usd
        if day_usd is not None and spend.total_usd >= day_usd:
            raise BudgetExceeded(
                f"principal {name} has spent ${spend.total_usd:.6f} of its ${day_usd:.6f} today",
                principal=name,
            )

    def _guard(
        self, guard: InputGuard, request: AdmissionRequest, principal: Principal
    ) -> tuple[str, Any]:
        channel = self.config.guard_channel
        with self.tracer.span("gateway guardrail", SpanKind.GUARDRAIL) as span:
            guarded = guard.apply(request.task, channel=channel)
            verdict = guarded.verdict
            span.set_attribute("workbench.guardrail.score", float(verdict.score))
            if not verdict.flagged and not guarded.blocked:
                return guarded.text, verdict
            detections = list(verdict.detectors)
            top = max(detections, key=lambda d: d.score, default=None)
            event = SafetyEvent(
                kind="guardrail",
                rule=top.name if top is not None else "guardrail",
                severity=_severity(top.severity if top is not None else "high"),
                action="block" if guarded.blocked else verdict.action,
                principal=principal.name,
                channel=channel,
                excerpt=" | ".join(d.excerpt for d in detections)[:_EXCERPT],
                detail={
                    "score": float(verdict.score),
                    "agent": request.agent,
                    "detectors": [
                        {"name": d.name, "score": float(d.score), "category": d.category}
                        for d in detections
                    ],
                },
            )
            record_safety_event(self.tracer, event)
            if guarded.blocked:
                exc = GuardrailBlocked(
                    f"the task was blocked by guardrails: {', '.join(d.name for d in detections)}",
                    principal=principal.name,
                )
                span.record_error(exc)
                raise exc
            return guarded.text, verdict

    def _reject(
        self,
        exc: GatewayRejected,
        kind: str,
        rule: str,
        request: AdmissionRequest,
        principal: Principal | None = None,
        *,
        excerpt: str | None = None,
        severity: str = "medium",
    ) -> NoReturn:
        detail: dict[str, Any] = {"code": exc.code, "http_status": exc.http_status}
        detail["agent"] = request.agent
        detail["message"] = exc.message
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            detail["retry_after"] = retry_after
        if principal is not None:
            detail["key_id"] = principal.key_id
        record_safety_event(
            self.tracer,
            SafetyEvent(
                kind=kind,
                rule=rule,
                severity=_severity(severity),
                action="block",
                principal=principal.name if principal is not None else exc.principal,
                excerpt=request.task[:_EXCERPT] if excerpt is None else excerpt,
                detail=detail,
            ),
        )
        raise exc


def _severity(value: str) -> Any:
    return value if value in ("info", "low", "medium", "high", "critical") else "medium"
