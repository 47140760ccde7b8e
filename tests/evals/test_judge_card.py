"""The judge card: Cohen's kappa against a textbook example, its interval, may_gate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.errors import EvalError
from workbench.evals._judge_card import cohen_kappa, judge_card


def _labels(both_pass: int, judge_only: int, human_only: int, both_fail: int) -> pd.DataFrame:
    judge = [True] * both_pass + [True] * judge_only + [False] * human_only + [False] * both_fail
    human = [True] * both_pass + [False] * judge_only + [True] * human_only + [False] * both_fail
    return pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(len(judge))],
            "judge_passed": judge,
            "human_passed": human,
        }
    )


def test_kappa_matches_the_textbook_example() -> None:
    # Wikipedia, "Cohen's kappa", simple example: 50 grant proposals read by readers A
    # and B; 20 both yes, 15 both no, 5 only A yes, 10 only B yes. p_o = 0.7,
    # p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, so kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    labels = _labels(both_pass=20, judge_only=5, human_only=10, both_fail=15)
    assert cohen_kappa(labels["judge_passed"], labels["human_passed"]) == pytest.approx(0.4)
    card = judge_card(labels, min_agreement=0.2)
    assert card.n == 50
    assert card.kappa == pytest.approx(0.4)
    assert card.agreement == pytest.approx(0.7)
    assert card.ci_low < 0.4 < card.ci_high


def test_kappa_interval_agrees_with_the_large_sample_standard_error() -> None:
    # Same table, 8 times as many samples: the bootstrap interval should be close to
    # kappa +- 1.96 * SE, with Cohen's (1960) approximate SE sqrt(p_o(1-p_o)/(n(1-p_e)^2)).
    labels = _labels(both_pass=160, judge_only=40, human_only=80, both_fail=120)
    card = judge_card(labels, min_agreement=0.2)
    se = math.sqrt(0.7 * 0.3 / (400 * 0.5**2))
    assert card.ci_low == pytest.approx(0.4 - 1.96 * se, abs=0.02)
    assert card.ci_high == pytest.approx(0.4 + 1.96 * se, abs=0.02)


def test_may_gate_uses_the_lower_bound_not_the_point_estimate() -> None:
    # kappa = 0.7 on 20 samples: above a 0.6 bar, but the interval is too wide to trust.
    small = _labels(both_pass=8, judge_only=1, human_only=2, both_fail=9)
    small_card = judge_card(small, min_agreement=0.6)
    assert small_card.kappa > 0.6
    assert small_card.ci_low < 0.6
    assert not small_card.may_gate
    assert "may not gate" in small_card.reason
    large = _labels(both_pass=400, judge_only=20, human_only=20, both_fail=360)
    large_card = judge_card(large, min_agreement=0.6)
    assert large_card.ci_low >= 0.6
    assert large_card.may_gate


def test_degenerate_and_bad_labels() -> None:
    same = _labels(both_pass=10, judge_only=0, human_only=0, both_fail=0)
    card = judge_card(same, min_agreement=0.0)
    assert math.isnan(card.kappa)
    assert not card.may_gate
    assert card.agreement == 1.0
    with pytest.raises(EvalError, match="lack column"):
        judge_card(same.drop(columns="human_passed"), min_agreement=0.5)
    empty = same.assign(human_passed=pd.array([pd.NA] * 10, dtype="boolean"))
    with pytest.raises(EvalError, match="no row"):
        judge_card(empty, min_agreement=0.5)


def test_rows_with_a_missing_label_are_left_out() -> None:
    labels = _labels(both_pass=20, judge_only=5, human_only=10, both_fail=15)
    extra = pd.DataFrame(
        {"sample_id": ["x1", "x2"], "judge_passed": [True, None], "human_passed": [None, False]}
    )
    card = judge_card(pd.concat([labels, extra], ignore_index=True), min_agreement=0.2)
    assert card.n == 50
    assert card.kappa == pytest.approx(0.4)
    assert np.isfinite(card.ci_low)
