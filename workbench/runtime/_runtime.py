"""The runtime: start, resume and stop executions of an agent spec.

One code path: :meth:`Runtime.arun` and :meth:`Runtime.aresume` are async; the
module-level :func:`run` and :func:`resume` are thin sync wrappers (they also work
inside a running event loop, as in Jupyter, by running on a worker thread).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from workbench._util import GroupCommit, run_sync
from workbench.errors import ApprovalNotFound, ConfigError, ExecutionNotFound
from workbench.runtime._checkpoint import InlineSqliteSaver, open_checkpointer
from workbench.runtime._context import ExecutionContext, GraphState, LoopState, ToolOverride
from workbench.runtime._defenses import Defenses
from workbench.runtime._journal import Approval, ExecutionMeta, MemoryJournal, SqliteJournal
from workbench.runtime._loop import build_graph
from workbench.runtime._spec import AgentSpec
from workbench.runtime._toolset import import_spec_modules, resolve_tools
from workbench.runtime._types import ExecutionResult, ExecutionStatus, StepEvent
from workbench.settings import Limits, Settings, get_settings
from workbench.tracing import (
    SafetyEvent,
    SpanKind,
    Tracer,
    current_span,
    get_tracer,
    record_safety_event,
    tracer_for,
)

if TYPE_CHECKING:
    from workbench.gateway import BudgetLedger
    from workbench.tools import Tool

__all__ = ["Runtime", "decide", "new_execution_id", "request_stop", "resume", "run"]

log = logging.getLogger(__name__)
T = TypeVar("T")
EventCallback = Callable[[StepEvent], None]
_Graph = CompiledStateGraph[GraphState, None, GraphState, GraphState]


def new_execution_id() -> str:
    """A new execution id: sortable by time, unique across processes."""
    return f"ex-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"


def _initial_state() -> LoopState:
    return {
        "step": 0,
        "repairs": 0,
        "elapsed_s": 0.0,
        "status": ExecutionStatus.RUNNING.value,
        "route": "agent",
        "answer": None,
        "error": None,
    }


class Runtime:
    """Runs agent executions with durable checkpoints, an effect journal and tracing.

    Args:
        settings: Where state lives and the default limits; from the environment if omitted.
        tracer: Where spans go; the process-wide tracer if omitted.
        ledger: The budget ledger that enforces the caps the gateway sets on an execution
            (reserve-then-settle before every model call); the gateway's default SQLite
            ledger in this home when omitted.
        durable: ``False`` keeps checkpoints and the journal in memory: faster, for runs
            whose unit of resumption is larger than one execution (eval samples), but an
            execution cannot be resumed by another process or pause at an approval gate.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        tracer: Tracer | None = None,
        ledger: BudgetLedger | None = None,
        durable: bool = True,
    ) -> None:
        self.settings = settings or get_settings()
        self.tracer = tracer or (
            get_tracer() if settings is None else tracer_for(self.settings.spool_dir)
        )
        self.durable = durable
        if TYPE_CHECKING:
            from workbench.runtime._postgres import InlinePostgresSaver, PostgresJournal
        self.journal: SqliteJournal | PostgresJournal | MemoryJournal
        if durable and self.settings.database_url:
            # Several machines: the journal and checkpoints live in PostgreSQL.
            from workbench.runtime._postgres import PostgresJournal

            self.journal = PostgresJournal(self.settings.database_url)
        elif durable:
            self.journal = SqliteJournal(self.settings.journal_path)
        else:
            self.journal = MemoryJournal()
        self._ledger = ledger
        self._contexts: dict[str, ExecutionContext] = {}
        self._saver: InlineSqliteSaver | InlinePostgresSaver | InMemorySaver | None = None
        self._compiled: _Graph | None = None
        # Per spec object (specs are frozen): its JSON form and effective limits, computed
        # once, not on every execution. Holding the spec keeps its id from being reused.
        self._prepared: dict[int, tuple[AgentSpec, dict[str, Any], Limits]] = {}
        # Executions finishing together share one flush (not one blocked thread each).
        self._flush = GroupCommit(self.tracer)

    def _graph(self) -> _Graph:
        if self._compiled is None:
            if self.durable and self.settings.database_url:
                from workbench.runtime._postgres import open_postgres_checkpointer

                self._saver = open_postgres_checkpointer(self.settings.database_url)
            elif self.durable:
                self._saver = open_checkpointer(self.settings.checkpoint_path)
            else:
                self._saver = InMemorySaver()
            self._compiled = build_graph(self._contexts.__getitem__, self._saver)
        return self._compiled

    def _prepare(self, spec: AgentSpec) -> tuple[AgentSpec, dict[str, Any], Limits]:
        prepared = self._prepared.get(id(spec))
        if prepared is None or prepared[0] is not spec:
            if len(self._prepared) >= 256:
                self._prepared.clear()
            prepared = (
                spec,
                spec.model_dump(mode="json"),
                spec.effective_limits(self.settings.limits),
            )
            self._prepared[id(spec)] = prepared
        return prepared

    def _ledger_for(self, meta: ExecutionMeta) -> BudgetLedger | None:
        if meta.caps is None and self._ledger is None:
            return None
        if self._ledger is None:
            from workbench.gateway import default_ledger

            self._ledger = default_ledger(self.settings)
        return self._ledger

    async def aclose(self) -> None:
        """Close the checkpoint and journal connections."""
        self.close()

    def close(self) -> None:
        """Close the checkpoint and journal connections."""
        if isinstance(self._saver, InlineSqliteSaver):
            self._saver.conn.close()
        elif self._saver is not None and not isinstance(self._saver, InMemorySaver):
            self._saver.close()
        if self._saver is not None:
            self._saver = None
            self._compiled = None
        self.journal.close()

    async def arun(
        self,
        spec: AgentSpec,
        task: str,
        *,
        execution_id: str | None = None,
        thread_id: str | None = None,
        principal: str | None = None,
        scopes: tuple[str, ...] | None = None,
        caps: dict[str, float] | None = None,
        on_event: EventCallback | None = None,
        tool_override: ToolOverride | None = None,
        extra_tools: Sequence[Tool] = (),
        trace_id: str | None = None,
        untrusted_task: bool = False,
    ) -> ExecutionResult:
        """Run ``spec`` on ``task`` to a final status (or to an approval gate).

        Args:
            spec: The agent.
            task: The user's task, the first user message.
            execution_id: Id to use; if it names an execution of the same agent and task
                that did not finish, that execution continues (as :meth:`aresume`).
            thread_id: Conversation to group this execution with; a new one if omitted.
            principal: Who asked (recorded in the trace store; the gateway sets it).
            scopes: The principal's scopes, for tool policies; ``None`` for a local run,
                which holds every scope.
            caps: Budget caps (``BudgetCaps`` fields) enforced through the ledger before
                every model call; the gateway sets them from the principal's key.
            on_event: Called with each :class:`StepEvent` as it happens.
            tool_override: Answers tool calls instead of running them (shadow runs use it
                to serve recorded results); applies in this process only.
            extra_tools: Tools added to the spec's for this process (a workflow's
                scratchpad for its delegates).
            trace_id: Trace to record the execution in (a delegation joins its
                supervisor's trace, under the current span); a new one if omitted.
            untrusted_task: The gateway's guard flagged (and marked) the task: its values
                taint the calls they reach, as a flagged tool output's do.

        Returns:
            The result; a failed execution is a result with a non-``completed`` status.
        """
        eid = execution_id or new_execution_id()
        meta = self.journal.load_meta(eid)
        fresh = meta is None
        if meta is None:
            meta = ExecutionMeta(
                execution_id=eid,
                thread_id=thread_id or eid,
                spec=self._prepare(spec)[1],
                task=task,
                trace_id=trace_id or os.urandom(16).hex(),
                principal=principal,
                created_at=time.time(),
                scopes=scopes,
                caps=caps,
                untrusted_task=untrusted_task,
            )
            self.journal.save_meta(meta)
        elif meta.spec.get("name") != spec.name or meta.task != task:
            raise ConfigError(
                f"execution {eid} exists for agent {meta.spec.get('name')!r} with another task;"
                " use `workbench resume` to continue it or choose a new id"
            )
        return await self._execute(meta, spec, on_event, tool_override, extra_tools, fresh=fresh)

    async def aresume(
        self, execution_id: str, *, on_event: EventCallback | None = None
    ) -> ExecutionResult:
        """Continue an execution from its last checkpoint, in this or any other process.

        Model and tool results recorded in the journal are replayed, not redone.

        Raises:
            ExecutionNotFound: No execution has that id in this workbench home.
        """
        meta = self.journal.load_meta(execution_id)
        if meta is None:
            raise ExecutionNotFound(
                f"no execution {execution_id!r} in {self.settings.journal_path}"
            )
        return await self._execute(meta, AgentSpec.model_validate(meta.spec), on_event)

    def request_stop(self, execution_id: str) -> None:
        """Stop an execution at its next step, whichever process runs it."""
        context = self._contexts.get(execution_id)
        if context is not None:
            context.stop.set()
        self.journal.request_stop(execution_id)

    def pending_approvals(self) -> list[Approval]:
        """Approvals waiting for a decision (not yet past their deadline), oldest first."""
        now = time.time()
        return [a for a in self.journal.approvals(status="pending") if a.deadline >= now]

    def get_approval(self, approval_id: str) -> Approval:
        """One approval request and its decision.

        Raises:
            ApprovalNotFound: No approval has that id in this workbench home.
        """
        approval = self.journal.get_approval(approval_id)
        if approval is None:
            raise ApprovalNotFound(
                f"no approval {approval_id!r} in {self.settings.journal_path};"
                " `workbench approve --list` shows the pending ones"
            )
        return approval

    async def adecide(
        self,
        approval_id: str,
        *,
        approve: bool,
        reason: str | None = None,
        decided_by: str | None = None,
        on_event: EventCallback | None = None,
    ) -> ExecutionResult:
        """Approve or deny a paused tool call, then resume its execution in this process.

        Approve runs the tool once; deny returns a tool error to the model. A request past
        its deadline stays denied whatever is decided now.

        Raises:
            ApprovalNotFound: No approval has that id.
        """
        self.get_approval(approval_id)
        decided = self.journal.decide_approval(
            approval_id, approved=approve, decided_by=decided_by, reason=reason
        )
        assert decided is not None
        status = decided.effective_status()
        record_safety_event(
            self.tracer,
            SafetyEvent(
                kind="approval",
                rule="timeout" if decided.status == "pending" else "decision",
                severity="info",
                action="approve" if status == "approved" else "deny",
                principal=decided.principal,
                execution_id=decided.execution_id,
                channel="tool_argument",
                tool=decided.tool,
                excerpt=decided.arguments,
                detail={
                    "approval_id": approval_id,
                    "decided_by": decided.decided_by,
                    "reason": decided.decision_reason,
                },
            ),
        )
        return await self.aresume(decided.execution_id, on_event=on_event)

    async def aexpire_approvals(
        self, *, on_event: EventCallback | None = None
    ) -> list[ExecutionResult]:
        """Resume every execution whose approval request is past its deadline (a deny)."""
        now = time.time()
        overdue = [a for a in self.journal.approvals(status="pending") if a.deadline < now]
        return [await self.aresume(a.execution_id, on_event=on_event) for a in overdue]

    def _paused_at(self, execution_id: str) -> Approval | None:
        pending = [
            a for a in self.journal.approvals(status="pending") if a.execution_id == execution_id
        ]
        return pending[-1] if pending else None

    async def _execute(
        self,
        meta: ExecutionMeta,
        spec: AgentSpec,
        on_event: EventCallback | None,
        tool_override: ToolOverride | None = None,
        extra_tools: Sequence[Tool] = (),
        *,
        fresh: bool = False,
    ) -> ExecutionResult:
        import_spec_modules(spec)
        tools = resolve_tools(spec)
        if spec.workflow is not None:
            from workbench.runtime._workflow import WorkflowSpec, scratchpad_tools, workflow_tools

            workflow = WorkflowSpec.model_validate(spec.workflow)
            extra_tools = [
                *extra_tools,
                *workflow_tools(self, workflow),
                *(scratchpad_tools(self, meta.thread_id) if workflow.scratchpad else []),
            ]
        for extra in extra_tools:
            tools.register(extra)
        if "litellm" not in sys.modules:
            # litellm takes seconds to import: not on the execution's clock, not on the loop.
            await asyncio.to_thread(importlib.import_module, "litellm")
        graph = self._graph()
        config: Any = {
            "configurable": {"thread_id": meta.execution_id},
            "recursion_limit": 2 * (self._prepare(spec)[2].max_steps + 2),
        }
        limits = self._prepare(spec)[2]
        base = {
            "execution_id": meta.execution_id,
            "thread_id": meta.thread_id,
            "agent_name": spec.name,
            "agent_version": spec.version,
            "model": spec.model,
            "principal": meta.principal,
            "task": meta.task,
        }
        current = current_span()
        parent_id = (
            current.span_id if current is not None and current.trace_id == meta.trace_id else None
        )
        with self.tracer.span(
            f"agent {spec.name}",
            SpanKind.AGENT,
            {
                "workbench.execution_id": meta.execution_id,
                "workbench.agent.name": spec.name,
                "workbench.agent.version": spec.version,
                "session.id": meta.thread_id,
                "input.value": meta.task,
            },
            trace_id=meta.trace_id,
            parent_id=parent_id,
        ) as root:
            defenses = Defenses.build(
                spec,
                tracer=self.tracer,
                execution_id=meta.execution_id,
                principal=meta.principal,
                scopes=meta.scopes,
                ledger=self._ledger_for(meta),
                caps=meta.caps,
                task=meta.task,
                untrusted_task=meta.untrusted_task,
            )
            ctx = ExecutionContext(
                execution_id=meta.execution_id,
                thread_id=meta.thread_id,
                trace_id=meta.trace_id,
                principal=meta.principal,
                spec=spec,
                task=meta.task,
                limits=limits,
                tools=tools,
                journal=self.journal,
                tracer=self.tracer,
                root=root,
                defenses=defenses,
                on_event=on_event,
                tool_override=tool_override,
            )
            ctx.load_messages(fresh=fresh)
            self._contexts[meta.execution_id] = ctx
            self.tracer.record(
                "executions",
                {
                    **base,
                    "status": ExecutionStatus.RUNNING.value,
                    "started_at": meta.created_at,
                    "updated_at": time.time(),
                },
            )
            paused: Approval | None = None
            durability: Any = "sync" if self.durable else "exit"
            try:
                # A new execution of a runtime whose checkpoints and journal live and die
                # together in memory has no checkpoint yet: nothing to read.
                blank = fresh and not self.durable
                snapshot = None if blank else await graph.aget_state(config)
                values: Any = snapshot.values if snapshot is not None else {}
                gate = (
                    self._paused_at(meta.execution_id)
                    if snapshot is not None and snapshot.next
                    else None
                )
                if snapshot is not None and values and not snapshot.next:
                    state: LoopState = values["loop"]  # finished before: report it again
                elif gate is not None and gate.effective_status() == "pending":
                    state, paused = values["loop"], gate  # still waiting: nothing to run
                else:
                    graph_input: Any = (
                        Command(resume=gate.effective_status())
                        if gate is not None
                        else (None if values else {"loop": _initial_state()})
                    )
                    final: Any = await graph.ainvoke(graph_input, config, durability=durability)
                    state = final["loop"]
                    # Only a run that stopped without a final status can be paused at a gate.
                    if (
                        state["status"] == ExecutionStatus.RUNNING.value
                        and (await graph.aget_state(config)).next
                    ):
                        paused = self._paused_at(meta.execution_id)
            except Exception as exc:
                log.exception("execution %s failed", meta.execution_id)
                root.record_error(exc)
                state = {
                    **_initial_state(),
                    "status": ExecutionStatus.ERROR.value,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            finally:
                self._contexts.pop(meta.execution_id, None)
            status = (
                ExecutionStatus.AWAITING_APPROVAL
                if paused is not None
                else ExecutionStatus(state["status"])
            )
            # A workflow's result counts what its delegations cost too (their own rows in
            # the store count them once each; the supervisor's row counts its own calls).
            delegated = (0.0, 0, 0)
            if spec.workflow is not None:
                from workbench.runtime._workflow import delegated_totals

                delegated = delegated_totals(ctx.messages)
            result = ExecutionResult(
                execution_id=meta.execution_id,
                thread_id=meta.thread_id,
                agent_name=spec.name,
                agent_version=spec.version,
                status=status,
                pending_approval=paused.id if paused is not None else None,
                answer=state["answer"],
                steps=ctx.totals.steps,
                prompt_tokens=ctx.totals.prompt_tokens + delegated[1],
                completion_tokens=ctx.totals.completion_tokens + delegated[2],
                cost_usd=ctx.totals.cost_usd + delegated[0],
                latency_s=state["elapsed_s"],
                error=state["error"],
                trace_id=meta.trace_id,
            )
            root.set_attributes(
                {
                    "output.value": result.answer,
                    "workbench.status": result.status.value,
                    "llm.token_count.prompt": result.prompt_tokens,
                    "llm.token_count.completion": result.completion_tokens,
                    "llm.token_count.total": result.tokens,
                    "workbench.cost_usd": result.cost_usd,
                    "workbench.steps": result.steps,
                }
            )
        ctx.emit(
            "status",
            max(result.steps - 1, 0),
            status=result.status.value,
            text=result.answer if result.error is None else result.error,
            approval_id=result.pending_approval,
        )
        self.tracer.record(
            "executions",
            {
                **base,
                "status": result.status.value,
                "steps": result.steps,
                "prompt_tokens": ctx.totals.prompt_tokens,
                "completion_tokens": ctx.totals.completion_tokens,
                "cost_usd": ctx.totals.cost_usd,
                "started_at": meta.created_at,
                "ended_at": time.time(),
                "latency_ms": result.latency_s * 1000.0,
                "error": result.error,
                "answer": result.answer,
                "updated_at": time.time(),
            },
        )
        # A reported result's spans are durable: they are spooled before we return.
        await self._flush.commit()
        return result


def run(
    spec: AgentSpec,
    task: str,
    *,
    execution_id: str | None = None,
    thread_id: str | None = None,
    principal: str | None = None,
    on_event: EventCallback | None = None,
    settings: Settings | None = None,
) -> ExecutionResult:
    """Sync wrapper of :meth:`Runtime.arun` on a fresh runtime."""

    async def go() -> ExecutionResult:
        runtime = Runtime(settings)
        try:
            return await runtime.arun(
                spec,
                task,
                execution_id=execution_id,
                thread_id=thread_id,
                principal=principal,
                on_event=on_event,
            )
        finally:
            await runtime.aclose()

    return run_sync(go())


def resume(
    execution_id: str, *, on_event: EventCallback | None = None, settings: Settings | None = None
) -> ExecutionResult:
    """Sync wrapper of :meth:`Runtime.aresume` on a fresh runtime."""

    async def go() -> ExecutionResult:
        runtime = Runtime(settings)
        try:
            return await runtime.aresume(execution_id, on_event=on_event)
        finally:
            await runtime.aclose()

    return run_sync(go())


def decide(
    approval_id: str,
    *,
    approve: bool,
    reason: str | None = None,
    decided_by: str | None = None,
    on_event: EventCallback | None = None,
    settings: Settings | None = None,
) -> ExecutionResult:
    """Sync wrapper of :meth:`Runtime.adecide` on a fresh runtime (``workbench approve``)."""

    async def go() -> ExecutionResult:
        runtime = Runtime(settings)
        try:
            return await runtime.adecide(
                approval_id,
                approve=approve,
                reason=reason,
                decided_by=decided_by,
                on_event=on_event,
            )
        finally:
            await runtime.aclose()

    return run_sync(go())


def request_stop(execution_id: str, *, settings: Settings | None = None) -> None:
    """Ask an execution running in any process to stop at its next step."""
    runtime = Runtime(settings)
    try:
        runtime.request_stop(execution_id)
    finally:
        runtime.close()
