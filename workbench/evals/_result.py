"""A finished (or stopped) eval run, read back from the trace store as DataFrames."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd  # type: ignore[import-untyped]

from workbench.evals._records import load_run_state, load_sample_rows
from workbench.evals._suite import Suite
from workbench.tracing import TraceStore

if TYPE_CHECKING:
    from workbench.evals._judge_card import JudgeCard
    from workbench.evals._stats import Comparison, GateVerdict

__all__ = ["SCORE_COLUMNS", "EvalRun", "reduce_epochs"]

SCORE_COLUMNS = ("version", "sample_id", "epoch", "metric", "value", "passed")
"""Columns of :meth:`EvalRun.scores_frame` (the statistics' input)."""
_SAMPLE_COLUMNS = (
    "version",
    "sample_id",
    "epoch",
    "agent_name",
    "agent_version",
    "execution_id",
    "status",
    "cost_usd",
    "latency_ms",
    "tokens",
    "answer",
    "error",
)
_EXTRA_METRICS = ("cost_usd", "latency_ms")


def _pass_at_k(n: int, c: int, k: int) -> float:
    # Unbiased estimator (Chen et al. 2021): 1 - C(n-c, k) / C(n, k).
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _pass_hat_k(n: int, c: int, k: int) -> float:
    # tau-bench's pass^k: the chance that k draws without replacement all pass.
    return math.comb(c, k) / math.comb(n, k) if c >= k else 0.0


def reduce_epochs(scores: pd.DataFrame, reducer: str, k: int) -> pd.DataFrame:
    """Combine the epochs of each (version, sample_id, metric) into one row (epoch 0).

    ``mean`` averages values (``passed``: most epochs passed); ``pass_at_k`` and
    ``pass_hat_k`` apply to pass/fail metrics (value: the estimate; ``passed``: >= 0.5)
    and average the others.

    Args:
        scores: Frame with :data:`SCORE_COLUMNS`.
        reducer: ``mean``, ``pass_at_k`` or ``pass_hat_k``.
        k: The k of the pass estimators (at most the number of epochs of a sample).

    Returns:
        A frame with :data:`SCORE_COLUMNS` and one row per (version, sample_id, metric).
    """
    if scores.empty:
        return scores.copy()
    rows = []
    for (version, sample_id, metric), group in scores.groupby(
        ["version", "sample_id", "metric"], sort=False
    ):
        values = group["value"].astype(float)
        passed = group["passed"].dropna()
        has_pass = len(passed) == len(group)
        n, c = len(group), int(passed.astype(bool).sum()) if has_pass else 0
        if reducer != "mean" and has_pass:
            kk = min(k, n)
            value = _pass_at_k(n, c, kk) if reducer == "pass_at_k" else _pass_hat_k(n, c, kk)
            ok: Any = value >= 0.5
        else:
            value = float(values.mean())
            ok = (c * 2 >= n) if has_pass else pd.NA
        rows.append((version, sample_id, 0, metric, value, ok))
    frame = pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
    frame["passed"] = frame["passed"].astype("boolean")
    return frame


class EvalRun:
    """One eval run: its id, its suite, and its results as DataFrames.

    Rows are read from the trace store on first use (and cached), so a run can be
    opened again later with :meth:`load` in any process.

    Args:
        run_id: The run.
        suite: Its suite.
        store: The trace store holding its rows.
        info: Facts the runner knows (status, forecast, concurrency changes, ...).
    """

    def __init__(
        self,
        run_id: str,
        suite: Suite,
        store: TraceStore,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.suite = suite
        self.store = store
        self.info: dict[str, Any] = dict(info or {})
        self._rows: list[dict[str, Any]] | None = None
        self._comparison: Comparison | None = None

    def __repr__(self) -> str:
        return f"EvalRun({self.run_id!r}, suite={self.suite.name!r}, status={self.status!r})"

    @property
    def status(self) -> str:
        """``completed``, ``running``, ``cancelled``, ``failed`` or ``cost_cap_exceeded``."""
        return str(self.info.get("status", "unknown"))

    @classmethod
    def load(cls, run_id: str, *, store: TraceStore | None = None) -> EvalRun:
        """Open a recorded run (its suite file is read again from its recorded path).

        Raises:
            RunNotFound: No run has that id.
            SuiteInvalid: The suite file is gone or no longer valid.
        """
        store = store or TraceStore()
        state = load_run_state(store, run_id)
        row = state["row"]
        suite = Suite.from_yaml(row["suite_path"])
        return cls(run_id, suite, store, {**row, "status": state["status"]})

    # -- data -------------------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """The ``eval_samples`` rows of the run (one per version, sample and epoch)."""
        if self._rows is None:
            latest: dict[tuple[str, str, int], dict[str, Any]] = {}
            for row in load_sample_rows(self.store, self.run_id):
                latest[(row["version"], row["sample_id"], int(row["epoch"]))] = row
            self._rows = list(latest.values())
        return self._rows

    def samples_frame(self) -> pd.DataFrame:
        """One row per (version, sample_id, epoch): agent, execution, status, cost,
        latency, tokens, answer and error."""
        frame = pd.DataFrame(
            [[row.get(c) for c in _SAMPLE_COLUMNS] for row in self.rows()],
            columns=list(_SAMPLE_COLUMNS),
        )
        frame["epoch"] = frame["epoch"].astype("int64")
        for column in ("cost_usd", "latency_ms"):
            frame[column] = frame[column].astype(float)
        frame["tokens"] = frame["tokens"].fillna(0).astype("int64")
        return frame.sort_values(["version", "sample_id", "epoch"], ignore_index=True)

    def scores_frame(self) -> pd.DataFrame:
        """The long frame the statistics take: ``version, sample_id, epoch, metric, value,
        passed`` for every scorer (and ``judge``), plus ``cost_usd`` and ``latency_ms``."""
        records: list[tuple[Any, ...]] = []
        for row in self.rows():
            key = (row["version"], row["sample_id"], int(row["epoch"]))
            for metric, score in (row.get("scores") or {}).items():
                records.append((*key, metric, float(score["value"]), score.get("passed")))
            for metric in _EXTRA_METRICS:
                records.append((*key, metric, float(row.get(metric) or 0.0), None))
        frame = pd.DataFrame(records, columns=list(SCORE_COLUMNS))
        frame["epoch"] = frame["epoch"].astype("int64")
        frame["value"] = frame["value"].astype(float)
        frame["passed"] = frame["passed"].astype("boolean")
        return frame.sort_values(["version", "metric", "sample_id", "epoch"], ignore_index=True)

    def reduced_frame(self) -> pd.DataFrame:
        """:meth:`scores_frame` with the epochs of each sample combined by the suite's reducer."""
        return reduce_epochs(self.scores_frame(), self.suite.reducer, self.suite.effective_k)

    def summary_frame(self) -> pd.DataFrame:
        """Per version and metric: samples, mean value (after the reducer) and pass rate."""
        reduced = self.reduced_frame()
        if reduced.empty:
            return pd.DataFrame(columns=["version", "metric", "n", "mean", "pass_rate"])
        grouped = reduced.groupby(["version", "metric"], sort=True)
        out = grouped.agg(
            n=("value", "size"),
            mean=("value", "mean"),
            pass_rate=(
                "passed",
                lambda s: (
                    float(s.dropna().astype(float).mean()) if s.notna().any() else float("nan")
                ),
            ),
        ).reset_index()
        return out

    # -- statistics, gate, report --------------------------------------------------------

    def gate_scores(self) -> pd.DataFrame:
        """What the gate compares: epoch-level scores for ``mean``, else the reduced frame."""
        return self.scores_frame() if self.suite.reducer == "mean" else self.reduced_frame()

    def judge_card(self) -> JudgeCard | None:
        """Agreement of the judge with ``metadata.human_passed`` labels, when both exist."""
        judge = self.suite.judge
        if judge is None or judge.min_agreement is None:
            return None
        from workbench.evals._judge_card import judge_card

        labels = []
        for row in self.rows():
            human = (row.get("metadata") or {}).get("human_passed")
            if isinstance(human, dict):
                human = human.get(row["version"])
            verdict = row.get("judge") or {}
            if isinstance(human, bool) and isinstance(verdict.get("passed"), bool):
                labels.append((row["sample_id"], verdict["passed"], human))
        if not labels:
            return None
        frame = pd.DataFrame(labels, columns=["sample_id", "judge_passed", "human_passed"])
        return judge_card(frame, min_agreement=judge.min_agreement)

    def compare(self) -> Comparison:
        """Paired comparison of the gate's candidate with its baseline.

        A judge whose card says it may not gate is compared but not gated.

        Raises:
            EvalError: The suite has no gate.
        """
        if self._comparison is not None:
            return self._comparison
        from workbench.errors import EvalError
        from workbench.evals._stats import MetricGate, compare_versions

        gate = self.suite.gate
        if gate is None:
            raise EvalError(f"suite {self.suite.name} has no gate to compare versions by")
        metrics = {
            name: MetricGate(margin=m.margin, higher_is_better=m.higher_is_better)
            for name, m in gate.metrics.items()
        }
        card = self.judge_card()
        if card is not None and not card.may_gate and "judge" in metrics:
            del metrics["judge"]
            self.info["judge_excluded"] = (
                f"judge agreement kappa {card.kappa:.2f} (CI low {card.ci_low:.2f}) is below"
                f" min_agreement {self.suite.judge.min_agreement if self.suite.judge else ''}:"
                " the judge does not gate"
            )
        self._comparison = compare_versions(
            self.gate_scores(),
            baseline=gate.baseline,
            candidate=gate.candidate,
            metrics=metrics,
            confidence=gate.confidence,
        )
        return self._comparison

    def gate(self) -> GateVerdict | None:
        """The non-inferiority verdict, or ``None`` when the suite has no gate."""
        if self.suite.gate is None:
            return None
        verdict = self.compare().gate
        excluded = self.info.get("judge_excluded")
        if excluded:
            verdict = verdict.model_copy(update={"reasons": [*verdict.reasons, excluded]})
        return verdict

    def write_report(self, path: Path | str) -> Path:
        """Write the self-contained HTML report of the run.

        Raises:
            EvalError: The suite has no gate (the report is a comparison).
        """
        from workbench.evals._report import write_report

        return write_report(
            path,
            title=f"{self.suite.name}: {self.run_id}",
            scores=self.gate_scores(),
            samples=self.samples_frame(),
            comparison=self.compare(),
            judge_card=self.judge_card(),
        )
