"""The dead-letter queue: failed calls recorded by the runtime, listed, shown, re-driven."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import DeadLetterNotFound, ToolTimeout
from workbench.models import Turn, register_script
from workbench.runtime import AgentSpec, ExecutionStatus, Runtime
from workbench.settings import get_settings
from workbench.tools import (
    get_dead_letter,
    list_dead_letters,
    record_dead_letter,
    retry_dead_letter,
    tool,
)
from workbench.tracing import TraceStore, get_tracer

FAULT = {"slow": True}
SEEN: list[tuple[str, str | None]] = []


@tool(timeout_s=0.2)
async def flaky(city: str) -> dict[str, Any]:
    """Look up the weather; hangs while the fault is on.

    Args:
        city: The city.
    """
    if FAULT["slow"]:
        import asyncio

        await asyncio.sleep(5)
    return {"city": city, "weather": "sunny"}


@tool(side_effects=True)
def charge(amount: int, ctx: Any = None) -> str:
    """Charge a card; always declined.

    Args:
        amount: Cents.
    """
    raise RuntimeError("card declined")


@pytest.fixture(autouse=True)
def _fault_on() -> None:
    FAULT["slow"] = True


def _spec(name: str) -> AgentSpec:
    model = register_script(
        f"dlq-{name}", [Turn.call("flaky", city="Oslo"), Turn.final("could not tell")]
    )
    return AgentSpec(
        name="weather",
        model=model,
        system_prompt="You tell the weather.",
        tools=["test_tools_dlq:flaky"],
    )


async def _run_failing_execution(name: str) -> str:
    runtime = Runtime(get_settings())
    try:
        result = await runtime.arun(
            _spec(name), "weather in Oslo?", execution_id=f"ex-{name}", principal="alice"
        )
    finally:
        await runtime.aclose()
    assert result.status is ExecutionStatus.COMPLETED
    return result.execution_id


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["dlq", *args])


@pytest.mark.anyio
async def test_a_timed_out_tool_call_is_listed_shown_and_retried() -> None:
    execution_id = await _run_failing_execution("timeout")

    listed = _cli("list", "--json")
    assert listed.exit_code == 0, listed.output
    letters = [json.loads(line) for line in listed.output.splitlines()]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["id"] == f"{execution_id}:0:1"
    assert {k: letter[k] for k in ("execution_id", "step", "call_index", "tool")} == {
        "execution_id": execution_id,
        "step": 0,
        "call_index": 1,
        "tool": "flaky",
    }
    assert json.loads(letter["arguments"]) == {"city": "Oslo"}
    assert letter["error_code"] == ToolTimeout.code
    assert "timed out" in letter["error_message"]
    assert letter["principal"] == "alice"
    assert letter["status"] == "dead"
    assert letter["retries"] == []
    assert letter["agent_spec"]["tools"] == ["test_tools_dlq:flaky"]

    shown = _cli("show", letter["id"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["error_code"] == "tool_timeout"

    # While the fault persists, a re-drive fails again and says so.
    again = _cli("retry", letter["id"])
    assert again.exit_code == 1, again.output
    assert json.loads(again.output)["status"] == "retry_failed"

    FAULT["slow"] = False
    fixed = _cli("retry", letter["id"])
    assert fixed.exit_code == 0, fixed.output
    body = json.loads(fixed.output)
    assert body["status"] == "retried"
    assert json.loads(body["retries"][-1]["result"]) == {"city": "Oslo", "weather": "sunny"}

    # The store agrees: both re-drives are recorded, the newest decides the status.
    stored = get_dead_letter(TraceStore(), letter["id"])
    assert stored.status == "retried"
    assert [r.ok for r in stored.retries] == [False, True]
    assert [r.error_code for r in stored.retries] == ["tool_timeout", None]
    assert _cli("list", "--json", "--status", "dead").output == ""
    table = _cli("list")
    assert table.exit_code == 0
    assert "flaky" in table.output


def test_record_list_get_and_filters() -> None:
    tracer = get_tracer()
    for step, (name, code) in enumerate([("flaky", ToolTimeout), ("charge", DeadLetterNotFound)]):
        error = code("boom", tool=name) if code is ToolTimeout else code("gone")
        record_dead_letter(
            tracer,
            execution_id="ex-1",
            step=step,
            call_index=1,
            tool=name,
            arguments='{"city": "Rome"}',
            error=error,
        )
    # A resumed execution failing the same call again replaces the letter.
    record_dead_letter(
        tracer,
        execution_id="ex-1",
        step=0,
        call_index=1,
        tool="flaky",
        arguments='{"city": "Rome"}',
        error=ToolTimeout("boom again", tool="flaky"),
    )
    record_dead_letter(
        tracer,
        execution_id="ex-2",
        step=0,
        call_index=1,
        tool="flaky",
        arguments="{not json",
        error=ToolTimeout("late", tool="flaky"),
    )
    assert tracer.flush()
    store = TraceStore()
    every = list_dead_letters(store)
    assert [letter.id for letter in every] == ["ex-2:0:1", "ex-1:0:1", "ex-1:1:1"]
    assert get_dead_letter(store, "ex-1:0:1").error_message == "boom again"
    assert [x.id for x in list_dead_letters(store, execution_id="ex-1", tool="charge")] == [
        "ex-1:1:1"
    ]
    assert len(list_dead_letters(store, limit=1)) == 1
    with pytest.raises(DeadLetterNotFound):
        get_dead_letter(store, "nope")
    missing = _cli("show", "nope")
    assert missing.exit_code == 2
    assert "dead_letter_not_found" in missing.output


def test_retry_of_malformed_arguments_and_side_effects_records_the_failure() -> None:
    tracer = get_tracer()
    record_dead_letter(
        tracer,
        execution_id="ex-3",
        step=2,
        call_index=1,
        tool="charge",
        arguments='{"amount": 500}',
        error=ToolTimeout("slow bank", tool="charge"),
    )
    tracer.flush()
    store = TraceStore()
    letter = retry_dead_letter(store, "ex-3:2:1", charge)
    assert letter.status == "retry_failed"
    assert letter.retries[0].error_code == "tool_execution_error"
    assert "card declined" in (letter.retries[0].error_message or "")
    with pytest.raises(Exception, match="not 'flaky'"):
        retry_dead_letter(store, "ex-3:2:1", flaky)


def test_retry_without_a_recorded_agent_needs_agent_yaml(tmp_path: Path) -> None:
    tracer = get_tracer()
    record_dead_letter(
        tracer,
        execution_id="ex-4",
        step=1,
        call_index=1,
        tool="flaky",
        arguments='{"city": "Lima"}',
        error=ToolTimeout("slow", tool="flaky"),
    )
    tracer.flush()
    asked = _cli("retry", "ex-4:1:1")
    assert asked.exit_code == 2
    assert "--agent" in asked.output
    FAULT["slow"] = False
    spec = tmp_path / "weather.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "weather",
                "model": "scripted/none",
                "system_prompt": "x",
                "tools": ["test_tools_dlq:flaky"],
            }
        )
    )
    done = _cli("retry", "ex-4:1:1", "--agent", str(spec))
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["status"] == "retried"
