"""The runtime of an unattended red-team run: the gateway's input guard and auto-decided
approval gates around :class:`~workbench.runtime.Runtime`.

- **Gateway**: for an agent whose spec has ``guardrails``, the task first passes a
  real :class:`~workbench.gateway.Gateway` with that guard on the ``user_input``
  channel (and a red-team API key in this home's key store); a blocked task raises
  ``GuardrailBlocked``, which the eval records as the sample's error; a marked task runs
  as untrusted (``untrusted_task``: a destination it names needs approval).
- **Approvals**: an execution that pauses at an approval gate is decided at once
  (denied by default: nobody is there to approve) and resumed, until it finishes.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from workbench.runtime import AgentSpec, ExecutionResult, ExecutionStatus, Runtime, StepEvent
from workbench.settings import Settings

__all__ = ["RedteamRuntime"]

_AUTO = "redteam-unattended"
_MAX_GATES = 64


class RedteamRuntime(Runtime):
    """A runtime whose executions pass the gateway guard and never wait at a gate.

    Args:
        settings: Where state lives.
        tracer: Where spans go.
        durable: As for :class:`Runtime` (red-team runs keep state in memory).
        approvals: ``deny`` or ``approve`` every approval gate.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        tracer: Any = None,
        durable: bool = False,
        approvals: Literal["deny", "approve"] = "deny",
    ) -> None:
        super().__init__(settings, tracer=tracer, durable=durable)
        self.approvals = approvals
        self._gateway_key: dict[str, str] = {}
        self._gateways: dict[str, Any] = {}
        self._keys: Any = None

    def _gateway(self, spec: AgentSpec) -> Any:
        from workbench.gateway import Gateway, KeyStore
        from workbench.guardrails import Guard, GuardConfig

        config = json.dumps(spec.guardrails, sort_keys=True, default=str)
        if config not in self._gateways:
            if self._keys is None:
                self._keys = KeyStore(self.settings.home / "redteam" / "keys.sqlite")
            # The gateway records its own safety event for a flagged task.
            guard = Guard(
                GuardConfig.model_validate({**(spec.guardrails or {}), "record_events": False})
            )
            self._gateways[config] = Gateway(keys=self._keys, guard=guard, tracer=self.tracer)
        return self._gateways[config]

    def _admit(self, spec: AgentSpec, task: str, principal: str | None) -> tuple[str, Any, bool]:
        from workbench.gateway import AdmissionRequest

        gateway = self._gateway(spec)
        who = principal or "redteam"
        if who not in self._gateway_key:
            self._gateway_key[who] = gateway.keys.create(who, ["agent:*", "tool:*"])[1]
        admission = gateway.admit(
            AdmissionRequest(api_key=self._gateway_key[who], agent=spec.name, task=task)
        )
        return (
            admission.task,
            admission.principal,
            bool(admission.verdict is not None and admission.verdict.flagged),
        )

    async def arun(
        self,
        spec: AgentSpec,
        task: str,
        *,
        execution_id: str | None = None,
        principal: str | None = None,
        scopes: tuple[str, ...] | None = None,
        on_event: Any = None,
        **options: Any,
    ) -> ExecutionResult:
        """Admit the task (when the spec has guardrails), run it, decide every gate.

        Raises:
            GuardrailBlocked: The gateway's guard blocked the task.
        """
        flagged = False
        if spec.guardrails is not None:
            task, admitted, flagged = self._admit(spec, task, principal)
            principal, scopes = admitted.name, tuple(sorted(admitted.scopes))

        def fresh_only(event: StepEvent) -> None:
            # A resumed execution replays earlier results: report each step once.
            if on_event is not None and not event.replayed:
                on_event(event)

        result = await super().arun(
            spec,
            task,
            execution_id=execution_id,
            principal=principal,
            scopes=scopes,
            on_event=fresh_only,
            untrusted_task=flagged,
            **options,
        )
        for _ in range(_MAX_GATES):
            if (
                result.status is not ExecutionStatus.AWAITING_APPROVAL
                or not result.pending_approval
            ):
                break
            result = await self.adecide(
                result.pending_approval,
                approve=self.approvals == "approve",
                reason=f"unattended red-team run: auto-{self.approvals}",
                decided_by=_AUTO,
                on_event=fresh_only,
            )
        return result
