"""ShadowCompare: v1 beside v2 per sample, the trajectory diff, the paired statistics.

:class:`ShadowCompareModel` reads a :class:`~workbench.evals.ShadowRun` (from a
run in hand, or from the trace store by id) and, when given, a
:class:`~workbench.evals.Comparison` with its gate verdict. For the selected
sample it returns the aligned steps with the first divergent step marked.
:class:`ShadowCompare` is the ipywidgets view.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets  # type: ignore[import-untyped]

from workbench.widgets._base import (
    WidgetModel,
    error_label,
    html_table,
    on_kernel_thread,
    show_error,
)

if TYPE_CHECKING:
    from workbench.evals import Comparison, ShadowPair, ShadowRun
    from workbench.tracing import TraceStore

__all__ = ["ShadowCompare", "ShadowCompareModel"]

_STAT_COLUMNS = (
    "metric",
    "gated",
    "baseline_mean",
    "candidate_mean",
    "mean_diff",
    "ci_low",
    "ci_high",
    "wins",
    "ties",
    "losses",
    "mcnemar_p",
    "p_holm",
    "non_inferior",
)


class ShadowCompareModel(WidgetModel):
    """A shadow run's pairs, one selected, and the paired comparison if any.

    Args:
        run: The shadow run.
        comparison: The paired statistics of the two versions (its ``gate`` is shown).
    """

    def __init__(self, run: ShadowRun, *, comparison: Comparison | None = None) -> None:
        super().__init__()
        self.run = run
        self.comparison = comparison
        self.index = 0
        """Position of the selected pair in ``run.pairs``."""

    @classmethod
    def from_store(
        cls, store: TraceStore, run_id: str, *, comparison: Comparison | None = None
    ) -> ShadowCompareModel:
        """Read the shadow run ``run_id`` back from the trace store.

        Raises:
            RunNotFound: No shadow run has that id.
        """
        from workbench.evals import load_shadow_run

        return cls(load_shadow_run(store, run_id), comparison=comparison)

    @property
    def sample_ids(self) -> list[str]:
        """Sample ids in run order."""
        return [p.sample_id for p in self.run.pairs]

    @property
    def pair(self) -> ShadowPair | None:
        """The selected pair (``None`` for an empty run)."""
        return self.run.pairs[self.index] if self.run.pairs else None

    def select(self, sample_id: str) -> None:
        """Select a sample by id; an unknown id becomes the widget's error."""
        ids = self.sample_ids
        if sample_id not in ids:
            self.set_error(f"no sample {sample_id!r} in shadow run {self.run.run_id}")
            return
        self.index = ids.index(sample_id)
        self.set_error(None)
        self.changed("selection")

    def steps(self) -> list[dict[str, Any]]:
        """The selected pair's aligned steps, each with ``first_divergence`` set on the one
        where the trajectories first differ."""
        pair = self.pair
        if pair is None:
            return []
        return [
            {**s, "first_divergence": s["step"] == pair.first_divergent_step} for s in pair.steps
        ]

    def side_by_side(self) -> dict[str, dict[str, Any]]:
        """Baseline and candidate of the selected pair: status, answer, cost, latency."""
        pair = self.pair
        if pair is None:
            return {}
        return {
            side: {
                "version": self.run.baseline if side == "baseline" else self.run.candidate,
                "status": getattr(pair, f"{side}_status"),
                "answer": getattr(pair, f"{side}_answer"),
                "cost_usd": getattr(pair, f"{side}_cost_usd"),
                "latency_ms": getattr(pair, f"{side}_latency_ms"),
                "execution_id": getattr(pair, f"{side}_execution_id"),
            }
            for side in ("baseline", "candidate")
        }

    def stats(self) -> list[dict[str, Any]]:
        """The comparison's metrics (sign-adjusted: > 0 means the candidate is better)."""
        if self.comparison is None:
            return []
        return [{c: getattr(m, c) for c in _STAT_COLUMNS} for m in self.comparison.metrics]

    def verdict(self) -> tuple[bool, list[str]] | None:
        """``(passed, reasons)`` of the non-inferiority gate, when a comparison is given."""
        if self.comparison is None:
            return None
        gate = self.comparison.gate
        return gate.passed, list(gate.reasons)


class ShadowCompare(ipywidgets.VBox):  # type: ignore[misc]
    """The view: a sample picker, both versions side by side, the step diff, the gate.

    Args:
        run: A shadow run (or pass ``model=``).
        comparison: The paired comparison to show under the diff.
        model: An existing :class:`ShadowCompareModel`.
    """

    def __init__(
        self,
        run: ShadowRun | None = None,
        *,
        comparison: Comparison | None = None,
        model: ShadowCompareModel | None = None,
    ) -> None:
        if model is None:
            if run is None:
                raise ValueError("ShadowCompare needs a shadow run or a model")
            model = ShadowCompareModel(run, comparison=comparison)
        self.model = model
        r = model.run
        self.header = ipywidgets.HTML(
            f"shadow run <code>{html.escape(r.run_id)}</code>: "
            f"<b>{html.escape(r.baseline)}</b> (baseline) vs "
            f"<b>{html.escape(r.candidate)}</b> (candidate), {len(r.pairs)} samples"
        )
        self.picker = ipywidgets.Dropdown(options=model.sample_ids, description="sample")
        self.sides = ipywidgets.HTML()
        self.diff = ipywidgets.HTML()
        self.diff.add_class("wb-diff")
        self.stats = ipywidgets.HTML()
        self.gate = ipywidgets.HTML()
        self.gate.add_class("wb-gate")
        self.error = error_label()
        self.picker.observe(self._picked, names="value")
        super().__init__(
            [self.header, self.picker, self.sides, self.diff, self.stats, self.gate, self.error]
        )
        model.observe(on_kernel_thread(self.refresh))
        self.refresh()

    def _picked(self, change: dict[str, Any]) -> None:
        if change.get("new") is not None:
            self.model.select(str(change["new"]))

    def refresh(self) -> None:
        """Render the selected pair and the statistics."""
        m = self.model
        sides = m.side_by_side()
        if sides:
            self.sides.value = html_table(
                ["", "version", "status", "answer", "USD", "latency ms"],
                [
                    (side, s["version"], s["status"], s["answer"], s["cost_usd"], s["latency_ms"])
                    for side, s in sides.items()
                ],
            )
        steps = m.steps()
        pair = m.pair
        first = pair.first_divergent_step if pair else None
        self.diff.value = (
            f"<div>first divergent step: <b>{'none' if first is None else first}</b></div>"
            + html_table(
                ["step", "baseline", "candidate", "same", "Δ USD", "Δ ms"],
                [
                    (
                        s["step"],
                        s["baseline_action"],
                        s["candidate_action"],
                        "yes" if s["same"] else "no",
                        s["cost_diff_usd"],
                        s["latency_diff_ms"],
                    )
                    for s in steps
                ],
                highlight=lambda i: bool(steps[i]["first_divergence"]),
            )
        )
        stats = m.stats()
        self.stats.value = (
            html_table(list(_STAT_COLUMNS), [[row[c] for c in _STAT_COLUMNS] for row in stats])
            if stats
            else ""
        )
        verdict = m.verdict()
        if verdict is None:
            self.gate.value = ""
        else:
            passed, reasons = verdict
            color = "#1b7f3b" if passed else "#b00020"
            items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
            self.gate.value = (
                f"<b style='color:{color}'>gate {'PASSED' if passed else 'FAILED'}</b>"
                f"<ul>{items}</ul>"
            )
        show_error(self.error, m.error)
