"""to_readable_span: a finished span becomes an OpenTelemetry span and an OTLP message."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import StatusCode

from workbench.testing._spans import InMemorySpanExporter
from workbench.tracing import SpanKind, Tracer, to_readable_span


def test_round_trip_through_otlp() -> None:
    mem = InMemorySpanExporter()
    tracer = Tracer([mem])
    with tracer.span("agent", SpanKind.AGENT, {"session.id": "s1"}) as root:
        try:
            with tracer.span("llm", SpanKind.LLM) as llm:
                llm.set_attributes(
                    {
                        "llm.model_name": "m",
                        "llm.token_count.prompt": 3,
                        "none": None,
                        "tags": ["a", "b"],
                        "mixed": [1, "x"],
                        "workbench.cost_usd": 0.5,
                    }
                )
                raise TimeoutError("late")
        except TimeoutError:
            pass
    assert tracer.flush(5)
    tracer.shutdown()
    by = mem.by_name()
    rs = to_readable_span(by["llm"][0], resource_attributes={"openinference.project.name": "p"})
    assert rs.name == "llm"
    assert rs.context is not None
    assert rs.parent is not None
    assert f"{rs.context.trace_id:032x}" == root.trace_id
    assert f"{rs.context.span_id:016x}" == llm.span_id
    assert f"{rs.parent.span_id:016x}" == root.span_id
    assert (rs.start_time, rs.end_time) == (by["llm"][0].start_ns, by["llm"][0].end_ns)
    assert rs.status.status_code is StatusCode.ERROR
    assert rs.status.description == "late"
    assert rs.events[0].name == "exception"
    assert rs.resource.attributes["openinference.project.name"] == "p"
    assert dict(rs.attributes or {}) == {
        "llm.model_name": "m",
        "llm.token_count.prompt": 3,
        "tags": ("a", "b"),
        "mixed": '[1, "x"]',
        "workbench.cost_usd": 0.5,
        "error.type": "TimeoutError",
        "openinference.span.kind": "LLM",
    }
    root_rs = to_readable_span(by["agent"][0])
    assert root_rs.parent is None
    assert root_rs.status.status_code is StatusCode.OK

    wire = ExportTraceServiceRequest.FromString(encode_spans([rs, root_rs]).SerializeToString())
    decoded = {s.name: s for rs_ in wire.resource_spans for ss in rs_.scope_spans for s in ss.spans}
    assert decoded["llm"].trace_id.hex() == root.trace_id
    assert decoded["llm"].parent_span_id.hex() == root.span_id
    attrs = {a.key: a.value for a in decoded["llm"].attributes}
    assert attrs["openinference.span.kind"].string_value == "LLM"
    assert attrs["llm.token_count.prompt"].int_value == 3
    assert decoded["agent"].parent_span_id == b""
