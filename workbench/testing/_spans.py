"""An in-memory span exporter for tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from workbench.tracing import RecordRow, SpanExporter, SpanRecord

__all__ = ["InMemorySpanExporter"]


class InMemorySpanExporter(SpanExporter):
    """Keeps every exported span and row in memory.

    Use it with ``Tracer([exporter])`` and call ``tracer.flush()`` before asserting.
    Thread-safe: the tracer's thread appends while the test reads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[SpanRecord] = []
        self._records: list[RecordRow] = []

    def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
        """Keep the batch."""
        with self._lock:
            for item in batch:
                if isinstance(item, RecordRow):
                    self._records.append(item)
                else:
                    self._spans.append(item)

    @property
    def spans(self) -> list[SpanRecord]:
        """Exported spans, in export order (a copy)."""
        with self._lock:
            return list(self._spans)

    @property
    def records(self) -> list[RecordRow]:
        """Exported non-span rows, in export order (a copy)."""
        with self._lock:
            return list(self._records)

    def by_name(self) -> dict[str, list[SpanRecord]]:
        """Exported spans grouped by span name."""
        grouped: dict[str, list[SpanRecord]] = {}
        for span in self.spans:
            grouped.setdefault(span.name, []).append(span)
        return grouped

    def clear(self) -> None:
        """Forget everything exported so far."""
        with self._lock:
            self._spans.clear()
            self._records.clear()
