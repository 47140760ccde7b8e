"""OTLP/HTTP export of spans (to Arize Phoenix) on a thread of its own, never blocking.

The tracer's thread calls :meth:`OtlpExporter.export`, which only enriches each span
and appends it to a bounded buffer (microseconds); a dedicated thread encodes batches
as OTLP protobuf and POSTs them. A slow or dead collector therefore delays neither the
agent loop nor the spool, which shares the tracer's thread.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from workbench._util import pid_alive
from workbench.tracing._exporter import SpanExporter
from workbench.tracing._model import RecordRow, SpanRecord
from workbench.tracing._otel import to_readable_span

if TYPE_CHECKING:
    from workbench.settings import Settings
    from workbench.tracing._tracer import Tracer

__all__ = [
    "ENDPOINT_ENV",
    "OPERATIONS_EVENTS",
    "OtlpExporter",
    "OtlpStats",
    "configure_phoenix",
    "phoenix_endpoint",
]

_log = logging.getLogger("workbench.tracing")

ENDPOINT_ENV = "WORKBENCH_PHOENIX_ENDPOINT"
"""Environment variable naming the OTLP/HTTP traces endpoint (``off`` disables export)."""
OPERATIONS_EVENTS = "operations_events"
"""Table of the ``telemetry_dropped`` rows the exporter records through its tracer."""

_RETRYABLE = frozenset({408, 429, 502, 503, 504})
_PROJECT = "openinference.project.name"
_MAX_EXECUTIONS = 10_000
"""Executions whose agent and thread the exporter remembers (oldest forgotten first)."""


class OtlpStats(NamedTuple):
    """Counters of one :class:`OtlpExporter`, read with :attr:`OtlpExporter.stats`."""

    sent: int
    """Spans the collector accepted (HTTP 2xx)."""
    dropped: int
    """Spans lost: buffer full, rejected by the collector (non-retryable status), or
    still unsent at shutdown."""
    buffered: int
    """Spans waiting to be sent, including the batch in flight."""
    failed_requests: int
    """Requests that failed (connection error, timeout or an error status); each
    retryable one is retried with backoff."""


class _Meta(NamedTuple):
    agent_name: str | None
    agent_version: str | None
    thread_id: str | None
    principal: str | None


class OtlpExporter(SpanExporter):
    """Sends spans over OTLP/HTTP (protobuf) to a collector such as Arize Phoenix.

    Each span becomes an OpenTelemetry span (:func:`to_readable_span`) in the Phoenix
    project of its agent (resource attribute ``openinference.project.name`` = the agent
    name), and carries on every span, not only the root: ``session.id`` (the thread, so
    the executions of one thread form a Phoenix session), ``workbench.agent.name``,
    ``workbench.agent.version`` (filterable), ``workbench.execution_id`` and a
    ``metadata`` JSON object with the same keys. The agent of a span is learnt from the
    ``executions`` row the runtime records before the execution's first span.

    Contract beyond :class:`SpanExporter`:
        * :meth:`export` never blocks on the network: it appends to a buffer of at most
          ``max_buffer`` spans and returns. Spans that do not fit are dropped and
          counted; so are spans the collector rejects with a non-retryable status.
        * A sender thread ships batches of up to ``max_batch`` spans. Connection errors,
          timeouts and 408/429/502/503/504 are retried with exponential backoff and full
          jitter (``Retry-After`` is a floor), for as long as it takes: nothing is lost
          while the buffer has room.
        * Drops are recorded as ``telemetry_dropped`` rows in ``operations_events``
          through ``tracer`` (at most one row per ``drop_event_interval_s``, with the
          count since the previous row), so the trace store shows what Phoenix misses.
        * :meth:`shutdown` gives the sender ``shutdown_timeout_s`` to drain, then counts
          what is left as dropped.

    Args:
        endpoint: The OTLP/HTTP traces URL, e.g. ``http://127.0.0.1:6006/v1/traces``.
        project_name: Put every span in this Phoenix project instead of one per agent.
        default_project: Project of spans whose agent is unknown.
        tracer: Where ``telemetry_dropped`` rows are recorded; settable later with
            :meth:`bind`.
        max_buffer: Spans held while the collector is slow or down.
        max_batch: Spans per request.
        request_timeout_s: Timeout of one request.
        backoff_initial_s: First retry delay; doubles up to ``backoff_max_s``.
        backoff_max_s: Longest retry delay.
        drop_event_interval_s: Least time between two ``telemetry_dropped`` rows.
        shutdown_timeout_s: Longest wait for the buffer to drain at shutdown.
        headers: Extra HTTP headers (e.g. an API key for a hosted Phoenix).
        resource_attributes: Extra resource attributes for every span.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        project_name: str | None = None,
        default_project: str = "workbench",
        tracer: Tracer | None = None,
        max_buffer: int = 20_000,
        max_batch: int = 512,
        request_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 10.0,
        drop_event_interval_s: float = 5.0,
        shutdown_timeout_s: float = 5.0,
        headers: Mapping[str, str] | None = None,
        resource_attributes: Mapping[str, str] | None = None,
    ) -> None:
        if max_buffer < 1 or max_batch < 1:
            raise ValueError("max_buffer and max_batch must be positive")
        self.endpoint = endpoint
        self.project_name = project_name
        self.default_project = default_project
        self._tracer = tracer
        self._max_buffer = max_buffer
        self._max_batch = max_batch
        self._timeout = request_timeout_s
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._drop_interval = drop_event_interval_s
        self._shutdown_timeout = shutdown_timeout_s
        self._headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        self._resource_extra = {"service.name": "workbench", **(resource_attributes or {})}
        self._executions: OrderedDict[str, _Meta] = OrderedDict()
        self._buffer: deque[tuple[SpanRecord, _Meta | None]] = deque()
        self._inflight = 0
        self._sent = 0
        self._dropped = 0
        self._failed = 0
        self._pending_drops: dict[str, int] = {}
        self._last_drop_event = 0.0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="workbench-otlp", daemon=True)
        self._thread.start()

    # -- tracer thread ------------------------------------------------------------------

    def bind(self, tracer: Tracer) -> None:
        """Record ``telemetry_dropped`` rows through ``tracer`` from now on."""
        self._tracer = tracer

    @property
    def tracer(self) -> Tracer | None:
        """The tracer that receives ``telemetry_dropped`` rows."""
        return self._tracer

    def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
        """Buffer the batch's spans for the sender thread (never waits on the network)."""
        dropped = 0
        with self._cond:
            for item in batch:
                if isinstance(item, RecordRow):
                    if item.table == "executions":
                        self._remember(item.row)
                    continue
                span = item
                if self._closed or len(self._buffer) >= self._max_buffer:
                    dropped += 1
                    continue
                eid = span.attributes.get("workbench.execution_id")
                self._buffer.append((span, self._executions.get(eid) if eid else None))
            self._cond.notify()
        if dropped:
            self._note_drops(dropped, "buffer_full")

    def _remember(self, row: Mapping[str, Any]) -> None:
        eid = row.get("execution_id")
        if not isinstance(eid, str):
            return
        old = self._executions.pop(eid, None)

        def pick(key: str, before: str | None) -> str | None:
            value = row.get(key)
            return str(value) if value is not None else before

        self._executions[eid] = _Meta(
            pick("agent_name", old.agent_name if old else None),
            pick("agent_version", old.agent_version if old else None),
            pick("thread_id", old.thread_id if old else None),
            pick("principal", old.principal if old else None),
        )
        while len(self._executions) > _MAX_EXECUTIONS:
            self._executions.popitem(last=False)

    # -- control ------------------------------------------------------------------------

    @property
    def stats(self) -> OtlpStats:
        """Sent, dropped, buffered and failed-request counters."""
        with self._cond:
            return OtlpStats(
                self._sent, self._dropped, len(self._buffer) + self._inflight, self._failed
            )

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every buffered span was sent; record pending drop counts now.

        Returns:
            True when the buffer drained within ``timeout_s``, False otherwise (the
            collector is down or slow; the spans stay buffered).
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._cond.notify_all()
            while self._buffer or self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    break
                self._cond.wait(min(remaining, 0.05))
            drained = not (self._buffer or self._inflight)
        self._emit_drop_event(force=True)
        return drained

    def shutdown(self) -> None:
        """Drain for up to ``shutdown_timeout_s``, stop the sender, count the rest as dropped."""
        if self._closed:
            return
        self.flush(self._shutdown_timeout)
        with self._cond:
            self._closed = True
            self._stop.set()
            self._cond.notify_all()
        self._thread.join(timeout=self._timeout + 1.0)
        with self._cond:
            left = len(self._buffer) + self._inflight
            self._buffer.clear()
        if left:
            self._note_drops(left, "shutdown")
            self._emit_drop_event(force=True)

    # -- sender thread ------------------------------------------------------------------

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while not self._stop.is_set():
                with self._cond:
                    if not self._buffer:
                        self._cond.wait(self._drop_interval)
                    take = min(len(self._buffer), self._max_batch)
                    batch = [self._buffer.popleft() for _ in range(take)]
                    self._inflight = take
                self._emit_drop_event()
                if batch:
                    self._deliver(client, batch)

    def _deliver(self, client: httpx.Client, batch: list[tuple[SpanRecord, _Meta | None]]) -> None:
        try:
            payload = encode_spans([self._convert(s, m) for s, m in batch]).SerializeToString()
        except Exception:
            _log.exception("cannot encode %d spans for OTLP; dropped", len(batch))
            self._finish(0, len(batch), "unencodable")
            return
        attempt = 0
        while True:
            delay: float | None = None
            try:
                response = client.post(self.endpoint, content=payload, headers=self._headers)
            except httpx.HTTPError as exc:
                status, detail = None, f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    self._finish(len(batch), 0, "")
                    return
                status, detail = response.status_code, response.text[:200]
                delay = _retry_after(response.headers.get("retry-after"))
            with self._cond:
                self._failed += 1
            if status is not None and status not in _RETRYABLE:
                _log.warning("OTLP endpoint rejected %d spans: %s %s", len(batch), status, detail)
                self._finish(0, len(batch), f"rejected_{status}")
                return
            backoff = min(self._backoff_max, self._backoff_initial * 2**attempt)
            wait = max(random.uniform(0, backoff), delay or 0.0)
            attempt += 1
            if attempt == 1 or attempt % 10 == 0:
                _log.warning(
                    "OTLP export to %s failed (%s); retry %d in %.2fs",
                    self.endpoint,
                    status or detail,
                    attempt,
                    wait,
                )
            self._emit_drop_event()
            if self._stop.wait(wait):
                return  # shutdown counts the batch in flight as dropped

    def _finish(self, sent: int, dropped: int, reason: str) -> None:
        with self._cond:
            self._sent += sent
            self._inflight = 0
            self._cond.notify_all()
        if dropped:
            self._note_drops(dropped, reason)

    def _convert(self, record: SpanRecord, meta: _Meta | None) -> ReadableSpan:
        attributes = record.attributes
        if meta is None and record.kind == "AGENT":
            # A root span names its own agent (e.g. an execution whose row came late).
            meta = _Meta(
                _str(attributes.get("workbench.agent.name")),
                _str(attributes.get("workbench.agent.version")),
                _str(attributes.get("session.id")),
                None,
            )
        project = self.project_name or (meta.agent_name if meta else None) or self.default_project
        if meta is not None:
            extra: dict[str, Any] = {
                "session.id": meta.thread_id,
                "workbench.agent.name": meta.agent_name,
                "workbench.agent.version": meta.agent_version,
                "user.id": meta.principal,
            }
            extra = {k: v for k, v in extra.items() if v is not None and k not in attributes}
            metadata = {
                "agent_name": meta.agent_name,
                "agent_version": meta.agent_version,
                "execution_id": attributes.get("workbench.execution_id"),
                "thread_id": meta.thread_id,
            }
            extra.setdefault("metadata", json.dumps({k: v for k, v in metadata.items() if v}))
            if record.kind == "LLM" and "workbench.cost_usd" in attributes:
                extra["llm.cost.total"] = attributes["workbench.cost_usd"]
            record = record._replace(attributes={**attributes, **extra})
        elif record.kind == "LLM" and "workbench.cost_usd" in attributes:
            record = record._replace(
                attributes={**attributes, "llm.cost.total": attributes["workbench.cost_usd"]}
            )
        # Equal resources hash alike, so the encoder groups a batch per project.
        return to_readable_span(
            record, resource_attributes={**self._resource_extra, _PROJECT: project}
        )

    # -- drop accounting ----------------------------------------------------------------

    def _note_drops(self, n: int, reason: str) -> None:
        with self._cond:
            self._dropped += n
            self._pending_drops[reason] = self._pending_drops.get(reason, 0) + n

    def _emit_drop_event(self, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._cond:
            if not self._pending_drops:
                return
            if not force and now - self._last_drop_event < self._drop_interval:
                return
            pending, self._pending_drops = self._pending_drops, {}
            self._last_drop_event = now
            total = self._dropped
        _log.warning("OTLP exporter dropped %s spans (total %d)", pending, total)
        tracer = self._tracer
        if tracer is None:
            return
        for reason, count in sorted(pending.items()):
            tracer.record(
                OPERATIONS_EVENTS,
                {
                    "kind": "telemetry_dropped",
                    "exporter": "otlp",
                    "endpoint": self.endpoint,
                    "reason": reason,
                    "dropped": count,
                    "dropped_total": total,
                    "at": datetime.now(UTC).isoformat(),
                },
            )

    def __repr__(self) -> str:
        return f"OtlpExporter({self.endpoint!r})"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def phoenix_endpoint(settings: Settings | None = None) -> str | None:
    """The OTLP/HTTP traces endpoint of Phoenix, if one is configured or running.

    ``$WORKBENCH_PHOENIX_ENDPOINT`` wins (``off`` or empty: none); else the
    ``otlp_http_endpoint`` of the running ``phoenix`` service's state file
    (``<services_dir>/phoenix.json``, written by ``workbench services up phoenix``).
    """
    value = os.environ.get(ENDPOINT_ENV)
    if value is not None:
        value = value.strip()
        return None if value.lower() in {"", "off", "none", "0"} else value
    if settings is None:
        from workbench.settings import get_settings

        settings = get_settings()
    state = Path(settings.services_dir) / "phoenix.json"
    try:
        record = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    endpoint = record.get("otlp_http_endpoint") if isinstance(record, dict) else None
    pid = record.get("pid") if isinstance(record, dict) else None
    if not isinstance(endpoint, str) or not isinstance(pid, int) or not pid_alive(pid):
        return None
    return endpoint


def configure_phoenix(
    endpoint: str | None = None,
    *,
    settings: Settings | None = None,
    install: bool = True,
    **options: Any,
) -> Tracer | None:
    """Build the process tracer that writes the spool and exports to Phoenix, both.

    Args:
        endpoint: OTLP/HTTP traces URL; default :func:`phoenix_endpoint`.
        settings: Where the spool and the service state live; default
            :func:`~workbench.settings.get_settings`.
        install: Make it the process-wide tracer (:func:`~workbench.tracing.set_tracer`),
            which ``Runtime()`` and ``run()`` use when given no tracer.
        **options: Keyword arguments of :class:`OtlpExporter`.

    Returns:
        The tracer (``SpoolExporter`` then ``OtlpExporter``), or None when no endpoint is
        configured and no Phoenix service runs.
    """
    from workbench.settings import get_settings
    from workbench.tracing._spool import SpoolExporter
    from workbench.tracing._tracer import Tracer, set_tracer

    settings = settings or get_settings()
    endpoint = endpoint or phoenix_endpoint(settings)
    if endpoint is None:
        return None
    exporter = OtlpExporter(endpoint, **options)
    tracer = Tracer([SpoolExporter(settings.spool_dir), exporter])
    exporter.bind(tracer)
    if install:
        set_tracer(tracer)
    return tracer
