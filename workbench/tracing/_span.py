"""The span recorder used on the hot path: plain attributes, no locks, no I/O."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from time import time_ns
from types import TracebackType
from typing import Any

from workbench.tracing._model import AttrValue, SpanKind, SpanRecord, error_type_of

__all__ = ["Span", "current_span"]

_CURRENT: ContextVar[Span | None] = ContextVar("workbench_current_span", default=None)


def current_span() -> Span | None:
    """The span made current by the innermost ``with tracer.span(...)`` of this context."""
    return _CURRENT.get()


class Span:
    """One unit of work being timed. Returned by :meth:`Tracer.span`.

    Use it as a context manager: inside the block it is the current span (children pick
    it as their parent, across ``asyncio`` tasks created inside the block), and an
    exception leaving the block is recorded as the span's error before it ends. Without
    ``with``, call :meth:`end` yourself; such a span never becomes current.

    Not thread-safe: one span is filled in by the code that opened it.
    """

    __slots__ = (
        "_attrs",
        "_emit",
        "_ended",
        "_error_message",
        "_error_type",
        "_start_ns",
        "_token",
        "kind",
        "name",
        "parent_id",
        "span_id",
        "trace_id",
    )

    def __init__(
        self,
        emit: Callable[[SpanRecord], None],
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        name: str,
        kind: SpanKind,
        attributes: dict[str, Any],
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.name = name
        self.kind = kind
        self._attrs = attributes
        self._emit = emit
        self._ended = False
        self._error_type: str | None = None
        self._error_message: str | None = None
        self._token: Token[Span | None] | None = None
        self._start_ns = time_ns()

    def set_attribute(self, key: str, value: AttrValue) -> None:
        """Set one attribute; ignored once the span has ended."""
        if not self._ended:
            self._attrs[key] = value

    def set_attributes(self, attrs: Mapping[str, AttrValue]) -> None:
        """Set several attributes; ignored once the span has ended."""
        if not self._ended:
            self._attrs.update(attrs)

    def record_error(self, exc: BaseException) -> None:
        """Mark the span as failed by ``exc``: status ERROR, ``error.type`` and message.

        The error type is the exception's stable ``code`` when it has one (every
        :class:`~workbench.errors.WorkbenchError` does), else its class name.
        """
        if self._ended:
            return
        self._error_type = error_type_of(exc)
        self._error_message = str(exc) or type(exc).__name__
        self._attrs["error.type"] = self._error_type

    @property
    def is_error(self) -> bool:
        """True once an error has been recorded."""
        return self._error_type is not None

    def end(self) -> None:
        """End the span and hand it to the tracer's queue. Idempotent."""
        if self._ended:
            return
        self._ended = True
        error_type = self._error_type
        self._emit(
            SpanRecord(
                self.trace_id,
                self.span_id,
                self.parent_id,
                self.name,
                self.kind,
                self._start_ns,
                time_ns(),
                "OK" if error_type is None else "ERROR",
                error_type,
                self._error_message,
                self._attrs,
            )
        )

    def __enter__(self) -> Span:
        self._token = _CURRENT.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.record_error(exc)
        token = self._token
        if token is not None:
            self._token = None
            # Exited in another context (e.g. an async generator finalised elsewhere): the
            # context that set it is gone, so there is nothing to restore.
            with contextlib.suppress(ValueError):
                _CURRENT.reset(token)
        self.end()

    def __repr__(self) -> str:
        return f"Span({self.name!r}, kind={self.kind}, span_id={self.span_id})"
