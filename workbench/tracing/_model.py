"""Value types of the tracing package: span kinds, finished spans and non-span rows."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple, TypeAlias

__all__ = ["AttrValue", "RecordRow", "SpanKind", "SpanRecord", "error_type_of"]

_Scalar: TypeAlias = str | int | float | bool | None
AttrValue: TypeAlias = _Scalar | list[str] | list[int] | list[float] | list[bool] | list[_Scalar]
"""An attribute value: a scalar, or a list of scalars (OpenTelemetry's rule, plus None)."""


class SpanKind(StrEnum):
    """OpenInference span kinds (the ``openinference.span.kind`` attribute)."""

    AGENT = "AGENT"
    CHAIN = "CHAIN"
    LLM = "LLM"
    TOOL = "TOOL"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    RETRIEVER = "RETRIEVER"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"


class SpanRecord(NamedTuple):
    """A finished span, as exporters receive it.

    A tuple on purpose: building one on the hot path is cheap, and the spool encodes a
    whole batch of them as JSON arrays in one call.
    """

    trace_id: str
    """32 lowercase hex digits."""
    span_id: str
    """16 lowercase hex digits."""
    parent_id: str | None
    """The parent's ``span_id``; None for a root span."""
    name: str
    """Span name, e.g. ``llm.call`` or ``tool.search``."""
    kind: str
    """A :class:`SpanKind` value."""
    start_ns: int
    """Start, nanoseconds since the Unix epoch."""
    end_ns: int
    """End, nanoseconds since the Unix epoch."""
    status: str
    """``OK`` or ``ERROR``."""
    error_type: str | None
    """The error's stable code or class name when ``status`` is ``ERROR``."""
    error_message: str | None
    """The error's message when ``status`` is ``ERROR``."""
    attributes: dict[str, Any]
    """OpenInference and ``workbench.*`` attributes."""


class RecordRow(NamedTuple):
    """A non-span row (``executions``, later safety events, eval results, dead letters)."""

    table: str
    """Destination table, e.g. ``executions``."""
    row: dict[str, Any]
    """Column values; JSON-able (datetimes are encoded as ISO 8601)."""
    recorded_ns: int
    """When :meth:`Tracer.record` was called, nanoseconds since the Unix epoch."""


def error_type_of(exc: BaseException) -> str:
    """The error type recorded for ``exc``: its stable ``code`` if it has one, else its class."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else type(exc).__name__
