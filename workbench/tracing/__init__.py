"""Tracing: OpenInference spans recorded off the hot path into the DuckDB trace store.

A :class:`Tracer` opens :class:`Span` objects on the caller's thread (a few
microseconds each) and hands finished :class:`SpanRecord` items, and non-span rows
from :meth:`Tracer.record`, to a background thread that gives batches to each
:class:`SpanExporter`. The default exporter, :class:`SpoolExporter`, seals each batch
as a file in this process's spool; :class:`TraceStore` merges spools into
``traces.duckdb`` and answers SQL. :class:`OtlpExporter` also sends spans to Arize
Phoenix over OTLP/HTTP from a thread of its own (:func:`configure_phoenix`).
:class:`BurnRateMonitor` records :class:`CostAlert` rows when spend per hour exceeds a
budget. See ``docs/trace-store.md`` and ``docs/phoenix.md``.
"""

from __future__ import annotations

from workbench.tracing._alerts import (
    COST_ALERTS,
    AlertScope,
    BurnRateMonitor,
    CostAlert,
    CostNotifier,
    LogNotifier,
    WebhookNotifier,
)
from workbench.tracing._exporter import SpanExporter
from workbench.tracing._model import AttrValue, RecordRow, SpanKind, SpanRecord
from workbench.tracing._otel import to_readable_span
from workbench.tracing._otlp import (
    ENDPOINT_ENV,
    OPERATIONS_EVENTS,
    OtlpExporter,
    OtlpStats,
    configure_phoenix,
    phoenix_endpoint,
)
from workbench.tracing._safety import SAFETY_EVENTS, SafetyEvent, Severity, record_safety_event
from workbench.tracing._span import Span, current_span
from workbench.tracing._spool import (
    FALLBACK_ENV,
    SpoolExporter,
    SpoolStats,
    default_fallback_dir,
)
from workbench.tracing._store import COST_DIMENSIONS, EXPORT_TABLES, TraceStore, cost_query
from workbench.tracing._thresholds import ThresholdAlert, ThresholdMonitor, Thresholds
from workbench.tracing._tracer import Tracer, TracerStats, get_tracer, set_tracer, tracer_for

__all__ = [
    "COST_ALERTS",
    "COST_DIMENSIONS",
    "ENDPOINT_ENV",
    "EXPORT_TABLES",
    "FALLBACK_ENV",
    "OPERATIONS_EVENTS",
    "SAFETY_EVENTS",
    "AlertScope",
    "AttrValue",
    "BurnRateMonitor",
    "CostAlert",
    "CostNotifier",
    "LogNotifier",
    "OtlpExporter",
    "OtlpStats",
    "RecordRow",
    "SafetyEvent",
    "Severity",
    "Span",
    "SpanExporter",
    "SpanKind",
    "SpanRecord",
    "SpoolExporter",
    "SpoolStats",
    "ThresholdAlert",
    "ThresholdMonitor",
    "Thresholds",
    "TraceStore",
    "Tracer",
    "TracerStats",
    "WebhookNotifier",
    "configure_phoenix",
    "cost_query",
    "current_span",
    "default_fallback_dir",
    "get_tracer",
    "phoenix_endpoint",
    "record_safety_event",
    "set_tracer",
    "to_readable_span",
    "tracer_for",
]
