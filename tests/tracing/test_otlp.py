"""The OTLP exporter against a loopback collector: retries, bounds, drops, never blocking."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.testing import OtlpCollector
from workbench.tracing import (
    ENDPOINT_ENV,
    OPERATIONS_EVENTS,
    OtlpExporter,
    SpanKind,
    SpoolExporter,
    Tracer,
    TraceStore,
    configure_phoenix,
    phoenix_endpoint,
)


@pytest.fixture
def collector() -> Iterator[OtlpCollector]:
    c = OtlpCollector(statuses=[503, 503])
    yield c
    c.close()


def _dead_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"


def _execution(tracer: Tracer, eid: str, *, thread: str, llm_calls: int) -> None:
    """What the runtime emits: an executions row first, then the span tree."""
    tracer.record(
        "executions",
        {"execution_id": eid, "thread_id": thread, "agent_name": "analyst", "agent_version": "v2"},
    )
    with tracer.span(
        "agent analyst",
        SpanKind.AGENT,
        {"workbench.execution_id": eid, "workbench.agent.name": "analyst", "session.id": thread},
    ):
        for step in range(llm_calls):
            with tracer.span(
                "llm scripted/x",
                SpanKind.LLM,
                {"workbench.execution_id": eid, "workbench.step": step, "workbench.cost_usd": 0.5},
            ):
                pass


def _wait(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_retries_on_503_and_delivers_every_span_enriched(
    collector: OtlpCollector, tmp_path: Path
) -> None:
    exporter = OtlpExporter(collector.endpoint, backoff_initial_s=0.01, backoff_max_s=0.05)
    tracer = Tracer([SpoolExporter(tmp_path / "spool"), exporter], flush_interval_s=0.01)
    exporter.bind(tracer)
    _execution(tracer, "ex-1", thread="th-1", llm_calls=3)
    _execution(tracer, "ex-2", thread="th-1", llm_calls=2)
    assert tracer.flush()
    assert exporter.flush(10.0)
    stats = exporter.stats
    assert (stats.sent, stats.dropped, stats.buffered) == (7, 0, 0)
    assert stats.failed_requests >= 2  # the two scripted 503s, then retried to success
    tracer.shutdown()

    by_id = {s["span_id"]: s for s in collector.spans}
    assert len(by_id) == 7
    roots = [s for s in collector.spans if s["parent_id"] is None]
    assert len(roots) == 2
    for span in collector.spans:
        # Every span, not only the root, carries what Phoenix groups and filters by.
        assert span["project"] == "analyst"
        assert span["attributes"]["session.id"] == "th-1"
        assert span["attributes"]["workbench.agent.version"] == "v2"
        meta = json.loads(span["attributes"]["metadata"])
        assert meta["agent_version"] == "v2"
        if span["parent_id"] is not None:
            assert by_id[span["parent_id"]]["parent_id"] is None
            assert span["attributes"]["openinference.span.kind"] == "LLM"
            assert span["attributes"]["llm.cost.total"] == 0.5


def test_rejected_batch_is_dropped_and_recorded(tmp_path: Path) -> None:
    collector = OtlpCollector(statuses=[400])
    try:
        exporter = OtlpExporter(collector.endpoint, drop_event_interval_s=60)
        tracer = Tracer([SpoolExporter(tmp_path / "spool"), exporter], flush_interval_s=0.01)
        exporter.bind(tracer)
        _execution(tracer, "ex-1", thread="th", llm_calls=2)
        assert tracer.flush()
        _wait(lambda: exporter.stats.dropped == 3)
        exporter.flush(1.0)  # writes the pending drop row now
        assert tracer.flush()
        tracer.shutdown()
    finally:
        collector.close()
    rows = TraceStore(tmp_path / "t.duckdb", spool_dir=tmp_path / "spool").sql(
        "SELECT row ->> 'kind' AS kind, row ->> 'reason' AS reason,"
        " CAST(row ->> 'dropped' AS INT) AS n FROM records WHERE table_name = ?",
        [OPERATIONS_EVENTS],
    )
    assert rows.to_dict(orient="records") == [
        {"kind": "telemetry_dropped", "reason": "rejected_400", "n": 3}
    ]


def test_dead_collector_never_blocks_bounds_memory_and_loses_nothing_locally(
    tmp_path: Path,
) -> None:
    exporter = OtlpExporter(
        _dead_endpoint(), max_buffer=10, max_batch=5, backoff_initial_s=0.05, shutdown_timeout_s=0.2
    )
    tracer = Tracer([SpoolExporter(tmp_path / "spool"), exporter], flush_interval_s=0.01)
    exporter.bind(tracer)
    started = time.perf_counter()
    for i in range(20):
        _execution(tracer, f"ex-{i}", thread="th", llm_calls=4)  # 5 spans each
    assert tracer.flush(5.0)
    elapsed = time.perf_counter() - started
    # The spool shares the tracer's thread with the exporter: a dead collector costs it
    # nothing (one connection attempt alone would be slower than this bound allows).
    assert elapsed < 1.0
    assert not exporter.flush(0.2)
    stats = exporter.stats
    assert stats.sent == 0
    assert stats.buffered <= 10 + 5  # the buffer bound plus one batch in flight
    assert stats.dropped + stats.buffered == 100
    assert stats.dropped >= 85
    assert tracer.flush()
    tracer.shutdown()  # counts the still-buffered spans as dropped too
    assert exporter.stats.dropped == 100

    store = TraceStore(tmp_path / "t.duckdb", spool_dir=tmp_path / "spool")
    assert store.sql("SELECT count(*) AS n FROM spans")["n"].iloc[0] == 100
    dropped = store.sql(
        "SELECT sum(CAST(row ->> 'dropped' AS INT)) AS n FROM records"
        " WHERE table_name = 'operations_events' AND (row ->> 'kind') = 'telemetry_dropped'"
    )["n"].iloc[0]
    # The shutdown's own row cannot be recorded (the tracer is closed by then).
    assert dropped == stats.dropped


def test_slow_collector_does_not_delay_the_spool(tmp_path: Path) -> None:
    collector = OtlpCollector(delay_s=0.4)
    try:
        exporter = OtlpExporter(collector.endpoint, max_batch=2)
        tracer = Tracer([SpoolExporter(tmp_path / "spool"), exporter], flush_interval_s=0.01)
        exporter.bind(tracer)
        started = time.perf_counter()
        for i in range(3):
            _execution(tracer, f"ex-{i}", thread="th", llm_calls=1)
            assert tracer.flush(5.0)
        assert time.perf_counter() - started < 0.5
        assert exporter.flush(10.0)
        assert exporter.stats.sent == 6
        tracer.shutdown()
    finally:
        collector.close()


def test_endpoint_from_env_or_service_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.settings import get_settings

    settings = get_settings(tmp_path / "home")
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    assert phoenix_endpoint(settings) is None
    assert configure_phoenix(settings=settings, install=False) is None
    settings.services_dir.mkdir(parents=True)
    state = {"pid": 999_999_999, "otlp_http_endpoint": "http://127.0.0.1:1/v1/traces"}
    (settings.services_dir / "phoenix.json").write_text(json.dumps(state))
    assert phoenix_endpoint(settings) is None  # its process is gone
    state["pid"] = __import__("os").getpid()
    (settings.services_dir / "phoenix.json").write_text(json.dumps(state))
    assert phoenix_endpoint(settings) == "http://127.0.0.1:1/v1/traces"
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:2/v1/traces")
    assert phoenix_endpoint(settings) == "http://127.0.0.1:2/v1/traces"
    monkeypatch.setenv(ENDPOINT_ENV, "off")
    assert phoenix_endpoint(settings) is None
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:2/v1/traces")
    tracer = configure_phoenix(settings=settings, install=False, shutdown_timeout_s=0.1)
    assert tracer is not None
    names = [type(e).__name__ for e in tracer._exporters]
    assert names == ["SpoolExporter", "OtlpExporter"]
    tracer.shutdown()
