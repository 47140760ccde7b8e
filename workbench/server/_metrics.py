"""Prometheus metrics of the server, fed by the tracer as spans and rows are exported.

:class:`MetricsExporter` is a :class:`~workbench.tracing.SpanExporter`: the server's
tracer hands it every batch, off the request path, so whatever the process traces
(executions, model and tool calls, safety events from the gateway, guardrails, policy
and approvals, shadow runs) is counted once, as it happens, with no second hook.

With ``workbench serve --workers N`` every worker writes its metrics to files of
``<run_dir>/metrics`` (prometheus_client's multiprocess mode, chosen by the
``PROMETHEUS_MULTIPROC_DIR`` the supervisor sets before the workers start) and whichever
worker is scraped answers for all of them: counters and histograms summed, gauges summed
over the live workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from workbench.tracing import SAFETY_EVENTS, RecordRow, SpanExporter, SpanKind, SpanRecord

__all__ = ["METRICS_DIR", "MetricsExporter", "ServerMetrics"]

METRICS_DIR = "metrics"
"""Folder of a multi-worker server's run dir holding the workers' metric files."""

_STEP_BUCKETS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89)
_WAIT_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_NOT_FINAL = frozenset({"running"})


class ServerMetrics:
    """The server's metrics, in a registry of their own (one per app, so tests may run several).

    Names are ``workbench_*``; see ``docs/serving.md`` for the list and the alert rules.

    Args:
        multiprocess_dir: The metric files of every worker of a multi-worker server
            (``PROMETHEUS_MULTIPROC_DIR``); :meth:`exposition` then answers for them all.
    """

    def __init__(self, *, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        r = self.registry
        self.executions = Counter(
            "workbench_executions",
            "Executions that reached a status other than running",
            ["agent", "version", "status"],
            registry=r,
        )
        self.execution_steps = Histogram(
            "workbench_execution_steps",
            "Steps (model calls) of an execution when it stops or pauses",
            ["agent", "version"],
            buckets=_STEP_BUCKETS,
            registry=r,
        )
        self.steps = Counter(
            "workbench_steps", "Model calls made (not replayed)", ["model", "cache_hit"], registry=r
        )
        self.model_errors = Counter(
            "workbench_model_errors", "Failed model call attempts", ["model", "code"], registry=r
        )
        self.tokens = Counter(
            "workbench_tokens", "Tokens of model calls", ["model", "kind"], registry=r
        )
        self.cost = Counter("workbench_cost_usd", "USD of model calls", ["model"], registry=r)
        self.tool_calls = Counter(
            "workbench_tool_calls", "Tool calls run", ["tool", "outcome"], registry=r
        )
        self.tool_errors = Counter(
            "workbench_tool_errors", "Tool calls that failed", ["tool", "code"], registry=r
        )
        self.safety = Counter(
            "workbench_safety_decisions",
            "Gateway, guardrail, policy, approval and budget decisions (safety events)",
            ["kind", "action", "rule"],
            registry=r,
        )
        self.approval_wait = Histogram(
            "workbench_approval_wait_seconds",
            "Time from an approval request to its decision over the API",
            buckets=_WAIT_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "workbench_queue_depth",
            "Jobs waiting or running",
            ["queue"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.in_flight = Gauge(
            "workbench_executions_in_flight",
            "Executions running in this server",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.shadow_samples = Counter(
            "workbench_shadow_samples",
            "Live shadow samples by outcome (queued, dropped, done, failed)",
            ["agent", "outcome"],
            registry=r,
        )
        self.http_requests = Counter(
            "workbench_http_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "workbench_http_request_seconds",
            "Time to answer an HTTP request (to the first byte of a stream)",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def exposition(self, *, jobs_depth: float | None = None) -> bytes:
        """The text exposition of ``/metrics`` (of every worker in multiprocess mode).

        Args:
            jobs_depth: The job queue's depth, read at scrape time (one value for the
                whole server, so it is never summed over workers).
        """
        if self.multiprocess_dir is None:
            if jobs_depth is not None:
                self.queue_depth.labels(queue="jobs").set(jobs_depth)
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        families = list(merged.collect())
        if jobs_depth is not None:
            for family in families:
                if family.name == "workbench_queue_depth":
                    family.samples.append(
                        Sample("workbench_queue_depth", {"queue": "jobs"}, jobs_depth)
                    )
        return generate_latest(_Families(families))

    def observe(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
        """Count one tracer batch (see :class:`MetricsExporter`)."""
        for item in batch:
            if isinstance(item, SpanRecord):
                self._span(item)
            elif item.table == "executions":
                self._execution(item.row)
            elif item.table == SAFETY_EVENTS:
                row = item.row
                self.safety.labels(
                    kind=str(row.get("kind")), action=str(row.get("action")), rule=_rule(row)
                ).inc()

    def _span(self, span: SpanRecord) -> None:
        attrs = span.attributes
        if span.kind == SpanKind.LLM:
            model = str(attrs.get("workbench.model.answered") or attrs.get("llm.model_name"))
            if span.status == "ERROR":
                self.model_errors.labels(model=model, code=str(span.error_type)).inc()
                return
            hit = "true" if attrs.get("workbench.cache_hit") else "false"
            self.steps.labels(model=model, cache_hit=hit).inc()
            prompt = _number(attrs.get("llm.token_count.prompt"))
            completion = _number(attrs.get("llm.token_count.completion"))
            self.tokens.labels(model=model, kind="prompt").inc(prompt)
            self.tokens.labels(model=model, kind="completion").inc(completion)
            self.cost.labels(model=model).inc(_number(attrs.get("workbench.cost_usd")))
        elif span.kind == SpanKind.TOOL:
            tool = str(attrs.get("tool.name") or span.name)
            if span.status == "ERROR":
                self.tool_calls.labels(tool=tool, outcome="error").inc()
                self.tool_errors.labels(tool=tool, code=str(span.error_type)).inc()
            else:
                self.tool_calls.labels(tool=tool, outcome="ok").inc()

    def _execution(self, row: dict[str, object]) -> None:
        status = str(row.get("status"))
        if status in _NOT_FINAL:
            return
        agent, version = str(row.get("agent_name")), str(row.get("agent_version"))
        self.executions.labels(agent=agent, version=version, status=status).inc()
        self.execution_steps.labels(agent=agent, version=version).observe(_number(row.get("steps")))


class _Families(Collector):
    """Metric families collected already (a registry for ``generate_latest``)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


class MetricsExporter(SpanExporter):
    """Feeds :class:`ServerMetrics` from the tracer's background thread."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics

    def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
        """Count the batch; never raises for a malformed item."""
        self.metrics.observe(batch)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(float(value), 0.0)


def _rule(row: dict[str, object]) -> str:
    # Guardrail rules are detector names (a bounded set); gateway rules name the step.
    return str(row.get("rule"))[:64]
