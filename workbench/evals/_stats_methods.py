"""The statistical methods behind :func:`compare_versions`, each small and testable alone.

Everything here is plain numpy and the standard library (no scipy at run time); the
tests check each method against scipy or a published worked example.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

__all__ = [
    "McNemarResult",
    "bootstrap_mean",
    "holm_adjust",
    "mcnemar",
    "minimum_detectable_effect",
    "percentile",
]

FloatArray = npt.NDArray[np.float64]

_EXACT_BELOW = 25
"""McNemar uses the exact binomial test when fewer discordant pairs than this."""
_DISCRETE_MAX = 256
"""Unit values with at most this many distinct levels are bootstrapped via multinomial counts."""
_CHUNK_CELLS = 2_000_000
"""Resampled indexes held in memory at once by the generic bootstrap (about 8 MB)."""


class McNemarResult(BaseModel):
    """McNemar's test on the discordant pairs of a paired pass/fail metric."""

    model_config = ConfigDict(frozen=True)

    b: int
    """Pairs where only the baseline passed."""
    c: int
    """Pairs where only the candidate passed."""
    statistic: float
    """The chi-square statistic with continuity correction, or ``min(b, c)`` when exact."""
    p_value: float
    """Two-sided p-value of "both versions pass equally often"."""
    method: Literal["exact", "chi2"]
    """``"exact"`` (binomial, when ``b + c < 25``) or ``"chi2"`` (with continuity correction)."""


def mcnemar(b: int, c: int) -> McNemarResult:
    """McNemar's test of marginal homogeneity for paired pass/fail outcomes.

    Exact two-sided binomial test (``Binomial(b + c, 1/2)``) when there are fewer than
    25 discordant pairs, else the chi-square test with Edwards' continuity correction,
    ``(|b - c| - 1)^2 / (b + c)`` on one degree of freedom.

    Args:
        b: Pairs where only the baseline passed.
        c: Pairs where only the candidate passed.

    Returns:
        The counts, statistic, two-sided p-value and the method used.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n < _EXACT_BELOW:
        k = min(b, c)
        # Binomial(n, 1/2) is symmetric, so the two-sided p is twice the smaller tail.
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n if n else 1.0
        return McNemarResult(
            b=b, c=c, statistic=float(k), p_value=min(1.0, 2.0 * tail), method="exact"
        )
    statistic = (abs(b - c) - 1.0) ** 2 / n
    # Survival function of chi-square with one degree of freedom.
    p_value = math.erfc(math.sqrt(statistic / 2.0))
    return McNemarResult(b=b, c=c, statistic=statistic, p_value=p_value, method="chi2")


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the order given.

    ``p_adj(i) = max_{j <= i} min(1, (m - j + 1) * p_(j))`` over the ascending order;
    a hypothesis is rejected at family-wise level ``alpha`` when its adjusted p-value
    is below ``alpha``. NaN p-values (untestable metrics) stay NaN and do not count.

    Args:
        p_values: Raw p-values, one per hypothesis.

    Returns:
        Adjusted p-values, in the same order.
    """
    finite = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    finite.sort()
    m = len(finite)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


def percentile(boot: FloatArray, q: float) -> float:
    """The ``q`` quantile of a bootstrap distribution (inverted CDF: an observed value).

    With this definition ``percentile(boot, a) < x`` exactly when
    ``mean(boot < x) >= a``, so a bound and the matching p-value never disagree.
    """
    return float(np.quantile(boot, q, method="inverted_cdf"))


def bootstrap_mean(
    unit_sums: FloatArray,
    unit_counts: FloatArray,
    *,
    n_boot: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Bootstrap distribution of a paired mean difference, resampling whole units.

    A unit is one sample id; it holds the sum of its per-epoch differences and how many
    epochs it has, so epochs of one sample are resampled together (a cluster bootstrap;
    with one epoch each this is the ordinary paired bootstrap). Each replicate is
    ``sum(sums[idx]) / sum(counts[idx])`` for ``n_units`` units drawn with replacement.

    Vectorised: unit values with few distinct levels (pass/fail, 1-5 scores) are drawn
    as multinomial counts over the levels, which is the same distribution as resampling
    indexes and costs ``O(n_boot * levels)``; other data resample index blocks of about
    two million cells at a time.

    Args:
        unit_sums: Sum of the differences of each unit.
        unit_counts: Number of pairs in each unit (all >= 1).
        n_boot: Number of replicates.
        rng: The random generator (seeded by the caller).

    Returns:
        ``n_boot`` replicate means.
    """
    k = len(unit_sums)
    if k == 0:
        return np.full(n_boot, np.nan)
    if np.all(unit_counts == unit_counts[0]):
        values = unit_sums / unit_counts[0]
        levels, counts = np.unique(values, return_counts=True)
        if len(levels) <= _DISCRETE_MAX:
            draws = rng.multinomial(k, counts / k, size=n_boot)
            return np.asarray(draws @ levels / k, dtype=np.float64)
        return _resample(values, np.ones(k), n_boot, rng)
    return _resample(unit_sums, unit_counts, n_boot, rng)


def _resample(
    sums: FloatArray, counts: FloatArray, n_boot: int, rng: np.random.Generator
) -> FloatArray:
    k = len(sums)
    out = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, _CHUNK_CELLS // k)
    equal = bool(np.all(counts == counts[0]))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, k, size=(stop - start, k), dtype=np.int32)
        if equal:
            out[start:stop] = sums[idx].mean(axis=1) / counts[0]
        else:
            out[start:stop] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return out


def minimum_detectable_effect(sd: float, n: int, *, alpha: float, power: float = 0.8) -> float:
    """Smallest true paired difference a one-sided test at ``alpha`` detects with ``power``.

    ``(z_{1-alpha} + z_{power}) * sd / sqrt(n)``, the normal approximation for a paired
    design with ``n`` independent units whose differences have standard deviation ``sd``.

    Args:
        sd: Standard deviation of the unit differences.
        n: Number of units.
        alpha: One-sided significance level.
        power: Wanted power.

    Returns:
        The effect, in the metric's own unit; NaN when ``n < 2``.
    """
    if n < 2 or math.isnan(sd):
        return math.nan
    normal = NormalDist()
    return (normal.inv_cdf(1.0 - alpha) + normal.inv_cdf(power)) * sd / math.sqrt(n)
