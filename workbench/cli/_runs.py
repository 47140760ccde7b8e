"""`workbench runs list|show`: eval runs recorded in the trace store."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.errors import WorkbenchError
from workbench.evals import list_runs, load_run_state
from workbench.tracing import TraceStore

__all__ = ["runs_app"]

runs_app = typer.Typer(help="Eval runs recorded in the trace store.", no_args_is_help=True)
_console = Console()


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return None if str(value) in {"<NA>", "NaT"} else value


@runs_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON array.")] = False,
    limit: Annotated[int, typer.Option(help="Newest runs to show.")] = 20,
) -> None:
    """The newest eval runs: suite, status, progress, USD and gate."""
    try:
        frame = list_runs(TraceStore(), limit=limit)
    except WorkbenchError as exc:
        fail(exc)
    rows = [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict(orient="records")]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("run", "suite", "status", "done", "USD", "gate", "started", box=box.SIMPLE_HEAD)
    for r in rows:
        gate = "" if r["gate_passed"] is None else ("pass" if r["gate_passed"] else "FAIL")
        table.add_row(
            r["run_id"],
            r["suite"],
            r["status"],
            f"{r['samples_done']}/{r['samples_planned']}",
            f"${r['cost_usd']:.6f}",
            gate,
            str(r["started_at"])[:19],
        )
    _console.print(table)


@runs_app.command("show")
def show_command(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
) -> None:
    """One run: its state, per-version results by metric, and the gate's reasons."""
    store = TraceStore()
    try:
        state = load_run_state(store, run_id)
        per_metric = store.sql(
            "SELECT version, m.key AS metric, count(*) AS n,"
            " avg(TRY_CAST(m.value ->> 'value' AS DOUBLE)) AS mean,"
            " avg(CASE WHEN (m.value ->> 'passed') = 'true' THEN 1.0"
            "  WHEN (m.value ->> 'passed') = 'false' THEN 0.0 END) AS pass_rate"
            " FROM eval_samples, LATERAL (SELECT unnest(json_keys(scores)) AS key) k,"
            " LATERAL (SELECT k.key, scores -> k.key AS value) m"
            " WHERE run_id = ? GROUP BY ALL ORDER BY metric, version",
            [run_id],
        )
        statuses = store.sql(
            "SELECT version, status, count(*) AS n, sum(cost_usd) AS cost_usd,"
            " quantile_cont(latency_ms, 0.5) AS p50_ms FROM eval_samples WHERE run_id = ?"
            " GROUP BY ALL ORDER BY version, status",
            [run_id],
        )
    except WorkbenchError as exc:
        fail(exc)
    row = state.pop("row")
    data = {
        **{k: _plain(v) for k, v in state.items()},
        "gate_reasons": row.get("gate_reasons"),
        "versions": row.get("versions"),
        "metrics": [
            {k: _plain(v) for k, v in r.items()} for r in per_metric.to_dict(orient="records")
        ],
        "statuses": [
            {k: _plain(v) for k, v in r.items()} for r in statuses.to_dict(orient="records")
        ],
    }
    if as_json:
        typer.echo(json.dumps(data, default=str))
        return
    _console.print(
        f"[bold]{data['run_id']}[/] suite {data['suite']}  status {data['status']}  "
        f"{data['samples_done']}/{data['samples_planned']} samples  ${data['cost_usd']:.6f}",
        highlight=False,
    )
    table = Table("version", "metric", "n", "mean", "pass rate", box=box.SIMPLE_HEAD)
    for m in data["metrics"]:
        rate = "" if m["pass_rate"] is None else f"{m['pass_rate']:.3f}"
        table.add_row(m["version"], m["metric"], str(m["n"]), f"{m['mean']:.4f}", rate)
    _console.print(table)
    table = Table("version", "status", "n", "USD", "p50 ms", box=box.SIMPLE_HEAD)
    for s in data["statuses"]:
        table.add_row(
            s["version"], s["status"], str(s["n"]), f"${s['cost_usd']:.6f}", f"{s['p50_ms']:.0f}"
        )
    _console.print(table)
    for reason in data["gate_reasons"] or []:
        _console.print(f"  {reason}", highlight=False)


@runs_app.command("annotate")
def annotate_command(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    phoenix_url: Annotated[
        str | None,
        typer.Option("--phoenix-url", help="Phoenix base URL; default the running one."),
    ] = None,
) -> None:
    """Attach a run's scores and judge verdicts to its spans in Phoenix, as annotations."""
    from workbench.evals import annotate_run_in_phoenix

    try:
        count = annotate_run_in_phoenix(run_id, base_url=phoenix_url)
    except WorkbenchError as exc:
        fail(exc)
    _console.print(f"{count} annotations attached to the spans of run {run_id}")
