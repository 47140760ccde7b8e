"""The tracer: parenting, attributes, errors, flush and the off-thread path."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence

import pytest

from workbench.errors import ToolTimeout
from workbench.testing._spans import InMemorySpanExporter
from workbench.tracing import (
    RecordRow,
    SpanExporter,
    SpanKind,
    SpanRecord,
    Tracer,
    current_span,
    get_tracer,
    set_tracer,
)


@pytest.fixture
def mem() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(mem: InMemorySpanExporter) -> Iterator[Tracer]:
    t = Tracer([mem], flush_interval_s=0.01)
    yield t
    t.shutdown()


def test_nesting_sets_parent_and_trace(tracer: Tracer, mem: InMemorySpanExporter) -> None:
    with tracer.span("agent", SpanKind.AGENT) as root:
        assert current_span() is root
        with tracer.span("llm", SpanKind.LLM) as child:
            assert current_span() is child
        detached = tracer.span("manual", SpanKind.CHAIN)
        detached.end()
    assert current_span() is None
    assert tracer.flush(5)
    spans = mem.by_name()
    assert spans["agent"][0].parent_id is None
    assert spans["llm"][0].parent_id == root.span_id
    assert spans["manual"][0].parent_id == root.span_id
    assert {s.trace_id for s in mem.spans} == {root.trace_id}
    assert len(root.trace_id) == 32
    assert len(root.span_id) == 16
    assert spans["llm"][0].kind == "LLM"
    assert spans["agent"][0].start_ns <= spans["llm"][0].start_ns <= spans["llm"][0].end_ns


@pytest.mark.anyio
async def test_parenting_across_asyncio_tasks(tracer: Tracer, mem: InMemorySpanExporter) -> None:
    async def tool(i: int) -> str:
        with tracer.span(f"tool-{i}", SpanKind.TOOL) as s:
            await asyncio.sleep(0)
            with tracer.span(f"inner-{i}", SpanKind.CHAIN):
                await asyncio.sleep(0)
            return s.span_id

    with tracer.span("agent", SpanKind.AGENT) as root:
        ids = await asyncio.gather(*(asyncio.create_task(tool(i)) for i in range(5)))
    other_root = tracer.span("other", SpanKind.AGENT)
    other_root.end()
    assert tracer.flush(5)
    by = {s.name: s for s in mem.spans}
    for i, span_id in enumerate(ids):
        assert by[f"tool-{i}"].parent_id == root.span_id
        assert by[f"inner-{i}"].parent_id == span_id
        assert by[f"inner-{i}"].trace_id == root.trace_id
    assert by["other"].parent_id is None
    assert by["other"].trace_id != root.trace_id


def test_explicit_trace_and_parent_override(tracer: Tracer, mem: InMemorySpanExporter) -> None:
    trace_id, parent_id = "ab" * 16, "cd" * 8
    with (
        tracer.span("resumed", SpanKind.AGENT, trace_id=trace_id, parent_id=parent_id) as s,
        tracer.span("child", SpanKind.LLM) as c,
    ):
        pass
    with (
        tracer.span("outer", SpanKind.AGENT),
        tracer.span("foreign", SpanKind.CHAIN, trace_id=trace_id) as f,
    ):
        pass
    assert tracer.flush(5)
    assert (s.trace_id, s.parent_id) == (trace_id, parent_id)
    assert (c.trace_id, c.parent_id) == (trace_id, s.span_id)
    # An explicit trace that differs from the current span's does not adopt it as parent.
    assert (f.trace_id, f.parent_id) == (trace_id, None)


def test_attributes_and_copy(tracer: Tracer, mem: InMemorySpanExporter) -> None:
    initial = {"tool.name": "search"}
    span = tracer.span("t", SpanKind.TOOL, initial)
    initial["tool.name"] = "mutated"
    span.set_attribute("tool.parameters", '{"q": 1}')
    span.set_attributes({"workbench.step": 3, "tags": ["a", "b"], "none": None})
    span.end()
    span.set_attribute("late", 1)
    span.end()
    assert tracer.flush(5)
    (record,) = mem.spans
    assert record.attributes == {
        "tool.name": "search",
        "tool.parameters": '{"q": 1}',
        "workbench.step": 3,
        "tags": ["a", "b"],
        "none": None,
    }
    assert record.status == "OK"
    assert record.error_type is None


def test_errors_recorded_with_code_or_class(tracer: Tracer, mem: InMemorySpanExporter) -> None:
    with pytest.raises(ToolTimeout), tracer.span("tool", SpanKind.TOOL):
        raise ToolTimeout("took too long", tool="search")
    with pytest.raises(KeyError), tracer.span("plain", SpanKind.CHAIN):
        raise KeyError("k")
    assert tracer.flush(5)
    by = {s.name: s for s in mem.spans}
    assert (by["tool"].status, by["tool"].error_type) == ("ERROR", "tool_timeout")
    assert by["tool"].error_message == "took too long"
    assert by["tool"].attributes["error.type"] == "tool_timeout"
    assert (by["plain"].status, by["plain"].error_type) == ("ERROR", "KeyError")


def test_flush_waits_for_export_and_records_flow(mem: InMemorySpanExporter) -> None:
    gate = threading.Event()

    class Slow(SpanExporter):
        def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
            gate.wait(5)

    # A long interval: only flush() can wake the thread.
    tracer = Tracer([Slow(), mem], flush_interval_s=60)
    try:
        for i in range(10):
            tracer.span(f"s{i}", SpanKind.CHAIN).end()
        tracer.record("executions", {"execution_id": "e1", "status": "running"})
        assert tracer.flush(0.2) is False  # the exporter is blocked
        assert mem.spans == []
        gate.set()
        assert tracer.flush(5) is True
        assert len(mem.spans) == 10
        assert [(r.table, r.row) for r in mem.records] == [
            ("executions", {"execution_id": "e1", "status": "running"})
        ]
        assert tracer.stats.admitted == 11
        assert tracer.stats.queue_depth == 0
    finally:
        tracer.shutdown()


def test_failing_exporter_counts_drops(mem: InMemorySpanExporter) -> None:
    class Broken(SpanExporter):
        def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
            raise OSError("disk full")

    tracer = Tracer([Broken(), mem], flush_interval_s=60)
    for _ in range(3):
        tracer.span("s", SpanKind.CHAIN).end()
    assert tracer.flush(5)
    stats = tracer.stats
    assert (stats.admitted, stats.dropped, stats.export_errors) == (0, 3, 1)
    assert len(mem.spans) == 3  # the other exporter still got the batch
    tracer.shutdown()
    tracer.span("after", SpanKind.CHAIN).end()
    assert tracer.stats.dropped == 4


def test_queue_bound_drops(mem: InMemorySpanExporter) -> None:
    gate = threading.Event()

    class Blocked(SpanExporter):
        def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
            gate.wait(5)

    tracer = Tracer([Blocked()], flush_interval_s=60, max_queue=5)
    for _ in range(8):
        tracer.span("s", SpanKind.CHAIN).end()
    assert tracer.stats.dropped == 3
    assert tracer.stats.queue_depth == 5
    gate.set()
    tracer.shutdown()
    assert tracer.stats.admitted == 5


def test_in_memory_exporter_clear(tracer: Tracer, mem: InMemorySpanExporter) -> None:
    tracer.span("a", SpanKind.CHAIN).end()
    tracer.span("a", SpanKind.CHAIN).end()
    tracer.span("b", SpanKind.CHAIN).end()
    assert tracer.flush(5)
    assert {k: len(v) for k, v in mem.by_name().items()} == {"a": 2, "b": 1}
    mem.clear()
    assert mem.spans == []
    assert mem.by_name() == {}


def test_default_tracer_uses_settings_spool(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.settings import get_settings
    from workbench.tracing import _tracer

    monkeypatch.setattr(_tracer, "_default", None)
    tracer = get_tracer()
    assert tracer is get_tracer()
    tracer.span("x", SpanKind.CHAIN).end()
    assert tracer.flush(5)
    assert list(get_settings().spool_dir.glob("*.spans.json"))
    tracer.shutdown()
    other = Tracer([])
    set_tracer(other)
    assert get_tracer() is other
    other.shutdown()
