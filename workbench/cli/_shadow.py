"""`workbench shadow run|report`: v2 in the shadow of v1, on the same inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.errors import ConfigError, WorkbenchError

__all__ = ["shadow_app"]

shadow_app = typer.Typer(
    help="Run v2 in the shadow of v1 (never served, never touching the world) and report.",
    no_args_is_help=True,
)


def _show(frame: Any, summary: dict[str, Any] | None, console: Console) -> None:
    table = Table(
        "sample",
        "v1",
        "v2",
        "same answer",
        "first divergence",
        "refused",
        "Δ cost $",
        "Δ latency ms",
    )
    for r in frame.itertuples(index=False):
        step = r.first_divergent_step
        table.add_row(
            str(r.sample_id),
            str(r.baseline_status),
            str(r.candidate_status),
            "yes" if r.same_answer else "[yellow]no[/]",
            "-" if step is None or step != step else f"[yellow]step {int(step)}[/]",
            str(r.refused),
            f"{r.candidate_cost_usd - r.baseline_cost_usd:+.6f}",
            f"{r.candidate_latency_ms - r.baseline_latency_ms:+.1f}",
        )
    console.print(table)
    if summary is not None:
        console.print(
            f"[bold]run[/] {summary['run_id']}  {summary['baseline']} → {summary['candidate']}"
            f"  inputs {summary['inputs']}  diverged {summary['diverged']}"
            f"  refused calls {summary['refused_calls']}"
            f"  cost ${summary['baseline_cost_usd']:.6f} → ${summary['candidate_cost_usd']:.6f}"
        )


@shadow_app.command("run")
def run_command(
    candidate: Annotated[
        Path, typer.Option("--candidate", help="v2's agent spec.", exists=True, dir_okay=False)
    ],
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="v1's agent spec (to run v1 on a dataset).", exists=True),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option("--dataset", help="JSONL of {id, input}: v1 runs now, then v2.", exists=True),
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option("--from-store", help="Replay executions recorded in the trace store."),
    ] = False,
    agent: Annotated[
        str | None, typer.Option("--agent", help="With --from-store: the agent's name.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="With --from-store: only this version.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="With --from-store: newest N.")] = 100,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1)] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run v2 on exactly the inputs v1 received, from a dataset or from the trace store."""
    from workbench.evals import ShadowInput, load_dataset, shadow, shadow_inputs_from_store
    from workbench.runtime import AgentSpec
    from workbench.tracing import TraceStore

    console = Console(stderr=True) if as_json else Console()
    try:
        cand = AgentSpec.from_yaml(candidate)
        base = AgentSpec.from_yaml(baseline) if baseline is not None else None
        store = TraceStore()
        if from_store == (dataset is not None):
            raise ConfigError("give exactly one of --dataset (with --baseline) or --from-store")
        if dataset is not None:
            if base is None:
                raise ConfigError("--dataset needs --baseline: v1 runs on each input first")
            inputs = [
                ShadowInput(sample_id=s.id, input=s.input, target=s.target)
                for s in load_dataset(dataset)
            ]
        else:
            inputs = shadow_inputs_from_store(
                store, agent=agent or cand.name, version=version, limit=limit
            )
            if not inputs:
                raise ConfigError(
                    f"no completed executions of {agent or cand.name!r} in the trace store"
                )
        done: list[int] = []

        def progress(_: object) -> None:
            done.append(1)
            if not as_json:
                console.print(f"[dim]{len(done)}/{len(inputs)} inputs[/]", end="\r")

        result = shadow(
            inputs,
            candidate=cand,
            baseline=base,
            store=store,
            concurrency=concurrency,
            on_pair=progress,
        )
    except WorkbenchError as exc:
        fail(exc)
    summary = result.summary()
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    _show(result.frame(), summary, console)
    console.print(f"details: [bold]workbench shadow report {result.run_id}[/]")


@shadow_app.command("report")
def report_command(
    run_id: Annotated[str, typer.Argument(help="The shadow run.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per input, on stdout.")
    ] = False,
) -> None:
    """Show a shadow run: per input, the statuses, the first divergence, cost and latency."""
    from workbench.evals import load_shadow_run
    from workbench.tracing import TraceStore

    try:
        result = load_shadow_run(TraceStore(), run_id)
    except WorkbenchError as exc:
        fail(exc)
    if as_json:
        for pair in result.pairs:
            sys.stdout.write(
                json.dumps(
                    {
                        **pair.model_dump(mode="json", exclude={"steps", "input", "divergences"}),
                        "refused": len(pair.divergences),
                        "divergences": [d.model_dump(mode="json") for d in pair.divergences],
                    }
                )
                + "\n"
            )
        return
    console = Console()
    _show(result.frame(), result.summary(), console)
    for pair in result.pairs:
        if pair.first_divergent_step is None:
            continue
        console.print(f"\n[bold]{pair.sample_id}[/] diverges at step {pair.first_divergent_step}")
        for step in pair.steps:
            mark = "  " if step["same"] else "[yellow]≠ [/]"
            console.print(
                f"{mark}step {step['step']}: v1 {step['baseline_action']}"
                f"\n        v2 {step['candidate_action']}"
            )
        for d in pair.divergences:
            console.print(f"  [red]refused[/] {d.tool}({d.arguments}): {d.reason}")
