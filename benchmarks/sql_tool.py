"""SQL tool throughput: an analytical query through ``sql_tool`` vs direct DuckDB.

Run: ``.venv/bin/python benchmarks/sql_tool.py [--rows N] [--n N]``. One run:

1. writes a generated ``sales`` table (``--rows``, default 1,000,000 rows: region,
   product, day, quantity, amount) to Parquet in a temporary directory;
2. builds ``sql_tool({"sales": path})`` (it loads the file into its locked-down
   in-memory DuckDB; the load is timed and reported apart);
3. loads the same file into a plain in-memory DuckDB connection (the baseline);
4. runs a GROUP BY + ORDER BY query ``--n`` times on each, alternating, and reports
   the median as rows scanned per second, and the ratio.

The tool's path per call: statement extraction, the ``json_serialize_sql`` syntax-tree
check, a cursor, the query on a worker thread, ``fetchmany`` and JSON conversion of
the (at most ``max_rows``) result rows. A third line runs the query directly on the
Parquet file (``read_parquet`` per query), for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from workbench.tools import ToolContext
from workbench.tools.builtin import sql_tool

QUERY = """
SELECT region, product,
       count(*) AS orders,
       sum(quantity) AS units,
       round(sum(amount), 2) AS revenue,
       round(avg(amount), 2) AS avg_order
FROM sales
WHERE day >= DATE '2025-01-01'
GROUP BY region, product
ORDER BY revenue DESC, region, product
LIMIT 50
"""

GENERATE = """
COPY (
    SELECT
        ['north', 'south', 'east', 'west', 'central', 'emea', 'apac', 'latam'][1 + i % 8]
            AS region,
        'product-' || lpad(CAST((i * 7919) % 200 AS VARCHAR), 3, '0') AS product,
        DATE '2024-01-01' + CAST((i * 31) % 730 AS INTEGER) AS day,
        1 + (i * 13) % 9 AS quantity,
        round(5 + ((i * 2654435761) % 100000) / 100.0, 2) AS amount
    FROM range(?) t(i)
) TO '{path}' (FORMAT parquet)
"""


def _median_s(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--n", type=int, default=15, help="timed runs of each")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.parquet"
        started = time.perf_counter()
        with duckdb.connect(":memory:") as con:
            con.execute(GENERATE.format(path=path), [args.rows])
        print(f"generated {args.rows:,} rows to Parquet in {time.perf_counter() - started:.2f} s")

        started = time.perf_counter()
        the_tool = sql_tool({"sales": path}, max_rows=200)
        tool_load = time.perf_counter() - started
        started = time.perf_counter()
        direct = duckdb.connect(":memory:")
        direct.execute("CREATE TABLE sales AS SELECT * FROM read_parquet(?)", [str(path)])
        direct_load = time.perf_counter() - started
        raw = duckdb.connect(":memory:")
        raw.execute(f"CREATE VIEW sales AS SELECT * FROM read_parquet('{path}')")

        ctx = ToolContext.for_call(execution_id="bench", step=0, call_index=0, side_effects=False)

        async def via_tool() -> float:
            t0 = time.perf_counter()
            result = await the_tool.ainvoke({"query": QUERY}, ctx, timeout_s=120)
            elapsed = time.perf_counter() - t0
            assert result["row_count"] == 50, result
            return elapsed

        def via(con: duckdb.DuckDBPyConnection) -> float:
            t0 = time.perf_counter()
            rows = con.execute(QUERY).fetchall()
            elapsed = time.perf_counter() - t0
            assert len(rows) == 50
            return elapsed

        async def run_all() -> tuple[list[float], list[float], list[float]]:
            tool_s, direct_s, raw_s = [], [], []
            await via_tool()  # warm-up of each, untimed
            via(direct)
            via(raw)
            for _ in range(args.n):
                tool_s.append(await via_tool())
                direct_s.append(via(direct))
                raw_s.append(via(raw))
            return tool_s, direct_s, raw_s

        tool_s, direct_s, raw_s = asyncio.run(run_all())
        check = direct.execute(QUERY).fetchall()
        same = asyncio.run(the_tool.ainvoke({"query": QUERY}, ctx, timeout_s=120))
        assert [list(r)[:2] for r in check] == [r[:2] for r in same["rows"]]
        direct.close()
        raw.close()

    t_tool, t_direct, t_raw = _median_s(tool_s), _median_s(direct_s), _median_s(raw_s)
    print(f"load: sql_tool {tool_load:.2f} s (load + lock-down), direct {direct_load:.2f} s")
    print(
        f"query (median of {args.n}): GROUP BY region, product + ORDER BY, over {args.rows:,} rows"
    )
    print(f"  sql_tool          {t_tool * 1000:8.2f} ms  {args.rows / t_tool:14,.0f} rows/s")
    print(f"  direct DuckDB     {t_direct * 1000:8.2f} ms  {args.rows / t_direct:14,.0f} rows/s")
    print(f"  direct on Parquet {t_raw * 1000:8.2f} ms  {args.rows / t_raw:14,.0f} rows/s")
    print(f"ratio sql_tool / direct (rows/s): {t_direct / t_tool:.2f}")


if __name__ == "__main__":
    main()
