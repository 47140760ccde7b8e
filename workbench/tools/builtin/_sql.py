"""``sql_tool``: read-only DuckDB SQL over named CSV and Parquet datasets.

Defence in depth, strongest layer first:

1. DuckDB itself: after the datasets are loaded into an in-memory database,
   ``enable_external_access=false`` (no file, network or extension access) and
   ``lock_configuration=true`` (no ``SET`` can undo it).
2. DuckDB's parser: exactly one statement, of type ``SELECT``; its serialised
   syntax tree may only read the dataset tables and CTEs, and only the table
   functions ``range``, ``generate_series`` and ``unnest``.

A refused query raises ``ToolArgumentsInvalid`` with the reason; a query DuckDB
rejects (syntax, unknown column, permission) raises ``ToolExecutionError``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import decimal
import json
import math
import re
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from workbench.errors import ConfigError, ToolArgumentsInvalid
from workbench.tools._tool import Tool, tool

__all__ = ["sql_tool"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_READERS = {".csv": "read_csv", ".tsv": "read_csv", ".parquet": "read_parquet"}
_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_CATALOGS = frozenset({"", "memory"})
_SCHEMAS = frozenset({"", "main"})
_MEMORY_LIMIT = "512MB"


class _Database:
    """An in-memory DuckDB holding the datasets, locked down after loading."""

    def __init__(self, datasets: Mapping[str, Path | str], *, tool_name: str) -> None:
        self.tool_name = tool_name
        if not datasets:
            raise ConfigError(f"tool {tool_name!r}: at least one dataset is needed")
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:")
        self.tables: dict[str, str] = {}  # casefolded name -> name
        self.summaries: list[str] = []
        for table, source in datasets.items():
            self._load(table, Path(source))
        for statement in (
            f"SET memory_limit='{_MEMORY_LIMIT}'",
            # No spilling: a query too big for memory fails instead of writing files.
            "SET temp_directory=''",
            "SET autoinstall_known_extensions=false",
            "SET autoload_known_extensions=false",
            "SET allow_community_extensions=false",
            "SET enable_external_access=false",
            "SET lock_configuration=true",
        ):
            self._con.execute(statement)

    def _load(self, table: str, path: Path) -> None:
        if not isinstance(table, str) or not _IDENTIFIER.match(table):
            raise ConfigError(
                f"tool {self.tool_name!r}: dataset name {table!r} is not an identifier"
            )
        if table.casefold() in self.tables:
            raise ConfigError(f"tool {self.tool_name!r}: dataset {table!r} is given twice")
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            raise ConfigError(f"tool {self.tool_name!r}: {path} is not a .csv or .parquet file")
        if not path.is_file():
            raise ConfigError(f"tool {self.tool_name!r}: dataset file {path} does not exist")
        try:
            self._con.execute(
                f'CREATE TABLE "{table}" AS SELECT * FROM {reader}(?)', [str(path.resolve())]
            )
            columns = self._con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            counted = self._con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        except duckdb.Error as exc:
            raise ConfigError(f"tool {self.tool_name!r}: cannot load {path}: {exc}") from exc
        self.tables[table.casefold()] = table
        rows = counted[0] if counted else 0
        described = ", ".join(f"{c} {t}" for c, t in columns)
        self.summaries.append(f"- {table} ({rows} rows): {described}")

    def check(self, query: str) -> None:
        """Refuse anything but one SELECT that reads only the datasets."""
        try:
            with self._lock:  # one DuckDB connection object is not safe across threads
                statements = self._con.extract_statements(query)
        except duckdb.Error as exc:
            self._refuse(f"the query does not parse: {exc}")
        if len(statements) != 1:
            self._refuse(f"send exactly one statement, got {len(statements)}")
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            self._refuse(f"only SELECT queries are allowed, got {kind.name}")
        with self._lock:
            row = self._con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
        tree = json.loads(row[0]) if row else {"error": True}
        if tree.get("error"):
            # PRAGMA, PIVOT and a few other forms are rewritten into SELECTs that
            # cannot be serialised; they are refused rather than trusted unseen.
            self._refuse("only plain SELECT queries are allowed (PRAGMA, PIVOT, ... are not)")
        ctes: set[str] = set()
        tables: list[tuple[str, str, str]] = []
        functions: list[str] = []
        _walk(tree, ctes, tables, functions)
        for catalog, schema, name in tables:
            known = name.casefold() in self.tables or name.casefold() in ctes
            if (
                catalog.casefold() not in _CATALOGS
                or schema.casefold() not in _SCHEMAS
                or not known
            ):
                qualified = ".".join(p for p in (catalog, schema, name) if p)
                available = ", ".join(self.tables.values())
                self._refuse(f"table {qualified!r} is not available (tables: {available})")
        for function in functions:
            if function.casefold() not in _TABLE_FUNCTIONS:
                self._refuse(f"table function {function!r} is not allowed")

    def _refuse(self, reason: str) -> Any:
        raise ToolArgumentsInvalid(f"SQL refused: {reason}", tool=self.tool_name)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._con.cursor()


def _walk(
    node: Any, ctes: set[str], tables: list[tuple[str, str, str]], functions: list[str]
) -> None:
    """Collect CTE names, base tables and table functions of a serialised query."""
    if isinstance(node, list):
        for item in node:
            _walk(item, ctes, tables, functions)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "BASE_TABLE":
        tables.append(
            (
                str(node.get("catalog_name") or ""),
                str(node.get("schema_name") or ""),
                str(node.get("table_name") or ""),
            )
        )
    elif kind == "TABLE_FUNCTION":
        function = node.get("function")
        name = function.get("function_name") if isinstance(function, dict) else None
        functions.append(str(name or "?"))
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        for entry in cte_map.get("map") or ():
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                ctes.add(entry["key"].casefold())
    for value in node.values():
        _walk(value, ctes, tables, functions)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _execute(cursor: duckdb.DuckDBPyConnection, query: str, max_rows: int) -> dict[str, Any]:
    try:
        result = cursor.execute(query)
        columns = [d[0] for d in result.description or ()]
        fetched = result.fetchmany(max_rows + 1)
    finally:
        cursor.close()
    truncated = len(fetched) > max_rows
    rows = [[_jsonable(v) for v in row] for row in fetched[:max_rows]]
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated}


def sql_tool(datasets: Mapping[str, Path | str], *, name: str = "sql", max_rows: int = 200) -> Tool:
    """A read-only SQL tool over CSV and Parquet files, each loaded as a DuckDB table.

    The files are read once, when the tool is built; the tool's description lists
    each table with its row count, columns and types.

    Args:
        datasets: Table name to file (``.csv``, ``.tsv`` or ``.parquet``).
        name: Tool name.
        max_rows: Most rows returned; ``truncated`` says when there were more.

    Returns:
        A tool with scope ``data.read`` that returns ``{"columns": [...],
        "rows": [[...]], "row_count": n, "truncated": bool}``.

    Raises:
        ConfigError: A bad table name, a missing or unreadable file, or ``max_rows < 1``.
    """
    if max_rows < 1:
        raise ConfigError(f"tool {name!r}: max_rows must be at least 1")
    database = _Database(datasets, tool_name=name)

    async def run_sql(query: str) -> dict[str, Any]:
        """Run one read-only SQL query.

        Args:
            query: A single DuckDB SELECT (or WITH ... SELECT) statement.
        """
        database.check(query)
        cursor = database.cursor()
        try:
            return await asyncio.to_thread(_execute, cursor, query, max_rows)
        except asyncio.CancelledError:
            # The worker thread cannot be cancelled; stop DuckDB instead.
            with contextlib.suppress(duckdb.Error):
                cursor.interrupt()
            raise

    description = (
        "Run one read-only SQL query (DuckDB dialect: a single SELECT or WITH ... SELECT) "
        f"and get at most {max_rows} rows as JSON. Tables:\n" + "\n".join(database.summaries)
    )
    return tool(run_sql, name=name, description=description, scope="data.read")
