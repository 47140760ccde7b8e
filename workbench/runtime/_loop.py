"""The ReAct loop as a LangGraph graph: an ``agent`` node and a ``tools`` node.

Each node first consults the effect journal at its ``(execution, step, call)`` key
and replays what is recorded, so a node that LangGraph re-runs after a crash neither
asks the model again nor repeats a tool's side effect. Stop conditions (final
answer, step cap, wall-clock timeout, a stop request, too many malformed outputs,
a model that keeps failing) are checked here and nowhere else.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import Any

import jsonschema
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, Command, interrupt

from workbench.errors import (
    BudgetExceeded,
    ModelError,
    ToolArgumentsInvalid,
    ToolError,
    ToolExecutionError,
    ToolRefused,
    ToolTimeout,
)
from workbench.models import ModelReply, acomplete_routed, next_model
from workbench.runtime._context import ExecutionContext, GraphState, LoopState
from workbench.runtime._journal import Approval, JournalEntry
from workbench.runtime._retry import backoff_delay, should_retry
from workbench.runtime._types import ExecutionStatus
from workbench.settings import Limits
from workbench.tools import ToolContext, record_dead_letter
from workbench.tracing import SpanKind

__all__ = ["build_graph"]

_MAX_ATTR = 16_000
_rng = random.Random()


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ATTR else text[:_MAX_ATTR] + "…"


def _clip_tail(text: str) -> str:
    return text if len(text) <= _MAX_ATTR else "…" + text[-_MAX_ATTR:]


def _finish(
    status: ExecutionStatus, *, error: str | None = None, answer: str | None = None
) -> dict[str, Any]:
    return {"status": status.value, "route": "end", "error": error, "answer": answer}


def _timed_out(limits: Limits) -> dict[str, Any]:
    return _finish(
        ExecutionStatus.TIMEOUT,
        error=f"execution timeout (execution_timeout_s={limits.execution_timeout_s})",
    )


def build_graph(
    contexts: Callable[[str], ExecutionContext], checkpointer: Checkpointer
) -> CompiledStateGraph[GraphState, None, GraphState, GraphState]:
    """Compile the loop once per runtime; ``contexts`` maps an execution id to its context."""

    def _ctx(config: RunnableConfig) -> ExecutionContext:
        return contexts(str(config.get("configurable", {})["thread_id"]))

    # Each node names its successor itself (``Command.goto``, written to the same
    # ``branch:to:<node>`` channels a conditional edge writes): no router runnable per
    # step, and no re-read of the state with the node's writes applied to decide.
    async def agent(state: GraphState, config: RunnableConfig) -> Command[str]:
        loop, started = state["loop"], time.monotonic()
        update = await _agent_step(_ctx(config), loop, started)
        update["elapsed_s"] = loop["elapsed_s"] + (time.monotonic() - started)
        new: Any = {**loop, **update}
        return Command(update={"loop": new}, goto=_goto(new["route"]))

    async def tools(state: GraphState, config: RunnableConfig) -> Command[str]:
        loop, started = state["loop"], time.monotonic()
        update = await _tools_step(_ctx(config), loop, started)
        update["elapsed_s"] = loop["elapsed_s"] + (time.monotonic() - started)
        new: Any = {**loop, **update}
        return Command(update={"loop": new}, goto=_goto(new["route"]))

    graph: StateGraph[GraphState, None, GraphState, GraphState] = StateGraph(GraphState)
    graph.add_node("agent", agent, destinations=("agent", "tools", END))
    graph.add_node("tools", tools, destinations=("agent", END))
    graph.add_edge(START, "agent")
    return graph.compile(checkpointer=checkpointer)


def _goto(route: str) -> str:
    return END if route == "end" else route


def _remaining(ctx: ExecutionContext, state: LoopState, started: float) -> float:
    return ctx.limits.execution_timeout_s - state["elapsed_s"] - (time.monotonic() - started)


async def _agent_step(ctx: ExecutionContext, state: LoopState, started: float) -> dict[str, Any]:
    step = state["step"]
    if ctx.stop_requested():
        return _finish(ExecutionStatus.STOPPED, error="a stop was requested")
    if step >= ctx.limits.max_steps:
        return _finish(
            ExecutionStatus.STEP_LIMIT, error=f"step cap reached (max_steps={ctx.limits.max_steps})"
        )
    entry = ctx.lookup(step, 0)
    if entry is None and (spent := _budget_spent(ctx)) is not None:
        ctx.defenses.event(
            kind="budget", rule="execution_limit", severity="medium", action="stop", excerpt=spent
        )
        return _finish(ExecutionStatus.BUDGET_EXCEEDED, error=spent)
    if entry is not None:
        reply = ModelReply.model_validate(entry.payload)
        replayed = True
    else:
        defenses = ctx.defenses
        try:
            reservation = defenses.reserve(**_worst_case(ctx)) if defenses.ledger else None
        except BudgetExceeded as exc:
            return _finish(ExecutionStatus.BUDGET_EXCEEDED, error=f"{exc.code}: {exc.message}")
        outcome = await _call_model(ctx, state, step, started)
        if isinstance(outcome, dict):
            defenses.settle(reservation, tokens=0, usd=0.0)
            return outcome
        reply = outcome
        defenses.settle(
            reservation,
            tokens=reply.prompt_tokens + reply.completion_tokens,
            usd=reply.cost_usd,
        )
        entry = JournalEntry(
            ctx.execution_id, step, 0, "model", "done", reply.model_dump(mode="json")
        )
        ctx.journal.record(entry)
        replayed = False
    ctx.append(entry, reply)
    ctx.last_reply = (step, reply)
    ctx.emit(
        "model",
        step,
        text=reply.text,
        tool_calls=[{"name": c.name, "arguments": c.arguments} for c in reply.tool_calls],
        replayed=replayed,
    )
    if reply.tool_calls:
        return {"step": step + 1, "route": "tools"}
    if reply.finish_reason == "length":
        return _repair(
            ctx, state, step, "Your reply was cut off at the token limit. Answer again, shorter."
        )
    answer = reply.text or ""
    problem = _check_output(ctx, answer)
    if problem is not None:
        return _repair(ctx, state, step, problem)
    answer = ctx.defenses.guard_answer(answer)
    return {"step": step + 1, **_finish(ExecutionStatus.COMPLETED, answer=answer)}


def _worst_case(ctx: ExecutionContext) -> dict[str, Any]:
    """The most the next model call can cost, for the budget reservation."""
    from workbench.gateway import worst_case

    tokens, usd = worst_case(ctx.spec.model, ctx.messages, ctx.limits.max_tokens)
    return {"tokens": tokens, "usd": usd}


def _budget_spent(ctx: ExecutionContext) -> str | None:
    """Why no further model call may start, if the execution's budget is spent."""
    limits, totals = ctx.limits, ctx.totals
    if limits.max_cost_usd is not None and totals.cost_usd >= limits.max_cost_usd:
        return f"budget spent: {totals.cost_usd:.6f} USD (max_cost_usd={limits.max_cost_usd})"
    tokens = totals.prompt_tokens + totals.completion_tokens
    if limits.max_total_tokens is not None and tokens >= limits.max_total_tokens:
        return f"budget spent: {tokens} tokens (max_total_tokens={limits.max_total_tokens})"
    return None


def _repair(ctx: ExecutionContext, state: LoopState, step: int, message: str) -> dict[str, Any]:
    """Send a malformed final reply back to the model as feedback, within the repair budget."""
    repairs = state["repairs"] + 1
    key = (ctx.execution_id, step, 1)
    if ctx.lookup(step, 1) is None:
        entry = JournalEntry(*key, "feedback", "done", {"content": message})
        ctx.journal.record(entry)
        ctx.append(entry)
    ctx.emit("repair", step, text=message, error="malformed_output")
    if repairs > ctx.limits.max_repairs:
        return {
            "step": step + 1,
            "repairs": repairs,
            **_finish(
                ExecutionStatus.MALFORMED_OUTPUT,
                error=f"malformed output after {ctx.limits.max_repairs} repairs: {message}",
            ),
        }
    return {"step": step + 1, "repairs": repairs, "route": "agent"}


def _check_output(ctx: ExecutionContext, answer: str) -> str | None:
    schema = ctx.spec.output_schema
    if schema is None:
        return None
    try:
        value = json.loads(answer)
    except json.JSONDecodeError as exc:
        return f"Your answer must be JSON matching the output schema; it is not JSON ({exc})."
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=str)
    if errors:
        listed = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
        )
        return f"Your answer does not match the output schema: {listed}"
    return None


async def _call_model(
    ctx: ExecutionContext, state: LoopState, step: int, started: float
) -> ModelReply | dict[str, Any]:
    """One model call with retries; a dict is a final state update (the call gave up)."""
    limits = ctx.limits
    definitions = ctx.tool_definitions()
    attempt = 0
    models, model = [ctx.spec.model, *ctx.spec.fallbacks], ctx.spec.model
    while True:
        remaining = _remaining(ctx, state, started)
        if remaining <= 0:
            return _timed_out(limits)
        with ctx.tracer.span(
            f"llm {model}",
            SpanKind.LLM,
            {
                "llm.model_name": model,
                "workbench.execution_id": ctx.execution_id,
                "workbench.step": step,
                "workbench.attempt": attempt,
                # The whole conversation, newest end kept when it is long.
                "input.value": _clip_tail(json.dumps(ctx.messages, default=str)),
                "input.mime_type": "application/json",
                "llm.input_messages.count": len(ctx.messages),
            },
        ) as span:
            try:
                reply, cache_hit = await acomplete_routed(
                    model,
                    ctx.messages,
                    tools=definitions,
                    timeout_s=min(limits.model_timeout_s, remaining),
                    max_tokens=limits.max_tokens,
                    temperature=ctx.spec.temperature,
                    cache=ctx.spec.response_cache,
                )
            except ModelError as exc:
                span.record_error(exc)
                if remaining <= limits.model_timeout_s and exc.code == "model_timeout":
                    return _timed_out(limits)
                retry = should_retry(exc, attempt, limits)
                fallback = next_model(models, model, exc, retries_left=retry)
                if fallback is not None:
                    # The retries on this model are spent: the next model starts afresh.
                    ctx.emit("retry", step, text=f"{exc.code}; falling back to {fallback}")
                    model, attempt = fallback, 0
                    continue
                if not retry:
                    status = ExecutionStatus.MODEL_ERROR if exc.retryable else ExecutionStatus.ERROR
                    return _finish(status, error=f"{exc.code}: {exc.message}")
                delay = backoff_delay(exc, attempt, limits, _rng)
                ctx.emit(
                    "retry", step, text=f"{exc.code}; retrying in {delay:.2f}s", error=exc.code
                )
                attempt += 1
            else:
                span.set_attributes(
                    {
                        "llm.token_count.prompt": reply.prompt_tokens,
                        "llm.token_count.completion": reply.completion_tokens,
                        "llm.token_count.total": reply.prompt_tokens + reply.completion_tokens,
                        "workbench.cost_usd": reply.cost_usd,
                        "output.value": _clip(json.dumps(reply.to_message(), default=str)),
                        "llm.finish_reason": reply.finish_reason,
                        "workbench.model.answered": reply.model,
                        "workbench.cache_hit": cache_hit,
                    }
                )
                return reply
        await asyncio.sleep(delay)


async def _tools_step(ctx: ExecutionContext, state: LoopState, started: float) -> dict[str, Any]:
    step = state["step"] - 1
    if ctx.last_reply is not None and ctx.last_reply[0] == step:
        reply = ctx.last_reply[1]
    else:
        model_entry = ctx.journal.get(ctx.execution_id, step, 0)
        assert model_entry is not None, "the tools node runs only after a journaled model reply"
        reply = ModelReply.model_validate(model_entry.payload)
    truncated = reply.finish_reason == "length"
    repairs = state["repairs"]
    timed_out = False
    for index, call in enumerate(reply.tool_calls, start=1):
        key = (ctx.execution_id, step, index)
        entry = ctx.lookup(step, index)
        if entry is not None and entry.status == "done":
            ctx.append(entry)
            repairs += int(entry.payload["repair"])
            ctx.emit(
                "tool",
                step,
                tool_name=call.name,
                arguments=call.arguments,
                text=entry.payload["content"],
                error=entry.payload["error"],
                replayed=True,
            )
            continue
        refusal = None if truncated else _gate(ctx, step, index, call.name, call.arguments)
        remaining = _remaining(ctx, state, started)
        content, error, repair = await _run_tool(
            ctx,
            step,
            index,
            call.name,
            call.arguments,
            truncated=truncated,
            remaining=remaining,
            refusal=refusal,
        )
        flagged = False
        if error is None:
            content, flagged = ctx.defenses.guard_tool_output(call.name, content)
            if flagged:
                ctx.emit("guardrail", step, tool_name=call.name, text=content)
        timed_out = timed_out or (
            error == ToolTimeout.code and remaining <= ctx.limits.tool_timeout_s
        )
        payload = {
            "tool_call_id": call.id,
            "name": call.name,
            "content": content,
            "error": error,
            "repair": repair,
            "flagged": flagged,
        }
        done = JournalEntry(*key, "tool", "done", payload)
        ctx.journal.record(done)
        ctx.append(done)
        repairs += int(repair)
        ctx.emit(
            "tool", step, tool_name=call.name, arguments=call.arguments, text=content, error=error
        )
    if timed_out or _remaining(ctx, state, started) <= 0:
        return {
            "repairs": repairs,
            **_timed_out(ctx.limits),
        }
    if repairs > ctx.limits.max_repairs:
        return {
            "repairs": repairs,
            **_finish(
                ExecutionStatus.MALFORMED_OUTPUT,
                error=f"malformed tool calls after {ctx.limits.max_repairs} repairs",
            ),
        }
    return {"repairs": repairs, "route": "agent"}


async def _run_tool(
    ctx: ExecutionContext,
    step: int,
    index: int,
    name: str,
    raw_arguments: str,
    *,
    truncated: bool,
    remaining: float,
    refusal: ToolError | None = None,
) -> tuple[str, str | None, bool]:
    """Run one tool call; returns (content for the model, error code, counts as a repair).

    ``refusal`` is the defenses' refusal of the call: it is reported like any tool error.
    """
    with ctx.tracer.span(
        f"tool {name}",
        SpanKind.TOOL,
        {
            "tool.name": name,
            "tool.parameters": _clip(raw_arguments),
            "workbench.execution_id": ctx.execution_id,
            "workbench.step": step,
        },
    ) as span:
        try:
            if refusal is not None:
                raise refusal
            if truncated:
                raise ToolArgumentsInvalid(
                    "your reply was cut off at the token limit, so this call's arguments"
                    " are incomplete",
                    tool=name,
                )
            tool = ctx.tools.get(name)
            arguments = tool.parse_arguments(raw_arguments)
            if ctx.tool_override is not None:
                answered = ctx.tool_override(tool, arguments, raw_arguments)
                if answered is not None:
                    span.set_attribute("workbench.tool.replayed", True)
                    span.set_attribute("output.value", _clip(answered))
                    return answered, None, False
            key = f"{ctx.execution_id}:{step}:{index}" if tool.side_effects else None
            if key is not None:
                # The intent is durable before the effect: a re-run after a crash here
                # calls the tool again with the same key, and the tool applies it once.
                ctx.journal.record(
                    JournalEntry(
                        ctx.execution_id, step, index, "tool", "started", {"idempotency_key": key}
                    )
                )
            tool_ctx = ToolContext(
                execution_id=ctx.execution_id,
                step=step,
                call_index=index,
                idempotency_key=key,
                principal=ctx.principal,
            )
            timeout = min(tool.timeout_s or ctx.limits.tool_timeout_s, max(remaining, 0.001))
            result = await tool.ainvoke(arguments, tool_ctx, timeout_s=timeout)
        except ToolError as exc:
            span.record_error(exc)
            repair = not isinstance(exc, (ToolExecutionError, ToolTimeout, ToolRefused))
            # A call that failed, timed out or was refused is kept for `workbench dlq`;
            # malformed calls (repairs) are the model's to fix, not the operator's, and a
            # shadow run's refusals are divergences, not work to re-drive.
            if not repair and ctx.tool_override is None:
                record_dead_letter(
                    ctx.tracer,
                    execution_id=ctx.execution_id,
                    step=step,
                    call_index=index,
                    tool=name,
                    arguments=raw_arguments,
                    error=exc,
                    principal=ctx.principal,
                    agent_spec=ctx.spec.model_dump(
                        mode="json", include={"name", "tools", "imports", "datasets"}
                    ),
                )
            return f"ERROR {exc.code}: {exc.message}", exc.code, repair
        content = result if isinstance(result, str) else json.dumps(result, default=str)
        span.set_attribute("output.value", _clip(content))
        return content, None, False


def _gate(
    ctx: ExecutionContext, step: int, index: int, name: str, raw_arguments: str
) -> ToolError | None:
    """Policy, egress guard and approval gate for one call; a refusal, or ``None`` to run it.

    An "ask" pauses the execution here (a LangGraph interrupt) until the approval is
    decided in any process; the node then runs again, calls before this one replay from
    the journal, and this function reads the decision.
    """
    defenses = ctx.defenses
    try:
        tool = ctx.tools.get(name)
        arguments = tool.parse_arguments(raw_arguments)
    except ToolError:
        return None  # _run_tool reports it to the model as a repair
    if defenses.policy is None and defenses.guard is None and not tool.requires_approval:
        return None
    auth = defenses.authorize(tool, arguments, raw_arguments, ctx.tool_outputs())
    if auth.effect == "deny":
        ctx.emit("policy", step, tool_name=name, arguments=raw_arguments, text=auth.reason)
        return auth.refusal
    if auth.effect == "allow" or ctx.tool_override is not None:
        # A shadow run never pauses: its override answers the call from the baseline's
        # recording (a call a person approved for v1) or refuses it.
        return None
    approval_id = f"{ctx.execution_id}:{step}:{index}"
    approval = ctx.journal.get_approval(approval_id)
    if approval is None:
        now = time.time()
        approval = ctx.journal.request_approval(
            Approval(
                id=approval_id,
                execution_id=ctx.execution_id,
                step=step,
                call_index=index,
                tool=name,
                arguments=raw_arguments,
                reason=auth.reason,
                principal=ctx.principal,
                created_at=now,
                deadline=now + ctx.limits.approval_timeout_s,
            )
        )
        defenses.event(
            kind="approval",
            rule="ask",
            severity="high" if auth.tainted else "medium",
            action="ask",
            tool=name,
            channel="tool_argument",
            excerpt=raw_arguments,
            detail={
                "approval_id": approval_id,
                "reason": auth.reason,
                "taint_sources": list(auth.taint_sources),
            },
        )
        ctx.emit(
            "approval",
            step,
            tool_name=name,
            arguments=raw_arguments,
            text=auth.reason,
            approval_id=approval_id,
            status="pending",
        )
    while approval.effective_status() == "pending":
        # Returns only when resumed; a stale resume value meant for an earlier gate of this
        # node is read here too, so the decision is re-read and the loop pauses again.
        interrupt({"approval_id": approval_id, "tool": name, "reason": auth.reason})
        fresh = ctx.journal.get_approval(approval_id)
        assert fresh is not None
        approval = fresh
    if approval.effective_status() == "approved":
        return None
    why = approval.decision_reason or (
        "the approval timed out" if approval.status == "pending" else "denied"
    )
    if approval.status == "pending":
        defenses.event(
            kind="approval",
            rule="timeout",
            severity="medium",
            action="deny",
            tool=name,
            channel="tool_argument",
            excerpt=raw_arguments,
            detail={"approval_id": approval_id},
        )
    return defenses.denied_at_gate(name, why)
