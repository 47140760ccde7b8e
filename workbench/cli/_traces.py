"""`workbench traces`: query the DuckDB trace store."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.errors import WorkbenchError
from workbench.settings import get_settings
from workbench.tracing import COST_DIMENSIONS, TraceStore

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
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(data["executions_by_status"].items()))
    _console.print(
        f"[bold]executions[/] {data['executions']} ({statuses or 'none'})   "
        f"[bold]spans[/] {data['spans']} ({data['error_spans']} errors)\n"
        f"[bold]tokens[/] {data['total_tokens']} ({data['prompt_tokens']} in, "
        f"{data['completion_tokens']} out)   [bold]cost[/] ${data['cost_usd']:.6f}"
    )
    for title, rows in (("tools", data["top_tools"]), ("errors", data["errors"])):
        if rows:
            table = Table(*rows[0].keys(), title=title, title_justify="left")
            for row in rows:
                table.add_row(*(str(v) for v in row.values()))
            _console.print(table)


def _plain(value: Any) -> Any:
    """A JSON-able scalar: NaN and pandas' missing values become None, dates ISO text."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return None if str(value) in {"<NA>", "NaT"} else value


_SHORT = {
    "agent_name": "agent",
    "agent_version": "version",
    "executions": "execs",
    "llm_calls": "calls",
    "cost_usd": "USD",
}


@traces_app.command("cost")
def cost(
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help=f"Comma list of {', '.join(COST_DIMENSIONS)} (any subset, in column order).",
        ),
    ] = "version",
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON array of rows.")] = False,
) -> None:
    """USD and tokens of model calls by agent version, day, principal and/or tool."""
    dims = [d.strip() for d in by.split(",") if d.strip()]
    try:
        frame = TraceStore().cost(dims)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except WorkbenchError as exc:
        fail(exc)
    rows = [
        {str(k): _plain(v) for k, v in record.items()} for record in frame.to_dict(orient="records")
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    # The table leaves out the prompt/completion split (in --json) so it fits 80 columns.
    shown = [c for c in frame.columns if c not in {"prompt_tokens", "completion_tokens"}]
    table = Table(
        *[_SHORT.get(str(c), str(c)) for c in shown],
        title=f"cost by {', '.join(dims) or 'all'}",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    for row in rows:
        table.add_row(
            *[
                "" if row[c] is None else f"${row[c]:.6f}" if c == "cost_usd" else str(row[c])
                for c in shown
            ]
        )
    _console.print(table)


@traces_app.command("export")
def export(
    out: Annotated[
        Path | None,
        typer.Option(help="Directory for the Parquet files; default $WORKBENCH_HOME/export."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Files and row counts as JSON.")] = (
        False
    ),
) -> None:
    """Write spans, executions and records as Parquet files (zstd) for other tools."""
    out_dir = out if out is not None else get_settings().home / "export"
    store = TraceStore()
    try:
        written = store.export_parquet(out_dir)
        counts = {
            table: int(store.sql(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])
            for table in written
        }
    except WorkbenchError as exc:
        fail(exc)
    result = {t: {"path": str(p), "rows": counts[t]} for t, p in written.items()}
    if as_json:
        typer.echo(json.dumps(result))
        return
    for table, info in result.items():
        _console.print(f"{table}: {info['rows']} rows -> {info['path']}")


@traces_app.command("alerts")
def alerts(
    burn_usd_per_hour: Annotated[
        float | None,
        typer.Option("--burn-usd-per-hour", help="Burn-rate budget per key (USD/hour).", min=0),
    ] = None,
    by: Annotated[
        str, typer.Option("--by", help="Burn-rate key: agent_version or principal.")
    ] = "agent_version",
    window_s: Annotated[
        float, typer.Option("--window-s", help="Burn-rate window in seconds.", min=1)
    ] = 3600.0,
    execution_usd: Annotated[
        float | None, typer.Option("--execution-usd", help="Alert on an execution over this.")
    ] = None,
    execution_steps: Annotated[
        int | None, typer.Option("--execution-steps", help="Alert on more model calls than this.")
    ] = None,
    principal_day_usd: Annotated[
        float | None,
        typer.Option("--principal-day-usd", help="Alert on a principal's day over this."),
    ] = None,
    webhook: Annotated[
        list[str] | None, typer.Option("--webhook", help="POST each alert here (repeatable).")
    ] = None,
    every: Annotated[
        float | None,
        typer.Option("--every", help="Check again every N seconds (else check once).", min=1),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", help="With --every: stop after N checks.", min=1)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per alert.")] = False,
) -> None:
    """Check cost alerts now (or on a schedule): burn rate and thresholds, from the store.

    Run it from cron, or keep it running with --every. Each alert is recorded in the
    store (``cost_alerts`` / ``safety_events``) and sent to the log and any --webhook.
    """
    import time

    from workbench.tracing import (
        BurnRateMonitor,
        CostNotifier,
        LogNotifier,
        ThresholdMonitor,
        Thresholds,
        WebhookNotifier,
        get_tracer,
    )

    if by not in ("agent_version", "principal"):
        typer.echo("error: --by must be agent_version or principal", err=True)
        raise typer.Exit(2)
    thresholds = Thresholds(
        execution_usd=execution_usd,
        execution_steps=execution_steps,
        principal_day_usd=principal_day_usd,
    )
    if burn_usd_per_hour is None and thresholds == Thresholds():
        typer.echo(
            "error: give --burn-usd-per-hour and/or a threshold (--execution-usd,"
            " --execution-steps, --principal-day-usd)",
            err=True,
        )
        raise typer.Exit(2)
    notifiers: list[CostNotifier] = [LogNotifier()]
    notifiers += [WebhookNotifier(url) for url in webhook or []]
    tracer = get_tracer()
    burn = (
        BurnRateMonitor(
            burn_usd_per_hour,
            by="principal" if by == "principal" else "agent_version",
            window_s=window_s,
            notifiers=notifiers,
            tracer=tracer,
        )
        if burn_usd_per_hour is not None
        else None
    )
    limits = ThresholdMonitor(thresholds, notifiers=notifiers, tracer=tracer)
    store = TraceStore()
    checks = 0
    try:
        while True:
            raised: list[dict[str, Any]] = []
            if burn is not None:
                raised += [
                    {"type": "cost_alert", **a.model_dump(mode="json")}
                    for a in burn.check_store(store)
                ]
            raised += [
                {"type": "threshold_alert", **a.model_dump(mode="json")}
                for a in limits.check_store(store)
            ]
            tracer.flush()
            for alert in raised:
                if as_json:
                    typer.echo(json.dumps(alert))
                else:
                    _console.print(
                        f"[red]{alert['type']}[/] {alert['scope']} {alert['key']}: "
                        + (
                            f"{alert['burn_rate_usd_per_hour']:.4f} USD/h > "
                            f"{alert['budget_usd_per_hour']:.4f}"
                            if alert["type"] == "cost_alert"
                            else f"{alert['value']:g} > {alert['threshold']:g}"
                        )
                    )
            if not raised and not as_json:
                _console.print("no new alerts")
            checks += 1
            if every is None or (count is not None and checks >= count):
                return
            time.sleep(every)
    except WorkbenchError as exc:
        fail(exc)
