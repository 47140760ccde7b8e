"""Trace query benchmark: "cost by version and day" and "p95 latency by tool" over 1M spans.

Run: ``.venv/bin/python benchmarks/trace_query.py [--spans N] [--repeat R]``. Builds a
trace store of N spans (default 1,000,000: 100,000 executions of 10 spans each, 1 AGENT,
5 LLM and 4 TOOL, across 4 agent versions and 30 days) in a temporary directory, written
by DuckDB from generated rows (seconds, not the minutes of a real run), then times each
query R times through :class:`TraceStore` (flock, open, merge check, query, close: what
a notebook or the CLI pays per call) and on an already open DuckDB connection (the
baseline: the query alone). Target: < 200 ms each through the store (median).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from workbench.tracing import TraceStore, cost_query

TARGET_MS = 200.0
SPANS_PER_EXECUTION = 10  # 1 AGENT, 5 LLM, 4 TOOL
P95_BY_TOOL = """SELECT tool_name, count(*) AS calls,
    quantile_cont(duration_ms, 0.95) AS p95_ms
FROM spans WHERE kind = 'TOOL' GROUP BY tool_name ORDER BY p95_ms DESC"""

_GENERATE = """
INSERT INTO executions (execution_id, thread_id, agent_name, agent_version, model, principal,
    status, steps, prompt_tokens, completion_tokens, cost_usd, started_at, ended_at,
    latency_ms, updated_at)
SELECT 'e' || i, 't' || (i // 3), 'analyst', 'v' || (1 + i % 4), 'scripted/analyst',
    'user' || (i % 50), 'completed', 5, 5 * 120, 5 * 30, 5 * 0.00042,
    TIMESTAMP '2026-10-01' + to_seconds(i * ({days} * 86400 // {executions})),
    TIMESTAMP '2026-10-01' + to_seconds(i * ({days} * 86400 // {executions}) + 2),
    2000.0,
    TIMESTAMP '2026-10-01' + to_seconds(i * ({days} * 86400 // {executions}) + 2)
FROM range({executions}) r(i);

INSERT INTO spans
SELECT printf('%016x', n) AS span_id,
    printf('%032x', e) AS trace_id,
    CASE WHEN k = 0 THEN NULL ELSE printf('%016x', e * 10) END AS parent_id,
    CASE WHEN k = 0 THEN 'agent analyst' WHEN k % 2 = 1 THEN 'llm scripted/analyst'
         ELSE 'tool ' || tool END AS name,
    CASE WHEN k = 0 THEN 'AGENT' WHEN k % 2 = 1 THEN 'LLM' ELSE 'TOOL' END AS kind,
    t0 + to_microseconds(k * 200000) AS start_time,
    t0 + to_microseconds(k * 200000 + CAST(dur * 1000 AS BIGINT)) AS end_time,
    dur AS duration_ms,
    CASE WHEN n % 97 = 0 THEN 'ERROR' ELSE 'OK' END AS status,
    CASE WHEN n % 97 = 0 THEN 'tool_timeout' END AS error_type,
    CASE WHEN n % 97 = 0 THEN 'timed out' END AS error_message,
    'e' || e AS execution_id, 'analyst' AS agent_name, 'v' || (1 + e % 4) AS agent_version,
    CASE WHEN k % 2 = 1 THEN 'scripted/analyst' END AS model,
    CASE WHEN k > 0 AND k % 2 = 0 THEN tool END AS tool_name,
    CASE WHEN k > 0 THEN (k + 1) // 2 END AS step,
    CASE WHEN k % 2 = 1 THEN 120 END AS prompt_tokens,
    CASE WHEN k % 2 = 1 THEN 30 END AS completion_tokens,
    CASE WHEN k % 2 = 1 THEN 0.00042 END AS cost_usd,
    json_object('workbench.execution_id', 'e' || e, 'workbench.agent.name', 'analyst',
        'workbench.agent.version', 'v' || (1 + e % 4), 'input.value',
        'What share of revenue came from the North region in 2025?') AS attributes
FROM (
    SELECT n, n // {per} AS e, n % {per} AS k,
        ['sql', 'calculator', 'search', 'http', 'python', 'memory', 'files', 'email']
            [1 + CAST(hash(n) % 8 AS INTEGER)] AS tool,
        TIMESTAMP '2026-10-01' + to_seconds((n // {per}) * ({days} * 86400 // {executions}))
            AS t0,
        -- log-normal-ish latencies: most calls fast, a long tail
        round(exp(random() * 6), 3) AS dur
    FROM range({spans}) r(n)
)
"""


def build(store: TraceStore, spans: int, days: int = 30) -> float:
    """Create the schema through the store, then bulk-insert generated rows."""
    t0 = time.perf_counter()
    store.sql("SELECT 1")  # creates the file, schema and views
    executions = spans // SPANS_PER_EXECUTION
    con = duckdb.connect(str(store.path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            _GENERATE.format(
                spans=executions * SPANS_PER_EXECUTION,
                executions=executions,
                per=SPANS_PER_EXECUTION,
                days=days,
            )
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return time.perf_counter() - t0


def _raw_query(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).df()


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(median ms, best ms, last result) over ``repeat`` calls after one warm-up."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-query-"))
    try:
        _run(tmp, args.spans, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, spans: int, repeat: int) -> None:
    store = TraceStore(tmp / "traces.duckdb", spool_dir=tmp / "spool", fallback_dir=tmp / "fb")
    built = build(store, spans)
    size_mb = store.path.stat().st_size / 1e6
    count = int(store.sql("SELECT count(*) AS n FROM spans").n[0])
    print(f"store: {count:,} spans, {size_mb:.0f} MB, built in {built:.1f} s")

    cost_sql = cost_query(["version", "day"])
    queries: dict[str, tuple[Callable[[], object], str]] = {
        "cost by version and day": (lambda: store.cost(["version", "day"]), cost_sql),
        "p95 latency by tool": (lambda: store.sql(P95_BY_TOOL), P95_BY_TOOL),
    }
    # The store first: while another connection of this process holds the file, DuckDB
    # would hand the store that open database and hide the cost of opening it.
    store_times = {name: timed(fn, repeat) for name, (fn, _) in queries.items()}
    raw = duckdb.connect(str(store.path))
    raw.execute("SET TimeZone = 'UTC'")
    results: list[tuple[str, float, float, float, float, int]] = []
    try:
        for name, (_, sql) in queries.items():
            med, best, frame = store_times[name]
            raw_med, raw_best, _ = timed(functools.partial(_raw_query, raw, sql), repeat)
            results.append((name, med, best, raw_med, raw_best, len(frame)))  # type: ignore[arg-type]
    finally:
        raw.close()

    print(
        f"\n{'query':<26}{'store median':>14}{'store best':>12}{'raw median':>12}"
        f"{'raw best':>10}{'rows':>7}  target < {TARGET_MS:.0f} ms"
    )
    for name, med, best, raw_med, raw_best, rows in results:
        verdict = "met" if med < TARGET_MS else "MISSED"
        print(
            f"{name:<26}{med:>11.1f} ms{best:>9.1f} ms{raw_med:>9.1f} ms{raw_best:>7.1f} ms"
            f"{rows:>7}  {verdict}"
        )


if __name__ == "__main__":
    main()
