"""The `workbench` command as users' scripts call it: run, resume, traces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app

REPO = Path(__file__).resolve().parents[2]
WORKBENCH = Path(sys.executable).with_name("workbench")
TASK = "Which region had the highest revenue in 2025, and what share of total revenue was it?"


@pytest.mark.slow
def test_run_json_prints_exactly_one_object(workbench_home: Path) -> None:
    out = subprocess.run(
        [
            str(WORKBENCH),
            "run",
            str(REPO / "agents" / "analyst.yaml"),
            "--task",
            TASK,
            "--json",
            "--execution-id",
            "ex-cli-1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    summary = json.loads(out.stdout)  # the whole of stdout is one JSON object
    assert set(summary) == {
        "execution_id",
        "status",
        "answer",
        "steps",
        "tokens",
        "cost_usd",
        "pending_approval",
    }
    assert summary["execution_id"] == "ex-cli-1"
    assert summary["status"] == "completed"
    assert summary["steps"] == 3
    assert summary["tokens"] > 0
    assert summary["cost_usd"] > 0


def test_run_shows_steps_then_answer_and_traces_read_it_back(workbench_home: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["run", str(REPO / "agents" / "analyst.yaml"), "--task", TASK])
    assert shown.exit_code == 0, shown.output
    lines = shown.output
    assert lines.index("step 0") < lines.index("step 1") < lines.index("Answer:")
    assert "execution id ex-" in lines
    queried = runner.invoke(
        app, ["traces", "sql", "SELECT status, steps FROM executions", "--json"]
    )
    assert queried.exit_code == 0, queried.output
    assert [json.loads(x) for x in queried.output.splitlines()] == [
        {"status": "completed", "steps": 3}
    ]
    summary = runner.invoke(app, ["traces", "summary", "--json"])
    assert json.loads(summary.output)["executions_by_status"] == {"completed": 1}


def test_bad_input_is_a_clear_error_with_exit_2(workbench_home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsystem_prompt: hi\n")
    result = runner.invoke(app, ["run", str(bad), "--task", "t"])
    assert result.exit_code == 2
    assert "config_invalid" in result.output
    assert "model: Field required" in result.output
    missing = runner.invoke(app, ["resume", "ex-nope"])
    assert missing.exit_code == 2
    assert "execution_not_found" in missing.output
    sql = runner.invoke(app, ["traces", "sql", "SELECT * FROM no_such_table"])
    assert sql.exit_code == 2
    assert "trace_store_error" in sql.output
