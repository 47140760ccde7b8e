"""Conversion of finished spans to OpenTelemetry SDK spans (for OTLP exporters)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags
from opentelemetry.trace import SpanKind as OtelSpanKind
from opentelemetry.trace.status import Status, StatusCode

from workbench.tracing._model import SpanRecord

__all__ = ["to_readable_span"]

_SCOPE = InstrumentationScope("workbench.tracing")
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SCALARS = (str, bool, int, float)


def _otel_value(value: Any) -> Any:
    """An OpenTelemetry attribute value: a scalar or a homogeneous list of scalars."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        items = [v for v in value if v is not None]
        if all(isinstance(v, _SCALARS) for v in items) and len({type(v) for v in items}) <= 1:
            return tuple(items)
    # Mixed lists, dicts and other objects travel as JSON text, as OpenInference does.
    return json.dumps(value, default=str)


def to_readable_span(
    record: SpanRecord, *, resource_attributes: Mapping[str, str] | None = None
) -> ReadableSpan:
    """Turn a finished span into an OpenTelemetry ``ReadableSpan``.

    The result is what an OTLP span exporter (e.g. to Arize Phoenix) takes. The
    OpenInference kind goes into ``openinference.span.kind``; ``None`` attributes are
    left out (OpenTelemetry has no null); an error becomes status ERROR with an
    ``exception`` event.

    Args:
        record: The finished span.
        resource_attributes: Resource attributes, e.g. ``{"openinference.project.name":
            "my-project", "service.name": "workbench"}``.

    Returns:
        The span, with the record's ids, parent, times, attributes and status.
    """
    attributes = {k: _otel_value(v) for k, v in record.attributes.items() if v is not None}
    attributes["openinference.span.kind"] = str(record.kind)
    trace_id = int(record.trace_id, 16)
    context = SpanContext(trace_id, int(record.span_id, 16), is_remote=False, trace_flags=_SAMPLED)
    parent = (
        SpanContext(trace_id, int(record.parent_id, 16), is_remote=False, trace_flags=_SAMPLED)
        if record.parent_id
        else None
    )
    events: tuple[Event, ...] = ()
    if record.status == "ERROR":
        status = Status(StatusCode.ERROR, record.error_message)
        events = (
            Event(
                "exception",
                {
                    "exception.type": record.error_type or "",
                    "exception.message": record.error_message or "",
                },
                timestamp=record.end_ns,
            ),
        )
    else:
        status = Status(StatusCode.OK)
    return ReadableSpan(
        name=record.name,
        context=context,
        parent=parent,
        resource=_resource(tuple(sorted((resource_attributes or {}).items()))),
        attributes=attributes,
        events=events,
        kind=OtelSpanKind.INTERNAL,
        status=status,
        start_time=record.start_ns,
        end_time=record.end_ns,
        instrumentation_scope=_SCOPE,
    )


@functools.lru_cache(maxsize=256)
def _resource(items: tuple[tuple[str, str], ...]) -> Resource:
    # Resource.create runs the resource detectors (a thread pool) on every call; the
    # resources of one process repeat, so build each once.
    return Resource.create(dict(items))
