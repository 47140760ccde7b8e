"""Notebook widgets: thin ipywidgets views over public workbench APIs.

Each widget is a view (an ``ipywidgets`` box) over a model class that holds the state
and does the work, so tests drive the model from Python without a browser:

- :class:`AgentConsole`: run an agent, watch its steps (model text, tool calls and
  results, guardrail and policy decisions, tokens and USD so far), Approve / Deny a
  call paused at an approval gate, Stop.
- :class:`ShadowCompare`: v1 beside v2 per sample, the trajectory diff with the first
  divergence highlighted, the paired statistics and the gate's verdict.
- :class:`JudgeReview`: agree with or override the judge; labels are stored as
  ``judge_labels`` rows and feed the judge card's agreement figure.
- :class:`CostDashboard`: cost by version and day, latency distributions, safety
  events over time (matplotlib PNGs from SQL aggregates).
- :class:`TraceExplorer`: executions paged lazily in SQL, the span tree of one.

Errors show as a readable ``[code] message`` line in the widget, long work as a
progress bar. See ``docs/widgets.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.widgets._base import Listener, WidgetModel, describe_error
    from workbench.widgets._console import (
        AgentConsole,
        AgentConsoleModel,
        ConsoleRow,
        PendingCall,
        row_of,
    )
    from workbench.widgets._dashboard import CostDashboard, CostDashboardModel
    from workbench.widgets._explorer import (
        EXECUTION_COLUMNS,
        SpanNode,
        TraceExplorer,
        TraceExplorerModel,
    )
    from workbench.widgets._judge_review import (
        JUDGE_LABELS,
        VERDICT_COLUMNS,
        JudgeReview,
        JudgeReviewModel,
    )
    from workbench.widgets._shadow_compare import ShadowCompare, ShadowCompareModel

# Each widget's module is imported on first use: TraceExplorer and CostDashboard need only
# the trace store, while AgentConsole needs the runtime (seconds to import).
_WHERE = {
    "EXECUTION_COLUMNS": "_explorer",
    "JUDGE_LABELS": "_judge_review",
    "VERDICT_COLUMNS": "_judge_review",
    "AgentConsole": "_console",
    "AgentConsoleModel": "_console",
    "ConsoleRow": "_console",
    "CostDashboard": "_dashboard",
    "CostDashboardModel": "_dashboard",
    "JudgeReview": "_judge_review",
    "JudgeReviewModel": "_judge_review",
    "Listener": "_base",
    "PendingCall": "_console",
    "ShadowCompare": "_shadow_compare",
    "ShadowCompareModel": "_shadow_compare",
    "SpanNode": "_explorer",
    "TraceExplorer": "_explorer",
    "TraceExplorerModel": "_explorer",
    "WidgetModel": "_base",
    "describe_error": "_base",
    "row_of": "_console",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "EXECUTION_COLUMNS",
    "JUDGE_LABELS",
    "VERDICT_COLUMNS",
    "AgentConsole",
    "AgentConsoleModel",
    "ConsoleRow",
    "CostDashboard",
    "CostDashboardModel",
    "JudgeReview",
    "JudgeReviewModel",
    "Listener",
    "PendingCall",
    "ShadowCompare",
    "ShadowCompareModel",
    "SpanNode",
    "TraceExplorer",
    "TraceExplorerModel",
    "WidgetModel",
    "describe_error",
    "row_of",
]
