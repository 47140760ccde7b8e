"""Helpers of the widget tests (a uniquely named module: conftest.py files clash)."""

from __future__ import annotations

from pathlib import Path

from workbench.tracing import TraceStore

REPO = Path(__file__).resolve().parents[2]


def fill_store(store: TraceStore, executions: int) -> None:
    """Write ``executions`` generated executions (1 AGENT, 2 LLM and 2 TOOL spans each,
    two agent versions over three days) straight into the store's DuckDB file."""
    import duckdb

    store.sql("SELECT 1")  # creates the file, schema and views
    con = duckdb.connect(str(store.path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            f"""
INSERT INTO executions (execution_id, agent_name, agent_version, status, steps,
    prompt_tokens, completion_tokens, cost_usd, started_at, latency_ms, updated_at)
SELECT printf('e%05d', i), 'bot', 'v' || (1 + i % 2), 'completed', 2, 200, 40, 0.001,
    TIMESTAMP '2026-11-01' + to_seconds(i * 3 * 86400 // {executions}), 100.0 + i,
    TIMESTAMP '2026-11-01' + to_seconds(i * 3 * 86400 // {executions})
FROM range({executions}) r(i);
INSERT INTO spans (span_id, trace_id, parent_id, name, kind, start_time, end_time,
    duration_ms, status, error_type, execution_id, agent_name, agent_version, tool_name,
    step, prompt_tokens, completion_tokens, cost_usd)
SELECT printf('%d-%d', e, k), printf('t%d', e),
    CASE WHEN k = 0 THEN NULL ELSE printf('%d-0', e) END,
    CASE k WHEN 0 THEN 'agent bot' WHEN 1 THEN 'llm' WHEN 2 THEN 'tool sql' WHEN 3 THEN 'llm'
        ELSE 'tool calculator' END,
    CASE k WHEN 0 THEN 'AGENT' WHEN 2 THEN 'TOOL' WHEN 4 THEN 'TOOL' ELSE 'LLM' END,
    t0 + to_milliseconds(k * 10), t0 + to_milliseconds(k * 10 + 5), 1.0 + k * (1 + e % 7),
    CASE WHEN k = 4 AND e % 10 = 0 THEN 'ERROR' ELSE 'OK' END,
    CASE WHEN k = 4 AND e % 10 = 0 THEN 'tool_timeout' END,
    printf('e%05d', e), 'bot', 'v' || (1 + e % 2),
    CASE k WHEN 2 THEN 'sql' WHEN 4 THEN 'calculator' END,
    CASE WHEN k > 0 THEN (k + 1) // 2 END,
    CASE WHEN k IN (1, 3) THEN 100 END, CASE WHEN k IN (1, 3) THEN 20 END,
    CASE WHEN k IN (1, 3) THEN 0.0005 END
FROM (SELECT e, k, TIMESTAMP '2026-11-01' + to_seconds(e * 3 * 86400 // {executions}) AS t0
      FROM range({executions}) a(e), range(5) b(k));
"""
        )
    finally:
        con.close()
