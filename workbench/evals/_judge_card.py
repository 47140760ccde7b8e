"""The judge card: how well a judge agrees with people, and whether it may gate."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from workbench.errors import EvalError
from workbench.evals._stats_methods import percentile

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = ["JudgeCard", "cohen_kappa", "judge_card"]

LABEL_COLUMNS = ("sample_id", "judge_passed", "human_passed")


class JudgeCard(BaseModel):
    """Agreement of a pass/fail judge with human labels on a labelled slice."""

    model_config = ConfigDict(frozen=True)

    n: int
    """Labelled samples with both a judge and a human label."""
    kappa: float
    """Cohen's kappa: agreement beyond chance (1 perfect, 0 chance, < 0 worse than chance);
    NaN when both raters gave one single label to everything."""
    ci_low: float
    """Lower end of the bootstrap interval of kappa."""
    ci_high: float
    """Upper end of that interval."""
    agreement: float
    """Raw share of samples where judge and human agree."""
    may_gate: bool
    """True only when ``ci_low >= min_agreement``: the judge is good enough to gate even
    at the pessimistic end of its interval."""
    min_agreement: float
    """The bar kappa's lower bound had to reach."""
    confidence: float
    """Two-sided confidence of the interval."""
    reason: str
    """Why the judge may or may not gate, in one sentence."""


def cohen_kappa(rater_a: Any, rater_b: Any) -> float:
    """Cohen's (1960) kappa for two raters' pass/fail labels.

    ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and ``p_e`` the
    agreement expected from each rater's own pass rate.

    Args:
        rater_a: Booleans (any array-like).
        rater_b: Booleans, same length.

    Returns:
        Kappa; NaN when ``p_e == 1`` (both raters used one single label throughout).
    """
    a = np.asarray(rater_a, dtype=bool)
    b = np.asarray(rater_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"raters have different lengths: {a.shape} and {b.shape}")
    cells = np.array(
        [[(a & b).sum(), (a & ~b).sum(), (~a & b).sum(), (~a & ~b).sum()]], dtype=np.float64
    )
    return float(_kappa_of_cells(cells)[0])


def judge_card(
    labels: pd.DataFrame,
    *,
    min_agreement: float,
    confidence: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
) -> JudgeCard:
    """The judge card of a labelled slice: kappa with a bootstrap interval, and may_gate.

    The judge may gate only when the interval's **lower** bound reaches
    ``min_agreement``: a small slice with a lucky kappa does not qualify.

    Args:
        labels: Columns ``sample_id, judge_passed, human_passed`` (rows with a missing
            label are left out).
        min_agreement: The bar for kappa's lower bound (e.g. 0.6, "substantial").
        confidence: Two-sided confidence of the interval.
        n_boot: Bootstrap replicates.
        seed: Seed of the bootstrap.

    Returns:
        The card.

    Raises:
        EvalError: A column is missing or no row has both labels.
    """
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise EvalError(f"judge labels lack column(s) {missing}; expected {list(LABEL_COLUMNS)}")
    judge = labels["judge_passed"].astype("boolean")
    human = labels["human_passed"].astype("boolean")
    known = (judge.notna() & human.notna()).to_numpy(dtype=bool)
    n = int(known.sum())
    if n == 0:
        raise EvalError("judge labels have no row with both a judge and a human label")
    a = judge.to_numpy(dtype=bool, na_value=False)[known]
    b = human.to_numpy(dtype=bool, na_value=False)[known]
    kappa = cohen_kappa(a, b)
    agreement = float((a == b).mean())
    counts = np.array([(a & b).sum(), (a & ~b).sum(), (~a & b).sum(), (~a & ~b).sum()])
    # Resampling rows is the same as drawing the four cell counts from a multinomial.
    rng = np.random.default_rng(seed)
    cells = rng.multinomial(n, counts / n, size=n_boot).astype(np.float64)
    boot = _kappa_of_cells(cells)
    boot = boot[~np.isnan(boot)]
    alpha = (1.0 - confidence) / 2.0
    if math.isnan(kappa) or len(boot) == 0:
        ci_low = ci_high = math.nan
    else:
        ci_low, ci_high = percentile(boot, alpha), percentile(boot, 1.0 - alpha)
    may_gate = not math.isnan(ci_low) and ci_low >= min_agreement
    if math.isnan(kappa):
        reason = "kappa is undefined: judge and humans each gave a single label to every sample"
    elif may_gate:
        reason = f"kappa {kappa:.3f} with lower bound {ci_low:.3f} >= {min_agreement}: may gate"
    else:
        reason = (
            f"kappa {kappa:.3f} with lower bound {ci_low:.3f} < {min_agreement} on n={n}: "
            "may not gate (more labels or a better judge)"
        )
    return JudgeCard(
        n=n,
        kappa=kappa,
        ci_low=ci_low,
        ci_high=ci_high,
        agreement=agreement,
        may_gate=may_gate,
        min_agreement=min_agreement,
        confidence=confidence,
        reason=reason,
    )


def _kappa_of_cells(cells: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Kappa per row of 2x2 counts ``[both pass, a only, b only, both fail]``."""
    n = cells.sum(axis=1)
    pp, pf, fp, ff = (cells[:, i] / n for i in range(4))
    p_o = pp + ff
    p_e = (pp + pf) * (pp + fp) + (fp + ff) * (pf + ff)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(p_e < 1.0, (p_o - p_e) / (1.0 - p_e), np.nan)
    return np.asarray(kappa, dtype=np.float64)
