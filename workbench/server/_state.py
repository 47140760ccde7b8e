"""What the server holds: the gateway, the runtime, served agents and their live executions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from workbench.errors import ApprovalNotFound, ExecutionNotFound
from workbench.gateway import Admission, Gateway
from workbench.runtime import Approval, ExecutionResult, ExecutionStatus, Runtime, StepEvent
from workbench.server._config import LoadedAgent, ServeConfig
from workbench.server._metrics import ServerMetrics
from workbench.server._models import ExecutionView
from workbench.server._shadow import LiveShadow, ShadowJob
from workbench.tracing import Tracer

__all__ = ["OPEN_STATUSES", "ServedExecution", "ServerState"]

log = logging.getLogger(__name__)

_KEEP_FINISHED = 10_000
"""Finished executions kept in memory for GET; the oldest are forgotten first."""
OPEN_STATUSES = frozenset({ExecutionStatus.RUNNING.value})
"""Statuses of an execution that is still running (its event stream stays open)."""
_OPEN = OPEN_STATUSES


@dataclass
class ServedExecution:
    """One execution started (or resumed) through the API, and its event log."""

    execution_id: str
    agent: str
    version: str
    principal: str
    thread_id: str | None
    created_at: float = field(default_factory=time.time)
    status: str = ExecutionStatus.RUNNING.value
    result: ExecutionResult | None = None
    events: list[StepEvent] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    """``events`` as server-sent event frames, serialised once however many subscribe."""
    task: asyncio.Task[None] | None = None
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def push(self, event: StepEvent) -> None:
        """Append a step event and wake the streams (the runtime's ``on_event``)."""
        sent = len(self.events)
        self.events.append(event)
        self.frames.append(f"id: {sent}\nevent: step\ndata: {event.model_dump_json()}\n\n")
        self._wake()

    def settle(self, result: ExecutionResult | None, *, status: str) -> None:
        """Record the result (or only a status) and wake the streams."""
        self.result, self.status = result, status
        self._wake()

    @property
    def running(self) -> bool:
        """Whether it is still running (else final, or paused at an approval gate)."""
        return self.status in _OPEN

    def status_frame(self) -> str:
        """The closing ``status`` event of a stream: the current view."""
        return f"event: status\ndata: {self.view().model_dump_json()}\n\n"

    def view(self) -> ExecutionView:
        """The JSON view of ``GET /v1/executions/{id}``."""
        return ExecutionView.of(
            execution_id=self.execution_id,
            agent=self.agent,
            version=self.version,
            thread_id=self.thread_id,
            created_at=self.created_at,
            result=self.result,
            status=self.status,
        )

    async def stream(self, *, keepalive_s: float = 15.0) -> AsyncIterator[str]:
        """Server-sent events: every step event so far and to come, then the status.

        Ends once the execution is no longer running (a final status, or paused at an
        approval gate: subscribe again after deciding it).
        """
        sent = 0
        while True:
            chunk = "".join(self.frames[sent:])  # every frame there is, in one write
            sent = len(self.frames)
            if self.status not in _OPEN:
                yield chunk + self.status_frame()
                return
            if chunk:
                yield chunk
            changed = self.changed()
            done, _ = await asyncio.wait({changed}, timeout=keepalive_s)
            if not done:
                changed.cancel()
                yield ": keep-alive\n\n"

    def changed(self) -> asyncio.Future[None]:
        """A future done at the next event or status change (a plain future, not a task)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class ServerState:
    """The server's working parts; one per app.

    Args:
        config: The server config.
        agents: Served agents by name (``config.load()``).
        gateway: Admits ``POST /v1/executions``.
        runtime: Runs executions (its ledger should be the gateway's).
        tracer: The runtime's tracer (it feeds ``metrics``).
        metrics: The Prometheus metrics.
        shadow: The live shadow queue.
    """

    def __init__(
        self,
        *,
        config: ServeConfig,
        agents: dict[str, LoadedAgent],
        gateway: Gateway,
        runtime: Runtime,
        tracer: Tracer,
        metrics: ServerMetrics,
        shadow: LiveShadow,
    ) -> None:
        self.config = config
        self.agents = agents
        self.gateway = gateway
        self.runtime = runtime
        self.tracer = tracer
        self.metrics = metrics
        self.shadow = shadow
        self.executions: OrderedDict[str, ServedExecution] = OrderedDict()

    def get(self, execution_id: str, principal: str) -> ServedExecution:
        """The caller's execution.

        Raises:
            ExecutionNotFound: No such execution in this server, or another principal's
                (the answer does not tell which).
        """
        served = self.executions.get(execution_id)
        if served is None or served.principal != principal:
            raise ExecutionNotFound(f"no execution {execution_id!r} for this API key")
        return served

    def start(
        self, agent: LoadedAgent, admission: Admission, *, execution_id: str, thread_id: str | None
    ) -> ServedExecution:
        """Start an admitted execution in the background."""
        spec = agent.spec
        served = ServedExecution(
            execution_id=execution_id,
            agent=spec.name,
            version=spec.version,
            principal=admission.principal.name,
            thread_id=thread_id,
        )
        self._remember(served)
        served.task = asyncio.create_task(self._run(served, agent, admission))
        return served

    def pending_approvals(self, principal: str) -> list[Approval]:
        """The caller's approvals waiting for a decision, oldest first."""
        return [a for a in self.runtime.pending_approvals() if a.principal == principal]

    def decide(
        self, approval_id: str, principal: str, *, approve: bool, reason: str | None
    ) -> tuple[Approval, ServedExecution]:
        """Decide the caller's pending approval; its execution resumes in the background.

        Raises:
            ApprovalNotFound: No pending approval of that id for this principal.
        """
        try:
            approval = self.runtime.get_approval(approval_id)
        except ApprovalNotFound:
            approval = None
        if (
            approval is None
            or approval.principal != principal
            or approval.effective_status() != "pending"
        ):
            raise ApprovalNotFound(f"no pending approval {approval_id!r} for this API key")
        self.metrics.approval_wait.observe(max(0.0, time.time() - approval.created_at))
        served = self.executions.get(approval.execution_id)
        if served is None:
            meta = self.runtime.journal.load_meta(approval.execution_id)
            spec = meta.spec if meta is not None else {}
            served = ServedExecution(
                execution_id=approval.execution_id,
                agent=str(spec.get("name", "")),
                version=str(spec.get("version", "")),
                principal=principal,
                thread_id=meta.thread_id if meta is not None else None,
            )
            self._remember(served)
        served.settle(served.result, status=ExecutionStatus.RUNNING.value)
        served.task = asyncio.create_task(
            self._decide(served, approval_id, approve=approve, reason=reason, by=principal)
        )
        return approval, served

    async def aclose(self) -> None:
        """Cancel running executions (they resume from their checkpoints later)."""
        tasks = [s.task for s in self.executions.values() if s.task and not s.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- background ---------------------------------------------------------------------

    async def _run(self, served: ServedExecution, agent: LoadedAgent, admission: Admission) -> None:
        caps = admission.caps.model_dump(exclude_none=True) or None
        result = await self._guarded(
            served,
            self.runtime.arun(
                agent.spec,
                admission.task,
                execution_id=served.execution_id,
                thread_id=served.thread_id,
                principal=admission.principal.name,
                scopes=tuple(sorted(admission.principal.scopes)),
                caps=caps,
                on_event=served.push,
            ),
        )
        if result is not None and result.status is ExecutionStatus.COMPLETED and agent.shadow:
            candidate = agent.shadow
            job = ShadowJob(
                agent=agent.spec.name,
                baseline=agent.spec,
                candidate=candidate,
                execution_id=served.execution_id,
                task=admission.task,
                principal=admission.principal.name,
                run_id=agent.shadow_run_id
                or f"live-{agent.spec.name}-{agent.spec.version}-{candidate.version}",
            )
            # After v1 has answered, and never awaited: a full queue drops the sample.
            self.shadow.offer(job, agent.shadow_rate)

    async def _decide(
        self,
        served: ServedExecution,
        approval_id: str,
        *,
        approve: bool,
        reason: str | None,
        by: str,
    ) -> None:
        await self._guarded(
            served,
            self.runtime.adecide(
                approval_id, approve=approve, reason=reason, decided_by=by, on_event=served.push
            ),
        )

    async def _guarded(self, served: ServedExecution, run: object) -> ExecutionResult | None:
        assert asyncio.iscoroutine(run)
        self.metrics.in_flight.inc()
        try:
            result: ExecutionResult = await run
        except asyncio.CancelledError:
            served.settle(served.result, status=ExecutionStatus.STOPPED.value)
            raise
        except Exception:
            log.exception("execution %s failed", served.execution_id)
            served.settle(served.result, status=ExecutionStatus.ERROR.value)
            return None
        finally:
            self.metrics.in_flight.dec()
        served.settle(result, status=result.status.value)
        return result

    def _remember(self, served: ServedExecution) -> None:
        self.executions[served.execution_id] = served
        self.executions.move_to_end(served.execution_id)
        while len(self.executions) > _KEEP_FINISHED:
            oldest_id, oldest = next(iter(self.executions.items()))
            if oldest.status in _OPEN:
                break
            del self.executions[oldest_id]
