"""Approval gates: a call that needs approval pauses the execution until a person decides.

Approve runs the tool once; deny returns a tool error to the model; a request past its
deadline is a deny; a decision works from another runtime (another process) and
nothing before the gate runs again.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from runtime_helpers import Events, SpecFactory

from workbench.errors import ApprovalNotFound
from workbench.models import Turn
from workbench.runtime import ExecutionStatus, Runtime
from workbench.settings import get_settings
from workbench.testing import InMemorySpanExporter
from workbench.tracing import Tracer

pytestmark = pytest.mark.anyio

TOOLS = ["tools_for_tests:lookup", "tools_for_tests:wire_money"]


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("WB_OUTBOX", str(path))
    return path


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _script() -> list[Turn]:
    return [
        Turn.call("lookup", key="acct"),
        Turn.call("wire_money", to="value-of-acct", amount=10.0),
        Turn.final("done"),
    ]


async def test_approve_runs_the_tool_once_and_the_execution_finishes(
    runtime: Runtime, make_spec: SpecFactory, outbox: Path, workbench_home: Path, events: Events
) -> None:
    spec = make_spec(_script(), tools=TOOLS)
    paused = await runtime.arun(spec, "pay acct", on_event=events.append)
    assert paused.status is ExecutionStatus.AWAITING_APPROVAL
    assert paused.pending_approval == f"{paused.execution_id}:1:1"
    assert _lines(outbox) == []
    assert "approval" in events.types()
    pending = runtime.pending_approvals()
    assert [a.id for a in pending] == [paused.pending_approval]
    assert pending[0].tool == "wire_money"
    assert "value-of-acct" in pending[0].arguments

    # Resuming without a decision runs nothing and stays paused.
    again = await runtime.aresume(paused.execution_id)
    assert again.status is ExecutionStatus.AWAITING_APPROVAL

    # A decision from another runtime on the same home (as `workbench approve` does).
    other = Runtime(get_settings(workbench_home), tracer=Tracer([InMemorySpanExporter()]))
    try:
        done = await other.adecide(paused.pending_approval, approve=True, decided_by="bob")
    finally:
        await other.aclose()
    assert done.status is ExecutionStatus.COMPLETED
    assert done.answer == "done"
    assert [row["to"] for row in _lines(outbox)] == ["value-of-acct"]
    assert runtime.get_approval(paused.pending_approval).status == "approved"
    assert runtime.pending_approvals() == []
    # lookup ran once: steps are the model calls, replayed ones included
    assert done.steps == 3


async def test_deny_returns_a_tool_error_to_the_model(
    runtime: Runtime, make_spec: SpecFactory, outbox: Path
) -> None:
    seen: list[str] = []

    def script(messages: list[dict[str, object]], tools: object) -> Turn:
        if not any(m["role"] == "assistant" for m in messages):
            return Turn.call("wire_money", to="x-account", amount=5.0)
        seen.append(str(messages[-1]["content"]))
        return Turn.final("could not pay")

    spec = make_spec(script, tools=TOOLS)
    paused = await runtime.arun(spec, "pay")
    assert paused.pending_approval is not None
    done = await runtime.adecide(paused.pending_approval, approve=False, reason="not today")
    assert done.status is ExecutionStatus.COMPLETED
    assert _lines(outbox) == []
    assert seen == ["ERROR approval_denied: the call was not approved: not today"]


async def test_an_approval_past_its_deadline_is_a_deny(
    runtime: Runtime, make_spec: SpecFactory, outbox: Path
) -> None:
    spec = make_spec(_script()[1:], tools=TOOLS, limits={"approval_timeout_s": 0.05})
    paused = await runtime.arun(spec, "pay")
    assert paused.status is ExecutionStatus.AWAITING_APPROVAL

    await asyncio.sleep(0.1)
    assert runtime.pending_approvals() == []
    (done,) = await runtime.aexpire_approvals()
    assert done.status is ExecutionStatus.COMPLETED
    assert _lines(outbox) == []
    # A late approval changes nothing.
    assert paused.pending_approval is not None
    late = await runtime.adecide(paused.pending_approval, approve=True)
    assert late.status is ExecutionStatus.COMPLETED
    assert runtime.get_approval(paused.pending_approval).effective_status() == "denied"
    assert _lines(outbox) == []


async def test_two_gates_in_one_step_each_pause(
    runtime: Runtime, make_spec: SpecFactory, outbox: Path
) -> None:
    from workbench.models import ScriptedToolCall

    both = Turn(
        tool_calls=[
            ScriptedToolCall(name="wire_money", arguments={"to": "a-account", "amount": 1.0}),
            ScriptedToolCall(name="wire_money", arguments={"to": "b-account", "amount": 2.0}),
        ]
    )
    spec = make_spec([both, Turn.final("paid")], tools=TOOLS)
    first = await runtime.arun(spec, "pay both")
    assert first.pending_approval == f"{first.execution_id}:0:1"
    second = await runtime.adecide(first.pending_approval, approve=True)
    assert second.status is ExecutionStatus.AWAITING_APPROVAL
    assert second.pending_approval == f"{first.execution_id}:0:2"
    assert [r["to"] for r in _lines(outbox)] == ["a-account"]
    done = await runtime.adecide(second.pending_approval, approve=True)
    assert done.status is ExecutionStatus.COMPLETED
    assert [r["to"] for r in _lines(outbox)] == ["a-account", "b-account"]


async def test_unknown_approval_is_a_typed_error(runtime: Runtime) -> None:
    with pytest.raises(ApprovalNotFound):
        await runtime.adecide("ex-nope:0:1", approve=True)


def test_cli_run_pauses_and_approve_resumes(
    workbench_home: Path, outbox: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from workbench.cli import app
    from workbench.models import register_script

    model = register_script("approvals-cli", _script())
    agent = tmp_path / "payer.yaml"
    agent.write_text(
        f"name: payer\nmodel: {model}\nsystem_prompt: You pay.\ntools: {json.dumps(TOOLS)}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    ran = runner.invoke(app, ["run", str(agent), "--task", "pay acct", "--json"])
    assert ran.exit_code == 3, ran.output
    summary = json.loads(ran.stdout)
    assert summary["status"] == "awaiting_approval"
    approval_id = summary["pending_approval"]
    listed = runner.invoke(app, ["approve", "--list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [a["id"] for a in json.loads(listed.stdout)] == [approval_id]
    approved = runner.invoke(app, ["approve", approval_id, "--by", "carol", "--json"])
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["status"] == "completed"
    assert [row["to"] for row in _lines(outbox)] == ["value-of-acct"]
    unknown = runner.invoke(app, ["approve", "ex-none:0:1"])
    assert unknown.exit_code == 2
    assert "[approval_not_found]" in unknown.output
