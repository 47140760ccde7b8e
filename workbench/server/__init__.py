"""Serving in production: the HTTP API of ``workbench serve``.

:func:`create_app` builds a FastAPI app over one :class:`~workbench.runtime.Runtime`
and one :class:`~workbench.gateway.Gateway`: ``POST /v1/executions`` is admitted by the
gateway and runs in the background; its steps stream as server-sent events; approvals
are listed and decided; costs are read from the trace store; every error is a typed
JSON body (``{code, type, message}``) with its HTTP status. A served agent may name a
shadow version that replays a sample of its live traffic off the request path
(:class:`LiveShadow`). ``/metrics`` exports :class:`ServerMetrics` to Prometheus.
:func:`serve_workers` runs N worker processes on one port; a request about an execution
another worker owns is forwarded to it (:class:`Cluster`, :class:`Router`).
See ``docs/serving.md``.
"""

from __future__ import annotations

from workbench.server._app import create_app, error_response
from workbench.server._cluster import FORWARDED_HEADER, Cluster, Forwarder, Router
from workbench.server._config import (
    SERVE_FILE,
    AgentEntry,
    LoadedAgent,
    ServeConfig,
    ShadowConfig,
)
from workbench.server._metrics import METRICS_DIR, MetricsExporter, ServerMetrics
from workbench.server._models import (
    ApprovalView,
    CostReport,
    DecisionAccepted,
    DecisionRequest,
    ErrorBody,
    ExecutionAccepted,
    ExecutionRequest,
    ExecutionView,
)
from workbench.server._run import TARGETS_DIR, ServerHandle, run_server, scrape_targets_dir
from workbench.server._shadow import LiveShadow, ShadowJob
from workbench.server._state import ServedExecution, ServerState
from workbench.server._workers import CONFIG_FILE, serve_workers, worker_main

__all__ = [
    "CONFIG_FILE",
    "FORWARDED_HEADER",
    "METRICS_DIR",
    "SERVE_FILE",
    "TARGETS_DIR",
    "AgentEntry",
    "ApprovalView",
    "Cluster",
    "CostReport",
    "DecisionAccepted",
    "DecisionRequest",
    "ErrorBody",
    "ExecutionAccepted",
    "ExecutionRequest",
    "ExecutionView",
    "Forwarder",
    "LiveShadow",
    "LoadedAgent",
    "MetricsExporter",
    "Router",
    "ServeConfig",
    "ServedExecution",
    "ServerHandle",
    "ServerMetrics",
    "ServerState",
    "ShadowConfig",
    "ShadowJob",
    "create_app",
    "error_response",
    "run_server",
    "scrape_targets_dir",
    "serve_workers",
    "worker_main",
]
