"""The tracer: opens spans on the caller's thread, exports them from a background thread."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from random import getrandbits
from time import time_ns
from typing import Any, NamedTuple

from workbench.tracing._exporter import SpanExporter
from workbench.tracing._model import AttrValue, RecordRow, SpanKind, SpanRecord
from workbench.tracing._span import _CURRENT, Span

__all__ = ["Tracer", "TracerStats", "get_tracer", "set_tracer"]

_log = logging.getLogger("workbench.tracing")


class _LoopMarker:
    """A flush marker that resolves an asyncio future on its loop (see :meth:`Tracer.aflush`)."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[bool]) -> None:
        self.loop = loop
        self.future = future

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(True)


_Item = SpanRecord | RecordRow | threading.Event | _LoopMarker


class TracerStats(NamedTuple):
    """Counters of one tracer, read with :attr:`Tracer.stats`."""

    admitted: int
    """Spans and rows every exporter took (for the spool: sealed on disk)."""
    dropped: int
    """Spans and rows lost: queue full, tracer shut down, or an exporter raised."""
    queue_depth: int
    """Items waiting for the background thread."""
    export_errors: int
    """Exporter calls that raised."""


class Tracer:
    """Records spans and rows on the calling thread and exports them off it.

    Ending a span builds a :class:`SpanRecord` and appends it to a deque (a few
    microseconds, no lock, no I/O). A daemon thread wakes every ``flush_interval_s``
    (or on :meth:`flush`), drains the deque in batches of at most ``max_batch`` and
    hands each batch to every exporter.

    Args:
        exporters: Where batches go, e.g. ``[SpoolExporter(spool_dir)]``.
        flush_interval_s: Longest time an item waits in the queue when nobody flushes.
        max_batch: Largest batch given to an exporter.
        max_queue: Items the queue holds before new ones are dropped (and counted), so a
            stalled exporter cannot exhaust memory.
    """

    def __init__(
        self,
        exporters: Sequence[SpanExporter],
        *,
        flush_interval_s: float = 0.05,
        max_batch: int = 5000,
        max_queue: int = 1_000_000,
    ) -> None:
        if flush_interval_s <= 0 or max_batch < 1 or max_queue < 1:
            raise ValueError("flush_interval_s, max_batch and max_queue must be positive")
        self._exporters = tuple(exporters)
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._admitted = 0
        self._dropped = 0
        self._export_errors = 0
        self._closed = False
        self._start_worker()
        _LIVE.add(self)

    # -- hot path ---------------------------------------------------------------------

    def span(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttrValue] | None = None,
        *,
        trace_id: str | None = None,
        parent_id: str | None = None,
    ) -> Span:
        """Start a span.

        The parent is the current span of this context (see :class:`Span`) unless
        ``parent_id`` is given; the trace is the parent's unless ``trace_id`` is given
        (a resumed execution continues its trace in a new process with both).

        Args:
            name: Span name.
            kind: OpenInference span kind.
            attributes: Initial attributes (copied).
            trace_id: Explicit trace (32 hex digits).
            parent_id: Explicit parent span (16 hex digits).

        Returns:
            The started span; use it with ``with`` or call :meth:`Span.end`.
        """
        current = _CURRENT.get()
        if trace_id is None:
            if current is not None:
                trace_id = current.trace_id
                if parent_id is None:
                    parent_id = current.span_id
            else:
                trace_id = f"{getrandbits(128):032x}"
        elif parent_id is None and current is not None and current.trace_id == trace_id:
            parent_id = current.span_id
        return Span(
            self._emit,
            trace_id,
            f"{getrandbits(64):016x}",
            parent_id,
            name,
            kind,
            dict(attributes) if attributes else {},
        )

    def record(self, table: str, row: Mapping[str, Any]) -> None:
        """Queue a non-span row for ``table`` on the same off-thread path as spans.

        ``executions`` rows are upserts in the store (newest ``updated_at`` wins per
        column); rows of other tables land in the generic ``records`` table.
        """
        self._emit(RecordRow(table, dict(row), time_ns()))

    def _emit(self, item: SpanRecord | RecordRow) -> None:
        queue = self._queue
        if len(queue) >= self._max_queue or self._closed:
            self._count_dropped(1)
            return
        queue.append(item)

    # -- control ----------------------------------------------------------------------

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Block until everything enqueued before this call has been exported.

        Returns:
            True when it was (for the spool: sealed on disk), False on timeout or when the
            background thread is not running.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("flush() called from the tracer's own thread")
        if not self._thread.is_alive():
            return not self._queue
        marker = threading.Event()
        self._queue.append(marker)
        self._wake.set()
        return marker.wait(timeout_s)

    async def aflush(self, timeout_s: float = 10.0) -> bool:
        """:meth:`flush` for async code: waits on the event loop, not on a blocked thread.

        The background thread resolves the wait through ``call_soon_threadsafe``, so no
        executor thread is taken (and woken) per flush.

        Returns:
            True when everything enqueued before the call was exported, False on timeout
            or when the background thread is not running.
        """
        if not self._thread.is_alive():
            return not self._queue
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._queue.append(_LoopMarker(loop, future))
        self._wake.set()
        try:
            async with asyncio.timeout(timeout_s):
                return await future  # a timeout cancels it; a late resolve then skips it
        except TimeoutError:
            return False

    def shutdown(self) -> None:
        """Flush, stop the background thread and shut the exporters down. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30.0)
        for exporter in self._exporters:
            try:
                exporter.shutdown()
            except Exception:
                _log.exception("trace exporter %r failed to shut down", exporter)

    @property
    def exporters(self) -> tuple[SpanExporter, ...]:
        """The exporters batches go to, in order."""
        return self._exporters

    @property
    def stats(self) -> TracerStats:
        """Admitted, dropped, queue depth and exporter errors."""
        return TracerStats(self._admitted, self._dropped, len(self._queue), self._export_errors)

    # -- background thread --------------------------------------------------------------

    def _start_worker(self) -> None:
        self._queue: deque[_Item] = deque()
        self._wake = threading.Event()
        self._drop_lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="workbench-tracer", daemon=True)
        self._thread.start()

    def _count_dropped(self, n: int) -> None:
        # Rare path; the lock keeps the counter exact when several threads drop at once.
        with self._drop_lock:
            self._dropped += n

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._drain()
            if self._stopping and not self._queue:
                return

    def _drain(self) -> None:
        queue, max_batch = self._queue, self._max_batch
        batch: list[SpanRecord | RecordRow] = []
        while True:
            try:
                item = queue.popleft()
            except IndexError:
                break
            if item.__class__ is threading.Event or item.__class__ is _LoopMarker:
                self._export(batch)
                batch = []
                item.set()
                continue
            batch.append(item)  # type: ignore[arg-type]
            if len(batch) >= max_batch:
                self._export(batch)
                batch = []
        self._export(batch)

    def _export(self, batch: list[SpanRecord | RecordRow]) -> None:
        if not batch:
            return
        ok = True
        for exporter in self._exporters:
            try:
                exporter.export(batch)
            except Exception:
                ok = False
                self._export_errors += 1
                _log.exception("trace exporter %r failed; %d items lost", exporter, len(batch))
        if ok:
            self._admitted += len(batch)
        else:
            self._count_dropped(len(batch))

    def _after_fork_in_child(self) -> None:
        # The parent's thread does not exist in the child and the parent exports its own
        # queue; the child starts empty with a thread of its own.
        if not self._closed:
            self._admitted = self._dropped = self._export_errors = 0
            self._start_worker()


_LIVE: weakref.WeakSet[Tracer] = weakref.WeakSet()
_default: Tracer | None = None
_default_lock = threading.Lock()
_by_dir: dict[Path, Tracer] = {}


def _shutdown_all() -> None:
    for tracer in list(_LIVE):
        tracer.shutdown()


def _after_fork_all() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    for tracer in list(_LIVE):
        tracer._after_fork_in_child()


atexit.register(_shutdown_all)
os.register_at_fork(after_in_child=_after_fork_all)


def get_tracer() -> Tracer:
    """The process-wide tracer: the one :func:`set_tracer` installed, else the spool
    tracer of the current settings' ``spool_dir`` (one per directory, so a process
    whose ``WORKBENCH_HOME`` changes writes to the new home)."""
    tracer = _default
    if tracer is not None:
        return tracer
    from workbench.settings import get_settings

    return tracer_for(get_settings().spool_dir)


def tracer_for(spool_dir: Path) -> Tracer:
    """The tracer that spools into ``spool_dir``, built on first use and then reused."""
    key = Path(spool_dir).resolve()
    with _default_lock:
        tracer = _by_dir.get(key)
        if tracer is None:
            from workbench.tracing._spool import SpoolExporter

            tracer = _by_dir[key] = Tracer([SpoolExporter(key)])
        return tracer


def set_tracer(tracer: Tracer | None) -> Tracer | None:
    """Make ``tracer`` the process-wide tracer returned by :func:`get_tracer`.

    ``None`` goes back to the default: the spool tracer of the current home.

    Returns:
        The tracer installed before (``None`` for the default), to restore it later.
    """
    global _default
    with _default_lock:
        previous, _default = _default, tracer
    return previous
