"""The ReAct loop end to end on scripted models: answers, steps, costs and spans."""

from __future__ import annotations

from pathlib import Path

import pytest
from runtime_helpers import Events, SpecFactory

from workbench.errors import ConfigError, ExecutionNotFound
from workbench.models import Turn, cost_usd
from workbench.runtime import AgentSpec, ExecutionStatus, Runtime, resolve_tools
from workbench.testing import InMemorySpanExporter
from workbench.tracing import SpanKind, TraceStore

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


async def test_demo_agent_answers_from_the_shipped_dataset(
    runtime: Runtime, spans: InMemorySpanExporter, events: Events
) -> None:
    spec = AgentSpec.from_yaml(REPO / "agents" / "analyst.yaml")
    result = await runtime.arun(
        spec, "Which region had the highest revenue?", on_event=events.append
    )

    assert result.status is ExecutionStatus.COMPLETED
    assert result.answer is not None
    assert result.answer.startswith("North had the highest revenue in 2025: $61,587.12")
    assert "36.4% of total revenue" in result.answer
    assert result.steps == 3
    assert events.types() == ["model", "tool", "model", "tool", "model", "status"]
    assert result.cost_usd == pytest.approx(
        cost_usd(spec.model, result.prompt_tokens, result.completion_tokens)
    )

    runtime.tracer.flush()
    tree = [(s.name, s.kind, s.parent_id is None) for s in spans.spans]
    assert sorted(tree) == sorted(
        [
            ("agent analyst", SpanKind.AGENT, True),
            ("llm scripted/analyst", SpanKind.LLM, False),
            ("llm scripted/analyst", SpanKind.LLM, False),
            ("llm scripted/analyst", SpanKind.LLM, False),
            ("tool sql", SpanKind.TOOL, False),
            ("tool calculator", SpanKind.TOOL, False),
        ]
    )
    root = next(s for s in spans.spans if s.parent_id is None)
    assert {s.trace_id for s in spans.spans} == {result.trace_id}
    assert all(s.parent_id == root.span_id for s in spans.spans if s is not root)
    assert root.attributes["workbench.cost_usd"] == pytest.approx(result.cost_usd)
    executions = [r.row for r in spans.records if r.table == "executions"]
    assert [r["status"] for r in executions] == ["running", "completed"]


async def test_execution_lands_in_the_duckdb_store(workbench_home: Path) -> None:
    spec = AgentSpec.from_yaml(REPO / "agents" / "analyst.yaml")
    runtime = Runtime()  # the default tracer spools into this test's home
    try:
        result = await runtime.arun(spec, "Which region had the highest revenue?")
    finally:
        await runtime.aclose()
    store = TraceStore()
    row = store.sql(
        "SELECT status, steps, cost_usd, prompt_tokens + completion_tokens AS tokens "
        "FROM executions WHERE execution_id = ?",
        [result.execution_id],
    ).iloc[0]
    assert (row.status, row.steps, row.tokens) == ("completed", 3, result.tokens)
    assert row.cost_usd == pytest.approx(result.cost_usd)
    kinds = store.sql(
        "SELECT kind, count(*) AS n FROM spans WHERE trace_id = ? GROUP BY kind ORDER BY kind",
        [result.trace_id],
    )
    assert dict(zip(kinds.kind, kinds.n, strict=True)) == {"AGENT": 1, "LLM": 3, "TOOL": 2}


async def test_a_finished_execution_reports_again_without_running(
    runtime: Runtime, make_spec: SpecFactory
) -> None:
    spec = make_spec([Turn.final("done")])
    first = await runtime.arun(spec, "go")
    again = await runtime.aresume(first.execution_id)
    assert (again.status, again.answer, again.steps) == (first.status, "done", 1)


async def test_run_with_an_existing_id_and_another_task_is_refused(
    runtime: Runtime, make_spec: SpecFactory
) -> None:
    spec = make_spec([Turn.final("done")])
    first = await runtime.arun(spec, "go", execution_id="ex-fixed")
    assert first.execution_id == "ex-fixed"
    with pytest.raises(ConfigError, match="another task"):
        await runtime.arun(spec, "something else", execution_id="ex-fixed")


async def test_resume_of_an_unknown_id_is_a_typed_error(runtime: Runtime) -> None:
    with pytest.raises(ExecutionNotFound, match="no execution 'ex-nope'"):
        await runtime.aresume("ex-nope")


async def test_output_schema_violation_is_repaired(
    runtime: Runtime, make_spec: SpecFactory, events: Events
) -> None:
    schema = {
        "type": "object",
        "properties": {"region": {"type": "string"}},
        "required": ["region"],
        "additionalProperties": False,
    }
    spec = make_spec([Turn.final("North"), Turn.final('{"region": "North"}')], output_schema=schema)
    result = await runtime.arun(spec, "which region?", on_event=events.append)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.answer == '{"region": "North"}'
    assert "repair" in events.types()


def test_spec_errors_are_typed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: scripted/x\nsystem_prompt: hi\nlimits: {max_steps: 0}\n")
    with pytest.raises(ConfigError, match=r"limits.max_steps"):
        AgentSpec.from_yaml(bad)
    with pytest.raises(ConfigError, match="not found"):
        AgentSpec.from_yaml(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        AgentSpec.from_yaml(tmp_path / "list.yaml")


def test_builtin_tools_are_configured_from_the_spec() -> None:
    spec = AgentSpec(
        name="b", model="scripted/x", system_prompt="s", tools=["python", "http_get", "calculator"]
    )
    with pytest.raises(ConfigError, match="http_allow_hosts"):
        resolve_tools(spec)
    allowed = spec.model_copy(update={"http_allow_hosts": ["api.example.com"]})
    assert resolve_tools(allowed).names() == ["python", "http_get", "calculator"]
    with pytest.raises(ConfigError, match="unknown tool 'shell'"):
        resolve_tools(spec.model_copy(update={"tools": ["shell"]}))
