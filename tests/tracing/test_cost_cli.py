"""`workbench traces cost` and `workbench traces export` on known data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from workbench.cli import app
from workbench.settings import get_settings
from workbench.tracing import SpanKind, SpoolExporter, Tracer

runner = CliRunner()


def _seed(home: Path) -> None:
    """Two executions: v1 by alice on Jan 1 (sql then answer), v2 by bob on Jan 2."""
    tracer = Tracer([SpoolExporter(get_settings(home).spool_dir)])
    plan = [
        ("ex-1", "v1", "alice", "2026-01-01T10:00:00", [(0, 1.0, ["sql"]), (1, 0.5, [])]),
        ("ex-2", "v2", "bob", "2026-01-02T10:00:00", [(0, 2.0, ["sql", "calculator"])]),
    ]
    for eid, version, who, day, calls in plan:
        tracer.record(
            "executions",
            {
                "execution_id": eid,
                "agent_name": "analyst",
                "agent_version": version,
                "principal": who,
                "started_at": day,
                "cost_usd": sum(c for _, c, _ in calls),
            },
        )
        for step, cost, tools in calls:
            llm = tracer.span(
                "llm", SpanKind.LLM, {"workbench.execution_id": eid, "workbench.step": step}
            )
            llm.set_attributes(
                {
                    "workbench.cost_usd": cost,
                    "llm.token_count.prompt": 100,
                    "llm.token_count.completion": 10,
                }
            )
            llm.end()
            for tool in tools:
                tracer.span(
                    f"tool {tool}",
                    SpanKind.TOOL,
                    {"tool.name": tool, "workbench.execution_id": eid, "workbench.step": step},
                ).end()
    assert tracer.flush()
    tracer.shutdown()


def test_cost_by_version_and_tool_json(workbench_home: Path) -> None:
    _seed(workbench_home)
    result = runner.invoke(app, ["traces", "cost", "--by", "version", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["agent_version"], r["executions"], r["llm_calls"], r["cost_usd"]) for r in rows] == [
        ("v2", 1, 1, 2.0),
        ("v1", 1, 2, 1.5),
    ]
    result = runner.invoke(app, ["traces", "cost", "--by", "principal,tool", "--json"])
    rows = json.loads(result.output)
    got = {(r["principal"], r["tool"]): (r["cost_usd"], r["tokens"]) for r in rows}
    # bob's one call asked for two tools: its cost and tokens are split evenly.
    assert got == {
        ("alice", "sql"): (1.0, 110),
        ("alice", "(none)"): (0.5, 110),
        ("bob", "sql"): (1.0, 55),
        ("bob", "calculator"): (1.0, 55),
    }


def test_cost_by_day_table_and_bad_dimension(workbench_home: Path) -> None:
    _seed(workbench_home)
    result = runner.invoke(app, ["traces", "cost", "--by", "version,day,principal,tool"])
    assert result.exit_code == 0, result.output
    assert "cost by version, day, principal, tool" in result.output
    result = runner.invoke(app, ["traces", "cost", "--by", "day", "--json"])
    days = {r["day"]: r["cost_usd"] for r in json.loads(result.output)}
    assert len(days) == 1  # the LLM spans' clock (now), not the executions' started_at
    bad = runner.invoke(app, ["traces", "cost", "--by", "version,colour"])
    assert bad.exit_code == 2
    assert "colour" in bad.output


def test_export_writes_parquet_of_spans_and_executions(
    workbench_home: Path, tmp_path: Path
) -> None:
    _seed(workbench_home)
    out = tmp_path / "out"
    result = runner.invoke(app, ["traces", "export", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {t: v["rows"] for t, v in summary.items()} == {
        "spans": 6,
        "executions": 2,
        "records": 0,
    }
    spans = pd.read_parquet(out / "spans.parquet")
    executions = pd.read_parquet(out / "executions.parquet")
    assert sorted(spans["kind"]) == ["LLM"] * 3 + ["TOOL"] * 3
    assert spans["cost_usd"].sum() == 3.5
    assert sorted(executions["principal"]) == ["alice", "bob"]
    assert sorted(p.name for p in out.iterdir()) == [
        "executions.parquet",
        "records.parquet",
        "spans.parquet",
    ]
