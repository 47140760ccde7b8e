"""`workbench eval`: run a suite (or resume a run), print the comparison, gate on it.

Exit codes: 0 when the gate passes (the candidate is non-inferior, or the suite has no
gate), 1 when the candidate is worse than the baseline beyond the margin, 2 when the
run itself failed (a typed error: invalid suite, cost cap, unknown run, ...).

A ``kind: redteam`` suite runs as ``workbench redteam`` would and prints its red-team
view. With ``--queue`` the units go to ``workbench worker`` processes; with
``--workers N`` to N local processes (all cores of this machine).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.errors import WorkbenchError
from workbench.evals import EvalRun, run_suite
from workbench.tracing import OtlpExporter, Tracer, configure_phoenix

__all__ = ["register"]


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _summary(run: EvalRun) -> dict[str, Any]:
    """The ``--json`` object: run, status, per-version metrics, comparison and gate."""
    summary = run.summary_frame()
    versions: dict[str, dict[str, Any]] = {}
    for record in summary.to_dict(orient="records"):
        pass_rate = record["pass_rate"]
        versions.setdefault(str(record["version"]), {})[str(record["metric"])] = {
            "n": int(record["n"]),
            "mean": float(record["mean"]),
            "pass_rate": None if pass_rate is None or math.isnan(pass_rate) else pass_rate,
        }
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "suite": run.suite.name,
        "status": run.status,
        "samples": int(run.info.get("samples_planned", 0)),
        "ran_now": int(run.info.get("done_now", 0)),
        "resumed_done": int(run.info.get("done_before", 0)),
        "spent_usd": float(run.info.get("spent_usd", 0.0)),
        "forecast_usd": run.info.get("forecast_usd"),
        "versions": versions,
        "gate": None,
    }
    verdict = run.gate()
    if verdict is not None:
        comparison = run.compare()
        out["gate"] = {"passed": verdict.passed, "reasons": verdict.reasons}
        out["comparison"] = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in m.items()}
            for m in comparison.to_frame().to_dict(orient="records")
        ]
    return out


def _print(run: EvalRun, data: dict[str, Any], console: Console) -> None:
    labels = list(data["versions"])
    metrics = sorted({m for v in data["versions"].values() for m in v})
    table = Table(
        "metric",
        *[f"{label} mean" for label in labels],
        *[f"{label} pass" for label in labels],
        title=f"{run.suite.name} · run {run.run_id}",
        box=box.SIMPLE_HEAD,
    )
    for metric in metrics:
        cells = [data["versions"][v].get(metric, {}) for v in labels]
        table.add_row(
            metric,
            *[_num(c.get("mean")) for c in cells],
            *[_num(c.get("pass_rate"), 3) for c in cells],
        )
    console.print(table)
    console.print(
        f"[bold]samples[/] {data['samples']} ({data['ran_now']} run now,"
        f" {data['resumed_done']} already done)   [bold]spent[/] ${data['spent_usd']:.6f}"
    )
    if data["gate"] is None:
        console.print("[dim]no gate in this suite[/]")
        return
    gate = run.suite.gate
    assert gate is not None
    comp = Table(
        "metric",
        gate.baseline,
        gate.candidate,
        "diff",
        f"{gate.confidence:.0%} CI",
        "W/T/L",
        "gate",
        title=f"{gate.candidate} against {gate.baseline} (diff > 0: {gate.candidate} better)",
        box=box.SIMPLE_HEAD,
    )
    comp.columns[0].no_wrap = True
    for m in data["comparison"]:
        verdict = "" if m["non_inferior"] is None else ("ok" if m["non_inferior"] else "WORSE")
        comp.add_row(
            str(m["metric"]),
            _num(m["baseline_mean"]),
            _num(m["candidate_mean"]),
            _num(m["mean_diff"]),
            f"[{_num(m['ci_low'], 3)}, {_num(m['ci_high'], 3)}]",
            f"{m['wins']}/{m['ties']}/{m['losses']}",
            verdict,
        )
    console.print(comp)
    style = "bold green" if data["gate"]["passed"] else "bold red"
    word = "PASS" if data["gate"]["passed"] else "FAIL"
    console.print(f"[{style}]gate {word}[/]")
    for reason in data["gate"]["reasons"]:
        console.print(f"  {reason}", highlight=False)


def _annotate(run_id: str, tracer: Tracer, err: Console) -> int | None:
    """Scores and verdicts as Phoenix annotations; a failure is a warning, not a failed run."""
    from workbench.evals import annotate_run_in_phoenix

    tracer.flush()
    for exporter in tracer.exporters:
        if isinstance(exporter, OtlpExporter):
            exporter.flush()
    try:
        return annotate_run_in_phoenix(run_id)
    except WorkbenchError as exc:
        err.print(f"[yellow]warning[/] Phoenix annotations not attached: {exc.message}")
        return None


def _redteam_view(run: EvalRun, *, report: Path | None, as_json: bool, console: Console) -> None:
    """Print a red-team suite's run as `workbench redteam` does, and exit on its gate."""
    from workbench.cli._redteam import redteam_summary, show_redteam
    from workbench.redteam import RedteamRun, RedteamSuite

    assert isinstance(run.suite, RedteamSuite)
    red = RedteamRun(run, run.suite)
    data = redteam_summary(red)
    if report is not None and data["gate"] is not None:
        data["report"] = str(red.write_report(report))
    show_redteam(red, data, as_json=as_json, console=console)


def register(app: typer.Typer) -> None:
    """Add `eval` to the CLI."""

    @app.command("eval")
    def eval_command(
        suite: Annotated[Path, typer.Argument(help="Suite YAML file (evals/<suite>.yaml).")],
        resume: Annotated[
            str | None,
            typer.Option("--resume", help="Continue this run: finished samples are not re-run."),
        ] = None,
        report: Annotated[
            Path | None, typer.Option("--report", help="Write the HTML report here.")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")
        ] = False,
        progress: Annotated[
            bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
        ] = True,
        queue: Annotated[
            str | None,
            typer.Option(
                "--queue", help="redis://host:port/db: hand the samples to `workbench worker`s."
            ),
        ] = None,
        queue_name: Annotated[str, typer.Option(help="Queue name on that Redis.")] = "default",
        workers: Annotated[
            str | None,
            typer.Option(
                "--workers",
                help="Local worker processes (N or 'auto': one per CPU); default the suite's"
                " `workers` (1: this process).",
            ),
        ] = None,
    ) -> None:
        """Run an eval suite and gate v2 against v1 (exit 0 pass, 1 worse, 2 failed run)."""
        console = Console(stderr=True) if as_json else Console()
        err = Console(stderr=True)
        try:
            phoenix = configure_phoenix()
            run = run_suite(
                suite,
                run_id=resume,
                progress=("rich" if sys.stderr.isatty() else "none") if progress else "none",
                on_start=lambda run_id: err.print(f"run {run_id}", highlight=False),
                queue=queue,
                queue_name=queue_name,
                workers=workers,
            )
            if run.suite.kind == "redteam":
                _redteam_view(run, report=report, as_json=as_json, console=console)
            data = _summary(run)
            if phoenix is not None:
                data["phoenix_annotations"] = _annotate(run.run_id, phoenix, err)
            if report is not None:
                written = run.write_report(report)
                data["report"] = str(written)
        except WorkbenchError as exc:
            fail(exc)
        if as_json:
            sys.stdout.write(json.dumps(data, default=str) + "\n")
        else:
            _print(run, data, console)
            if report is not None:
                console.print(f"[bold]report[/] {data['report']}")
        gate = data["gate"]
        raise typer.Exit(0 if gate is None or gate["passed"] else 1)
