"""CostDashboard driven from Python: aggregates from SQL, PNG plots, progress, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from widget_helpers import fill_store

from workbench.tracing import SafetyEvent, TraceStore, get_tracer, record_safety_event
from workbench.widgets import CostDashboard, CostDashboardModel

PNG = b"\x89PNG\r\n\x1a\n"


def test_aggregates_and_plots(store: TraceStore, flushed: Callable[[], TraceStore]) -> None:
    fill_store(store, 60)
    for kind in ("guardrail", "guardrail", "policy"):
        record_safety_event(
            get_tracer(), SafetyEvent(kind=kind, rule="r", severity="high", action="block")
        )
    flushed()
    seen: list[tuple[int, int] | None] = []
    model = CostDashboardModel(store)
    model.observe(lambda what: seen.append(model.progress) if what == "progress" else None)
    assert model.refresh() is True
    assert seen[0] == (0, 5)
    assert seen[-2] == (5, 5)
    assert seen[-1] is None
    # 60 executions x 2 LLM calls of 0.0005 USD, split over two versions and three days.
    assert abs(model.cost["cost_usd"].sum() - 0.06) < 1e-9
    assert set(model.cost["agent_version"]) == {"v1", "v2"}
    assert model.cost["day"].nunique() == 3
    assert int(model.tool_latency["n"].sum()) == 120
    assert set(model.tool_latency["series"]) == {"sql", "calculator"}
    assert int(model.execution_latency["n"].sum()) == 60
    assert model.safety.groupby("kind")["events"].sum().to_dict() == {"guardrail": 2, "policy": 1}
    assert model.totals()["safety_events"] == 3
    for png in (model.cost_png(), model.latency_png(), model.safety_png()):
        assert png.startswith(PNG)
        assert len(png) > 2000


def test_the_view_draws_on_open_and_on_refresh(store: TraceStore) -> None:
    widget = CostDashboard(store)  # an empty store: placeholder plots, no error
    assert widget.error.layout.display == "none"
    assert bytes(widget.cost_image.value).startswith(PNG)
    assert "USD 0.000000" in widget.totals.value
    first = widget.model.generation
    fill_store(store, 10)
    widget.refresh_button.click()
    assert widget.model.generation == first + 1
    assert "model calls 20" in widget.totals.value
    assert widget.progress.layout.display == "none"


def test_a_failing_store_is_an_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database")
    widget = CostDashboard(TraceStore(bad, spool_dir=tmp_path / "s", lock_timeout_s=1))
    assert widget.model.error is not None
    assert widget.model.error.startswith("[trace_store_corrupt]")
    assert widget.error.layout.display == ""
    assert widget.progress.layout.display == "none"
