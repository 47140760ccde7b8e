"""CostDashboard: cost by version and day, latency distributions, safety events over time.

:class:`CostDashboardModel` asks the trace store for aggregates only (SQL does the
grouping and the histogram binning), so a store of a million spans costs a few small
frames, never the rows themselves. It draws each figure with matplotlib off-screen into
PNG bytes. :class:`CostDashboard` is the ipywidgets view (a Refresh button, a progress
bar, three images and an error line).
"""

from __future__ import annotations

from typing import Any

import ipywidgets  # type: ignore[import-untyped]
import pandas as pd  # type: ignore[import-untyped]

from workbench.tracing import TraceStore
from workbench.widgets._base import (
    WidgetModel,
    error_label,
    figure_png,
    new_figure,
    on_kernel_thread,
    progress_bar,
    show_error,
    show_progress,
)

__all__ = ["CostDashboard", "CostDashboardModel"]

_BINS_PER_DECADE = 4

_TOOL_LATENCY = f"""
SELECT coalesce(tool_name, name) AS series,
       floor(log10(greatest(duration_ms, 0.001)) * {_BINS_PER_DECADE}) / {_BINS_PER_DECADE}
           AS log10_ms,
       count(*) AS n
FROM spans WHERE kind = 'TOOL' GROUP BY ALL ORDER BY ALL"""

_EXECUTION_LATENCY = f"""
SELECT agent_name || ' ' || agent_version AS series,
       floor(log10(greatest(latency_ms, 0.001)) * {_BINS_PER_DECADE}) / {_BINS_PER_DECADE}
           AS log10_ms,
       count(*) AS n
FROM executions WHERE latency_ms IS NOT NULL GROUP BY ALL ORDER BY ALL"""

_QUANTILES = """
SELECT tool_name, calls, p50_ms, p95_ms, max_ms, errors FROM slowest_tools"""

_SAFETY = """
SELECT date_trunc(?, recorded_at) AS at, kind, count(*) AS events
FROM safety_events GROUP BY ALL ORDER BY ALL"""


class CostDashboardModel(WidgetModel):
    """The dashboard's aggregates, read from the trace store by :meth:`refresh`.

    Args:
        store: The trace store; the default one of this workbench home if omitted.
        safety_bucket: Time bucket of the safety-events plot (``hour`` or ``day``).
    """

    def __init__(self, store: TraceStore | None = None, *, safety_bucket: str = "hour") -> None:
        super().__init__()
        if safety_bucket not in ("minute", "hour", "day"):
            raise ValueError(f"safety_bucket must be minute, hour or day, not {safety_bucket!r}")
        self.store = store or TraceStore()
        self.safety_bucket = safety_bucket
        self.cost = pd.DataFrame()
        """USD and tokens by agent, version and UTC day (``TraceStore.cost``)."""
        self.tool_latency = pd.DataFrame()
        """Histogram of TOOL span durations: series (tool), log10_ms bin, n."""
        self.execution_latency = pd.DataFrame()
        """Histogram of execution latencies: series (agent version), log10_ms bin, n."""
        self.quantiles = pd.DataFrame()
        """p50/p95/max per tool (the ``slowest_tools`` view)."""
        self.safety = pd.DataFrame()
        """Safety events per time bucket and kind."""
        self.generation = 0
        """Incremented by every successful :meth:`refresh`."""

    def refresh(self) -> bool:
        """Run the queries, showing progress; ``False`` (and :attr:`error`) if one failed."""
        steps: list[tuple[str, Any]] = [
            ("cost", lambda: self.store.cost(["version", "day"])),
            ("tool_latency", lambda: self.store.sql(_TOOL_LATENCY)),
            ("execution_latency", lambda: self.store.sql(_EXECUTION_LATENCY)),
            ("quantiles", lambda: self.store.sql(_QUANTILES)),
            ("safety", lambda: self.store.sql(_SAFETY, [self.safety_bucket])),
        ]
        self.set_progress(0, len(steps))
        try:
            for done, (name, query) in enumerate(steps, start=1):
                frame = self.attempt(query)
                if frame is None:
                    return False
                setattr(self, name, frame)
                self.set_progress(done, len(steps))
        finally:
            self.set_progress(None)
        self.generation += 1
        self.changed("data")
        return True

    # -- figures --------------------------------------------------------------------

    def cost_png(self) -> bytes:
        """Stacked bars: USD per UTC day, one colour per agent version."""
        fig = new_figure()
        ax = fig.add_subplot()
        if self.cost.empty:
            _empty(ax, "no model calls yet")
        else:
            frame = self.cost.assign(
                version=self.cost["agent_name"].astype(str) + " " + self.cost["agent_version"]
            )
            pivot = frame.pivot_table(
                index="day", columns="version", values="cost_usd", aggfunc="sum", fill_value=0.0
            ).sort_index()
            labels = [str(d)[:10] for d in pivot.index]
            # One stacked polygon per version, not one bar patch per version and day:
            # a year of days draws in milliseconds instead of seconds.
            ax.stackplot(
                range(len(labels)),
                *[pivot[v].tolist() for v in pivot.columns],
                labels=[str(v) for v in pivot.columns],
                step="mid",
            )
            _thin_ticks(ax, labels)
            ax.set_ylabel("USD")
            ax.set_title("cost by version and day")
            ax.legend(fontsize=7)
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        return figure_png(fig)

    def latency_png(self) -> bytes:
        """Histograms (log-scale bins) of tool-call and execution latencies."""
        fig = new_figure(9.0, 3.0)
        for i, (frame, title) in enumerate(
            [(self.tool_latency, "tool calls"), (self.execution_latency, "executions")], start=1
        ):
            ax = fig.add_subplot(1, 2, i)
            if frame.empty:
                _empty(ax, f"no {title} yet")
                continue
            for series, part in frame.groupby("series", sort=True):
                xs = [10 ** float(b) for b in part["log10_ms"]]
                ax.step(xs, part["n"].tolist(), where="post", label=str(series))
            ax.set_xscale("log")
            ax.set_xlabel("ms")
            ax.set_ylabel("count")
            ax.set_title(f"latency: {title}")
            ax.legend(fontsize=7)
        return figure_png(fig)

    def safety_png(self) -> bytes:
        """Stacked bars: safety events per time bucket, one colour per kind."""
        fig = new_figure()
        ax = fig.add_subplot()
        if self.safety.empty:
            _empty(ax, "no safety events")
        else:
            pivot = self.safety.pivot_table(
                index="at", columns="kind", values="events", aggfunc="sum", fill_value=0
            ).sort_index()
            labels = [str(t)[:16] for t in pivot.index]
            bottom = [0.0] * len(pivot)
            for kind in pivot.columns:
                values = [float(v) for v in pivot[kind]]
                ax.bar(labels, values, bottom=bottom, label=str(kind))
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
            _thin_ticks(ax, labels)
            ax.set_ylabel("events")
            ax.set_title(f"safety events per {self.safety_bucket}")
            ax.legend(fontsize=7)
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        return figure_png(fig)

    def totals(self) -> dict[str, float]:
        """Headline figures: USD, tokens, model calls and safety events."""
        cost = self.cost
        return {
            "cost_usd": float(cost["cost_usd"].sum()) if not cost.empty else 0.0,
            "tokens": float(cost["tokens"].sum()) if not cost.empty else 0.0,
            "llm_calls": float(cost["llm_calls"].sum()) if not cost.empty else 0.0,
            "safety_events": float(self.safety["events"].sum()) if not self.safety.empty else 0.0,
        }


def _thin_ticks(ax: Any, labels: list[str], most: int = 10) -> None:
    """At most ``most`` x labels: every label is text matplotlib must lay out."""
    step = max(1, -(-len(labels) // most))
    ax.set_xticks(range(0, len(labels), step), labels[::step])


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


class CostDashboard(ipywidgets.VBox):  # type: ignore[misc]
    """The view: Refresh, progress, headline totals and the three plots.

    Args:
        store: The trace store (or pass ``model=``).
        model: An existing :class:`CostDashboardModel`.
        **options: Passed to :class:`CostDashboardModel`.
    """

    def __init__(
        self,
        store: TraceStore | None = None,
        *,
        model: CostDashboardModel | None = None,
        **options: Any,
    ) -> None:
        self.model = model or CostDashboardModel(store, **options)
        self.refresh_button = ipywidgets.Button(description="Refresh", icon="refresh")
        self.progress = progress_bar()
        self.totals = ipywidgets.HTML()
        self.cost_image = ipywidgets.Image(format="png")
        self.latency_image = ipywidgets.Image(format="png")
        self.safety_image = ipywidgets.Image(format="png")
        self.error = error_label()
        self.refresh_button.on_click(lambda _b: self.model.refresh())
        super().__init__(
            [
                ipywidgets.HBox([self.refresh_button, self.progress]),
                self.totals,
                self.cost_image,
                self.latency_image,
                self.safety_image,
                self.error,
            ]
        )
        self._drawn = -1
        self.model.observe(on_kernel_thread(self.refresh))
        self.model.refresh()

    def refresh(self) -> None:
        """Show progress and errors; redraw the plots when the model has new data."""
        m = self.model
        show_progress(self.progress, m.progress)
        show_error(self.error, m.error)
        if m.generation != self._drawn and m.progress is None:
            self._drawn = m.generation
            self.render()

    def render(self) -> None:
        """Draw the plots and totals from the model's frames."""
        m = self.model
        t = m.totals()
        self.totals.value = (
            f"USD {t['cost_usd']:.6f} · tokens {int(t['tokens']):,} · model calls "
            f"{int(t['llm_calls']):,} · safety events {int(t['safety_events']):,}"
        )
        self.cost_image.value = m.cost_png()
        self.latency_image.value = m.latency_png()
        self.safety_image.value = m.safety_png()
