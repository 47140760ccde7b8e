"""From an admitted request to an execution: the gateway's front door to the runtime.

:func:`asubmit` admits a request with :meth:`Gateway.admit` and runs the agent on the
(possibly guarded) task as the admitted principal, with its scopes (for tool policies)
and budget caps (reserved before every model call in the gateway's ledger). The HTTP
server and ``workbench run --api-key`` both go through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.gateway._gateway import AdmissionRequest, Gateway

if TYPE_CHECKING:
    from workbench.runtime import AgentSpec, ExecutionResult, Runtime
    from workbench.runtime._runtime import EventCallback

__all__ = ["asubmit"]


async def asubmit(
    gateway: Gateway,
    runtime: Runtime,
    spec: AgentSpec,
    *,
    api_key: str | None,
    task: str,
    input: object = None,
    execution_id: str | None = None,
    thread_id: str | None = None,
    on_event: EventCallback | None = None,
) -> ExecutionResult:
    """Admit the request, then run ``spec`` for the admitted principal.

    Args:
        gateway: Admits or refuses (raises a ``GatewayRejected`` subclass).
        runtime: Runs the execution; its budget ledger should be the gateway's.
        spec: The agent asked for (``agent:<spec.name>`` must be in the key's scopes).
        api_key: The caller's secret.
        task: The task text.
        input: Structured input checked against the gateway's input schema, if any.
        execution_id: Id to use; a new one if omitted.
        thread_id: Conversation to join; a new one if omitted.
        on_event: Step events, as for :meth:`Runtime.arun`.

    Raises:
        GatewayRejected: Any refusal of the gateway (auth, scope, rate, budget, input,
            guardrail), each with ``http_status``.
    """
    admission = gateway.admit(
        AdmissionRequest(api_key=api_key, agent=spec.name, task=task, input=input)
    )
    caps = admission.caps.model_dump(exclude_none=True) or None
    flagged = admission.verdict is not None and bool(getattr(admission.verdict, "flagged", False))
    return await runtime.arun(
        spec,
        admission.task,
        execution_id=execution_id,
        thread_id=thread_id,
        principal=admission.principal.name,
        scopes=tuple(sorted(admission.principal.scopes)),
        caps=caps,
        on_event=on_event,
        untrusted_task=flagged,
    )
