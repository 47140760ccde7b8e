"""Paired comparison of two versions and the non-inferiority gate: :func:`compare_versions`.

Every comparison pairs the two versions' results by ``(sample_id, epoch)``. Per
metric it reports the means, the mean difference with a paired bootstrap interval,
win/tie/loss counts, McNemar's test for pass/fail metrics, a non-inferiority p-value,
Holm's correction across the gated metrics and a minimum detectable effect. The gate
is non-inferiority only: it never looks at a raw pass rate.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import EvalError
from workbench.evals._stats_methods import (
    bootstrap_mean,
    holm_adjust,
    mcnemar,
    minimum_detectable_effect,
    percentile,
)

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "LOWER_IS_BETTER",
    "Comparison",
    "GateVerdict",
    "MetricComparison",
    "MetricGate",
    "compare_versions",
]

LOWER_IS_BETTER = frozenset({"cost_usd", "latency_ms", "tokens"})
"""Metrics compared as lower-is-better when no :class:`MetricGate` says otherwise."""

SCORE_COLUMNS = ("version", "sample_id", "epoch", "metric", "value", "passed")
"""Columns of the long ``scores`` frame (the same as ``workbench.evals.SCORE_COLUMNS``)."""

_TIE = 1e-12
"""Differences smaller than this count as ties (float noise from costs and means)."""


class MetricGate(BaseModel):
    """How one metric gates a release: the non-inferiority margin and the direction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    margin: float = Field(ge=0)
    """How much worse the candidate may be, in the metric's unit (0.05 = five points of a
    pass rate, or 0.002 USD per sample). The gate fails when the lower confidence bound of
    the sign-adjusted difference is below ``-margin``."""
    higher_is_better: bool = True
    """``False`` for costs and latencies: the difference is then sign-adjusted so that a
    positive difference always means the candidate is better."""


class MetricComparison(BaseModel):
    """The paired comparison of one metric. Differences are sign-adjusted: > 0 is better."""

    model_config = ConfigDict(frozen=True)

    metric: str
    """Metric name (a scorer, ``cost_usd``, ``latency_ms``, ...)."""
    higher_is_better: bool
    """Direction used for the sign adjustment."""
    gated: bool
    """Whether the gate reads this metric."""
    margin: float | None
    """Non-inferiority margin of a gated metric."""
    n: int
    """Pairs (sample id, epoch) with a value in both versions."""
    n_units: int
    """Distinct sample ids among those pairs: the bootstrap's resampling units."""
    n_dropped: int
    """Pairs with this metric in only one version, or a missing value in either."""
    baseline_mean: float
    """Mean of the baseline over the pairs."""
    candidate_mean: float
    """Mean of the candidate over the pairs."""
    mean_diff: float
    """Mean sign-adjusted difference; positive means the candidate is better."""
    ci_low: float
    """Lower end of the two-sided paired bootstrap interval of ``mean_diff``."""
    ci_high: float
    """Upper end of that interval."""
    wins: int
    """Pairs where the candidate is better."""
    ties: int
    """Pairs where both are equal."""
    losses: int
    """Pairs where the candidate is worse."""
    mcnemar_b: int | None = None
    """Pass/fail metrics: pairs where only the baseline passed."""
    mcnemar_c: int | None = None
    """Pass/fail metrics: pairs where only the candidate passed."""
    mcnemar_p: float | None = None
    """Pass/fail metrics: McNemar's two-sided p-value (exact or chi-square)."""
    mcnemar_method: str | None = None
    """``"exact"`` or ``"chi2"``."""
    p_noninferiority: float | None = None
    """Gated metrics: bootstrap p-value of the null "difference <= -margin"."""
    p_holm: float | None = None
    """That p-value after Holm's correction across the gated metrics."""
    gate_level: float | None = None
    """One-sided level Holm gives this metric (``alpha / (m - rank + 1)``)."""
    gate_bound: float | None = None
    """Lower confidence bound at ``gate_level``: the number the gate compares to -margin."""
    non_inferior: bool | None = None
    """Gated metrics: whether non-inferiority was shown (after correction)."""
    mde: float
    """Minimum detectable effect: the true difference this many units detect with 80%
    power at the uncorrected one-sided level; NaN below two units."""


class GateVerdict(BaseModel):
    """The non-inferiority gate's answer: passed, and one plain sentence per gated metric."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    """True when every gated metric was shown non-inferior (or nothing is gated)."""
    reasons: list[str]
    """Why, one sentence per gated metric, failures first."""


class Comparison(BaseModel):
    """Result of :func:`compare_versions`: the metrics and how many pairs were dropped."""

    model_config = ConfigDict(frozen=True)

    baseline: str
    """The baseline version."""
    candidate: str
    """The candidate version."""
    confidence: float
    """Two-sided confidence of the intervals; the gate tests at ``(1 - confidence) / 2``."""
    n_boot: int
    """Bootstrap replicates per metric."""
    seed: int
    """Seed of the bootstrap."""
    n_pairs: int
    """(sample id, epoch) pairs present in both versions."""
    dropped_baseline_only: int
    """(sample id, epoch) pairs only the baseline has."""
    dropped_candidate_only: int
    """(sample id, epoch) pairs only the candidate has."""
    metrics: list[MetricComparison]
    """One entry per metric present in both versions, gated metrics first."""

    def to_frame(self) -> pd.DataFrame:
        """The metrics as a DataFrame, one row per metric (the columns of MetricComparison)."""
        import pandas as pd

        columns = list(MetricComparison.model_fields)
        return pd.DataFrame([m.model_dump() for m in self.metrics], columns=columns)

    @property
    def gate(self) -> GateVerdict:
        """The non-inferiority verdict over the gated metrics."""
        failing: list[str] = []
        passing: list[str] = []
        for m in self.metrics:
            if not m.gated:
                continue
            (passing if m.non_inferior else failing).append(_reason(m, self))
        return GateVerdict(passed=not failing, reasons=failing + passing)


def compare_versions(
    scores: pd.DataFrame,
    *,
    baseline: str,
    candidate: str,
    metrics: Mapping[str, MetricGate],
    confidence: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Compare ``candidate`` with ``baseline`` on paired samples and decide the gate.

    Pairs are ``(sample_id, epoch)`` present in both versions; the rest are counted as
    dropped. Every metric present in both versions is compared; the ones in ``metrics``
    are gated. The bootstrap resamples sample ids (all epochs of a sample together).

    Args:
        scores: Long frame with columns ``version, sample_id, epoch, metric, value,
            passed`` (``passed`` is bool or ``<NA>`` for metrics without pass/fail).
        baseline: The version to compare against (v1).
        candidate: The version under test (v2).
        metrics: The gated metrics and their margins and directions.
        confidence: Two-sided confidence of the intervals (0.95 gives a one-sided
            non-inferiority test at 0.025 per metric before Holm's correction).
        n_boot: Bootstrap replicates per metric.
        seed: Seed, so the same data always gives the same verdict.

    Returns:
        The comparison; ``.gate`` is the verdict, ``.to_frame()`` the table.

    Raises:
        EvalError: A column is missing, a version or gated metric has no scores, a
            (version, sample, epoch, metric) appears twice, or no pair is shared.
    """
    if not 0.5 <= confidence < 1.0:
        raise EvalError(f"confidence must be in [0.5, 1), got {confidence}")
    if n_boot < 100:
        raise EvalError(f"n_boot must be at least 100, got {n_boot}")
    if baseline == candidate:
        raise EvalError(f"baseline and candidate are the same version {baseline!r}")
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise EvalError(f"scores lack column(s) {missing}; expected {list(SCORE_COLUMNS)}")
    frame = scores.loc[scores["version"].isin([baseline, candidate]), list(SCORE_COLUMNS)]
    for version in (baseline, candidate):
        if not (frame["version"] == version).any():
            raise EvalError(f"no scores for version {version!r}")
    duplicated = frame.duplicated(["version", "sample_id", "epoch", "metric"])
    if duplicated.any():
        row = frame.loc[duplicated].iloc[0]
        raise EvalError(
            f"{int(duplicated.sum())} duplicate score row(s), e.g. version={row['version']!r} "
            f"sample_id={row['sample_id']!r} epoch={row['epoch']!r} metric={row['metric']!r}"
        )
    base = frame.loc[frame["version"] == baseline]
    cand = frame.loc[frame["version"] == candidate]
    base_pairs = set(zip(base["sample_id"], base["epoch"], strict=True))
    cand_pairs = set(zip(cand["sample_id"], cand["epoch"], strict=True))
    shared = base_pairs & cand_pairs
    if not shared:
        raise EvalError(f"{baseline!r} and {candidate!r} share no (sample_id, epoch) pair")
    common = sorted(set(base["metric"]) & set(cand["metric"]), key=str)
    absent = sorted(name for name in metrics if name not in common)
    if absent:
        raise EvalError(f"gated metric(s) {absent} have no scores in both versions")
    ordered = [name for name in common if name in metrics] + [
        name for name in common if name not in metrics
    ]
    alpha = (1.0 - confidence) / 2.0
    partial: list[_Partial] = []
    for name in ordered:
        gate = metrics.get(name)
        higher = gate.higher_is_better if gate is not None else name not in LOWER_IS_BETTER
        partial.append(
            _compare_metric(
                base.loc[base["metric"] == name],
                cand.loc[cand["metric"] == name],
                name=name,
                higher_is_better=higher,
                gate=gate,
                alpha=alpha,
                n_boot=n_boot,
                seed=seed,
            )
        )
    results = _apply_holm(partial, alpha)
    return Comparison(
        baseline=baseline,
        candidate=candidate,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
        n_pairs=len(shared),
        dropped_baseline_only=len(base_pairs - cand_pairs),
        dropped_candidate_only=len(cand_pairs - base_pairs),
        metrics=results,
    )


class _Partial:
    """A metric's comparison before Holm's correction, with its bootstrap replicates."""

    def __init__(self, fields: dict[str, Any], boot: np.ndarray[Any, Any]) -> None:
        self.fields = fields
        self.boot = boot


def _compare_metric(
    base: pd.DataFrame,
    cand: pd.DataFrame,
    *,
    name: str,
    higher_is_better: bool,
    gate: MetricGate | None,
    alpha: float,
    n_boot: int,
    seed: int,
) -> _Partial:
    keys = ["sample_id", "epoch"]
    merged = base.merge(cand, on=keys, how="outer", suffixes=("_b", "_c"))
    value_b = merged["value_b"].to_numpy(dtype=np.float64, na_value=np.nan)
    value_c = merged["value_c"].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = ~(np.isnan(value_b) | np.isnan(value_c))
    paired = merged.loc[ok]
    vb, vc = value_b[ok], value_c[ok]
    sign = 1.0 if higher_is_better else -1.0
    diff = sign * (vc - vb)
    n = len(diff)
    # Units are sample ids: epochs of one sample are resampled together.
    codes, uniques = _factorize(paired["sample_id"])
    unit_sums = np.bincount(codes, weights=diff, minlength=len(uniques)).astype(np.float64)
    unit_counts = np.bincount(codes, minlength=len(uniques)).astype(np.float64)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    boot = bootstrap_mean(unit_sums, unit_counts, n_boot=n_boot, rng=rng)
    unit_means = unit_sums / unit_counts if n else np.array([])
    sd = float(np.std(unit_means, ddof=1)) if len(unit_means) >= 2 else math.nan
    fields: dict[str, Any] = {
        "metric": name,
        "higher_is_better": higher_is_better,
        "gated": gate is not None,
        "margin": gate.margin if gate is not None else None,
        "n": n,
        "n_units": len(uniques),
        "n_dropped": len(merged) - n,
        "baseline_mean": float(vb.mean()) if n else math.nan,
        "candidate_mean": float(vc.mean()) if n else math.nan,
        "mean_diff": float(diff.mean()) if n else math.nan,
        "ci_low": percentile(boot, alpha) if n else math.nan,
        "ci_high": percentile(boot, 1.0 - alpha) if n else math.nan,
        "wins": int((diff > _TIE).sum()),
        "ties": int((np.abs(diff) <= _TIE).sum()),
        "losses": int((diff < -_TIE).sum()),
        "mde": minimum_detectable_effect(sd, len(uniques), alpha=alpha),
    }
    fields.update(_mcnemar_fields(paired))
    if gate is not None:
        fields["p_noninferiority"] = float(np.mean(boot < -gate.margin)) if n else math.nan
    return _Partial(fields, boot)


def _factorize(column: pd.Series) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    import pandas as pd

    codes, uniques = pd.factorize(column, sort=True)
    return np.asarray(codes, dtype=np.intp), np.asarray(uniques)


def _mcnemar_fields(paired: pd.DataFrame) -> dict[str, Any]:
    passed_b = paired["passed_b"].astype("boolean")
    passed_c = paired["passed_c"].astype("boolean")
    known = (passed_b.notna() & passed_c.notna()).to_numpy(dtype=bool)
    if not known.any():
        return {}
    pb = passed_b.to_numpy(dtype=bool, na_value=False)[known]
    pc = passed_c.to_numpy(dtype=bool, na_value=False)[known]
    result = mcnemar(int((pb & ~pc).sum()), int((~pb & pc).sum()))
    return {
        "mcnemar_b": result.b,
        "mcnemar_c": result.c,
        "mcnemar_p": result.p_value,
        "mcnemar_method": result.method,
    }


def _apply_holm(partial: list[_Partial], alpha: float) -> list[MetricComparison]:
    gated = [p for p in partial if p.fields["gated"]]
    adjusted = holm_adjust([p.fields["p_noninferiority"] for p in gated])
    # Holm's step-down: rank by raw p (untestable metrics last); the metric at rank j is
    # tested at alpha / (m - j + 1), and once one is not rejected no later one is.
    order = sorted(
        range(len(gated)),
        key=lambda i: (
            math.isnan(gated[i].fields["p_noninferiority"]),
            gated[i].fields["p_noninferiority"],
            gated[i].fields["metric"],
        ),
    )
    m = len(gated)
    still_rejecting = True
    for rank, i in enumerate(order):
        fields = gated[i].fields
        level = alpha / (m - rank)
        fields["p_holm"] = adjusted[i]
        fields["gate_level"] = level
        if fields["n"] == 0:
            fields["gate_bound"] = math.nan
            still_rejecting = False
            fields["non_inferior"] = False
            continue
        bound = percentile(gated[i].boot, level)
        fields["gate_bound"] = bound
        ok = still_rejecting and bound >= -fields["margin"]
        fields["non_inferior"] = ok
        still_rejecting = ok
    return [MetricComparison(**p.fields) for p in partial]


def _reason(m: MetricComparison, comparison: Comparison) -> str:
    direction = "higher" if m.higher_is_better else "lower"
    margin = m.margin if m.margin is not None else 0.0
    head = f"{m.metric} ({direction} is better, margin {_fmt(margin)})"
    if m.n == 0:
        return f"{head}: FAIL, no sample has a value in both versions"
    level = 1.0 - (m.gate_level if m.gate_level is not None else 0.0)
    bound = m.gate_bound if m.gate_bound is not None else math.nan
    change = (
        f"difference {_fmt(m.mean_diff)} ({comparison.candidate} vs {comparison.baseline}, "
        f"> 0 is better, n={m.n}); the {level:.2%} lower bound is {_fmt(bound)}"
    )
    if m.non_inferior:
        return f"{head}: PASS, {change}, not below -{_fmt(margin)}"
    if bound >= -margin:
        return (
            f"{head}: FAIL, {change}; Holm's procedure stopped at an earlier metric, "
            "so this one was not shown non-inferior"
        )
    return (
        f"{head}: FAIL, {change}, below -{_fmt(margin)}: {comparison.candidate} may be "
        f"worse than {comparison.baseline} by more than the margin"
    )


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "nan"
    return f"{x:.4g}"
