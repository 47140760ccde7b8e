"""TraceExplorer: executions paged lazily from the trace store, the span tree of one.

:class:`TraceExplorerModel` never loads a table whole: the executions list is one page
(``LIMIT``/``OFFSET`` in SQL, newest first), the count is one aggregate, and a span tree
is the spans of one trace. A store of a million spans opens in well under two seconds
(``benchmarks/widget_open.py``). :class:`TraceExplorer` is the ipywidgets view.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ipywidgets  # type: ignore[import-untyped]
import pandas as pd  # type: ignore[import-untyped]

from workbench.errors import ExecutionNotFound
from workbench.tracing import TraceStore
from workbench.widgets._base import (
    WidgetModel,
    error_label,
    html_table,
    on_kernel_thread,
    show_error,
)

__all__ = ["EXECUTION_COLUMNS", "SpanNode", "TraceExplorer", "TraceExplorerModel"]

EXECUTION_COLUMNS = (
    "execution_id",
    "agent_name",
    "agent_version",
    "status",
    "steps",
    "cost_usd",
    "latency_ms",
    "started_at",
)
"""Columns of a page of executions."""

_SPAN_COLUMNS = (
    "span_id, parent_id, trace_id, name, kind, status, error_type, start_time, duration_ms, "
    "tool_name, model, step, prompt_tokens, completion_tokens, cost_usd"
)


@dataclass(frozen=True, slots=True)
class SpanNode:
    """One span in a tree, with its depth (0 for a root)."""

    depth: int
    span_id: str
    name: str
    kind: str
    status: str
    duration_ms: float
    cost_usd: float | None
    tokens: int | None
    error_type: str | None


class TraceExplorerModel(WidgetModel):
    """A page of executions and the span tree of the selected one.

    Args:
        store: The trace store; the default one of this workbench home if omitted.
        page_size: Executions per page.
        agent: Show only this agent's executions.
        status: Show only executions with this status.
    """

    def __init__(
        self,
        store: TraceStore | None = None,
        *,
        page_size: int = 25,
        agent: str | None = None,
        status: str | None = None,
    ) -> None:
        super().__init__()
        self.store = store or TraceStore()
        self.page_size = max(1, page_size)
        self.agent = agent
        self.status = status
        self.page = 0
        """Zero-based page number."""
        self.total = 0
        """Executions matching the filters."""
        self.executions = pd.DataFrame(columns=list(EXECUTION_COLUMNS))
        """The current page."""
        self.selected: str | None = None
        """The execution whose span tree is shown."""
        self.spans = pd.DataFrame()
        """Spans of the selected execution, in start order."""
        self.attempt(self.reload)

    # -- paging ---------------------------------------------------------------------

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.page_size))

    def _where(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.agent is not None:
            clauses.append("agent_name = ?")
            params.append(self.agent)
        if self.status is not None:
            clauses.append("status = ?")
            params.append(self.status)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def reload(self) -> None:
        """Count the matching executions and load the current page."""
        where, params = self._where()
        count = self.store.sql(f"SELECT count(*) AS n FROM executions{where}", params)
        self.total = int(count["n"].iloc[0])
        self.page = min(self.page, self.pages - 1)
        self._load_page()

    def _load_page(self) -> None:
        where, params = self._where()
        self.executions = self.store.sql(
            f"SELECT {', '.join(EXECUTION_COLUMNS)} FROM executions{where} "
            "ORDER BY started_at DESC NULLS LAST, execution_id DESC LIMIT ? OFFSET ?",
            [*params, self.page_size, self.page * self.page_size],
        )
        self.changed("page")

    def goto(self, page: int) -> None:
        """Load page ``page`` (clamped to the range)."""
        self.page = max(0, min(page, self.pages - 1))
        self.attempt(self._load_page)

    def next_page(self) -> None:
        """Load the next page, if any."""
        self.goto(self.page + 1)

    def previous_page(self) -> None:
        """Load the previous page, if any."""
        self.goto(self.page - 1)

    def filter(self, *, agent: str | None = None, status: str | None = None) -> None:
        """Show only one agent's and/or one status's executions (``None`` clears)."""
        self.agent, self.status, self.page = agent, status, 0
        self.attempt(self.reload)

    # -- one execution ----------------------------------------------------------------

    def select(self, execution_id: str) -> None:
        """Load the spans of ``execution_id``; an unknown id becomes the widget's error."""
        self.attempt(lambda: self._select(execution_id))

    def _select(self, execution_id: str) -> None:
        spans = self.store.sql(
            f"SELECT {_SPAN_COLUMNS} FROM spans WHERE trace_id IN "
            "(SELECT DISTINCT trace_id FROM spans WHERE execution_id = ?) ORDER BY start_time",
            [execution_id],
        )
        if spans.empty:
            raise ExecutionNotFound(f"no spans of execution {execution_id!r} in the trace store")
        self.selected, self.spans = execution_id, spans
        self.changed("spans")

    def tree(self) -> list[SpanNode]:
        """The selected execution's spans depth-first, children in start order."""
        if self.spans.empty:
            return []
        rows = self.spans.to_dict("records")
        ids = {r["span_id"] for r in rows}
        children: dict[str | None, list[dict[str, Any]]] = {}
        for r in rows:
            parent = r["parent_id"] if r["parent_id"] in ids else None
            children.setdefault(parent, []).append(r)
        out: list[SpanNode] = []
        stack = [(0, r) for r in reversed(children.get(None, []))]
        while stack:
            depth, r = stack.pop()
            out.append(_node(depth, r))
            stack.extend((depth + 1, c) for c in reversed(children.get(r["span_id"], [])))
        return out


def _node(depth: int, r: dict[str, Any]) -> SpanNode:
    def num(v: Any) -> Any:
        return None if v is None or pd.isna(v) else v

    prompt, completion = num(r.get("prompt_tokens")), num(r.get("completion_tokens"))
    tokens = (
        None if prompt is None and completion is None else int(prompt or 0) + int(completion or 0)
    )
    return SpanNode(
        depth=depth,
        span_id=str(r["span_id"]),
        name=str(r["name"]),
        kind=str(r["kind"]),
        status=str(r["status"]),
        duration_ms=float(r["duration_ms"]),
        cost_usd=num(r.get("cost_usd")),
        tokens=tokens,
        error_type=num(r.get("error_type")),
    )


class TraceExplorer(ipywidgets.VBox):  # type: ignore[misc]
    """The view: a paged executions list and the span tree of the selected execution.

    Args:
        store: The trace store (or pass ``model=``).
        model: An existing :class:`TraceExplorerModel`.
        **options: Passed to :class:`TraceExplorerModel`.
    """

    def __init__(
        self,
        store: TraceStore | None = None,
        *,
        model: TraceExplorerModel | None = None,
        **options: Any,
    ) -> None:
        self.model = model or TraceExplorerModel(store, **options)
        self.prev_button = ipywidgets.Button(description="◀ newer", layout={"width": "90px"})
        self.next_button = ipywidgets.Button(description="older ▶", layout={"width": "90px"})
        self.page_label = ipywidgets.HTML()
        self.list = ipywidgets.Select(options=[], rows=10, layout={"width": "100%"})
        self.tree = ipywidgets.HTML()
        self.tree.add_class("wb-span-tree")
        self.error = error_label()
        m = self.model
        self.prev_button.on_click(lambda _b: m.previous_page())
        self.next_button.on_click(lambda _b: m.next_page())
        self.list.observe(self._picked, names="value")
        super().__init__(
            [
                ipywidgets.HBox([self.prev_button, self.page_label, self.next_button]),
                self.list,
                self.tree,
                self.error,
            ]
        )
        m.observe(on_kernel_thread(self.refresh))
        self.refresh()

    def _picked(self, change: dict[str, Any]) -> None:
        if change.get("new"):
            self.model.select(str(change["new"]))

    def refresh(self) -> None:
        """Render the page and the selected tree."""
        m = self.model
        first = m.page * m.page_size
        shown = len(m.executions)
        self.page_label.value = (
            f"&nbsp;executions {first + 1 if shown else 0}–{first + shown} of {m.total:,} "
            f"(page {m.page + 1}/{m.pages})&nbsp;"
        )
        options = [
            (
                f"{r.execution_id} · {r.agent_name} {r.agent_version} · {r.status} · "
                f"${(r.cost_usd or 0):.6f}",
                str(r.execution_id),
            )
            for r in m.executions.itertuples()
        ]
        if [o[1] for o in options] != [o[1] for o in self.list.options]:
            self.list.options = options
        self.prev_button.disabled = m.page == 0
        self.next_button.disabled = m.page >= m.pages - 1
        nodes = m.tree()
        self.tree.value = (
            f"<div>span tree of <code>{html.escape(m.selected or '')}</code></div>"
            + html_table(
                ["span", "kind", "status", "ms", "tokens", "USD"],
                [
                    (
                        "\u2003" * n.depth + n.name,
                        n.kind,
                        n.status + (f" ({n.error_type})" if n.error_type else ""),
                        round(n.duration_ms, 2),
                        n.tokens,
                        n.cost_usd,
                    )
                    for n in nodes
                ],
                highlight=lambda i: nodes[i].status == "ERROR",
            )
            if nodes
            else ""
        )
        show_error(self.error, m.error)
