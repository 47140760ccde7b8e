"""The read-only SQL tool over the shipped sales dataset."""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ConfigError, ToolArgumentsInvalid, ToolExecutionError, ToolTimeout
from workbench.tools import Tool, ToolContext
from workbench.tools.builtin import _sql, sql_tool

SALES = Path(__file__).resolve().parents[2] / "datasets" / "sales.csv"
CTX = ToolContext.for_call(execution_id="e", step=0, call_index=0, side_effects=False)


@pytest.fixture(scope="module")
def sql() -> Tool:
    return sql_tool({"sales": SALES}, max_rows=50)


async def run(sql: Tool, query: str, timeout_s: float = 10) -> Any:
    return await sql.ainvoke(sql.parse_arguments({"query": query}), CTX, timeout_s=timeout_s)


def test_shape_of_the_tool(sql: Tool) -> None:
    assert sql.name == "sql"
    assert sql.scope == "data.read"
    assert not sql.side_effects
    assert sql.parameters["required"] == ["query"]
    assert "- sales (200 rows): order_id BIGINT, order_date DATE, region VARCHAR" in (
        sql.description
    )


@pytest.mark.anyio
async def test_aggregate_query_matches_the_csv(sql: Tool) -> None:
    expected: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    with SALES.open(newline="") as handle:
        for row in csv.DictReader(handle):
            expected[row["region"]][0] += float(row["revenue"])
            expected[row["region"]][1] += 1
    result = await run(
        sql,
        "WITH r AS (SELECT region, sum(revenue) AS revenue, count(*) AS orders "
        "FROM sales GROUP BY region) SELECT * FROM r ORDER BY region",
    )
    assert result["columns"] == ["region", "revenue", "orders"]
    assert result["row_count"] == 4
    assert result["truncated"] is False
    assert [r[0] for r in result["rows"]] == ["East", "North", "South", "West"]
    for region, revenue, orders in result["rows"]:
        assert revenue == pytest.approx(expected[region][0])
        assert orders == expected[region][1]


@pytest.mark.anyio
async def test_rows_are_truncated_at_max_rows(sql: Tool) -> None:
    result = await run(sql, "SELECT order_id FROM sales ORDER BY order_id")
    assert (result["row_count"], result["truncated"]) == (50, True)
    assert result["rows"][0] == [1001]
    exact = await run(sql, "SELECT order_id FROM sales ORDER BY order_id LIMIT 50")
    assert (exact["row_count"], exact["truncated"]) == (50, False)


@pytest.mark.anyio
async def test_values_are_json_able(sql: Tool) -> None:
    result = await run(
        sql,
        "SELECT DATE '2025-01-02' AS d, 1.5::DECIMAL(4,2) AS dec, [1, 2] AS l, "
        "{'a': 1} AS s, INTERVAL 1 DAY AS i, 'ab'::BLOB AS b, 'nan'::DOUBLE AS n, NULL AS z",
    )
    assert result["rows"] == [["2025-01-02", 1.5, [1, 2], {"a": 1}, 86400.0, "YWI=", "nan", None]]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("INSERT INTO sales SELECT * FROM sales", "only SELECT queries are allowed, got INSERT"),
        ("DROP TABLE sales", "only SELECT queries are allowed, got DROP"),
        ("ATTACH '/tmp/other.db' AS other", "only SELECT queries are allowed, got ATTACH"),
        ("COPY sales TO '/tmp/leak.csv'", "only SELECT queries are allowed, got COPY"),
        ("INSTALL httpfs", "only SELECT queries are allowed, got LOAD"),
        ("LOAD httpfs", "only SELECT queries are allowed, got LOAD"),
        ("SET enable_external_access = true", "only SELECT queries are allowed, got SET"),
        ("CREATE TABLE t AS SELECT 1", "only SELECT queries are allowed, got CREATE"),
        ("PRAGMA version", "only plain SELECT queries are allowed"),
        ("SELECT 1; SELECT 2", "send exactly one statement, got 2"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table function 'read_csv' is not allowed"),
        (
            "SELECT * FROM sales WHERE region IN (SELECT * FROM read_text('/etc/passwd'))",
            "table function 'read_text' is not allowed",
        ),
        ("SELECT * FROM '/etc/passwd'", "table '/etc/passwd' is not available (tables: sales)"),
        ("SELECT * FROM duckdb_settings()", "table function 'duckdb_settings' is not allowed"),
        ("SELECT * FROM query('DROP TABLE sales')", "table function 'query' is not allowed"),
        ("SELECT * FROM glob('/etc/*')", "table function 'glob' is not allowed"),
        (
            "SELECT * FROM information_schema.tables",
            "table 'information_schema.tables' is not available",
        ),
        ("SELECT * FROM sales WHERE", "the query does not parse"),
    ],
)
async def test_refusals(sql: Tool, query: str, reason: str) -> None:
    with pytest.raises(ToolArgumentsInvalid) as info:
        await run(sql, query)
    assert info.value.message.startswith("SQL refused: ")
    assert reason in info.value.message


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("COPY sales TO '/tmp/wb_leak.csv'", "disabled by configuration"),
        ("ATTACH '/tmp/wb_other.db' AS other", "disabled by configuration"),
        ("LOAD httpfs", "disabled through configuration"),
        ("SET enable_external_access = true", "the configuration has been locked"),
        ("RESET lock_configuration", "the configuration has been locked"),
    ],
)
async def test_duckdb_is_the_boundary_even_without_the_parser_checks(
    sql: Tool, monkeypatch: pytest.MonkeyPatch, query: str, fragment: str
) -> None:
    """The parser checks are a second layer; DuckDB's own settings are the boundary."""
    monkeypatch.setattr(_sql._Database, "check", lambda self, query: None)
    with pytest.raises(ToolExecutionError, match=fragment):
        await run(sql, query)


@pytest.mark.anyio
async def test_duckdb_errors_are_execution_errors(sql: Tool) -> None:
    with pytest.raises(ToolExecutionError, match="BinderException"):
        await run(sql, "SELECT no_such_column FROM sales")


@pytest.mark.anyio
async def test_cte_and_allowed_table_functions(sql: Tool) -> None:
    result = await run(sql, "WITH x AS (SELECT * FROM range(3) t(i)) SELECT sum(i) FROM x")
    assert result["rows"] == [[3]]


@pytest.mark.anyio
async def test_long_query_is_interrupted_on_timeout(sql: Tool) -> None:
    started = time.monotonic()
    with pytest.raises(ToolTimeout):
        await run(sql, "SELECT count(*) FROM range(100000000000) a(i) WHERE i % 7 = 3", 0.2)
    assert time.monotonic() - started < 5
    # The database is still usable afterwards.
    assert (await run(sql, "SELECT count(*) FROM sales"))["rows"] == [[200]]


def test_parquet_dataset(tmp_path: Path) -> None:
    import duckdb

    target = tmp_path / "small.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 1 AS a, 'x' AS b) TO '{target}' (FORMAT parquet)")
    con.close()
    made = sql_tool({"small": target, "sales": str(SALES)}, name="warehouse")
    assert made.name == "warehouse"
    assert "- small (1 rows): a INTEGER, b VARCHAR" in made.description


@pytest.mark.parametrize(
    ("datasets", "fragment"),
    [
        ({}, "at least one dataset"),
        ({"bad-name": SALES}, "is not an identifier"),
        ({"sales": SALES.with_suffix(".json")}, "is not a .csv or .parquet file"),
        ({"sales": SALES.with_name("missing.csv")}, "does not exist"),
        ({"sales": SALES, "SALES": SALES}, "is given twice"),
    ],
)
def test_bad_datasets_are_config_errors(datasets: dict[str, Path], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        sql_tool(datasets)
