"""The report's plots, drawn with matplotlib (Agg, no pyplot state) as inline SVG text."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "cost_quality_svg",
    "differences_svg",
    "distributions_svg",
    "latency_cdf_svg",
]

_MAX_PANELS = 6
"""Metrics drawn per figure; the tables hold every metric."""
_MAX_POINTS = 2_000
"""Points per curve; longer curves are thinned evenly (the tables keep every sample)."""
_XML_HEADER = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def distributions_svg(frame: pd.DataFrame, versions: list[str]) -> str:
    """Score distributions per version: pass rates for 0/1 metrics, histograms otherwise."""
    with _style():
        return _distributions_svg(frame, versions)


def cost_quality_svg(frame: pd.DataFrame, versions: list[str]) -> str:
    """Mean cost per sample against mean quality, one point per version and metric."""
    with _style():
        return _cost_quality_svg(frame, versions)


def latency_cdf_svg(frame: pd.DataFrame, versions: list[str]) -> str:
    """Empirical CDF of per-sample latency, one curve per version."""
    with _style():
        return _latency_cdf_svg(frame, versions)


def differences_svg(frame: pd.DataFrame, margins: Mapping[str, float | None]) -> str:
    """Sorted per-sample differences (candidate better above 0), one panel per metric."""
    with _style():
        return _differences_svg(frame, margins)


def _style() -> AbstractContextManager[None]:
    import matplotlib

    # Styles apply when artists are made, so they wrap the drawing, not only the saving;
    # rc_context leaves the caller's own matplotlib settings (a notebook's) untouched.
    # Text as <text> elements (no embedded glyphs): a small file that needs no font file.
    return matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def _distributions_svg(frame: pd.DataFrame, versions: list[str]) -> str:
    """Score distributions per version: pass rates for 0/1 metrics, histograms otherwise."""
    metrics = list(dict.fromkeys(frame["metric"]))[:_MAX_PANELS]
    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics, strict=False):
        data = frame.loc[frame["metric"] == metric]
        values = {v: _floats(data.loc[data["version"] == v, "value"]) for v in versions}
        pooled = np.concatenate([x for x in values.values() if len(x)] or [np.zeros(0)])
        if len(pooled) and np.isin(pooled, (0.0, 1.0)).all():
            rates = [float(values[v].mean()) if len(values[v]) else 0.0 for v in versions]
            bars = ax.bar(versions, rates, color=[_color(i) for i in range(len(versions))])
            ax.bar_label(bars, labels=[f"{r:.1%}" for r in rates], fontsize=8)
            ax.set_ylim(0, 1.1)
            ax.set_ylabel("pass rate")
        elif len(pooled):
            bins = np.histogram_bin_edges(pooled, bins=min(30, max(5, len(np.unique(pooled)))))
            for i, v in enumerate(versions):
                if len(values[v]):
                    edges = bins.tolist()
                    ax.hist(values[v], bins=edges, histtype="step", color=_color(i), label=v)
            ax.set_ylabel("samples")
            ax.legend(frameon=False, fontsize=8)
        ax.set_title(metric)
    return _svg(fig, "distributions")


def _cost_quality_svg(frame: pd.DataFrame, versions: list[str]) -> str:
    """Mean cost per sample against mean quality, one point per version and metric."""
    metrics = list(dict.fromkeys(frame["metric"]))[:_MAX_PANELS]
    from matplotlib.ticker import FuncFormatter

    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics, strict=False):
        data = frame.loc[frame["metric"] == metric]
        for i, v in enumerate(versions):
            row = data.loc[data["version"] == v]
            if row.empty:
                continue
            x, y = float(row["mean_cost_usd"].iloc[0]), float(row["mean_value"].iloc[0])
            ax.scatter([x], [y], s=60, color=_color(i), label=v, zorder=3)
            ax.annotate(v, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.set_xlabel("mean cost per sample (USD)")
        ax.set_ylabel(f"mean {metric}")
        ax.margins(0.25)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.3g}"))
        ax.set_title(metric)
    return _svg(fig, "cost-quality")


def _latency_cdf_svg(frame: pd.DataFrame, versions: list[str]) -> str:
    """Empirical CDF of per-sample latency, one curve per version."""
    fig, axes = _grid(1, width=6.4)
    ax = axes[0]
    for i, v in enumerate(versions):
        data = frame.loc[frame["version"] == v]
        if data.empty:
            continue
        x = _thin(data["latency_ms"].to_numpy(dtype=np.float64))
        y = _thin(data["cdf"].to_numpy(dtype=np.float64))
        ax.step(x, y, where="post", color=_color(i), lw=1.5, label=v)
    ax.set_xlabel("latency per sample (ms)")
    ax.set_ylabel("share of samples at or below")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title("latency CDF")
    return _svg(fig, "latency-cdf")


def _differences_svg(frame: pd.DataFrame, margins: Mapping[str, float | None]) -> str:
    """Sorted per-sample differences (candidate better above 0), one panel per metric."""
    metrics = list(dict.fromkeys(frame["metric"]))[:_MAX_PANELS]
    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics, strict=False):
        diff = np.sort(frame.loc[frame["metric"] == metric, "diff"].to_numpy(dtype=np.float64))
        if len(diff):
            rank = np.linspace(0.0, 1.0, len(diff))
            ax.fill_between(_thin(rank), _thin(diff), step="mid", alpha=0.35, color=_color(0))
            ax.step(_thin(rank), _thin(diff), where="mid", color=_color(0), lw=1.2)
        ax.axhline(0.0, color="black", lw=0.8)
        margin = margins.get(metric)
        if margin is not None and not math.isnan(margin):
            ax.axhline(-margin, color="#c0392b", lw=1, ls="--", label=f"-margin ({-margin:g})")
            ax.legend(frameon=False, fontsize=8)
        ax.set_xlabel("samples, sorted")
        ax.set_ylabel("difference (> 0 is better)")
        ax.set_title(metric)
    return _svg(fig, "differences")


def _grid(panels: int, *, width: float = 3.4) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    panels = max(1, panels)
    cols = min(3, panels)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(width * cols, 2.9 * rows), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = list(grid.flat)
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


def _svg(fig: Figure, name: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    # A salt per figure keeps clip-path ids distinct between the SVGs of one page and
    # the output byte-for-byte reproducible.
    with matplotlib.rc_context({"svg.hashsalt": name}):
        fig.savefig(
            buffer,
            format="svg",
            metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
        )
    text = _XML_HEADER.sub("", buffer.getvalue(), count=1)
    # Inline SVG in HTML needs no namespace declarations; dropping them leaves the page
    # without a single external URL, so "no http(s) reference" stays checkable.
    text = _NAMESPACES.sub("", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1)


def _floats(series: Any) -> np.ndarray[Any, Any]:
    values = np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    kept: np.ndarray[Any, Any] = values[~np.isnan(values)]
    return kept


def _thin(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if len(values) <= _MAX_POINTS:
        return values
    index = np.linspace(0, len(values) - 1, _MAX_POINTS).round().astype(int)
    thinned: np.ndarray[Any, Any] = values[index]
    return thinned


def _color(i: int) -> str:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]
    return palette[i % len(palette)]
