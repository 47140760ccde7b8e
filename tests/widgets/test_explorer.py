"""TraceExplorer driven from Python: lazy pages of executions, the span tree of one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from widget_helpers import REPO, fill_store

from workbench.runtime import AgentSpec, run
from workbench.tracing import TraceStore
from workbench.widgets import TraceExplorer, TraceExplorerModel


def test_pages_come_from_sql_newest_first(store: TraceStore) -> None:
    fill_store(store, 120)
    widget = TraceExplorer(store, page_size=50)
    model = widget.model
    assert (model.total, model.pages, len(model.executions)) == (120, 3, 50)
    assert model.executions["execution_id"].iloc[0] == "e00119"  # newest first
    assert "executions 1–50 of 120" in widget.page_label.value
    assert widget.prev_button.disabled
    assert not widget.next_button.disabled
    widget.next_button.click()
    widget.next_button.click()
    assert model.page == 2
    assert len(model.executions) == 20
    assert model.executions["execution_id"].iloc[-1] == "e00000"
    assert widget.next_button.disabled
    assert len(widget.list.options) == 20
    model.next_page()  # past the end: stays on the last page
    assert model.page == 2
    model.filter(agent="bot", status="failed")
    assert model.total == 0
    assert model.pages == 1
    assert model.executions.empty
    model.filter(agent=None)
    assert model.total == 120


def test_selecting_an_execution_shows_its_span_tree(store: TraceStore) -> None:
    fill_store(store, 20)
    widget = TraceExplorer(store)
    widget.list.value = "e00010"  # what a click in the list does
    tree = widget.model.tree()
    assert [(n.depth, n.kind) for n in tree] == [
        (0, "AGENT"),
        (1, "LLM"),
        (1, "TOOL"),
        (1, "LLM"),
        (1, "TOOL"),
    ]
    assert tree[4].status == "ERROR"
    assert tree[4].error_type == "tool_timeout"
    assert tree[1].tokens == 120
    assert tree[0].tokens is None
    assert 'class="wb-highlight"' in widget.tree.value
    assert "tool_timeout" in widget.tree.value


def test_a_real_execution_has_its_llm_and_tool_spans_under_the_agent(
    workbench_home: Path, flushed: Callable[[], TraceStore]
) -> None:
    result = run(AgentSpec.from_yaml(REPO / "agents" / "analyst.yaml"), "Which region sold most?")
    model = TraceExplorerModel(flushed())
    assert model.total == 1
    model.select(result.execution_id)
    tree = model.tree()
    assert tree[0].kind == "AGENT"
    assert tree[0].depth == 0
    assert sorted(n.kind for n in tree[1:]) == ["LLM", "LLM", "LLM", "TOOL", "TOOL"]
    assert all(n.depth >= 1 for n in tree[1:])
    cost = sum(n.cost_usd or 0 for n in tree if n.kind == "LLM")
    assert abs(cost - result.cost_usd) < 1e-12


def test_an_unknown_execution_and_a_broken_store_are_error_lines(tmp_path: Path) -> None:
    model = TraceExplorerModel(TraceStore(tmp_path / "t.duckdb", spool_dir=tmp_path / "s"))
    model.select("ex-nope")
    assert model.error is not None
    assert model.error.startswith("[execution_not_found]")
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database")
    broken = TraceExplorer(TraceStore(bad, spool_dir=tmp_path / "s2", lock_timeout_s=1))
    assert broken.model.error is not None
    assert broken.model.error.startswith("[trace_store_corrupt]")
    assert "trace_store_corrupt" in broken.error.value
    assert broken.error.layout.display == ""
