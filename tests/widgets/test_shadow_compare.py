"""ShadowCompare driven from Python: per-sample sides, the step diff, the gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from workbench.errors import RunNotFound
from workbench.evals._shadow import ShadowPair, ShadowRun
from workbench.evals._stats import MetricGate, compare_versions
from workbench.tracing import TraceStore, get_tracer
from workbench.widgets import ShadowCompare, ShadowCompareModel


def _step(i: int, base: str | None, cand: str | None) -> dict[str, Any]:
    return {
        "step": i,
        "baseline_action": base,
        "candidate_action": cand,
        "same": base == cand and base is not None,
        "cost_diff_usd": 0.0001 * i,
        "latency_diff_ms": 1.5 * i,
    }


def _pair(sample: str, steps: list[dict[str, Any]], first: int | None) -> ShadowPair:
    return ShadowPair(
        run_id="sh-1",
        sample_id=sample,
        input=f"question {sample}",
        baseline_execution_id=f"{sample}-base",
        candidate_execution_id=f"{sample}-cand",
        baseline_status="completed",
        candidate_status="completed",
        baseline_answer="42",
        candidate_answer="42" if first is None else "41",
        baseline_cost_usd=0.001,
        candidate_cost_usd=0.0012,
        baseline_latency_ms=10.0,
        candidate_latency_ms=12.0,
        same_answer=first is None,
        first_divergent_step=first,
        divergences=[],
        steps=steps,
    )


def _run() -> ShadowRun:
    same = [_step(0, 'sql({"q":1})', 'sql({"q":1})'), _step(1, "answer", "answer")]
    diverged = [
        _step(0, 'sql({"q":1})', 'sql({"q":1})'),
        _step(1, 'calculator({"e":"1+1"})', 'send_email({"to":"x@example.com"})'),
        _step(2, "answer", "answer"),
    ]
    return ShadowRun("sh-1", "v1", "v2", [_pair("s1", same, None), _pair("s2", diverged, 1)])


def _comparison() -> Any:
    rows = []
    for i in range(20):
        for version, passed in (("v1", i % 5 != 0), ("v2", i % 4 != 0)):
            rows.append((version, f"s{i}", 0, "correct", float(passed), passed))
    scores = pd.DataFrame(
        rows, columns=["version", "sample_id", "epoch", "metric", "value", "passed"]
    )
    scores["passed"] = scores["passed"].astype("boolean")
    return compare_versions(
        scores,
        baseline="v1",
        candidate="v2",
        metrics={"correct": MetricGate(margin=0.05)},
        n_boot=500,
    )


def test_the_first_divergent_step_is_marked_and_highlighted() -> None:
    widget = ShadowCompare(_run())
    model = widget.model
    assert model.sample_ids == ["s1", "s2"]
    assert [s["first_divergence"] for s in model.steps()] == [False, False]
    assert "first divergent step: <b>none</b>" in widget.diff.value

    widget.picker.value = "s2"  # what a person does in the dropdown
    assert model.pair is not None
    assert model.pair.sample_id == "s2"
    assert [s["first_divergence"] for s in model.steps()] == [False, True, False]
    assert "first divergent step: <b>1</b>" in widget.diff.value
    highlighted = widget.diff.value.split('class="wb-highlight"')[1].split("</tr>")[0]
    assert "send_email" in highlighted
    assert "calculator" in highlighted
    assert widget.diff.value.count('class="wb-highlight"') == 1
    sides = model.side_by_side()
    assert sides["baseline"]["answer"] == "42"
    assert sides["candidate"]["answer"] == "41"
    assert sides["candidate"]["version"] == "v2"


def test_paired_statistics_and_the_gate_verdict_are_shown() -> None:
    comparison = _comparison()
    widget = ShadowCompare(_run(), comparison=comparison)
    stats = widget.model.stats()
    assert next(s["metric"] for s in stats) == "correct"
    assert stats[0]["wins"] + stats[0]["ties"] + stats[0]["losses"] == 20
    verdict = widget.model.verdict()
    assert verdict == (comparison.gate.passed, comparison.gate.reasons)
    assert ("gate PASSED" if comparison.gate.passed else "gate FAILED") in widget.gate.value
    assert "<td>correct</td>" in widget.stats.value


def test_without_a_comparison_no_statistics_are_shown() -> None:
    widget = ShadowCompare(_run())
    assert widget.model.verdict() is None
    assert widget.gate.value == ""


def test_an_unknown_sample_is_an_error_line() -> None:
    model = ShadowCompareModel(_run())
    model.select("nope")
    assert model.error == "no sample 'nope' in shadow run sh-1"
    assert model.index == 0


def test_a_run_is_read_back_from_the_trace_store(flushed: Callable[[], TraceStore]) -> None:
    run = _run()
    for pair in run.pairs:
        get_tracer().record(
            "shadow_samples", {**pair.model_dump(mode="json"), "baseline": "v1", "candidate": "v2"}
        )
    store = flushed()
    model = ShadowCompareModel.from_store(store, "sh-1")
    assert model.sample_ids == ["s1", "s2"]
    model.select("s2")
    assert model.pair is not None
    assert model.pair.first_divergent_step == 1
    with pytest.raises(RunNotFound):
        ShadowCompareModel.from_store(store, "sh-missing")
