"""Multi-agent workflows: delegation, fan-out and join, scratchpad, budgets, one trace."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ConfigError
from workbench.models import ScriptedToolCall, Turn, register_script
from workbench.runtime import AgentSpec, ExecutionStatus, Runtime, WorkflowSpec
from workbench.settings import get_settings
from workbench.tracing import TraceStore

pytestmark = pytest.mark.anyio

_names = itertools.count()


def _model(script: Any) -> str:
    return register_script(f"wf-{next(_names)}", script)


def _workflow_yaml(tmp_path: Path, *, budget: float | None = None) -> Path:
    researcher = {
        "name": "researcher",
        "description": "finds facts",
        "model": _model(
            [
                Turn.call("scratchpad_write", key="fact", value="North leads with 36%"),
                Turn.final("North leads with 36% of revenue."),
            ]
        ),
        "system_prompt": "You research.",
    }
    checker = {
        "name": "checker",
        "description": "checks numbers",
        "model": _model([Turn.final("The 36% share checks out.")]),
        "system_prompt": "You check.",
    }

    def writer_script(messages: list[dict[str, Any]], tools: Any) -> Turn:
        if not any(m["role"] == "tool" for m in messages):
            return Turn.call("scratchpad_read", key="fact")
        return Turn.final("Report: " + str(messages[-1]["content"]))

    writer = {
        "name": "writer",
        "description": "writes reports",
        "model": _model(writer_script),
        "system_prompt": "You write.",
    }
    supervisor = {
        "name": "supervisor",
        "model": _model(
            [
                Turn(
                    tool_calls=[
                        ScriptedToolCall(
                            name="delegate_parallel",
                            arguments={
                                "tasks": [
                                    {"agent": "researcher", "task": "who leads?"},
                                    {"agent": "checker", "task": "check the share"},
                                ]
                            },
                        )
                    ]
                ),
                Turn.call("delegate", agent="writer", task="write it up from the scratchpad"),
                Turn.final("Done: North leads (36%), checked and written up."),
            ]
        ),
        "system_prompt": "You run a team.",
    }
    (tmp_path / "researcher.yaml").write_text(json.dumps(researcher))
    (tmp_path / "supervisor.yaml").write_text(json.dumps(supervisor))
    workflow = {
        "kind": "workflow",
        "name": "team",
        "version": "v1",
        "supervisor": "supervisor.yaml",
        "agents": {"researcher": "researcher.yaml", "checker": checker, "writer": writer},
        "shares": {"researcher": 0.5},
        "timeout_s": 60,
    }
    if budget is not None:
        workflow["budget"] = {"max_cost_usd": budget}
    path = tmp_path / "team.yaml"
    path.write_text(json.dumps(workflow))
    return path


async def test_supervisor_delegates_fans_out_joins_and_shares_a_scratchpad(
    workbench_home: Path, tmp_path: Path
) -> None:
    spec = AgentSpec.from_yaml(_workflow_yaml(tmp_path, budget=1.0))
    assert spec.name == "team"
    assert spec.workflow is not None
    runtime = Runtime(get_settings(workbench_home))
    try:
        result = await runtime.arun(spec, "Who leads, and write it up.", execution_id="ex-team")
    finally:
        await runtime.aclose()
    assert result.status is ExecutionStatus.COMPLETED
    assert result.answer is not None
    assert result.answer.startswith("Done")
    runtime.tracer.flush()
    store = TraceStore()
    roots = store.sql(
        "SELECT s.name, s.trace_id, p.name AS parent FROM spans s"
        " LEFT JOIN spans p ON p.span_id = s.parent_id WHERE s.kind = 'AGENT' ORDER BY s.name"
    )
    assert roots["trace_id"].nunique() == 1  # one trace for the whole workflow
    parents = dict(zip(roots["name"], roots["parent"], strict=True))
    assert parents["agent checker"] == "tool delegate_parallel"
    assert parents["agent researcher"] == "tool delegate_parallel"
    assert parents["agent writer"] == "tool delegate"
    assert not isinstance(parents["agent team"], str)  # the supervisor is the root
    writer = store.sql("SELECT answer FROM executions WHERE agent_name = 'writer'").iloc[0][
        "answer"
    ]
    assert "North leads with 36%" in writer  # read from the scratchpad the researcher wrote
    children = store.sql(
        "SELECT execution_id, cost_usd FROM executions WHERE execution_id LIKE 'ex-team.%'"
        " ORDER BY execution_id"
    )
    assert len(children) == 3
    assert all(children["cost_usd"] > 0)
    # The workflow's result counts every model call of the team, each once.
    llm = store.sql("SELECT sum(cost_usd) AS usd FROM spans WHERE kind = 'LLM'")
    assert result.cost_usd == pytest.approx(float(llm.iloc[0]["usd"]))
    own = store.sql("SELECT cost_usd FROM executions WHERE execution_id = 'ex-team'")
    assert float(own.iloc[0]["cost_usd"]) < result.cost_usd


async def test_delegation_budget_is_the_share_and_a_spent_budget_refuses(
    workbench_home: Path, tmp_path: Path
) -> None:
    runtime = Runtime(get_settings(workbench_home))
    try:
        # Measure the supervisor's first model call, then give the workflow barely more.
        roomy = AgentSpec.from_yaml(_workflow_yaml(tmp_path, budget=1.0))
        await runtime.arun(roomy, "Who leads?", execution_id="ex-measure")
        runtime.tracer.flush()
        first = TraceStore().sql(
            "SELECT cost_usd FROM spans WHERE kind = 'LLM' AND execution_id = 'ex-measure'"
            " AND step = 0"
        )
        budget = float(first.iloc[0]["cost_usd"]) * 1.05
        tight = AgentSpec.from_yaml(_workflow_yaml(tmp_path, budget=budget))
        result = await runtime.arun(tight, "Who leads?", execution_id="ex-tight")
    finally:
        await runtime.aclose()
    runtime.tracer.flush()
    store = TraceStore()
    rows = store.sql(
        "SELECT agent_name, status FROM executions WHERE execution_id LIKE 'ex-tight.%'"
        " ORDER BY agent_name"
    )
    statuses = dict(zip(rows["agent_name"], rows["status"], strict=True))
    # The researcher's share (half of a quarter of the budget) stopped it after one call;
    # the checker needed only one call; the writer was never asked: the budget was spent.
    assert statuses == {"checker": "completed", "researcher": "budget_exceeded"}
    spans = store.sql(
        "SELECT error_message FROM spans WHERE name = 'tool delegate' AND status = 'ERROR'"
        " AND execution_id = 'ex-tight'"
    )
    assert "workflow budget" in spans.iloc[0]["error_message"]
    assert result.status is ExecutionStatus.COMPLETED


def test_workflow_validation_is_typed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        json.dumps(
            {
                "kind": "workflow",
                "name": "x",
                "supervisor": {"name": "s", "model": "scripted/x", "system_prompt": "s"},
                "agents": {"a": {"name": "a", "model": "scripted/y", "system_prompt": "a"}},
                "shares": {"zzz": 0.5},
            }
        )
    )
    with pytest.raises(ConfigError, match="shares name unknown agents"):
        WorkflowSpec.from_yaml(bad)
