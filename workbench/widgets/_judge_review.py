"""JudgeReview: a person agrees with or overrides each judge verdict; labels feed the card.

:class:`JudgeReviewModel` holds the judge's verdicts (sample, output, passed, score,
reason), records each human label as a ``judge_labels`` row in the trace store (through
the tracer) and computes :func:`~workbench.evals.judge_card` over the
labels so far: the agreement figure that decides whether the judge may gate.
:class:`JudgeReview` is the ipywidgets view.
"""

from __future__ import annotations

import html
import json
import time
from typing import TYPE_CHECKING, Any

import ipywidgets  # type: ignore[import-untyped]
import pandas as pd  # type: ignore[import-untyped]

from workbench.errors import EvalError
from workbench.tracing import Tracer, TraceStore, get_tracer
from workbench.widgets._base import (
    WidgetModel,
    describe_error,
    error_label,
    html_table,
    on_kernel_thread,
    show_error,
)

if TYPE_CHECKING:
    from workbench.evals import JudgeCard

__all__ = ["JUDGE_LABELS", "VERDICT_COLUMNS", "JudgeReview", "JudgeReviewModel"]

JUDGE_LABELS = "judge_labels"
"""``records.table_name`` of human labels of judge verdicts."""

VERDICT_COLUMNS = ("sample_id", "input", "output", "judge_passed", "judge_score", "judge_reason")
"""Columns a verdicts frame needs (``input`` and ``judge_score`` may be empty)."""


class JudgeReviewModel(WidgetModel):
    """Judge verdicts, the human labels given so far, and the judge card.

    Args:
        verdicts: One row per judged output with :data:`VERDICT_COLUMNS`.
        run_id: The eval run the verdicts belong to (recorded with each label).
        reviewer: Who labels (recorded with each label).
        min_agreement: The bar the card's kappa lower bound must reach to gate.
        tracer: Where label rows go; the process tracer if omitted.
        labels: Labels given earlier (``sample_id, human_passed``), e.g. from
            :meth:`stored_labels`.
    """

    def __init__(
        self,
        verdicts: pd.DataFrame,
        *,
        run_id: str | None = None,
        reviewer: str = "notebook",
        min_agreement: float = 0.6,
        tracer: Tracer | None = None,
        labels: pd.DataFrame | None = None,
    ) -> None:
        super().__init__()
        missing = [c for c in ("sample_id", "output", "judge_passed") if c not in verdicts]
        if missing:
            raise EvalError(f"judge verdicts lack column(s) {missing}")
        frame = verdicts.copy()
        for column in VERDICT_COLUMNS:
            if column not in frame:
                frame[column] = None
        self.verdicts = frame.reset_index(drop=True)
        self.run_id = run_id
        self.reviewer = reviewer
        self.min_agreement = min_agreement
        self._tracer = tracer
        self.human: dict[str, bool] = {}
        """Human label per sample id."""
        if labels is not None:
            for sid, passed in zip(labels["sample_id"], labels["human_passed"], strict=True):
                self.human[str(sid)] = bool(passed)
        self.index = 0
        """Position of the verdict under review."""

    @classmethod
    def from_store(
        cls, store: TraceStore, run_id: str, *, version: str | None = None, **options: Any
    ) -> JudgeReviewModel:
        """The judge verdicts of eval run ``run_id`` (``eval_samples`` rows with a judge),
        with the labels already stored for it.

        Raises:
            EvalError: The run has no judged sample.
        """
        query = (
            "SELECT sample_id, version, input, answer AS output, judge FROM eval_samples "
            "WHERE run_id = ? AND judge IS NOT NULL"
        )
        params: list[Any] = [run_id]
        if version is not None:
            query += " AND version = ?"
            params.append(version)
        rows = store.sql(query + " ORDER BY sample_id, epoch", params)
        if rows.empty:
            raise EvalError(f"eval run {run_id!r} has no judged sample in the trace store")
        judged = [json.loads(j) if isinstance(j, str) else dict(j) for j in rows["judge"]]
        verdicts = pd.DataFrame(
            {
                "sample_id": rows["sample_id"].astype(str),
                "input": rows["input"],
                "output": rows["output"],
                "judge_passed": [bool(j.get("passed")) for j in judged],
                "judge_score": [j.get("score") for j in judged],
                "judge_reason": [j.get("reason", "") for j in judged],
            }
        ).drop_duplicates("sample_id", keep="last")
        labels = cls.stored_labels(store, run_id)
        return cls(verdicts, run_id=run_id, labels=labels, **options)

    @staticmethod
    def stored_labels(store: TraceStore, run_id: str | None = None) -> pd.DataFrame:
        """The newest human label per sample stored as ``judge_labels`` rows."""
        where = "table_name = ?" + (" AND (row ->> 'run_id') = ?" if run_id else "")
        params = [JUDGE_LABELS, run_id] if run_id else [JUDGE_LABELS]
        return store.sql(
            "SELECT row ->> 'sample_id' AS sample_id, "
            "arg_max(TRY_CAST(row ->> 'human_passed' AS BOOLEAN), recorded_at) AS human_passed, "
            "arg_max(TRY_CAST(row ->> 'judge_passed' AS BOOLEAN), recorded_at) AS judge_passed "
            f"FROM records WHERE {where} GROUP BY 1 ORDER BY 1",
            params,
        )

    # -- review ---------------------------------------------------------------------

    @property
    def current(self) -> dict[str, Any]:
        """The verdict under review, as a dict of :data:`VERDICT_COLUMNS`."""
        return {c: self.verdicts.at[self.index, c] for c in VERDICT_COLUMNS}

    def go(self, index: int) -> None:
        """Review the verdict at ``index`` (clamped to the range)."""
        self.index = max(0, min(index, len(self.verdicts) - 1))
        self.changed("selection")

    def agree(self, sample_id: str | None = None) -> None:
        """The human agrees with the judge on ``sample_id`` (default: the current one)."""
        row = self._row(sample_id)
        self._label(row, bool(row["judge_passed"]))

    def override(self, passed: bool, sample_id: str | None = None) -> None:
        """The human says the output ``passed`` (or not), whatever the judge said."""
        self._label(self._row(sample_id), passed)

    def labels(self) -> pd.DataFrame:
        """``sample_id, judge_passed, human_passed`` of every labelled verdict."""
        rows = [
            (str(sid), bool(jp), self.human[str(sid)])
            for sid, jp in zip(
                self.verdicts["sample_id"], self.verdicts["judge_passed"], strict=True
            )
            if str(sid) in self.human
        ]
        return pd.DataFrame(rows, columns=["sample_id", "judge_passed", "human_passed"])

    def card(self) -> JudgeCard | None:
        """The judge card over the labels so far (``None`` before the first label)."""
        from workbench.evals import judge_card

        labels = self.labels()
        if labels.empty:
            return None
        return judge_card(labels, min_agreement=self.min_agreement, n_boot=2000)

    # -- internals ------------------------------------------------------------------

    def _row(self, sample_id: str | None) -> dict[str, Any]:
        if sample_id is None:
            return self.current
        hits = self.verdicts.index[self.verdicts["sample_id"].astype(str) == sample_id]
        if len(hits) == 0:
            raise EvalError(f"no judge verdict for sample {sample_id!r}")
        self.index = int(hits[0])
        return self.current

    def _label(self, row: dict[str, Any], human_passed: bool) -> None:
        sid = str(row["sample_id"])
        self.human[sid] = human_passed
        tracer = self._tracer or get_tracer()
        tracer.record(
            JUDGE_LABELS,
            {
                "run_id": self.run_id,
                "sample_id": sid,
                "judge_passed": bool(row["judge_passed"]),
                "human_passed": human_passed,
                "agrees": bool(row["judge_passed"]) == human_passed,
                "reviewer": self.reviewer,
                "labelled_at": time.time(),
            },
        )
        if self.index < len(self.verdicts) - 1:
            self.index += 1
        self.changed("labels")


class JudgeReview(ipywidgets.VBox):  # type: ignore[misc]
    """The view: one verdict with its reason, Agree / Pass / Fail, the card's agreement.

    Args:
        verdicts: A verdicts frame (or pass ``model=``).
        model: An existing :class:`JudgeReviewModel`.
        **options: Passed to :class:`JudgeReviewModel`.
    """

    def __init__(
        self,
        verdicts: pd.DataFrame | None = None,
        *,
        model: JudgeReviewModel | None = None,
        **options: Any,
    ) -> None:
        if model is None:
            if verdicts is None:
                raise ValueError("JudgeReview needs verdicts or a model")
            model = JudgeReviewModel(verdicts, **options)
        self.model = model
        self.position = ipywidgets.HTML()
        self.verdict = ipywidgets.HTML()
        self.agree_button = ipywidgets.Button(description="Agree", button_style="success")
        self.pass_button = ipywidgets.Button(description="Override: pass")
        self.fail_button = ipywidgets.Button(description="Override: fail")
        self.prev_button = ipywidgets.Button(description="◀")
        self.next_button = ipywidgets.Button(description="▶")
        self.card = ipywidgets.HTML()
        self.card.add_class("wb-judge-card")
        self.error = error_label()
        m = model
        self.agree_button.on_click(lambda _b: m.attempt(m.agree))
        self.pass_button.on_click(lambda _b: m.attempt(lambda: m.override(True)))
        self.fail_button.on_click(lambda _b: m.attempt(lambda: m.override(False)))
        self.prev_button.on_click(lambda _b: m.go(m.index - 1))
        self.next_button.on_click(lambda _b: m.go(m.index + 1))
        super().__init__(
            [
                ipywidgets.HBox([self.prev_button, self.position, self.next_button]),
                self.verdict,
                ipywidgets.HBox([self.agree_button, self.pass_button, self.fail_button]),
                self.card,
                self.error,
            ]
        )
        model.observe(on_kernel_thread(self.refresh))
        self.refresh()

    def refresh(self) -> None:
        """Render the current verdict, its label and the card."""
        m = self.model
        row = m.current
        sid = str(row["sample_id"])
        label = m.human.get(sid)
        self.position.value = (
            f"&nbsp;{m.index + 1} / {len(m.verdicts)} · labelled {len(m.human)}&nbsp;"
        )
        judged = "PASS" if row["judge_passed"] else "FAIL"
        human = "—" if label is None else ("PASS" if label else "FAIL")
        self.verdict.value = html_table(
            ["sample", "input", "output", "judge", "score", "reason", "human"],
            [
                (
                    sid,
                    row["input"],
                    row["output"],
                    judged,
                    row["judge_score"],
                    row["judge_reason"],
                    human,
                )
            ],
        )
        try:
            card = m.card()
        except Exception as exc:  # an undefined card is shown, not raised
            self.card.value = f"<i>judge card unavailable: {html.escape(describe_error(exc))}</i>"
            card = None
        else:
            if card is None:
                self.card.value = "<i>no labels yet: agree or override to measure the judge</i>"
        if card is not None:
            self.card.value = (
                f"judge card: n={card.n} · agreement {card.agreement:.0%} · "
                f"kappa {card.kappa:.2f} [{card.ci_low:.2f}, {card.ci_high:.2f}] · "
                f"<b>{'may gate' if card.may_gate else 'may not gate'}</b><br>"
                f"<i>{html.escape(card.reason)}</i>"
            )
        show_error(self.error, m.error)
