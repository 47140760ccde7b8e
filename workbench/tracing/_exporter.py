"""The exporter interface every span sink implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from workbench.tracing._model import RecordRow, SpanRecord

__all__ = ["SpanExporter"]


class SpanExporter(ABC):
    """A sink of finished spans and non-span rows.

    Contract:
        * :meth:`export` is called only from the tracer's background thread, never from
          the thread that runs the agent loop, and never concurrently with itself for
          one tracer. It may block (disk, network) for as long as it needs: it only
          delays later batches, never the loop.
        * A batch holds :class:`SpanRecord` and :class:`RecordRow` items in the order they
          were enqueued. An exporter that handles only spans ignores the rows.
        * When :meth:`export` returns, the batch is the exporter's responsibility: the
          tracer counts it as admitted. A durable exporter must have persisted it by then
          (the spool has sealed its segment). Raising means the batch was not taken; the
          tracer counts it as dropped and logs the error, and does not retry.
        * :meth:`shutdown` is called once, from the tracer's shutdown, after the last
          :meth:`export`.
    """

    @abstractmethod
    def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
        """Take one batch (see the class contract)."""

    def shutdown(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Release resources; no :meth:`export` follows."""
