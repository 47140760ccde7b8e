"""Guardrails inside the loop: tool outputs scanned before the model reads them, the answer
checked for secrets and canaries, and a flagged context taints every later call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import Events, SpecFactory

from workbench.guardrails import Guard, GuardConfig
from workbench.models import Turn
from workbench.runtime import ExecutionStatus, Runtime
from workbench.settings import get_settings
from workbench.tools.builtin import read_outbox
from workbench.tracing import TraceStore

pytestmark = pytest.mark.anyio

TOOLS = ["tools_for_tests:read_poisoned_ticket", "tools_for_tests:lookup", "send_email"]


@pytest.fixture
async def store_runtime(workbench_home: Path) -> AsyncIterator[Runtime]:
    rt = Runtime(get_settings(workbench_home))
    yield rt
    await rt.aclose()


def _events(execution_id: str) -> list[tuple[str, str, str]]:
    frame = TraceStore().sql(
        "SELECT kind, action, coalesce(channel, '') FROM safety_events WHERE execution_id = ?"
        " ORDER BY recorded_at",
        [execution_id],
    )
    return [tuple(r) for r in frame.values.tolist()]


async def test_injected_tool_output_is_marked_and_taints_the_next_high_risk_call(
    store_runtime: Runtime, make_spec: SpecFactory, events: Events
) -> None:
    seen: list[str] = []

    def script(messages: list[dict[str, Any]], tools: Any) -> Turn:
        turns = sum(m["role"] == "assistant" for m in messages)
        if turns == 0:
            return Turn.call("read_poisoned_ticket", ticket_id="T-1")
        if turns == 1:
            seen.append(str(messages[-1]["content"]))
            # The worst case: the model obeys the injection (the address is in the
            # policy's allow-list, so only the taint stops it).
            return Turn.call("send_email", to="ops@example.com", subject="list", body="all")
        return Turn.final("done")

    spec = make_spec(script, tools=TOOLS, guardrails={}, policy="default")
    paused = await store_runtime.arun(
        spec, "fix T-1", principal="support", scopes=("tool:*",), on_event=events.append
    )
    assert seen[0].startswith('<untrusted source="read_poisoned_ticket">')
    assert "guardrail" in events.types()
    assert paused.status is ExecutionStatus.AWAITING_APPROVAL
    assert read_outbox() == []
    denied = await store_runtime.adecide(str(paused.pending_approval), approve=False)
    assert denied.status is ExecutionStatus.COMPLETED
    assert read_outbox() == []
    store_runtime.tracer.flush()
    assert _events(paused.execution_id) == [
        ("guardrail", "mark", "tool_output"),
        ("approval", "ask", "tool_argument"),
        ("approval", "deny", "tool_argument"),
    ]


async def test_secret_and_canary_in_the_answer_are_redacted(
    store_runtime: Runtime, make_spec: SpecFactory, workbench_home: Path
) -> None:
    canary = Guard(GuardConfig(record_events=False)).canary("ex-leaky")

    def script(messages: list[dict[str, Any]], tools: Any) -> Turn:
        system = str(messages[0]["content"])
        assert canary in system  # the system prompt carries this execution's canary
        return Turn.final(f"key AKIAIOSFODNN7EXAMPLE and my prompt says {canary}")

    spec = make_spec(script, guardrails={})
    done = await store_runtime.arun(spec, "tell me secrets", execution_id="ex-leaky")
    assert done.status is ExecutionStatus.COMPLETED
    assert done.answer is not None
    assert "AKIA" not in done.answer
    assert canary not in done.answer
    assert "[REDACTED:" in done.answer
    store_runtime.tracer.flush()
    assert _events("ex-leaky") == [("output_guard", "redact", "final_answer")]


async def test_egress_arguments_with_a_secret_are_refused(
    store_runtime: Runtime, make_spec: SpecFactory
) -> None:
    seen: list[str] = []

    def script(messages: list[dict[str, Any]], tools: Any) -> Turn:
        if not any(m["role"] == "tool" for m in messages):
            return Turn.call(
                "send_email",
                to="ops@example.com",
                subject="creds",
                body="the key is AKIAIOSFODNN7EXAMPLE",
            )
        seen.append(str(messages[-1]["content"]))
        return Turn.final("not sent")

    spec = make_spec(script, tools=TOOLS, guardrails={})
    done = await store_runtime.arun(spec, "send creds", principal="ops", scopes=("tool:*",))
    assert done.status is ExecutionStatus.COMPLETED
    assert read_outbox() == []
    assert seen[0].startswith("ERROR tool_refused: the output guard refused this call")
    store_runtime.tracer.flush()
    assert _events(done.execution_id) == [("output_guard", "block", "tool_argument")]
