"""DDL, views and merge statements of the DuckDB trace store."""

from __future__ import annotations

import hashlib

__all__ = [
    "DDL_DIGEST",
    "EXECUTION_COLUMNS",
    "FORMAT_NAME",
    "INSERT_RECORDS",
    "INSERT_SPANS",
    "SCHEMA_VERSION",
    "STAGE_RECORDS",
    "TABLES",
    "UPSERT_EXECUTIONS",
    "VIEWS",
]

FORMAT_NAME = "agent-workbench-traces"
SCHEMA_VERSION = 2
"""2: view ``cost_alerts``."""

# Columns denormalised from attributes, so common queries never parse JSON.
_SPAN_ATTRS = {
    "execution_id": ("workbench.execution_id", "VARCHAR"),
    "agent_name": ("workbench.agent.name", "VARCHAR"),
    "agent_version": ("workbench.agent.version", "VARCHAR"),
    "model": ("llm.model_name", "VARCHAR"),
    "tool_name": ("tool.name", "VARCHAR"),
    "step": ("workbench.step", "BIGINT"),
    "prompt_tokens": ("llm.token_count.prompt", "BIGINT"),
    "completion_tokens": ("llm.token_count.completion", "BIGINT"),
    "cost_usd": ("workbench.cost_usd", "DOUBLE"),
}

EXECUTION_COLUMNS: dict[str, str] = {
    "execution_id": "VARCHAR PRIMARY KEY",
    "thread_id": "VARCHAR",
    "agent_name": "VARCHAR",
    "agent_version": "VARCHAR",
    "model": "VARCHAR",
    "principal": "VARCHAR",
    "status": "VARCHAR",
    "steps": "BIGINT",
    "prompt_tokens": "BIGINT",
    "completion_tokens": "BIGINT",
    "cost_usd": "DOUBLE",
    "started_at": "TIMESTAMP",
    "ended_at": "TIMESTAMP",
    "latency_ms": "DOUBLE",
    "error": "VARCHAR",
    "answer": "VARCHAR",
    "task": "VARCHAR",
    "updated_at": "TIMESTAMP",
    "raw": "JSON",
}

_span_attr_columns = "".join(f",\n    {c} {t}" for c, (_, t) in _SPAN_ATTRS.items())

TABLES: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS workbench_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    f"""CREATE TABLE IF NOT EXISTS spans (
    span_id VARCHAR NOT NULL, -- no index: merges are exactly-once by segment bookkeeping
    trace_id VARCHAR NOT NULL,
    parent_id VARCHAR,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP NOT NULL,
    duration_ms DOUBLE NOT NULL,
    status VARCHAR NOT NULL,
    error_type VARCHAR,
    error_message VARCHAR{_span_attr_columns},
    attributes JSON
)""",
    "CREATE TABLE IF NOT EXISTS executions (\n    "
    + ",\n    ".join(f"{c} {t}" for c, t in EXECUTION_COLUMNS.items())
    + "\n)",
    """CREATE TABLE IF NOT EXISTS records (
    table_name VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    row JSON
)""",
    """CREATE TABLE IF NOT EXISTS ingested_segments (
    name VARCHAR PRIMARY KEY,
    ingested_at TIMESTAMP NOT NULL
)""",
)

VIEWS: tuple[str, ...] = (
    """CREATE OR REPLACE VIEW cost_by_agent_version AS
SELECT agent_name, agent_version,
       count(*) AS executions,
       CAST(sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)) AS BIGINT) AS tokens,
       coalesce(sum(cost_usd), 0) AS cost_usd,
       avg(cost_usd) AS avg_cost_usd
FROM executions
GROUP BY agent_name, agent_version
ORDER BY cost_usd DESC, agent_name, agent_version""",
    """CREATE OR REPLACE VIEW slowest_tools AS
SELECT coalesce(tool_name, name) AS tool_name,
       count(*) AS calls,
       quantile_cont(duration_ms, 0.5) AS p50_ms,
       quantile_cont(duration_ms, 0.95) AS p95_ms,
       max(duration_ms) AS max_ms,
       count(*) FILTER (WHERE status = 'ERROR') AS errors
FROM spans
WHERE kind = 'TOOL'
GROUP BY 1
ORDER BY p95_ms DESC, tool_name""",
    """CREATE OR REPLACE VIEW cost_alerts AS
SELECT recorded_at,
       row ->> 'scope' AS scope,
       row ->> 'key' AS key,
       TRY_CAST(TRY_CAST(row ->> 'window_start' AS TIMESTAMPTZ) AS TIMESTAMP) AS window_start,
       TRY_CAST(TRY_CAST(row ->> 'window_end' AS TIMESTAMPTZ) AS TIMESTAMP) AS window_end,
       TRY_CAST(row ->> 'spend_usd' AS DOUBLE) AS spend_usd,
       TRY_CAST(row ->> 'burn_rate_usd_per_hour' AS DOUBLE) AS burn_rate_usd_per_hour,
       TRY_CAST(row ->> 'budget_usd_per_hour' AS DOUBLE) AS budget_usd_per_hour,
       TRY_CAST(row ->> 'ratio' AS DOUBLE) AS ratio
FROM records
WHERE table_name = 'cost_alerts'
ORDER BY recorded_at DESC""",
    """CREATE OR REPLACE VIEW safety_events AS
SELECT recorded_at,
       row ->> 'kind' AS kind,
       row ->> 'rule' AS rule,
       row ->> 'severity' AS severity,
       row ->> 'action' AS action,
       row ->> 'principal' AS principal,
       row ->> 'execution_id' AS execution_id,
       row ->> 'channel' AS channel,
       row ->> 'tool' AS tool,
       row ->> 'excerpt' AS excerpt,
       row -> 'detail' AS detail
FROM records
WHERE table_name = 'safety_events'
ORDER BY recorded_at DESC""",
    """CREATE OR REPLACE VIEW eval_samples AS
SELECT recorded_at,
       row ->> 'run_id' AS run_id,
       row ->> 'suite' AS suite,
       row ->> 'version' AS version,
       row ->> 'agent_name' AS agent_name,
       row ->> 'agent_version' AS agent_version,
       row ->> 'sample_id' AS sample_id,
       TRY_CAST(row ->> 'epoch' AS BIGINT) AS epoch,
       row ->> 'execution_id' AS execution_id,
       row ->> 'status' AS status,
       row ->> 'input' AS input,
       row -> 'target' AS target,
       row ->> 'answer' AS answer,
       TRY_CAST(row ->> 'cost_usd' AS DOUBLE) AS cost_usd,
       TRY_CAST(row ->> 'tokens' AS BIGINT) AS tokens,
       TRY_CAST(row ->> 'latency_ms' AS DOUBLE) AS latency_ms,
       row ->> 'error' AS error,
       row -> 'scores' AS scores,
       row -> 'judge' AS judge,
       make_timestamp(TRY_CAST(TRY_CAST(row ->> 'finished_at' AS DOUBLE) * 1e6 AS BIGINT))
           AS finished_at,
       row
FROM records
WHERE table_name = 'eval_samples'""",
    """CREATE OR REPLACE VIEW eval_runs AS
WITH runs AS (
    SELECT row ->> 'run_id' AS run_id,
           arg_max(row ->> 'suite', recorded_at) AS suite,
           arg_max(row ->> 'status', recorded_at) AS status,
           min(recorded_at) AS started_at,
           max(recorded_at) AS updated_at,
           arg_max(TRY_CAST(row ->> 'samples_planned' AS BIGINT), recorded_at)
               AS samples_planned,
           arg_max(TRY_CAST(row ->> 'forecast_usd' AS DOUBLE), recorded_at)
               FILTER (WHERE row ->> 'forecast_usd' IS NOT NULL) AS forecast_usd,
           arg_max(TRY_CAST(row ->> 'gate_passed' AS BOOLEAN), recorded_at)
               FILTER (WHERE row ->> 'gate_passed' IS NOT NULL) AS gate_passed,
           arg_max(row ->> 'error', recorded_at) AS error,
           arg_max(row, recorded_at) AS last_row
    FROM records
    WHERE table_name = 'eval_runs'
    GROUP BY 1
), done AS (
    SELECT row ->> 'run_id' AS run_id, count(*) AS samples_done,
           coalesce(sum(TRY_CAST(row ->> 'cost_usd' AS DOUBLE)), 0) AS cost_usd
    FROM records
    WHERE table_name = 'eval_samples'
    GROUP BY 1
)
SELECT runs.run_id, suite, status, started_at, updated_at, samples_planned,
       coalesce(samples_done, 0) AS samples_done, coalesce(cost_usd, 0) AS cost_usd,
       forecast_usd, gate_passed, error, last_row
FROM runs LEFT JOIN done USING (run_id)
ORDER BY started_at DESC""",
    """CREATE OR REPLACE VIEW shadow_samples AS
SELECT recorded_at,
       row ->> 'run_id' AS run_id,
       row ->> 'baseline' AS baseline,
       row ->> 'candidate' AS candidate,
       row ->> 'sample_id' AS sample_id,
       row ->> 'baseline_execution_id' AS baseline_execution_id,
       row ->> 'candidate_execution_id' AS candidate_execution_id,
       row ->> 'baseline_status' AS baseline_status,
       row ->> 'candidate_status' AS candidate_status,
       TRY_CAST(row ->> 'same_answer' AS BOOLEAN) AS same_answer,
       TRY_CAST(row ->> 'first_divergent_step' AS BIGINT) AS first_divergent_step,
       json_array_length(row -> 'divergences') AS refused_calls,
       TRY_CAST(row ->> 'baseline_cost_usd' AS DOUBLE) AS baseline_cost_usd,
       TRY_CAST(row ->> 'candidate_cost_usd' AS DOUBLE) AS candidate_cost_usd,
       TRY_CAST(row ->> 'baseline_latency_ms' AS DOUBLE) AS baseline_latency_ms,
       TRY_CAST(row ->> 'candidate_latency_ms' AS DOUBLE) AS candidate_latency_ms
FROM records
WHERE table_name = 'shadow_samples'
ORDER BY recorded_at DESC""",
    """CREATE OR REPLACE VIEW errors_by_type AS
SELECT error_type, kind, count(*) AS errors, max(end_time) AS last_seen
FROM spans
WHERE status = 'ERROR'
GROUP BY error_type, kind
ORDER BY errors DESC, last_seen DESC""",
)

DDL_DIGEST = hashlib.sha256("\n".join((*TABLES, *VIEWS)).encode()).hexdigest()[:16]
"""Changes whenever a table or view changes: a store with another digest re-runs the DDL
(every statement is idempotent), so a new view appears in an existing store."""

_READ = "read_json(?, format = 'array', records = false, columns = {'j': 'JSON[]'})"


def _typed(expr: str, sql_type: str) -> str:
    return expr if sql_type == "VARCHAR" else f"TRY_CAST({expr} AS {sql_type})"


def _attr(key: str) -> str:
    # Keys hold dots, so the JSON path quotes them: $."llm.model_name".
    return "j[11] ->> '$.\"" + key + "\"'"


_span_attr_select = "".join(",\n    " + _typed(_attr(k), t) for k, t in _SPAN_ATTRS.values())

# SpanRecord fields by position (DuckDB lists are 1-based).
INSERT_SPANS = f"""INSERT INTO spans
SELECT j[2] ->> '$', j[1] ->> '$', j[3] ->> '$', j[4] ->> '$', j[5] ->> '$',
    make_timestamp(CAST(j[6] AS BIGINT) // 1000),
    make_timestamp(CAST(j[7] AS BIGINT) // 1000),
    (CAST(j[7] AS BIGINT) - CAST(j[6] AS BIGINT)) / 1e6,
    j[8] ->> '$', j[9] ->> '$', j[10] ->> '$'{_span_attr_select},
    j[11]
FROM {_READ}"""

# RecordRow fields by position: table, row, recorded_ns.
STAGE_RECORDS = f"""CREATE OR REPLACE TEMP TABLE _wb_staged AS
SELECT row_number() OVER () AS seq, j[1] ->> '$' AS table_name, j[2] AS row,
    make_timestamp(CAST(j[3] AS BIGINT) // 1000) AS recorded_at
FROM {_READ}"""

INSERT_RECORDS = """INSERT INTO records
SELECT table_name, recorded_at, row FROM _wb_staged
WHERE table_name <> 'executions' ORDER BY seq"""


def _ts(key: str) -> str:
    # ISO 8601 strings (naive = UTC) or epoch seconds.
    v = f"row -> '{key}'"
    return (
        f"CASE json_type({v}) WHEN 'VARCHAR' THEN "
        f"TRY_CAST(TRY_CAST(row ->> '{key}' AS TIMESTAMPTZ) AS TIMESTAMP) "
        f"WHEN 'NULL' THEN NULL "
        f"ELSE make_timestamp(TRY_CAST(TRY_CAST(row ->> '{key}' AS DOUBLE) * 1e6 AS BIGINT)) END"
    )


def _execution_value(col: str, sql_type: str) -> str:
    if col == "updated_at":
        return f"coalesce({_ts('updated_at')}, recorded_at)"
    if col == "raw":
        return "row"
    if sql_type == "TIMESTAMP":
        return _ts(col)
    return _typed(f"row ->> '{col}'", sql_type.split()[0])


_cols = [c for c in EXECUTION_COLUMNS if c != "execution_id"]
_typed_rows = ",\n        ".join(
    f"{_execution_value(c, t)} AS {c}" for c, t in EXECUTION_COLUMNS.items() if c != "execution_id"
)
# Within one merge, several rows of one execution collapse into one: per column, the
# newest non-null value.
_collapsed = ",\n    ".join(
    "max(updated_at) AS updated_at"
    if c == "updated_at"
    else f"arg_max({c}, updated_at) FILTER (WHERE {c} IS NOT NULL) AS {c}"
    for c in _cols
)
_merge_set = ",\n    ".join(
    "updated_at = greatest(excluded.updated_at, executions.updated_at)"
    if c == "updated_at"
    else (
        f"{c} = CASE WHEN excluded.updated_at >= executions.updated_at "
        f"THEN coalesce(excluded.{c}, executions.{c}) "
        f"ELSE coalesce(executions.{c}, excluded.{c}) END"
    )
    for c in _cols
)

UPSERT_EXECUTIONS = f"""INSERT INTO executions
SELECT execution_id,
    {_collapsed}
FROM (
    SELECT (row ->> 'execution_id') AS execution_id,
        {_typed_rows}
    FROM _wb_staged
    WHERE table_name = 'executions' AND (row ->> 'execution_id') IS NOT NULL
)
GROUP BY execution_id
ON CONFLICT (execution_id) DO UPDATE SET
    {_merge_set}"""
