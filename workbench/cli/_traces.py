"""`workbench traces`: query the DuckDB trace store."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.errors import WorkbenchError
from workbench.tracing import TraceStore

__all__ = ["traces_app"]

traces_app = typer.Typer(
    help="Query the trace store (.workbench/traces.duckdb).", no_args_is_help=True
)
_console = Console()


@traces_app.command("sql")
def sql(
    query: Annotated[str, typer.Argument(help='SQL, e.g. "SELECT * FROM cost_by_agent_version".')],
    as_json: Annotated[bool, typer.Option("--json", help="Rows as JSON lines.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to show in the table.")] = 50,
) -> None:
    """Run a SQL query over spans, executions and the documented views."""
    try:
        frame = TraceStore().sql(query)
    except WorkbenchError as exc:
        fail(exc)
    if as_json:
        for record in frame.to_dict(orient="records"):
            typer.echo(json.dumps(record, default=str))
        return
    table = Table(*[str(c) for c in frame.columns])
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*["" if v is None else str(v) for v in row])
    _console.print(table)
    if len(frame) > limit:
        _console.print(f"[dim]{len(frame) - limit} more rows (use --limit or --json)[/]")


@traces_app.command("summary")
def summary(
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
) -> None:
    """Executions by status, tokens and USD, slowest tools and errors."""
    try:
        data = TraceStore().summary()
    except WorkbenchError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(data, default=str))
        return
    _console.print(data)
