"""A red-team run read back: per-version safety and utility, stops by defense, the gate.

:class:`RedteamRun` wraps the :class:`~workbench.evals.EvalRun` of the run's samples
and derives the red-team view from its rows: attack metrics (``attack_success``,
``harm``, ``defense``) on attack samples only, and utility split into
``utility_clean`` (benign samples) and ``utility_attacked`` (the same tasks under
attack). The gate and the HTML report are the eval's (:func:`compare_versions`'s
paired non-inferiority test and the eval report) on that frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd  # type: ignore[import-untyped]

from workbench.errors import EvalError
from workbench.evals import EvalRun
from workbench.redteam._scorers import DEFENSES
from workbench.redteam._suite import RedteamSuite

if TYPE_CHECKING:
    from workbench.evals import Comparison, GateVerdict

__all__ = ["RedteamRun"]

_STOPS = (*DEFENSES, "guardrail_mark", "model")


def _stops(explanation: str) -> list[str]:
    prefix = "stopped by: "
    if not explanation.startswith(prefix):
        return []
    return [k.strip() for k in explanation[len(prefix) :].split(",") if k.strip()]


class RedteamRun:
    """One red-team run: the eval run of its samples and the red-team view of it.

    Args:
        eval_run: The run's samples as an eval run.
        suite: The red-team suite it ran.
    """

    def __init__(self, eval_run: EvalRun, suite: RedteamSuite) -> None:
        self.eval = eval_run
        self.suite = suite
        self._comparison: Comparison | None = None

    def __repr__(self) -> str:
        return f"RedteamRun({self.run_id!r}, suite={self.suite.name!r})"

    @property
    def run_id(self) -> str:
        """The run id (an ``eval_runs`` row)."""
        return self.eval.run_id

    # -- frames ---------------------------------------------------------------------------

    def samples_frame(self) -> pd.DataFrame:
        """One row per (version, sample, epoch): the eval columns plus ``attacked``,
        ``channel``, ``source`` (the corpus), ``attack_success``, ``harm``, ``utility`` and
        ``stopped_by`` (the defenses that stopped the attack, comma-separated)."""
        records = []
        for row in self.eval.rows():
            attack = (row.get("metadata") or {}).get("attack") or {}
            scores = row.get("scores") or {}

            def value(metric: str, scores: dict[str, Any] = scores) -> float:
                return float((scores.get(metric) or {}).get("value", float("nan")))

            defense = str((scores.get("defense") or {}).get("explanation") or "")
            records.append(
                {
                    "version": row["version"],
                    "sample_id": row["sample_id"],
                    "epoch": int(row["epoch"]),
                    "status": row["status"],
                    "attacked": bool(attack),
                    "channel": attack.get("channel"),
                    "source": attack.get("source"),
                    "utility": value("utility"),
                    "attack_success": value("attack_success"),
                    "harm": value("harm"),
                    "stopped_by": ",".join(_stops(defense)) if attack else None,
                    "cost_usd": float(row.get("cost_usd") or 0.0),
                    "error": row.get("error"),
                }
            )
        frame = pd.DataFrame(records)
        return frame.sort_values(["version", "sample_id", "epoch"], ignore_index=True)

    def scores_frame(self) -> pd.DataFrame:
        """The long frame the gate and report read: attack metrics on attack samples only,
        ``utility`` on all, ``utility_clean`` / ``utility_attacked`` split by sample kind,
        and ``cost_usd`` / ``latency_ms``."""
        base = self.eval.scores_frame()
        attacked = {
            row["sample_id"]: bool((row.get("metadata") or {}).get("attack"))
            for row in self.eval.rows()
        }
        is_attack = base["sample_id"].map(attacked).fillna(False).astype(bool)
        keep = ~base["metric"].isin(self.suite.attack_metrics) | is_attack
        utility = base["metric"] == "utility"
        clean = base.loc[utility & ~is_attack].assign(metric="utility_clean")
        under = base.loc[utility & is_attack].assign(metric="utility_attacked")
        frame = pd.concat([base.loc[keep], clean, under], ignore_index=True)
        return frame.sort_values(["version", "metric", "sample_id", "epoch"], ignore_index=True)

    def defense_frame(self) -> pd.DataFrame:
        """Per version: samples, attacks, utility without and under attack (and their
        ratio), attack success rate, harm rate, and how many attacks each defense stopped
        (``stopped_<defense>``; an attack several defenses acted on counts for each)."""
        samples = self.samples_frame()
        rows = []
        for version, group in samples.groupby("version", sort=False):
            attacks = group.loc[group["attacked"]]
            benign = group.loc[~group["attacked"]]
            clean = float(benign["utility"].mean()) if len(benign) else float("nan")
            under = float(attacks["utility"].mean()) if len(attacks) else float("nan")
            row: dict[str, Any] = {
                "version": version,
                "samples": len(group),
                "attacks": len(attacks),
                "utility_clean": clean,
                "utility_attacked": under,
                "utility_ratio": under / clean if clean else float("nan"),
                "attack_success_rate": float(attacks["attack_success"].mean())
                if len(attacks)
                else float("nan"),
                "harm_rate": float(attacks["harm"].mean()) if len(attacks) else float("nan"),
                "benign_harm_rate": float(benign["harm"].mean()) if len(benign) else float("nan"),
            }
            stops = [
                s for cell in attacks["stopped_by"].dropna() for s in str(cell).split(",") if s
            ]
            for kind in _STOPS:
                row[f"stopped_{kind}"] = stops.count(kind)
            rows.append(row)
        order = list(self.suite.versions)
        frame = pd.DataFrame(rows)
        frame["_order"] = frame["version"].map({v: i for i, v in enumerate(order)})
        return frame.sort_values("_order").drop(columns="_order").reset_index(drop=True)

    def channel_frame(self) -> pd.DataFrame:
        """Attack success rate and utility under attack per version and injection channel."""
        attacks = self.samples_frame()
        attacks = attacks.loc[attacks["attacked"]]
        return (
            attacks.groupby(["version", "channel"], sort=True)
            .agg(
                attacks=("sample_id", "size"),
                attack_success_rate=("attack_success", "mean"),
                utility_attacked=("utility", "mean"),
            )
            .reset_index()
        )

    # -- statistics, gate, report ---------------------------------------------------------

    def compare(self) -> Comparison:
        """The paired comparison of the gate's candidate with its baseline on
        :meth:`scores_frame`.

        Raises:
            EvalError: The suite has no gate.
        """
        if self._comparison is not None:
            return self._comparison
        from workbench.evals import MetricGate, compare_versions

        gate = self.suite.gate
        if gate is None:
            raise EvalError(f"suite {self.suite.name} has no gate to compare versions by")
        metrics = {
            name: MetricGate(margin=m.margin, higher_is_better=m.higher_is_better)
            for name, m in gate.metrics.items()
        }
        self._comparison = compare_versions(
            self.scores_frame(),
            baseline=gate.baseline,
            candidate=gate.candidate,
            metrics=metrics,
            confidence=gate.confidence,
        )
        return self._comparison

    def gate(self) -> GateVerdict | None:
        """The non-inferiority verdict (v2 no less safe than v1 beyond the margins), or
        ``None`` when the suite has no gate."""
        if self.suite.gate is None:
            return None
        return self.compare().gate

    def write_report(self, path: Path | str) -> Path:
        """Write the eval's self-contained HTML report on the red-team frame.

        Raises:
            EvalError: The suite has no gate (the report is a comparison).
        """
        from workbench.evals import write_report

        return write_report(
            path,
            title=f"red team {self.suite.name}: {self.run_id}",
            scores=self.scores_frame(),
            samples=self.eval.samples_frame(),
            comparison=self.compare(),
        )
