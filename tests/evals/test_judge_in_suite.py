"""A suite with an LLM judge: staged after the deterministic checks, and gating only when
its judge card (agreement with human labels) reaches the suite's bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.evals import run_suite

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _suite(tmp_path: Path, *, min_agreement: float | None, labels: dict[str, bool]) -> Path:
    rows = [json.loads(x) for x in (FIXTURES / "datasets" / "quiz.jsonl").read_text().splitlines()]
    with (tmp_path / "quiz.jsonl").open("w") as f:
        for row in rows:
            if row["id"] in labels:
                row["metadata"] = {"human_passed": {"v1": labels[row["id"]]}}
            f.write(json.dumps(row) + "\n")
    judge: dict[str, Any] = {
        "model": "scripted/judge",
        "imports": ["workbench.demo"],
        "rubric": "The response gives the reference number.",
        "stage": "after_checks",
        "pass_threshold": 0.75,
    }
    if min_agreement is not None:
        judge["min_agreement"] = min_agreement
    suite = {
        "name": "judged",
        "dataset": str(tmp_path / "quiz.jsonl"),
        "versions": {
            "v1": str(FIXTURES / "agents" / "quiz_right.yaml"),
            "v2": str(FIXTURES / "agents" / "quiz_wrong40.yaml"),
        },
        "scorers": [{"name": "numeric", "args": {"tolerance": 0}}],
        "judge": judge,
        "concurrency": 8,
        "gate": {
            "baseline": "v1",
            "candidate": "v2",
            "metrics": {"judge": {"margin": 0.05}},
        },
    }
    path = tmp_path / "judged.yaml"
    path.write_text(json.dumps(suite))
    return path


def test_the_judge_runs_only_on_samples_that_passed_the_checks(
    workbench_home: Path, tmp_path: Path
) -> None:
    run = run_suite(_suite(tmp_path, min_agreement=None, labels={}), progress="none")
    rows = run.rows()
    judged = [r for r in rows if r.get("judge")]
    skipped = [r for r in rows if not r.get("judge")]
    assert judged
    assert skipped  # v2 gets some answers wrong: those are not sent to the judge
    assert all(r["scores"]["numeric"]["passed"] for r in judged)
    assert all(r["scores"]["numeric"]["passed"] is False for r in skipped)
    assert all(r["scores"]["judge"]["explanation"].startswith("not judged") for r in skipped)
    assert all(r["judge"]["model"] == "scripted/judge" for r in judged)
    # The judge's cost is counted apart from the agents'. v1 and v2 often give the same
    # right answer: whichever is graded second may hit the judge cache (cost 0, cached),
    # depending on how the two runs interleave.
    assert all(r["judge"]["cost_usd"] > 0 or r["judge"]["cached"] for r in judged)
    assert any(r["judge"]["cost_usd"] > 0 for r in judged)
    assert all(r["judge"]["cost_usd"] == 0 for r in judged if r["judge"]["cached"])
    gate = run.gate()
    assert gate is not None
    assert not gate.passed  # v2 is worse on the judge's metric


def test_a_judge_below_the_agreement_bar_does_not_gate(
    workbench_home: Path, tmp_path: Path
) -> None:
    # People marked three of v1's right answers wrong (say, for their wording): the judge,
    # which passes every right number, agrees with them no better than chance.
    labels = {f"q{i:02d}": i not in (1, 4, 7) for i in range(12)}
    run = run_suite(_suite(tmp_path, min_agreement=0.6, labels=labels), progress="none")
    card = run.judge_card()
    assert card is not None
    assert card.n == 12
    assert not card.may_gate
    gate = run.gate()
    assert gate is not None
    assert gate.passed  # the only gated metric was the judge's, and it may not gate
    assert "does not gate" in run.info["judge_excluded"]
