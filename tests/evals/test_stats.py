"""Paired statistics and the non-inferiority gate, checked against scipy and worked examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.errors import EvalError
from workbench.evals._stats import MetricGate, compare_versions
from workbench.evals._stats_methods import (
    bootstrap_mean,
    holm_adjust,
    mcnemar,
    minimum_detectable_effect,
)


def _scores(
    per_version: dict[str, dict[str, list[float]]], *, passfail: bool = True
) -> pd.DataFrame:
    """Long scores: {version: {metric: values by sample index}}, one epoch."""
    rows = []
    for version, metrics in per_version.items():
        for metric, values in metrics.items():
            for i, value in enumerate(values):
                passed = bool(value >= 0.5) if passfail and metric == "exact" else pd.NA
                rows.append(
                    {
                        "version": version,
                        "sample_id": f"s{i:04d}",
                        "epoch": 0,
                        "metric": metric,
                        "value": float(value),
                        "passed": passed,
                    }
                )
    frame = pd.DataFrame(rows)
    frame["passed"] = frame["passed"].astype("boolean")
    return frame


def _binary(n: int, ones: int) -> list[float]:
    return [1.0] * ones + [0.0] * (n - ones)


# --- McNemar against scipy -------------------------------------------------------------


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 7), (10, 2), (12, 12), (0, 24)])
def test_mcnemar_exact_matches_scipy_binomtest(b: int, c: int) -> None:
    result = mcnemar(b, c)
    assert result.method == "exact"
    expected = stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert result.p_value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("b", "c"), [(13, 12), (30, 45), (100, 80), (5, 60)])
def test_mcnemar_chi2_with_continuity_matches_scipy(b: int, c: int) -> None:
    result = mcnemar(b, c)
    assert result.method == "chi2"
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(stats.chi2.sf(statistic, df=1), rel=1e-9)


# --- Holm against a worked example ---------------------------------------------------


def test_holm_matches_the_worked_example() -> None:
    # The four-hypothesis example of the Holm-Bonferroni method (Holm 1979; the example
    # on Wikipedia's "Holm-Bonferroni method" page): p = 0.01, 0.04, 0.03, 0.005 at
    # alpha = 0.05 rejects H1 and H4 only. Adjusted: 4*0.005, 3*0.01, 2*0.03, max(0.04, 0.06).
    adjusted = holm_adjust([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [p < 0.05 for p in adjusted] == [True, False, False, True]


def test_holm_keeps_nan_and_caps_at_one() -> None:
    # NaN is not a hypothesis: m = 2, so 0.4 -> 0.8 and 0.6 -> max(0.8, 0.6).
    adjusted = holm_adjust([0.6, math.nan, 0.4])
    assert adjusted[0] == pytest.approx(0.8)
    assert math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.8)
    assert holm_adjust([0.6, 0.7]) == pytest.approx([1.0, 1.0])


# --- bootstrap ---------------------------------------------------------------------


def test_paired_bootstrap_interval_covers_the_t_interval_on_a_normal_sample() -> None:
    rng = np.random.default_rng(7)
    n = 400
    base = rng.normal(10.0, 2.0, size=n)
    cand = base + rng.normal(0.3, 1.0, size=n)
    scores = _scores({"v1": {"quality": list(base)}, "v2": {"quality": list(cand)}})
    result = compare_versions(scores, baseline="v1", candidate="v2", metrics={})
    metric = result.metrics[0]
    diff = cand - base
    t_low, t_high = stats.t.interval(0.95, df=n - 1, loc=diff.mean(), scale=stats.sem(diff, ddof=1))
    width = t_high - t_low
    assert metric.mean_diff == pytest.approx(diff.mean())
    assert metric.ci_low < diff.mean() < metric.ci_high
    # Percentile bootstrap of a mean of 400 normal differences agrees with the t-interval.
    assert metric.ci_low == pytest.approx(t_low, abs=0.06 * width)
    assert metric.ci_high == pytest.approx(t_high, abs=0.06 * width)


def test_multinomial_bootstrap_equals_index_resampling_for_discrete_values() -> None:
    rng = np.random.default_rng(3)
    diffs = rng.choice([-1.0, 0.0, 1.0], p=[0.2, 0.5, 0.3], size=300)
    fast = bootstrap_mean(diffs, np.ones(300), n_boot=20_000, rng=np.random.default_rng(1))
    idx = np.random.default_rng(2).integers(0, 300, size=(20_000, 300))
    slow = diffs[idx].mean(axis=1)
    for q in (0.025, 0.5, 0.975):
        assert np.quantile(fast, q) == pytest.approx(np.quantile(slow, q), abs=0.01)
    assert fast.std() == pytest.approx(slow.std(), rel=0.05)


def test_cluster_bootstrap_with_unequal_epochs_centres_on_the_pair_mean() -> None:
    sums = np.array([1.0, 0.0, 3.0, -1.0])
    counts = np.array([1.0, 2.0, 3.0, 1.0])
    boot = bootstrap_mean(sums, counts, n_boot=5_000, rng=np.random.default_rng(0))
    assert boot.mean() == pytest.approx(sums.sum() / counts.sum(), abs=0.05)
    assert boot.min() >= -1.0
    assert boot.max() <= 1.0


def test_minimum_detectable_effect_matches_the_normal_power_formula() -> None:
    mde = minimum_detectable_effect(0.5, 200, alpha=0.025)
    expected = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 0.5 / math.sqrt(200)
    assert mde == pytest.approx(expected)
    # At that true effect a one-sided z-test at 0.025 has 80% power.
    power = stats.norm.cdf(mde * math.sqrt(200) / 0.5 - stats.norm.ppf(0.975))
    assert power == pytest.approx(0.8)
    assert math.isnan(minimum_detectable_effect(0.5, 1, alpha=0.025))


# --- pairing, McNemar counts, win/tie/loss -----------------------------------------------


def test_pairs_by_sample_and_epoch_and_counts_dropped_pairs() -> None:
    v1 = _scores({"v1": {"exact": _binary(10, 5)}})
    v2 = _scores({"v2": {"exact": _binary(11, 5)}})
    v2 = v2.loc[v2["sample_id"] != "s0000"]  # v2 lacks s0000 and has an extra s0010
    result = compare_versions(
        pd.concat([v1, v2]), baseline="v1", candidate="v2", metrics={}, n_boot=500
    )
    assert result.n_pairs == 9
    assert result.dropped_baseline_only == 1
    assert result.dropped_candidate_only == 1
    exact = result.metrics[0]
    assert exact.n == 9
    assert exact.n_dropped == 2


def test_mcnemar_and_win_tie_loss_counts_from_a_constructed_table() -> None:
    # 40 both pass, 10 only v1 passes, 25 only v2 passes, 25 both fail.
    v1 = [1.0] * 40 + [1.0] * 10 + [0.0] * 25 + [0.0] * 25
    v2 = [1.0] * 40 + [0.0] * 10 + [1.0] * 25 + [0.0] * 25
    scores = _scores({"v1": {"exact": v1}, "v2": {"exact": v2}})
    m = compare_versions(scores, baseline="v1", candidate="v2", metrics={}, n_boot=500).metrics[0]
    assert (m.mcnemar_b, m.mcnemar_c) == (10, 25)
    assert m.mcnemar_method == "chi2"
    assert m.mcnemar_p == pytest.approx(stats.chi2.sf((15 - 1) ** 2 / 35, df=1))
    assert (m.wins, m.ties, m.losses) == (25, 65, 10)
    assert m.baseline_mean == pytest.approx(0.5)
    assert m.candidate_mean == pytest.approx(0.65)


def test_epochs_are_paired_and_resampled_by_sample() -> None:
    rows = []
    for version, shift in (("v1", 0.0), ("v2", 0.1)):
        for i in range(30):
            for epoch in range(3):
                rows.append((version, f"s{i}", epoch, "score", 0.5 + shift + 0.01 * epoch, pd.NA))
    scores = pd.DataFrame(
        rows, columns=["version", "sample_id", "epoch", "metric", "value", "passed"]
    )
    m = compare_versions(scores, baseline="v1", candidate="v2", metrics={}, n_boot=500).metrics[0]
    assert (m.n, m.n_units) == (90, 30)
    assert m.mean_diff == pytest.approx(0.1)
    assert m.mcnemar_b is None


# --- the gate ---------------------------------------------------------------------------


def _gate_run(v1: list[float], v2: list[float], margin: float = 0.05) -> tuple[bool, list[str]]:
    scores = _scores({"v1": {"exact": v1}, "v2": {"exact": v2}})
    result = compare_versions(
        scores, baseline="v1", candidate="v2", metrics={"exact": MetricGate(margin=margin)}
    )
    return result.gate.passed, result.gate.reasons


def test_gate_passes_when_the_candidate_improves() -> None:
    # 60% -> 80% on 300 samples: v2 fixes 70 failures and breaks 10 passes.
    v1 = [1.0] * 170 + [1.0] * 10 + [0.0] * 70 + [0.0] * 50
    v2 = [1.0] * 170 + [0.0] * 10 + [1.0] * 70 + [0.0] * 50
    passed, reasons = _gate_run(v1, v2)
    assert passed
    assert reasons[0].startswith("exact (higher is better, margin 0.05): PASS")


def test_gate_fails_when_the_candidate_regresses_beyond_the_margin() -> None:
    v1 = [1.0] * 170 + [1.0] * 70 + [0.0] * 10 + [0.0] * 50
    v2 = [1.0] * 170 + [0.0] * 70 + [1.0] * 10 + [0.0] * 50
    passed, reasons = _gate_run(v1, v2)
    assert not passed
    assert "FAIL" in reasons[0]
    assert "below -0.05" in reasons[0]


def test_gate_passes_when_the_versions_are_level() -> None:
    # Same pass rate (70%), 15 discordant pairs each way on 400 samples.
    v1 = [1.0] * 265 + [1.0] * 15 + [0.0] * 15 + [0.0] * 105
    v2 = [1.0] * 265 + [0.0] * 15 + [1.0] * 15 + [0.0] * 105
    passed, _ = _gate_run(v1, v2)
    assert passed


def test_gate_fails_when_level_but_too_few_samples_for_the_margin() -> None:
    # Level again, but 40 samples cannot show non-inferiority within 0.05.
    v1 = [1.0] * 20 + [1.0] * 6 + [0.0] * 6 + [0.0] * 8
    v2 = [1.0] * 20 + [0.0] * 6 + [1.0] * 6 + [0.0] * 8
    passed, _ = _gate_run(v1, v2)
    assert not passed


def test_gate_on_a_lower_is_better_cost_metric() -> None:
    rng = np.random.default_rng(0)
    cost_v1 = rng.gamma(2.0, 0.001, size=200)
    cheaper = _scores({"v1": {"cost_usd": list(cost_v1)}, "v2": {"cost_usd": list(cost_v1 * 0.7)}})
    dearer = _scores({"v1": {"cost_usd": list(cost_v1)}, "v2": {"cost_usd": list(cost_v1 * 1.5)}})
    gate = {"cost_usd": MetricGate(margin=0.0002, higher_is_better=False)}
    ok = compare_versions(cheaper, baseline="v1", candidate="v2", metrics=gate)
    bad = compare_versions(dearer, baseline="v1", candidate="v2", metrics=gate)
    assert ok.metrics[0].mean_diff > 0  # sign-adjusted: cheaper is better
    assert ok.gate.passed
    assert bad.metrics[0].mean_diff < 0
    assert not bad.gate.passed


def test_holm_levels_across_two_gated_metrics() -> None:
    v1 = [1.0] * 280 + [0.0] * 120
    v2 = [1.0] * 300 + [0.0] * 100
    rng = np.random.default_rng(5)
    q1 = list(rng.normal(0.5, 0.1, size=400))
    q2 = list(np.array(q1) + rng.normal(0.0, 0.05, size=400))
    scores = _scores({"v1": {"exact": v1, "judge": q1}, "v2": {"exact": v2, "judge": q2}})
    gates = {"exact": MetricGate(margin=0.05), "judge": MetricGate(margin=0.05)}
    result = compare_versions(scores, baseline="v1", candidate="v2", metrics=gates)
    levels = sorted(m.gate_level for m in result.metrics if m.gate_level is not None)
    assert levels == pytest.approx([0.0125, 0.025])
    assert result.gate.passed
    frame = result.to_frame()
    assert list(frame["metric"]) == ["exact", "judge"]
    assert frame["non_inferior"].tolist() == [True, True]


def test_ungated_metrics_are_compared_but_do_not_gate() -> None:
    v1 = [1.0] * 300 + [0.0] * 100
    scores = _scores(
        {
            "v1": {"exact": v1, "latency_ms": [100.0] * 400},
            "v2": {"exact": v1, "latency_ms": [900.0] * 400},
        }
    )
    result = compare_versions(
        scores, baseline="v1", candidate="v2", metrics={"exact": MetricGate(margin=0.01)}
    )
    latency = next(m for m in result.metrics if m.metric == "latency_ms")
    assert not latency.gated
    assert latency.higher_is_better is False
    assert latency.mean_diff == pytest.approx(-800.0)
    assert latency.p_noninferiority is None
    assert result.gate.passed
    assert len(result.gate.reasons) == 1


def test_same_seed_same_result() -> None:
    rng = np.random.default_rng(1)
    values = list(rng.normal(size=100))
    scores = _scores({"v1": {"q": values}, "v2": {"q": [v + 0.1 for v in values[::-1]]}})
    first = compare_versions(scores, baseline="v1", candidate="v2", metrics={}, seed=3)
    second = compare_versions(scores, baseline="v1", candidate="v2", metrics={}, seed=3)
    assert first == second


# --- bad input ------------------------------------------------------------------------------


def test_bad_inputs_raise_eval_error() -> None:
    scores = _scores({"v1": {"exact": [1.0, 0.0]}, "v2": {"exact": [1.0, 1.0]}})
    with pytest.raises(EvalError, match="lack column"):
        compare_versions(scores.drop(columns="passed"), baseline="v1", candidate="v2", metrics={})
    with pytest.raises(EvalError, match="same version"):
        compare_versions(scores, baseline="v1", candidate="v1", metrics={})
    with pytest.raises(EvalError, match="no scores for version 'v3'"):
        compare_versions(scores, baseline="v1", candidate="v3", metrics={})
    with pytest.raises(EvalError, match=r"gated metric\(s\) \['judge'\]"):
        compare_versions(
            scores, baseline="v1", candidate="v2", metrics={"judge": MetricGate(margin=0.1)}
        )
    with pytest.raises(EvalError, match="duplicate"):
        compare_versions(
            pd.concat([scores, scores.iloc[:1]]), baseline="v1", candidate="v2", metrics={}
        )
    other = scores.assign(sample_id=scores["sample_id"] + scores["version"])
    with pytest.raises(EvalError, match="share no"):
        compare_versions(other, baseline="v1", candidate="v2", metrics={})
