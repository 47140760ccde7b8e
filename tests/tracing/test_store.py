"""The DuckDB trace store: denormalisation, upserts, views, crash safety, corrupt files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from workbench.errors import TraceStoreCorrupt, TraceStoreError
from workbench.tracing import SpanKind, SpoolExporter, Tracer, TraceStore


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def tracer(home: Path) -> Iterator[Tracer]:
    t = Tracer([SpoolExporter(home / "spool")], flush_interval_s=0.01)
    yield t
    t.shutdown()


@pytest.fixture
def store(home: Path) -> TraceStore:
    return TraceStore(home / "traces.duckdb", spool_dir=home / "spool")


def _execution(tracer: Tracer, eid: str, version: str, prompt: int, completion: int) -> None:
    attrs = {
        "workbench.execution_id": eid,
        "workbench.agent.name": "researcher",
        "workbench.agent.version": version,
    }
    with (
        tracer.span("execution", SpanKind.AGENT, attrs),
        tracer.span("llm.call", SpanKind.LLM) as llm,
    ):
        llm.set_attributes(
            {
                **attrs,
                "llm.model_name": "scripted/m",
                "llm.token_count.prompt": prompt,
                "llm.token_count.completion": completion,
                "workbench.cost_usd": (prompt + completion) / 1000,
                "workbench.step": 1,
            }
        )


def test_spans_denormalised(tracer: Tracer, store: TraceStore) -> None:
    _execution(tracer, "e1", "v1", 100, 20)
    assert tracer.flush(5)
    assert store.ingest() == 2
    assert store.ingest() == 0
    df = store.sql(
        "SELECT name, kind, status, execution_id, agent_name, agent_version, model,"
        " prompt_tokens, completion_tokens, cost_usd, step, duration_ms >= 0 AS dur_ok,"
        " end_time >= start_time AS order_ok, attributes ->> '$.\"llm.model_name\"' AS m"
        " FROM spans WHERE kind = ?",
        ["LLM"],
    )
    assert df.to_dict("records") == [
        {
            "name": "llm.call",
            "kind": "LLM",
            "status": "OK",
            "execution_id": "e1",
            "agent_name": "researcher",
            "agent_version": "v1",
            "model": "scripted/m",
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "cost_usd": 0.12,
            "step": 1,
            "dur_ok": True,
            "order_ok": True,
            "m": "scripted/m",
        }
    ]
    assert not list((store.spool_dir).glob("*.json"))


def test_executions_upsert_newest_wins(tracer: Tracer, store: TraceStore) -> None:
    base = {"execution_id": "e1", "agent_name": "a", "agent_version": "v1", "task": "t"}
    tracer.record(
        "executions",
        {
            **base,
            "status": "running",
            "started_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        },
    )
    tracer.record(
        "executions",
        {
            "execution_id": "e1",
            "status": "paused",
            "steps": 2,
            "updated_at": "2026-01-01T00:00:02Z",
        },
    )
    assert tracer.flush(5)
    store.ingest()
    # A later merge: the completed row wins; an older straggler changes nothing it set.
    tracer.record(
        "executions",
        {
            "execution_id": "e1",
            "status": "completed",
            "steps": 4,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "cost_usd": 0.5,
            "answer": "42",
            "latency_ms": 5000.0,
            "ended_at": 1767225605.0,
            "updated_at": "2026-01-01T00:00:05Z",
        },
    )
    tracer.record(
        "executions",
        {
            "execution_id": "e1",
            "status": "running",
            "principal": "alice",
            "updated_at": "2026-01-01T00:00:01Z",
        },
    )
    tracer.record("safety_events", {"kind": "injection", "execution_id": "e1"})
    assert tracer.flush(5)
    store.ingest()
    row = store.sql("SELECT * EXCLUDE (raw) FROM executions").to_dict("records")
    assert len(row) == 1
    r = row[0]
    assert (r["status"], r["steps"], r["answer"], r["task"], r["principal"]) == (
        "completed",
        4,
        "42",
        "t",
        "alice",
    )
    assert (r["prompt_tokens"], r["completion_tokens"], r["cost_usd"]) == (10, 5, 0.5)
    assert str(r["started_at"]) == "2026-01-01 00:00:00"
    assert str(r["ended_at"]) == "2026-01-01 00:00:05"
    assert str(r["updated_at"]) == "2026-01-01 00:00:05"
    rec = store.sql("SELECT table_name, row ->> 'kind' AS kind FROM records").to_dict("records")
    assert rec == [{"table_name": "safety_events", "kind": "injection"}]


def test_views_on_known_data(tracer: Tracer, store: TraceStore, home: Path) -> None:
    for eid, version, p, c in [("e1", "v1", 100, 10), ("e2", "v1", 200, 20), ("e3", "v2", 50, 5)]:
        tracer.record(
            "executions",
            {
                "execution_id": eid,
                "agent_name": "a",
                "agent_version": version,
                "status": "completed",
                "prompt_tokens": p,
                "completion_tokens": c,
                "cost_usd": (p + c) / 100,
            },
        )
    assert tracer.flush(5)
    store.ingest()
    # Spans with exact durations (search: 1..10 ms, the 10th fails), written directly.
    con_rows = []
    for i in range(1, 11):
        con_rows.append(
            (
                f"{i:016x}",
                "t" * 32,
                None,
                "tool.search",
                "TOOL",
                i,
                "ERROR" if i == 10 else "OK",
                "tool_timeout" if i == 10 else None,
                "search",
            )
        )
    con_rows.append(("f" * 16, "t" * 32, None, "llm", "LLM", 3, "ERROR", "model_timeout", None))
    con_rows.append(("e" * 16, "t" * 32, None, "llm", "LLM", 3, "ERROR", "model_timeout", None))
    values = ", ".join(
        f"('{s}', '{t}', NULL, '{n}', '{k}', TIMESTAMP '2026-01-01', "
        f"TIMESTAMP '2026-01-01' + INTERVAL ({d}) MILLISECOND, {d}, '{st}', "
        f"{'NULL' if e is None else repr(e)}, {'NULL' if tn is None else repr(tn)})"
        for s, t, _, n, k, d, st, e, tn in con_rows
    )
    store.sql(
        "INSERT INTO spans (span_id, trace_id, parent_id, name, kind, start_time, end_time,"
        f" duration_ms, status, error_type, tool_name) VALUES {values}"
    )
    cost = store.sql("SELECT * FROM cost_by_agent_version").to_dict("records")
    assert cost == [
        {
            "agent_name": "a",
            "agent_version": "v1",
            "executions": 2,
            "tokens": 330,
            "cost_usd": pytest.approx(3.3),
            "avg_cost_usd": pytest.approx(1.65),
        },
        {
            "agent_name": "a",
            "agent_version": "v2",
            "executions": 1,
            "tokens": 55,
            "cost_usd": pytest.approx(0.55),
            "avg_cost_usd": pytest.approx(0.55),
        },
    ]
    tools = store.sql("SELECT * FROM slowest_tools").to_dict("records")
    assert tools == [
        {
            "tool_name": "search",
            "calls": 10,
            "p50_ms": 5.5,
            "p95_ms": pytest.approx(9.55),
            "max_ms": 10.0,
            "errors": 1,
        }
    ]
    errors = store.sql("SELECT error_type, kind, errors FROM errors_by_type").to_dict("records")
    assert errors == [
        {"error_type": "model_timeout", "kind": "LLM", "errors": 2},
        {"error_type": "tool_timeout", "kind": "TOOL", "errors": 1},
    ]
    summary = store.summary()
    assert summary["executions"] == 3
    assert summary["executions_by_status"] == {"completed": 3}
    assert (summary["prompt_tokens"], summary["completion_tokens"]) == (350, 35)
    assert summary["cost_usd"] == pytest.approx(3.85)
    assert summary["spans"] == 12
    assert summary["error_spans"] == 3
    assert summary["top_tools"] == [{"tool_name": "search", "calls": 10, "errors": 1}]


def test_crash_between_insert_and_delete_does_not_duplicate(
    tracer: Tracer, store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(50):
        tracer.span(f"s{i}", SpanKind.CHAIN).end()
    tracer.record("dead_letters", {"job": "j1"})
    assert tracer.flush(5)

    def crash(*args: object) -> None:
        raise KeyboardInterrupt("killed after commit, before the segments were deleted")

    monkeypatch.setattr(TraceStore, "_remove_segments", crash)
    with pytest.raises(KeyboardInterrupt):
        store.ingest()
    assert list(store.spool_dir.glob("*.json"))  # segments still there
    monkeypatch.undo()
    assert TraceStore(store.path, spool_dir=store.spool_dir).ingest() == 0
    counts = store.sql(
        "SELECT (SELECT count(*) FROM spans) AS spans, (SELECT count(*) FROM records) AS rec,"
        " (SELECT count(*) FROM ingested_segments) AS seg"
    ).to_dict("records")
    assert counts == [{"spans": 50, "rec": 1, "seg": 0}]
    assert not list(store.spool_dir.glob("*.json"))


def test_bad_segment_is_quarantined_others_merged(tracer: Tracer, store: TraceStore) -> None:
    tracer.span("good", SpanKind.CHAIN).end()
    assert tracer.flush(5)
    (store.spool_dir / "1-deadbeef-0000000001.spans.json").write_text('[["truncated"')
    assert store.ingest() == 1
    assert (store.spool_dir / "quarantine" / "1-deadbeef-0000000001.spans.json").exists()
    assert store.sql("SELECT name FROM spans")["name"].tolist() == ["good"]


def test_dead_part_files_are_reaped(store: TraceStore) -> None:
    store.spool_dir.mkdir(parents=True)
    dead = store.spool_dir / "999999999-aaaaaaaa-0000000001.spans.json.part"
    dead.write_text("[")
    import os

    mine = store.spool_dir / f"{os.getpid()}-bbbbbbbb-0000000001.spans.json.part"
    mine.write_text("[")
    assert store.ingest() == 0
    assert not dead.exists()
    assert mine.exists()


def test_corrupt_file(store: TraceStore) -> None:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"this is not a duckdb file" * 1000)
    with pytest.raises(TraceStoreCorrupt, match="not a usable agent-workbench trace store"):
        store.sql("SELECT 1")
    with pytest.raises(TraceStoreCorrupt):
        store.summary()


def test_foreign_duckdb_file(store: TraceStore) -> None:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(store.path))
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.close()
    with pytest.raises(TraceStoreCorrupt, match="foreign tables customers"):
        store.sql("SELECT 1")


def test_bad_query_is_typed(store: TraceStore) -> None:
    with pytest.raises(TraceStoreError, match="trace query failed"):
        store.sql("SELECT nope FROM spans")


def test_foreign_holder_times_out(store: TraceStore) -> None:
    import subprocess
    import sys

    store.sql("SELECT 1")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('ok', flush=True);"
            " time.sleep(30)",
            str(store.path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ok"
        quick = TraceStore(store.path, spool_dir=store.spool_dir, lock_timeout_s=0.3)
        with pytest.raises(TraceStoreError, match="held by another program"):
            quick.sql("SELECT 1")
    finally:
        holder.kill()
        holder.communicate()  # reaps it and closes the pipe
    assert int(store.sql("SELECT 1 AS x")["x"][0]) == 1
