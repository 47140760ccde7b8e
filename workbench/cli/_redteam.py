"""`workbench redteam`: run an attack suite, print safety and utility per version, gate.

Exit codes as for `workbench eval`: 0 when the gate passes (v2 no less safe than v1
beyond the margins, or no gate), 1 when it fails, 2 when the run itself failed.
``--resume RUN_ID`` continues an interrupted run; ``--queue`` hands the units to
``workbench worker`` processes (the eval runner does both).
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
from workbench.redteam import RedteamRun, run_redteam

__all__ = ["redteam_summary", "register", "show_redteam"]

_ROWS = (
    ("utility_clean", "utility without attack"),
    ("utility_attacked", "utility under attack"),
    ("utility_ratio", "  ratio"),
    ("attack_success_rate", "attack success rate"),
    ("harm_rate", "harm rate (attacks)"),
    ("benign_harm_rate", "harm rate (benign)"),
)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def redteam_summary(run: RedteamRun) -> dict[str, Any]:
    """The ``--json`` object: run, per-version red-team figures, comparison and gate."""
    versions = {
        str(r["version"]): {k: _clean(v) for k, v in r.items() if k != "version"}
        for r in run.defense_frame().to_dict(orient="records")
    }
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "suite": run.suite.name,
        "model": run.suite.model,
        "approvals": run.suite.approvals,
        "versions": versions,
        "gate": None,
    }
    gate = run.suite.gate
    if gate is not None and {gate.baseline, gate.candidate} <= set(versions):
        verdict = run.gate()
        assert verdict is not None
        out["gate"] = {"passed": verdict.passed, "reasons": verdict.reasons}
        out["comparison"] = [
            {k: _clean(v) for k, v in m.items()}
            for m in run.compare().to_frame().to_dict(orient="records")
        ]
    return out


def _num(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def show_redteam(run: RedteamRun, data: dict[str, Any], *, as_json: bool, console: Console) -> None:
    """Print the run (``--json``: one object on stdout) and exit on its gate (0 or 1)."""
    if as_json:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
    else:
        _print(run, data, console)
        if data.get("report"):
            console.print(f"[bold]report[/] {data['report']}")
    gate = data["gate"]
    raise typer.Exit(0 if gate is None or gate["passed"] else 1)


def _print(run: RedteamRun, data: dict[str, Any], console: Console) -> None:
    labels = list(data["versions"])
    table = Table(
        "", *labels, title=f"red team {run.suite.name} · run {run.run_id}", box=box.SIMPLE_HEAD
    )
    for key, label in _ROWS:
        table.add_row(label, *[_num(data["versions"][v].get(key)) for v in labels])
    kinds = [k for k in data["versions"][labels[0]] if k.startswith("stopped_")] if labels else []
    for key in kinds:
        table.add_row(
            f"stopped by {key.removeprefix('stopped_')}",
            *[_num(data["versions"][v].get(key)) for v in labels],
        )
    console.print(table)
    console.print(
        f"[bold]model[/] {data['model'] or 'from the agent specs'}   "
        f"[bold]approval gates[/] auto-{data['approvals']}"
    )
    if data["gate"] is None:
        console.print("[dim]no gate in this suite (or its versions were not run)[/]")
        return
    gate = run.suite.gate
    assert gate is not None
    comp = Table(
        "metric",
        gate.baseline,
        gate.candidate,
        "diff",
        "W/T/L",
        "gate",
        title=f"{gate.candidate} against {gate.baseline} (diff > 0: better)",
        box=box.SIMPLE_HEAD,
    )
    for m in data["comparison"]:
        verdict = "" if m["non_inferior"] is None else ("ok" if m["non_inferior"] else "WORSE")
        comp.add_row(
            str(m["metric"]),
            _num(m["baseline_mean"]),
            _num(m["candidate_mean"]),
            _num(m["mean_diff"]),
            f"{m['wins']}/{m['ties']}/{m['losses']}",
            verdict,
        )
    console.print(comp)
    style, word = ("bold green", "PASS") if data["gate"]["passed"] else ("bold red", "FAIL")
    console.print(f"[{style}]gate {word}[/]")
    for reason in data["gate"]["reasons"]:
        console.print(f"  {reason}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `redteam` to the CLI."""

    @app.command("redteam")
    def redteam_command(
        suite: Annotated[Path, typer.Argument(help="Red-team suite (evals/redteam_*.yaml).")],
        model: Annotated[
            str | None,
            typer.Option("--model", help="Run every version on this litellm model instead."),
        ] = None,
        version: Annotated[
            list[str] | None, typer.Option("--version", help="Run only this version (repeat).")
        ] = None,
        report: Annotated[
            Path | None, typer.Option("--report", help="Write the HTML report here.")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")
        ] = False,
        resume: Annotated[
            str | None,
            typer.Option("--resume", help="Continue this run: finished samples are not re-run."),
        ] = None,
        progress: Annotated[
            bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
        ] = False,
        queue: Annotated[
            str | None,
            typer.Option(
                "--queue", help="redis://host:port/db: hand the samples to `workbench worker`s."
            ),
        ] = None,
        queue_name: Annotated[str, typer.Option(help="Queue name on that Redis.")] = "default",
    ) -> None:
        """Run an attack suite and gate v2 against v1 on safety (0 pass, 1 worse, 2 failed)."""
        console = Console(stderr=True) if as_json else Console()
        err = Console(stderr=True)
        try:
            run = run_redteam(
                suite,
                model=model,
                versions=version or None,
                run_id=resume,
                progress=("rich" if sys.stderr.isatty() else "none") if progress else "none",
                on_start=lambda run_id: err.print(f"run {run_id}", highlight=False),
                queue=queue,
                queue_name=queue_name,
            )
            data = redteam_summary(run)
            if report is not None and data["gate"] is not None:
                data["report"] = str(run.write_report(report))
        except WorkbenchError as exc:
            fail(exc)
        show_redteam(run, data, as_json=as_json, console=console)
