"""The eval report: one self-contained HTML file, and the same data as DataFrames.

:func:`report_frames` computes every table and plot input from the scores, the
samples and the :class:`Comparison`; :func:`write_report` draws them (matplotlib,
inline SVG) into one HTML file with inline CSS that opens offline.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import EvalError
from workbench.evals._judge_card import JudgeCard
from workbench.evals._report_plots import (
    cost_quality_svg,
    differences_svg,
    distributions_svg,
    latency_cdf_svg,
)
from workbench.evals._stats import LOWER_IS_BETTER, SCORE_COLUMNS, Comparison

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = ["report_frames", "write_report"]

_NOT_QUALITY = LOWER_IS_BETTER | {"cost_usd", "latency_ms", "tokens"}
_STAT_COLUMNS = [
    "metric",
    "gated",
    "margin",
    "n",
    "baseline_mean",
    "candidate_mean",
    "mean_diff",
    "ci_low",
    "ci_high",
    "gate_bound",
    "p_noninferiority",
    "p_holm",
    "non_inferior",
    "wins",
    "ties",
    "losses",
    "mcnemar_b",
    "mcnemar_c",
    "mcnemar_p",
    "mde",
]


def report_frames(
    *,
    scores: pd.DataFrame,
    samples: pd.DataFrame,
    comparison: Comparison,
    judge_card: JudgeCard | None = None,
    pairwise: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Everything the report shows, as DataFrames (the Python API's view of the report).

    Args:
        scores: Long frame ``version, sample_id, epoch, metric, value, passed``.
        samples: One row per ``(version, sample_id, epoch)`` with ``cost_usd,
            latency_ms, tokens, status``.
        comparison: The result of :func:`compare_versions` on ``scores``.
        judge_card: The judge's agreement with human labels, when there is one.
        pairwise: Pairwise verdicts (:func:`pairwise_frame`), when there are some.

    Returns:
        ``statistics`` (one row per metric), ``gate`` (passed and reasons),
        ``versions`` (per version: samples, statuses, cost, latency percentiles),
        ``score_distributions`` (quality scores per version), ``cost_quality``
        (mean quality against mean cost per version and metric), ``latency_cdf``,
        ``sample_differences`` (per pair and metric, sign-adjusted), and when given
        ``judge_card``, ``pairwise`` and ``pairwise_summary``.

    Raises:
        EvalError: ``scores`` or ``samples`` lacks a needed column.
    """
    import pandas as pd

    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    missing += [f"samples.{c}" for c in ("version", "sample_id", "epoch") if c not in samples]
    if missing:
        raise EvalError(f"report inputs lack column(s) {missing}")
    versions = _versions(scores, samples, comparison)
    quality = scores.loc[~scores["metric"].isin(_NOT_QUALITY)]
    frames: dict[str, pd.DataFrame] = {
        "statistics": comparison.to_frame(),
        "gate": pd.DataFrame(
            {"passed": comparison.gate.passed, "reason": comparison.gate.reasons},
            columns=["passed", "reason"],
        ),
        "versions": _version_table(samples, versions),
        "score_distributions": quality[["version", "sample_id", "epoch", "metric", "value"]]
        .reset_index(drop=True)
        .copy(),
        "cost_quality": _cost_quality(quality, samples, scores, versions),
        "latency_cdf": _latency_cdf(samples, scores, versions),
        "sample_differences": _differences(scores, comparison),
    }
    if judge_card is not None:
        frames["judge_card"] = pd.DataFrame([judge_card.model_dump()])
    if pairwise is not None:
        frames["pairwise"] = pairwise.reset_index(drop=True).copy()
        frames["pairwise_summary"] = _pairwise_summary(pairwise)
    return frames


def write_report(
    path: Path | str,
    *,
    title: str,
    scores: pd.DataFrame,
    samples: pd.DataFrame,
    comparison: Comparison,
    judge_card: JudgeCard | None = None,
    pairwise: pd.DataFrame | None = None,
) -> Path:
    """Write the report as one self-contained HTML file (inline CSS and SVG, no network).

    Shows the gate verdict in plain words, the statistics table, score distributions
    per version, cost against quality, the latency CDF, per-sample differences, the
    judge card and pairwise results when given.

    Args:
        path: Where to write the file (parent folders are created).
        title: Heading of the report.
        scores: Long frame ``version, sample_id, epoch, metric, value, passed``.
        samples: One row per ``(version, sample_id, epoch)``.
        comparison: The result of :func:`compare_versions`.
        judge_card: The judge card, when a judge was used.
        pairwise: Pairwise verdicts, when there are some.

    Returns:
        The path written.

    Raises:
        EvalError: An input lacks a needed column, or the file cannot be written.
    """
    frames = report_frames(
        scores=scores,
        samples=samples,
        comparison=comparison,
        judge_card=judge_card,
        pairwise=pairwise,
    )
    versions = _versions(scores, samples, comparison)
    margins = {m.metric: m.margin for m in comparison.metrics}
    sections = [
        _gate_section(comparison),
        _section("Statistics", _stats_table(frames["statistics"]) + _stats_note(comparison)),
        _section("Versions", _table(frames["versions"])),
        _section("Score distributions", distributions_svg(frames["score_distributions"], versions)),
        _section("Cost against quality", cost_quality_svg(frames["cost_quality"], versions)),
        _section("Latency", latency_cdf_svg(frames["latency_cdf"], versions)),
        _section(
            f"Per-sample differences ({comparison.candidate} vs {comparison.baseline})",
            differences_svg(frames["sample_differences"], margins),
        ),
    ]
    if judge_card is not None:
        sections.append(_judge_section(judge_card))
    if pairwise is not None:
        sections.append(
            _section(
                "Pairwise judge",
                _table(frames["pairwise_summary"]) + _table(frames["pairwise"].head(200)),
            )
        )
    subtitle = (
        f"{comparison.candidate} against {comparison.baseline}: {comparison.n_pairs} "
        f"paired (sample, epoch); dropped {comparison.dropped_baseline_only} only in "
        f"{comparison.baseline}, {comparison.dropped_candidate_only} only in "
        f"{comparison.candidate}"
    )
    page = _page(title, subtitle, "\n".join(sections))
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"cannot write report {target}: {exc}") from exc
    return target


def _versions(scores: pd.DataFrame, samples: pd.DataFrame, comparison: Comparison) -> list[str]:
    names = [comparison.baseline, comparison.candidate]
    for frame in (scores, samples):
        if "version" in frame:
            names += [str(v) for v in frame["version"].unique()]
    return list(dict.fromkeys(names))


def _version_table(samples: pd.DataFrame, versions: list[str]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for v in versions:
        data = samples.loc[samples["version"] == v]
        row: dict[str, Any] = {"version": v, "samples": len(data)}
        if "status" in data:
            for status, count in data["status"].value_counts().sort_index().items():
                row[f"status {status}"] = int(count)
        if "cost_usd" in data:
            cost = data["cost_usd"].astype("float64")
            row["total_cost_usd"] = float(cost.sum())
            row["mean_cost_usd"] = float(cost.mean()) if len(data) else math.nan
        if "tokens" in data:
            row["mean_tokens"] = float(data["tokens"].astype("float64").mean())
        if "latency_ms" in data:
            latency = data["latency_ms"].astype("float64")
            row["p50_latency_ms"] = float(latency.quantile(0.5)) if len(data) else math.nan
            row["p95_latency_ms"] = float(latency.quantile(0.95)) if len(data) else math.nan
        rows.append(row)
    return pd.DataFrame(rows).fillna({c: 0 for c in _status_columns(rows)})


def _status_columns(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({k for row in rows for k in row if k.startswith("status ")})


def _cost_quality(
    quality: pd.DataFrame, samples: pd.DataFrame, scores: pd.DataFrame, versions: list[str]
) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for v in versions:
        if "cost_usd" in samples:
            cost = samples.loc[samples["version"] == v, "cost_usd"].astype("float64")
        else:
            mask = (scores["version"] == v) & (scores["metric"] == "cost_usd")
            cost = scores.loc[mask, "value"].astype("float64")
        data = quality.loc[quality["version"] == v]
        for metric in dict.fromkeys(quality["metric"]):
            values = data.loc[data["metric"] == metric, "value"].astype("float64")
            rows.append(
                {
                    "version": v,
                    "metric": metric,
                    "mean_value": float(values.mean()) if len(values) else math.nan,
                    "mean_cost_usd": float(cost.mean()) if len(cost) else math.nan,
                    "total_cost_usd": float(cost.sum()),
                    "n": len(values),
                }
            )
    columns = ["version", "metric", "mean_value", "mean_cost_usd", "total_cost_usd", "n"]
    return pd.DataFrame(rows, columns=columns)


def _latency_cdf(samples: pd.DataFrame, scores: pd.DataFrame, versions: list[str]) -> pd.DataFrame:
    import pandas as pd

    parts = []
    for v in versions:
        if "latency_ms" in samples:
            values = samples.loc[samples["version"] == v, "latency_ms"]
        else:
            mask = (scores["version"] == v) & (scores["metric"] == "latency_ms")
            values = scores.loc[mask, "value"]
        x = np.sort(values.to_numpy(dtype=np.float64, na_value=np.nan))
        x = x[~np.isnan(x)]
        cdf = np.arange(1, len(x) + 1) / len(x) if len(x) else np.zeros(0)
        parts.append(pd.DataFrame({"version": v, "latency_ms": x, "cdf": cdf}))
    return pd.concat(parts, ignore_index=True)


def _differences(scores: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    import pandas as pd

    keys = ["sample_id", "epoch", "metric"]
    base = scores.loc[scores["version"] == comparison.baseline, [*keys, "value"]]
    cand = scores.loc[scores["version"] == comparison.candidate, [*keys, "value"]]
    merged = base.merge(cand, on=keys, suffixes=("_b", "_c"))
    merged = merged.rename(columns={"value_b": "baseline", "value_c": "candidate"})
    merged = merged.dropna(subset=["baseline", "candidate"])
    sign = {m.metric: 1.0 if m.higher_is_better else -1.0 for m in comparison.metrics}
    factor = merged["metric"].map(sign).astype("float64").fillna(1.0)
    merged["diff"] = factor * (
        merged["candidate"].astype("float64") - merged["baseline"].astype("float64")
    )
    order = {m.metric: i for i, m in enumerate(comparison.metrics)}
    merged["_order"] = merged["metric"].map(order).fillna(len(order))
    merged = merged.sort_values(["_order", "diff", "sample_id"], kind="stable")
    return pd.DataFrame(
        merged[["sample_id", "epoch", "metric", "baseline", "candidate", "diff"]]
    ).reset_index(drop=True)


def _pairwise_summary(pairwise: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    n = len(pairwise)
    row: dict[str, Any] = {"pairs": n}
    if "winner" in pairwise:
        for winner in ("a", "b", "tie"):
            row[f"winner {winner}"] = int((pairwise["winner"] == winner).sum())
    if "consistent" in pairwise:
        consistent = pairwise["consistent"].astype("boolean")
        row["position_consistency"] = float(consistent.mean()) if n else math.nan
    return pd.DataFrame([row])


def _gate_section(comparison: Comparison) -> str:
    verdict = comparison.gate
    gated = [m for m in comparison.metrics if m.gated]
    level = f"{comparison.confidence:.0%}"
    cand, base = comparison.candidate, comparison.baseline
    if not gated:
        words = "No metric is gated, so the gate passes by default."
    elif verdict.passed:
        words = (
            f"PASSED. {cand} is not worse than {base} by more than its margin on any of the "
            f"{len(gated)} gated metric(s), at {level} confidence with Holm's correction."
        )
    else:
        bad = ", ".join(m.metric for m in gated if not m.non_inferior)
        words = (
            f"FAILED. {cand} could not be shown to be within its margin of {base} on: {bad} "
            f"(at {level} confidence with Holm's correction). Treat {cand} as possibly worse."
        )
    items = "".join(f"<li>{html.escape(r)}</li>" for r in verdict.reasons)
    css = "pass" if verdict.passed else "fail"
    return (
        f'<section class="gate {css}"><h2>Gate: non-inferiority</h2>'
        f"<p class=verdict>{html.escape(words)}</p><ul>{items}</ul></section>"
    )


def _judge_section(card: JudgeCard) -> str:
    words = (
        f"The judge agreed with human labels on {card.agreement:.1%} of {card.n} samples; "
        f"Cohen's kappa {_num(card.kappa)} ({card.confidence:.0%} interval "
        f"{_num(card.ci_low)} to {_num(card.ci_high)}). "
        + (
            f"It may gate: the interval's lower bound reaches the bar {card.min_agreement:g}."
            if card.may_gate
            else f"It may NOT gate: the interval's lower bound is below the bar "
            f"{card.min_agreement:g}; use its scores as information only."
        )
    )
    css = "pass" if card.may_gate else "fail"
    return _section("Judge card", f'<p class="card {css}">{html.escape(words)}</p>')


def _stats_table(frame: pd.DataFrame) -> str:
    columns = [c for c in _STAT_COLUMNS if c in frame.columns]
    return _table(frame[columns])


def _stats_note(comparison: Comparison) -> str:
    note = (
        "Differences are candidate minus baseline, sign-adjusted so that positive means "
        f"better. Intervals: paired percentile bootstrap, {comparison.confidence:.0%}, "
        f"{comparison.n_boot} replicates resampling sample ids. gate_bound is the lower "
        "bound at the one-sided level Holm's procedure assigns the metric; the gate fails "
        "when it is below -margin. McNemar counts: b = only the baseline passed, c = only "
        "the candidate passed. mde: true difference detectable with 80% power."
    )
    return f"<p class=note>{html.escape(note)}</p>"


def _table(frame: pd.DataFrame) -> str:
    return str(
        frame.to_html(
            index=False,
            border=0,
            classes="data",
            na_rep="",
            float_format=_num,
            escape=True,
        )
    )


def _section(heading: str, body: str) -> str:
    return f"<section><h2>{html.escape(heading)}</h2>{body}</section>"


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.4g}"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem}.subtitle{color:#555;margin-top:0}
section{margin:1.6rem 0}h2{font-size:1.15rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.gate{border-left:6px solid;padding:.4rem 1rem;border-radius:4px}
.gate.pass{border-color:#27ae60;background:#eefaf2}.gate.fail{border-color:#c0392b;background:#fdf0ee}
.verdict{font-weight:600;font-size:1.05rem}
.card.pass{color:#1e7a46}.card.fail{color:#a93226;font-weight:600}
table.data{border-collapse:collapse;font-size:12px;margin:.4rem 0;display:block;overflow-x:auto}
table.data th,table.data td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;
white-space:nowrap}
table.data th{background:#f6f6f6}.note{color:#555;font-size:12px}
svg{max-width:100%;height:auto}
"""


def _page(title: str, subtitle: str, body: str) -> str:
    # Concatenated, not str.format: the CSS is full of braces.
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>"
        f'<p class="subtitle">{html.escape(subtitle)}</p>\n{body}\n</body></html>\n'
    )
