"""Injected faults, malformed output, the step cap, timeouts and stop requests."""

from __future__ import annotations

import asyncio
import time

import pytest
from runtime_helpers import Events, SpecFactory

from workbench.models import (
    RateLimitFault,
    ServerErrorFault,
    TimeoutFault,
    Turn,
    get_scripted_model,
)
from workbench.runtime import ExecutionStatus, LimitsOverride, Runtime

pytestmark = pytest.mark.anyio

FAST = LimitsOverride(backoff_base_s=0.01, backoff_max_s=2.0)
LOOKUP = ["tools_for_tests:lookup"]


async def test_429_is_retried_after_its_retry_after(
    runtime: Runtime, make_spec: SpecFactory, events: Events
) -> None:
    spec = make_spec([Turn(text="ok", faults=[RateLimitFault(retry_after_s=0.3)])], limits=FAST)
    started = time.monotonic()
    result = await runtime.arun(spec, "go", on_event=events.append)
    assert result.status is ExecutionStatus.COMPLETED
    assert time.monotonic() - started >= 0.3  # Retry-After is a floor on the backoff
    assert events.types() == ["retry", "model", "status"]
    assert events[0].error == "model_rate_limited"


async def test_500_and_timeout_are_retried(
    runtime: Runtime, make_spec: SpecFactory, events: Events
) -> None:
    spec = make_spec(
        [Turn(text="ok", faults=[ServerErrorFault(status=503), TimeoutFault()])],
        limits=LimitsOverride(backoff_base_s=0.01, model_timeout_s=0.3),
    )
    result = await runtime.arun(spec, "go", on_event=events.append)
    assert result.status is ExecutionStatus.COMPLETED
    assert [e.error for e in events if e.type == "retry"] == ["model_server_error", "model_timeout"]


async def test_retries_are_bounded(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec(
        [Turn(text="never", faults=[ServerErrorFault()] * 5)],
        limits=LimitsOverride(max_retries=2, backoff_base_s=0.01),
    )
    result = await runtime.arun(spec, "go")
    assert result.status is ExecutionStatus.MODEL_ERROR
    assert result.error is not None
    assert result.error.startswith("model_server_error")
    assert len(get_scripted_model(spec.model.split("/", 1)[1]).calls) == 3


@pytest.mark.parametrize(
    ("bad_turn", "code"),
    [
        (Turn.malformed("lookup", '{"key": "a"'), "tool_arguments_invalid"),
        (Turn.unknown_tool("drop_tables"), "tool_not_found"),
        (Turn.call("lookup", key=7), "tool_arguments_invalid"),
        (Turn.call("lookup", key="a", extra=1), "tool_arguments_invalid"),
        (
            Turn(tool_calls=Turn.call("lookup", key="abc").tool_calls, truncated=True),
            "tool_arguments_invalid",
        ),
    ],
    ids=["malformed-json", "unknown-tool", "schema-type", "extra-property", "truncated-call"],
)
async def test_malformed_output_goes_back_as_a_tool_error(
    runtime: Runtime, make_spec: SpecFactory, events: Events, bad_turn: Turn, code: str
) -> None:
    spec = make_spec([bad_turn, Turn.call("lookup", key="a"), Turn.final("fine")], tools=LOOKUP)
    result = await runtime.arun(spec, "go", on_event=events.append)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.answer == "fine"
    tool_events = [e for e in events if e.type == "tool"]
    assert [e.error for e in tool_events] == [code, None]
    assert tool_events[0].text is not None
    assert tool_events[0].text.startswith(f"ERROR {code}:")
    assert tool_events[1].text == "value-of-a"


async def test_truncated_final_answer_is_repaired(
    runtime: Runtime, make_spec: SpecFactory, events: Events
) -> None:
    spec = make_spec([Turn(text="a very long answer that", truncated=True), Turn.final("short")])
    result = await runtime.arun(spec, "go", on_event=events.append)
    assert (result.status, result.answer) == (ExecutionStatus.COMPLETED, "short")
    assert events.types() == ["model", "repair", "model", "status"]


async def test_repairs_are_bounded(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec([Turn.unknown_tool()] * 3, tools=LOOKUP, limits=LimitsOverride(max_repairs=2))
    result = await runtime.arun(spec, "go")
    assert result.status is ExecutionStatus.MALFORMED_OUTPUT
    assert result.steps == 3


async def test_a_failing_tool_is_an_error_the_model_sees(
    runtime: Runtime, make_spec: SpecFactory, events: Events
) -> None:
    spec = make_spec(
        [Turn.call("explode", reason="disk on fire"), Turn.final("sorry")],
        tools=["tools_for_tests:explode"],
    )
    result = await runtime.arun(spec, "go", on_event=events.append)
    assert result.status is ExecutionStatus.COMPLETED
    tool = next(e for e in events if e.type == "tool")
    assert tool.error == "tool_execution_error"
    assert "RuntimeError: disk on fire" in (tool.text or "")


async def test_step_cap_stops_the_loop(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec(
        lambda messages, tools: Turn.call("lookup", key="again"),
        tools=LOOKUP,
        limits=LimitsOverride(max_steps=4),
    )
    result = await runtime.arun(spec, "loop forever")
    assert result.status is ExecutionStatus.STEP_LIMIT
    assert result.steps == 4
    assert result.error == "step cap reached (max_steps=4)"


async def test_per_tool_timeout(runtime: Runtime, make_spec: SpecFactory, events: Events) -> None:
    spec = make_spec(
        [Turn.call("slow", seconds=2.0), Turn.final("gave up")], tools=["tools_for_tests:slow"]
    )
    started = time.monotonic()
    result = await runtime.arun(spec, "go", on_event=events.append)
    assert result.status is ExecutionStatus.COMPLETED
    assert time.monotonic() - started < 1.5
    assert next(e for e in events if e.type == "tool").error == "tool_timeout"


async def test_per_model_call_timeout_then_execution_timeout(
    runtime: Runtime, make_spec: SpecFactory
) -> None:
    spec = make_spec(
        lambda messages, tools: Turn(text="late", latency_s=5.0),
        limits=LimitsOverride(model_timeout_s=0.2, execution_timeout_s=0.7, backoff_base_s=0.01),
    )
    started = time.monotonic()
    result = await runtime.arun(spec, "go")
    elapsed = time.monotonic() - started
    assert result.status is ExecutionStatus.TIMEOUT
    assert result.error == "execution timeout (execution_timeout_s=0.7)"
    assert 0.6 < elapsed < 2.0


async def test_stop_request_ends_the_execution(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec(
        lambda messages, tools: Turn(
            tool_calls=Turn.call("lookup", key="x").tool_calls, latency_s=0.05
        ),
        tools=LOOKUP,
        limits=LimitsOverride(max_steps=1000),
    )
    task = asyncio.create_task(runtime.arun(spec, "go", execution_id="ex-stop"))
    await asyncio.sleep(0.3)
    runtime.request_stop("ex-stop")
    result = await task
    assert result.status is ExecutionStatus.STOPPED
    assert 0 < result.steps < 1000


async def test_a_script_error_fails_the_execution_loudly(
    runtime: Runtime, make_spec: SpecFactory
) -> None:
    spec = make_spec([Turn.call("lookup", key="a")], tools=LOOKUP)
    result = await runtime.arun(spec, "go")
    assert result.status is ExecutionStatus.ERROR
    assert result.error is not None
    assert result.error.startswith("script_error")


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        (LimitsOverride(max_total_tokens=50), "(max_total_tokens=50)"),
        (LimitsOverride(max_cost_usd=1.5e-5), "(max_cost_usd=1.5e-05)"),
    ],
)
async def test_budget_stops_the_execution_cleanly(
    runtime: Runtime, make_spec: SpecFactory, limits: LimitsOverride, error: str
) -> None:
    # Each call is 30 tokens and 9e-6 USD (0.15/0.60 USD per million): two calls spend
    # both budgets, so the third call never starts.
    spec = make_spec(
        lambda messages, tools: Turn(
            tool_calls=Turn.call("lookup", key="x").tool_calls,
            prompt_tokens=20,
            completion_tokens=10,
        ),
        tools=LOOKUP,
        limits=limits,
    )
    result = await runtime.arun(spec, "go")
    assert result.status is ExecutionStatus.BUDGET_EXCEEDED
    assert result.error is not None
    assert result.error.endswith(error)
    assert result.steps == 2
    assert result.tokens == 60
