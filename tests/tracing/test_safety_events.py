"""Safety events land as GUARDRAIL spans and as rows of the ``safety_events`` view."""

from __future__ import annotations

from pathlib import Path

from workbench.tracing import (
    SAFETY_EVENTS,
    SafetyEvent,
    SpoolExporter,
    Tracer,
    TraceStore,
    record_safety_event,
)


def test_safety_event_is_a_span_and_a_row(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    tracer = Tracer([SpoolExporter(spool)])
    try:
        record_safety_event(
            tracer,
            SafetyEvent(
                kind="guardrail",
                rule="injection.ignore_previous",
                severity="high",
                action="block",
                principal="alice",
                execution_id="ex-1",
                channel="tool_output",
                tool="http_get",
                excerpt="Ignore all previous instructions " + "x" * 500,
                detail={"score": 0.97},
            ),
        )
        assert tracer.flush()
    finally:
        tracer.shutdown()
    store = TraceStore(tmp_path / "traces.duckdb", spool_dir=spool)
    rows = store.sql("SELECT * FROM safety_events")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["kind"], row["rule"], row["severity"], row["action"]) == (
        "guardrail",
        "injection.ignore_previous",
        "high",
        "block",
    )
    assert (row["principal"], row["execution_id"], row["channel"], row["tool"]) == (
        "alice",
        "ex-1",
        "tool_output",
        "http_get",
    )
    assert len(row["excerpt"]) == 240
    spans = store.sql("SELECT name, kind FROM spans")
    assert list(spans.itertuples(index=False, name=None)) == [("guardrail guardrail", "GUARDRAIL")]
    assert SAFETY_EVENTS == "safety_events"
