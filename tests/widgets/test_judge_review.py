"""JudgeReview driven from Python: agree or override, labels stored, the card follows."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import pytest

from workbench.errors import EvalError
from workbench.evals._judge_card import judge_card
from workbench.tracing import TraceStore, get_tracer
from workbench.widgets import JUDGE_LABELS, JudgeReview, JudgeReviewModel


def _verdicts(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "input": [f"q{i}" for i in range(n)],
            "output": [f"answer {i}" for i in range(n)],
            "judge_passed": [i % 2 == 0 for i in range(n)],
            "judge_score": [1.0 if i % 2 == 0 else 0.25 for i in range(n)],
            "judge_reason": [f"because {i}" for i in range(n)],
        }
    )


def test_labels_feed_the_judge_card_and_land_in_the_store(
    flushed: Callable[[], TraceStore],
) -> None:
    widget = JudgeReview(_verdicts(), run_id="run-1", reviewer="ana", min_agreement=0.6)
    model = widget.model
    assert model.card() is None
    assert "no labels yet" in widget.card.value
    assert "because 0" in widget.verdict.value
    for _ in range(6):
        widget.agree_button.click()  # agrees with s0..s5, moving on each time
    assert model.index == 6
    widget.pass_button.click()  # s6: judge said pass, human says pass too (an override to pass)
    widget.fail_button.click()  # s7: judge said fail, human says fail
    model.override(True, sample_id="s1")  # a change of mind: s1 passed after all
    labels = model.labels()
    assert labels["sample_id"].tolist() == [f"s{i}" for i in range(8)]
    expected = [i % 2 == 0 for i in range(8)]
    expected[1] = True
    assert labels["human_passed"].tolist() == expected
    card = model.card()
    assert card is not None
    reference = judge_card(labels, min_agreement=0.6, n_boot=2000)
    assert card.kappa == pytest.approx(reference.kappa)
    assert card.agreement == pytest.approx(7 / 8)
    assert f"agreement {7 / 8:.0%}" in widget.card.value

    store = flushed()
    rows = store.sql(
        "SELECT row ->> 'sample_id' AS sid, TRY_CAST(row ->> 'human_passed' AS BOOLEAN) AS h,"
        " row ->> 'reviewer' AS who FROM records WHERE table_name = ? ORDER BY recorded_at",
        [JUDGE_LABELS],
    )
    assert len(rows) == 9
    assert set(rows["who"]) == {"ana"}
    stored = JudgeReviewModel.stored_labels(store, "run-1")
    assert stored["human_passed"].tolist() == expected  # the newest label per sample wins


def test_verdicts_and_labels_are_read_back_from_an_eval_run(
    flushed: Callable[[], TraceStore],
) -> None:
    tracer = get_tracer()
    for i in range(4):
        tracer.record(
            "eval_samples",
            {
                "run_id": "run-2",
                "suite": "qa",
                "version": "v1",
                "sample_id": f"s{i}",
                "epoch": 0,
                "input": f"q{i}",
                "answer": f"a{i}",
                "judge": {"passed": i < 2, "score": 0.9 if i < 2 else 0.1, "reason": f"r{i}"},
            },
        )
    tracer.record(JUDGE_LABELS, {"run_id": "run-2", "sample_id": "s0", "human_passed": False})
    model = JudgeReviewModel.from_store(flushed(), "run-2")
    assert model.verdicts["judge_passed"].tolist() == [True, True, False, False]
    assert model.verdicts["judge_reason"].tolist() == ["r0", "r1", "r2", "r3"]
    assert model.human == {"s0": False}
    with pytest.raises(EvalError, match="no judged sample"):
        JudgeReviewModel.from_store(flushed(), "run-none")


def test_an_undefined_card_is_shown_not_raised() -> None:
    verdicts = _verdicts(2).assign(judge_passed=[True, True])
    widget = JudgeReview(verdicts)
    widget.agree_button.click()
    widget.agree_button.click()
    card = widget.model.card()
    assert card is not None
    assert card.may_gate is False
    assert "kappa nan" in widget.card.value
    assert "may not gate" in widget.card.value
    assert widget.model.error is None


def test_verdicts_without_required_columns_are_refused() -> None:
    with pytest.raises(EvalError, match="judge_passed"):
        JudgeReviewModel(pd.DataFrame({"sample_id": ["s"], "output": ["o"]}))
    verdicts = json.loads(json.dumps({"sample_id": ["s"], "output": ["o"], "judge_passed": [1]}))
    model = JudgeReviewModel(pd.DataFrame(verdicts))
    with pytest.raises(EvalError, match="no judge verdict"):
        model.agree("missing")
