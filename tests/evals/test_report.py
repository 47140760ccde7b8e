"""The HTML report and its DataFrames."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from workbench.errors import EvalError
from workbench.evals._judge_card import judge_card
from workbench.evals._report import report_frames, write_report
from workbench.evals._stats import Comparison, MetricGate, compare_versions

N = 120


def _run(shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and samples of v1 and v2 with 2 epochs; v2's pass rate moves by ``shift``."""
    rng = np.random.default_rng(4)
    score_rows, sample_rows = [], []
    for version, rate, cost, latency in (
        ("v1", 0.7, 0.002, 400.0),
        ("v2", 0.7 + shift, 0.0015, 300.0),
    ):
        for i in range(N):
            for epoch in range(2):
                passed = bool(rng.random() < rate)
                grade = float(rng.integers(1, 6)) / 5
                c = float(rng.gamma(2.0, cost / 2))
                ms = float(rng.lognormal(np.log(latency), 0.4))
                sid = f"q{i:03d}"
                score_rows += [
                    (version, sid, epoch, "exact", float(passed), passed),
                    (version, sid, epoch, "judge", grade, grade >= 0.6),
                    (version, sid, epoch, "cost_usd", c, pd.NA),
                    (version, sid, epoch, "latency_ms", ms, pd.NA),
                ]
                sample_rows.append((version, sid, epoch, c, ms, 500, "completed"))
    scores = pd.DataFrame(
        score_rows, columns=["version", "sample_id", "epoch", "metric", "value", "passed"]
    )
    scores["passed"] = scores["passed"].astype("boolean")
    samples = pd.DataFrame(
        sample_rows,
        columns=["version", "sample_id", "epoch", "cost_usd", "latency_ms", "tokens", "status"],
    )
    samples.loc[3, "status"] = "timeout"
    return scores, samples


def _compare(scores: pd.DataFrame) -> Comparison:
    gates = {
        "exact": MetricGate(margin=0.05),
        "cost_usd": MetricGate(margin=0.001, higher_is_better=False),
    }
    return compare_versions(scores, baseline="v1", candidate="v2", metrics=gates, n_boot=2000)


def _card() -> pd.DataFrame:
    judge = [True] * 30 + [False] * 25 + [True] * 3 + [False] * 2
    human = [True] * 30 + [False] * 25 + [False] * 3 + [True] * 2
    return pd.DataFrame({"sample_id": range(60), "judge_passed": judge, "human_passed": human})


def test_report_is_one_offline_html_file_with_plots(tmp_path: Path) -> None:
    scores, samples = _run(shift=0.0)
    comparison = _compare(scores)
    card = judge_card(_card(), min_agreement=0.6)
    pairwise = pd.DataFrame(
        {
            "sample_id": ["q000", "q001", "q002"],
            "winner": ["a", "tie", "b"],
            "consistent": [True, False, True],
        }
    )
    fonttype = matplotlib.rcParams["svg.fonttype"]
    path = write_report(
        tmp_path / "out" / "report.html",
        title="Analyst <v1 vs v2>",
        scores=scores,
        samples=samples,
        comparison=comparison,
        judge_card=card,
        pairwise=pairwise,
    )
    assert path == tmp_path / "out" / "report.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # Four figures, inline; nothing fetched from anywhere.
    assert page.count("<svg") == 4
    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"""\b(src|href)\s*=\s*["'](?!#)""", page)
    assert "<style>" in page
    # The title is escaped, the verdict is in plain words, the tables are there.
    assert "Analyst &lt;v1 vs v2&gt;" in page
    assert "Gate: non-inferiority" in page
    assert comparison.gate.passed == ("PASSED." in page)
    for metric in ("exact", "judge", "cost_usd", "latency_ms"):
        assert f"<td>{metric}</td>" in page
    assert "Judge card" in page
    assert f"{card.kappa:.4g}" in page
    assert "Pairwise judge" in page
    assert "status timeout" in page
    # The caller's matplotlib settings are left alone.
    assert matplotlib.rcParams["svg.fonttype"] == fonttype


def test_failing_gate_is_spelled_out(tmp_path: Path) -> None:
    scores, samples = _run(shift=-0.3)
    comparison = _compare(scores)
    assert not comparison.gate.passed
    page = write_report(
        tmp_path / "r.html", title="t", scores=scores, samples=samples, comparison=comparison
    ).read_text(encoding="utf-8")
    assert "FAILED." in page
    assert "could not be shown to be within its margin of v1 on: exact" in page
    assert 'class="gate fail"' in page
    assert "Judge card" not in page


def test_report_frames_hold_the_same_data() -> None:
    scores, samples = _run(shift=0.1)
    comparison = _compare(scores)
    frames = report_frames(scores=scores, samples=samples, comparison=comparison)
    assert set(frames) == {
        "statistics",
        "gate",
        "versions",
        "score_distributions",
        "cost_quality",
        "latency_cdf",
        "sample_differences",
    }
    assert frames["statistics"]["metric"].tolist() == ["cost_usd", "exact", "judge", "latency_ms"]
    assert frames["gate"]["reason"].tolist() == comparison.gate.reasons
    assert set(frames["score_distributions"]["metric"]) == {"exact", "judge"}
    versions = frames["versions"].set_index("version")
    assert versions.loc["v1", "samples"] == 2 * N
    assert versions.loc["v1", "status timeout"] == 1
    assert versions.loc["v2", "status timeout"] == 0
    assert versions.loc["v1", "total_cost_usd"] == pytest.approx(
        samples.loc[samples["version"] == "v1", "cost_usd"].sum()
    )
    cdf = frames["latency_cdf"]
    for version in ("v1", "v2"):
        curve = cdf.loc[cdf["version"] == version]
        assert len(curve) == 2 * N
        assert curve["latency_ms"].is_monotonic_increasing
        assert curve["cdf"].iloc[-1] == pytest.approx(1.0)
    diffs = frames["sample_differences"]
    assert len(diffs) == 2 * N * 4
    exact = diffs.loc[diffs["metric"] == "exact"]
    assert exact["diff"].mean() == pytest.approx(
        next(m.mean_diff for m in comparison.metrics if m.metric == "exact")
    )
    cost = diffs.loc[diffs["metric"] == "cost_usd"].iloc[0]
    assert cost["diff"] == pytest.approx(cost["baseline"] - cost["candidate"])  # sign-adjusted
    quality = frames["cost_quality"].set_index(["version", "metric"])
    assert quality.loc[("v2", "exact"), "mean_value"] == pytest.approx(
        scores.query("version == 'v2' and metric == 'exact'")["value"].mean()
    )


def test_report_rejects_inputs_without_needed_columns(tmp_path: Path) -> None:
    scores, samples = _run(shift=0.0)
    comparison = _compare(scores)
    with pytest.raises(EvalError, match="lack column"):
        write_report(
            tmp_path / "r.html",
            title="t",
            scores=scores.drop(columns="epoch"),
            samples=samples,
            comparison=comparison,
        )
