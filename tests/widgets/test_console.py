"""AgentConsole driven from Python: steps stream in, Approve/Deny resume, Stop stops."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from widget_helpers import REPO

from workbench.models import Turn, register_script
from workbench.runtime import AgentSpec
from workbench.tools import tool
from workbench.tools.builtin import read_outbox
from workbench.tracing import TraceStore
from workbench.widgets import AgentConsole, AgentConsoleModel

SUPPORT = REPO / "agents" / "support.yaml"
TASK = "Please handle ticket T-1042."
_names = itertools.count()


@tool
async def slow_lookup(key: str) -> str:
    """Look a key up, slowly.

    Args:
        key: The key.
    """
    import asyncio

    await asyncio.sleep(0.2)
    return f"value-of-{key}"


def _spec(script: Any, tools: list[str], **fields: Any) -> AgentSpec:
    name = f"console-{next(_names)}"
    register_script(name, script)
    return AgentSpec(
        name=name, model=f"scripted/{name}", system_prompt="test", tools=tools, **fields
    )


def test_approve_resumes_the_paused_execution_to_completion(
    workbench_home: Path, flushed: Callable[[], TraceStore]
) -> None:
    console = AgentConsole(SUPPORT, task=TASK)
    model = console.model
    try:
        console.run_button.click()
        paused = model.wait(timeout_s=60)
        assert paused is not None
        assert paused.status.value == "awaiting_approval"
        assert model.status == "awaiting_approval"
        assert model.pending is not None
        assert model.pending.tool == "send_email"
        assert "dana.reyes@example.com" in model.pending.arguments
        assert "ask-tainted-high-risk" in model.pending.reason
        kinds = [r.kind for r in model.rows]
        assert kinds == ["model", "guardrail", "tool", "model", "approval", "status"]
        assert model.rows[0].summary.startswith("calls read_ticket(")
        # The view shows the gate and enables its buttons; nothing was sent yet.
        assert console.approval_box.layout.display == ""
        assert not console.approve_button.disabled
        assert read_outbox() == []
        assert model.cost_usd > 0
        assert "awaiting_approval" in console.totals.value

        console.approve_button.click()
        done = model.wait(timeout_s=60)
        assert done is not None
        assert done.status.value == "completed"
        assert done.execution_id == paused.execution_id
        assert done.answer is not None
        assert done.answer.startswith("Replied to dana.reyes@")
        assert model.pending is None
        assert console.approval_box.layout.display == "none"
        assert [r.kind for r in model.rows][-3:] == ["tool", "model", "status"]
        assert [m["to_addr"] for m in read_outbox()] == ["dana.reyes@example.com"]
    finally:
        model.close()

    store = flushed()
    row = store.sql(
        "SELECT status, steps, cost_usd FROM executions WHERE execution_id = ?",
        [paused.execution_id],
    )
    assert row["status"].tolist() == ["completed"]
    assert int(row["steps"].iloc[0]) == 3
    events = store.sql(
        "SELECT kind, rule, action, detail ->> 'decided_by' AS who FROM safety_events "
        "WHERE execution_id = ? ORDER BY recorded_at",
        [paused.execution_id],
    )
    assert events["kind"].tolist() == ["guardrail", "approval", "approval"]
    assert events["action"].tolist()[1:] == ["ask", "approve"]
    assert events["who"].tolist()[2] == "notebook"


def test_deny_returns_an_error_to_the_model_and_sends_nothing(workbench_home: Path) -> None:
    model = AgentConsoleModel(SUPPORT, decided_by="alice")
    try:
        paused = model.run(TASK)
        assert paused is not None
        assert model.pending is not None
        done = model.deny(reason="not this address").result(timeout=60)
        assert done is not None
        assert done.status.value == "completed"
        assert done.answer is not None
        assert "approval_denied" in done.answer
        assert read_outbox() == []
        tool_rows = [r for r in model.rows if r.kind == "tool"]
        assert tool_rows[-1].summary.startswith("send_email → ERROR approval_denied")
    finally:
        model.close()


def test_errors_show_in_the_widget_not_as_tracebacks(workbench_home: Path) -> None:
    spec = _spec([Turn.final("never")], tools=["no_such_tool"])
    console = AgentConsole(spec, task="go")
    try:
        console.run_button.click()
        assert console.model.wait(timeout_s=60) is None
        assert console.model.status == "error"
        assert console.model.error is not None
        assert console.model.error.startswith("[config_invalid]")
        assert "no_such_tool" in console.error.value
        assert console.error.layout.display == ""
        # Approving with nothing pending is an error line too.
        console.approve_button.click()
        assert (
            console.model.error == "[config_invalid] no tool call is waiting for approval"
            " in this console"
        )
        # An empty task asks for one.
        console.task.value = "  "
        console.run_button.click()
        assert console.model.error == "type a task first"
    finally:
        console.model.close()


def test_stop_ends_a_running_execution(workbench_home: Path) -> None:
    def forever(messages: list[dict[str, Any]], tools: object) -> Turn:
        return Turn.call("slow_lookup", key=str(len(messages)))

    spec = _spec(forever, tools=["test_console:slow_lookup"], limits={"max_steps": 200})
    console = AgentConsole(spec, task="loop")
    model = console.model
    try:
        console.run_button.click()
        deadline = time.monotonic() + 60
        while not any(r.kind == "tool" for r in model.rows) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert model.busy
        assert not console.stop_button.disabled
        console.stop_button.click()
        result = model.wait(timeout_s=30)
        assert result is not None
        assert result.status.value == "stopped"
        assert result.steps < 200
        assert console.stop_button.disabled
    finally:
        model.close()


def test_a_second_run_while_busy_is_refused(workbench_home: Path) -> None:
    spec = _spec(
        lambda messages, tools: (
            Turn.call("slow_lookup", key="k") if len(messages) < 4 else Turn.final("done")
        ),
        tools=["test_console:slow_lookup"],
    )
    model = AgentConsoleModel(spec)
    try:
        model.start("first")
        with pytest.raises(Exception, match="already running"):
            model.start("second")
        result = model.wait(timeout_s=60)
        assert result is not None
        assert result.answer == "done"
    finally:
        model.close()
