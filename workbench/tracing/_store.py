"""The DuckDB trace store: merges spool segments and answers SQL.

DuckDB lets one process hold a database file at a time, so the store never keeps the
file open: every call takes an exclusive ``flock`` on ``<store>.lock``, opens DuckDB,
merges the sealed spool segments, runs its query and closes. Writers (the spools)
never touch DuckDB at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.errors import TraceStoreCorrupt, TraceStoreError
from workbench.tracing import _schema
from workbench.tracing._spool import (
    RECORDS,
    SPANS,
    default_fallback_dir,
    is_dead_part,
    sealed_segments,
    segment_kind,
)

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped]

__all__ = ["COST_DIMENSIONS", "EXPORT_TABLES", "TraceStore", "cost_query"]

_log = logging.getLogger("workbench.tracing")

_CHUNK = 256
"""Segments merged in one transaction (bounds memory and the work a crash repeats)."""
_DATA_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException)


# Dimension -> (SELECT expressions, GROUP BY expressions) over the `calls` CTE.
_DIMENSIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "version": (("e.agent_name", "e.agent_version"), ("e.agent_name", "e.agent_version")),
    "day": (("CAST(c.start_time AS DATE) AS day",), ("CAST(c.start_time AS DATE)",)),
    "principal": (("e.principal",), ("e.principal",)),
    "tool": (("c.tool",), ("c.tool",)),
}
COST_DIMENSIONS: tuple[str, ...] = tuple(_DIMENSIONS)
"""What :meth:`TraceStore.cost` groups by."""
EXPORT_TABLES: tuple[str, ...] = ("spans", "executions", "records")
"""Tables :meth:`TraceStore.export_parquet` writes."""


def _is_lock_conflict(exc: BaseException) -> bool:
    return "lock" in str(exc).lower()


class TraceStore:
    """The embedded trace store (``traces.duckdb``) and its spool.

    Args:
        path: The DuckDB file; default ``get_settings().trace_store_path``.
        spool_dir: Where tracers seal segments; default ``get_settings().spool_dir``.
        fallback_dir: Where tracers seal segments while ``spool_dir`` is full or
            unwritable; default :func:`~workbench.tracing.default_fallback_dir` of
            ``spool_dir`` (what :class:`~workbench.tracing.SpoolExporter` uses). Merged
            like the spool.
        lock_timeout_s: How long a call waits for another process's merge or query, and
            for a foreign tool that holds the DuckDB file, before it raises
            :class:`~workbench.errors.TraceStoreError`.

    Raises:
        TraceStoreCorrupt: (from any method) the file is not a DuckDB database, or is a
            DuckDB database that is not an agent-workbench trace store.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        spool_dir: Path | None = None,
        fallback_dir: Path | None = None,
        lock_timeout_s: float = 30.0,
    ) -> None:
        if path is None or spool_dir is None:
            from workbench.settings import get_settings

            settings = get_settings()
            path = settings.trace_store_path if path is None else path
            spool_dir = settings.spool_dir if spool_dir is None else spool_dir
        self.path = Path(path)
        self.spool_dir = Path(spool_dir)
        self.fallback_dir = (
            default_fallback_dir(self.spool_dir) if fallback_dir is None else Path(fallback_dir)
        )
        self.lock_timeout_s = lock_timeout_s

    # -- public ---------------------------------------------------------------------------

    def ingest(self) -> int:
        """Merge every sealed segment of the spool and of its fallback directory.

        Returns:
            The spans and rows merged by this call.
        """
        with self._session(ingest_only=True) as con:
            return 0 if con is None else self._ingest(con)

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pandas.DataFrame:
        """Ingest, then run ``query`` (with ``?`` parameters) and return its result.

        Raises:
            TraceStoreError: the query failed (the message is DuckDB's).
        """
        with self._session() as con:
            assert con is not None
            self._ingest(con)
            try:
                return con.execute(query, list(params) if params else None).df()
            except duckdb.Error as exc:
                raise TraceStoreError(f"trace query failed: {exc}") from exc

    def summary(self) -> dict[str, Any]:
        """Headline numbers: executions by status, tokens, cost, spans, top tools, errors."""
        with self._session() as con:
            assert con is not None
            self._ingest(con)

            def rows(q: str) -> list[tuple[Any, ...]]:
                return con.execute(q).fetchall()

            by_status = dict(rows("SELECT status, count(*) FROM executions GROUP BY 1 ORDER BY 1"))
            tokens = rows(
                "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),"
                " coalesce(sum(cost_usd), 0) FROM executions"
            )[0]
            spans, error_spans = rows(
                "SELECT count(*), count(*) FILTER (WHERE status = 'ERROR') FROM spans"
            )[0]
            tools = rows(
                "SELECT tool_name, calls, errors FROM slowest_tools ORDER BY calls DESC LIMIT 5"
            )
            errors = rows("SELECT error_type, kind, errors FROM errors_by_type LIMIT 10")
        return {
            "executions": sum(by_status.values()),
            "executions_by_status": by_status,
            "prompt_tokens": int(tokens[0]),
            "completion_tokens": int(tokens[1]),
            "total_tokens": int(tokens[0]) + int(tokens[1]),
            "cost_usd": float(tokens[2]),
            "spans": int(spans),
            "error_spans": int(error_spans),
            "top_tools": [{"tool_name": t, "calls": c, "errors": e} for t, c, e in tools],
            "errors": [{"error_type": t, "kind": k, "count": n} for t, k, n in errors],
        }

    def cost(self, by: Sequence[str] = ("version",)) -> pandas.DataFrame:
        """USD and tokens of LLM calls grouped by any of :data:`COST_DIMENSIONS`.

        Dimensions: ``version`` (agent_name, agent_version), ``day`` (UTC day of the LLM
        call), ``principal`` and ``tool``. With ``tool``, the cost of a model call is
        split evenly among the tools that call requested (same execution and step);
        a call that requested none (the final answer) counts as ``(none)``.

        Args:
            by: Dimensions, in the order of the result's leading columns.

        Returns:
            One row per group: the dimension columns, then executions, llm_calls,
            prompt_tokens, completion_tokens, tokens and cost_usd; most expensive first.

        Raises:
            ValueError: An unknown or repeated dimension.
        """
        return self.sql(cost_query(by))

    def export_parquet(
        self, out_dir: Path, *, tables: Sequence[str] = EXPORT_TABLES
    ) -> dict[str, Path]:
        """Write each table as ``<out_dir>/<table>.parquet`` (zstd), for other tools.

        Each file is written beside its final name and renamed, so a reader never sees a
        half-written file.

        Args:
            out_dir: Directory (created if missing); existing files are replaced.
            tables: Any of ``spans``, ``executions`` and ``records``.

        Returns:
            The written file of each table.

        Raises:
            ValueError: An unknown table.
        """
        unknown = [t for t in tables if t not in EXPORT_TABLES]
        if unknown:
            raise ValueError(f"cannot export {unknown}; tables are {list(EXPORT_TABLES)}")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        with self._session() as con:
            assert con is not None
            self._ingest(con)
            for table in tables:
                target = out_dir / f"{table}.parquet"
                part = out_dir / f".{table}.parquet.{os.getpid()}.part"
                quoted = str(part).replace("'", "''")
                try:
                    con.execute(
                        f"COPY (SELECT * FROM {table}) TO '{quoted}'"
                        " (FORMAT parquet, COMPRESSION zstd)"
                    )
                except duckdb.Error as exc:
                    part.unlink(missing_ok=True)
                    raise TraceStoreError(f"export of {table} failed: {exc}") from exc
                os.replace(part, target)
                written[table] = target
        return written

    # -- sessions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self, *, ingest_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection | None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._flock():
            self._reap_dead_parts()
            if ingest_only and not self._segments():
                yield None  # nothing to merge: do not even open DuckDB
                return
            con = self._connect()
            try:
                self._ensure_schema(con)
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + self.lock_timeout_s
            delay = 0.002
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TraceStoreError(
                            f"timed out after {self.lock_timeout_s}s waiting for {lock_path}"
                            " (another process is merging or querying the trace store)"
                        ) from None
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 0.1)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _connect(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.01
        while True:
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as exc:
                if not _is_lock_conflict(exc):
                    raise self._corrupt(str(exc)) from None
                # A foreign tool (a DuckDB CLI, a notebook) holds the file: wait it out.
                if time.monotonic() >= deadline:
                    raise TraceStoreError(
                        f"trace store {self.path} is held by another program: {exc}"
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise self._corrupt(str(exc)) from None
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = false")
        return con

    def _corrupt(self, detail: str) -> TraceStoreCorrupt:
        return TraceStoreCorrupt(
            f"{self.path} is not a usable agent-workbench trace store ({detail.strip()}). "
            "Move it aside; a new store is created on the next use and the spool is kept."
        )

    def _ensure_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            tables = {
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = 'main' AND table_catalog = current_database()"
                ).fetchall()
            }
            if "workbench_meta" in tables:
                meta = dict(con.execute("SELECT key, value FROM workbench_meta").fetchall())
                if meta.get("format") != _schema.FORMAT_NAME:
                    raise self._corrupt(f"workbench_meta names format {meta.get('format')!r}")
                if (
                    int(meta.get("version", "0")) == _schema.SCHEMA_VERSION
                    and meta.get("ddl") == _schema.DDL_DIGEST
                ):
                    return
            elif tables:
                raise self._corrupt(
                    "a DuckDB database with foreign tables " + ", ".join(sorted(tables)[:5])
                )
            con.execute("BEGIN")
            for ddl in (*_schema.TABLES, *_schema.VIEWS):
                con.execute(ddl)
            con.execute(
                "INSERT OR REPLACE INTO workbench_meta VALUES ('format', ?), ('version', ?),"
                " ('ddl', ?)",
                [_schema.FORMAT_NAME, str(_schema.SCHEMA_VERSION), _schema.DDL_DIGEST],
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            raise self._corrupt(str(exc)) from None

    # -- merging --------------------------------------------------------------------------

    def _segments(self) -> list[Path]:
        # Names are unique across both directories; sorting by name keeps each
        # process's segments in the order it sealed them, wherever they went.
        found = sealed_segments(self.spool_dir)
        if self.fallback_dir != self.spool_dir:
            found += sealed_segments(self.fallback_dir)
        return sorted(found, key=lambda p: p.name)

    def _reap_dead_parts(self) -> None:
        for directory in (self.spool_dir, self.fallback_dir):
            try:
                names = os.listdir(directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                path = directory / name
                if is_dead_part(path):
                    path.unlink(missing_ok=True)

    def _ingest(self, con: duckdb.DuckDBPyConnection) -> int:
        segments = self._segments()
        merged = 0
        for start in range(0, len(segments), _CHUNK):
            merged += self._merge_files(con, segments[start : start + _CHUNK])
        return merged

    def _merge_files(self, con: duckdb.DuckDBPyConnection, files: list[Path]) -> int:
        names = [f.name for f in files]
        done = {
            r[0]
            for r in con.execute(
                "SELECT name FROM ingested_segments WHERE list_contains(?, name)", [names]
            ).fetchall()
        }
        todo = [f for f in files if f.name not in done]
        merged = 0
        if todo:
            try:
                merged = self._merge_chunk(con, todo)
            except _DATA_ERRORS:
                if len(todo) == 1:
                    self._quarantine(todo[0])
                    return 0
                # One bad segment must not hold back the others: retry them one by one.
                return sum(self._merge_files(con, [f]) for f in todo)
        self._remove_segments(con, files)
        return merged

    def _merge_chunk(self, con: duckdb.DuckDBPyConnection, files: list[Path]) -> int:
        spans = [str(f) for f in files if segment_kind(f) == SPANS]
        records = [str(f) for f in files if segment_kind(f) == RECORDS]
        merged = 0
        con.execute("BEGIN")
        try:
            if spans:
                merged += _count(con.execute(_schema.INSERT_SPANS, [spans]))
            if records:
                con.execute(_schema.STAGE_RECORDS, [records])
                merged += _count(con.execute("SELECT count(*) FROM _wb_staged"))
                con.execute(_schema.INSERT_RECORDS)
                con.execute(_schema.UPSERT_EXECUTIONS)
                con.execute("DROP TABLE _wb_staged")
            # Same transaction as the rows: a crash before the segment files are deleted
            # leaves them listed here, and the next merge deletes them without re-inserting.
            con.execute(
                "INSERT OR IGNORE INTO ingested_segments SELECT unnest(?), now()::TIMESTAMP",
                [[f.name for f in files]],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return merged

    def _remove_segments(self, con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
        for f in files:
            f.unlink(missing_ok=True)
        # Names are unique forever, so once the files are gone the bookkeeping can go too.
        con.execute(
            "DELETE FROM ingested_segments WHERE list_contains(?, name)", [[f.name for f in files]]
        )

    def _quarantine(self, path: Path) -> None:
        target = path.parent / "quarantine"  # same file system, so the move is a rename
        target.mkdir(exist_ok=True)
        _log.warning("trace segment %s cannot be parsed; moved to %s", path.name, target)
        os.replace(path, target / path.name)

    def __repr__(self) -> str:
        return f"TraceStore({str(self.path)!r})"


_CALLS = """calls AS (
    SELECT l.span_id, l.execution_id, l.start_time, coalesce(l.cost_usd, 0) AS cost,
        coalesce(l.prompt_tokens, 0) AS prompt, coalesce(l.completion_tokens, 0) AS completion,
        1.0 AS share
    FROM spans l WHERE l.kind = 'LLM'
)"""
# A model call's cost is split evenly among the tools it asked for (same step).
_CALLS_BY_TOOL = """tools AS (
    SELECT execution_id, step, coalesce(tool_name, name) AS tool
    FROM spans WHERE kind = 'TOOL'
),
calls AS (
    SELECT l.span_id, l.execution_id, l.start_time, coalesce(l.cost_usd, 0) AS cost,
        coalesce(l.prompt_tokens, 0) AS prompt, coalesce(l.completion_tokens, 0) AS completion,
        coalesce(t.tool, '(none)') AS tool,
        1.0 / count(*) OVER (PARTITION BY l.span_id) AS share
    FROM spans l
    LEFT JOIN tools t ON t.execution_id = l.execution_id AND t.step = l.step
    WHERE l.kind = 'LLM'
)"""


def cost_query(by: Sequence[str]) -> str:
    """The SQL behind :meth:`TraceStore.cost` (for notebooks that want to extend it).

    Raises:
        ValueError: An unknown or repeated dimension.
    """
    dims = [d.strip() for d in by if d.strip()]
    unknown = [d for d in dims if d not in _DIMENSIONS]
    if unknown or len(set(dims)) != len(dims):
        raise ValueError(
            f"cost dimensions must be distinct values of {list(COST_DIMENSIONS)}, got {list(by)}"
        )
    select = [expr for d in dims for expr in _DIMENSIONS[d][0]]
    group = [expr for d in dims for expr in _DIMENSIONS[d][1]]
    head = "".join(f"{expr}, " for expr in select)
    group_by = f"GROUP BY {', '.join(group)} " if group else ""
    order = ", ".join(f"{i + 1}" for i in range(len(select)))
    return (
        f"WITH {_CALLS_BY_TOOL if 'tool' in dims else _CALLS}\n"
        f"SELECT {head}count(DISTINCT c.execution_id) AS executions,\n"
        "    CAST(round(sum(c.share)) AS BIGINT) AS llm_calls,\n"
        "    CAST(round(sum(c.prompt * c.share)) AS BIGINT) AS prompt_tokens,\n"
        "    CAST(round(sum(c.completion * c.share)) AS BIGINT) AS completion_tokens,\n"
        "    CAST(round(sum((c.prompt + c.completion) * c.share)) AS BIGINT) AS tokens,\n"
        "    sum(c.cost * c.share) AS cost_usd\n"
        "FROM calls c LEFT JOIN executions e ON e.execution_id = c.execution_id\n"
        f"{group_by}ORDER BY cost_usd DESC{', ' + order if order else ''}"
    )


def _count(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0
