"""`workbench run` and `workbench resume`: one execution, each step shown live."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from workbench.cli._output import fail
from workbench.errors import WorkbenchError
from workbench.runtime import AgentSpec, ExecutionResult, StepEvent, resume, run
from workbench.tracing import configure_phoenix

__all__ = ["exit_code", "printer", "register", "report"]


def printer(console: Console) -> Callable[[StepEvent], None]:
    def show(event: StepEvent) -> None:
        tag = "[dim](replayed)[/] " if event.replayed else ""
        parts = event.execution_id.split(".")
        if len(parts) >= 4:  # a workflow's delegation: <parent>.<agent>.<step>.<call>
            tag = f"[blue]{parts[-3]}[/] {tag}"
        cost = f"[dim]{event.prompt_tokens + event.completion_tokens} tok, ${event.cost_usd:.6f}[/]"
        if event.type == "model":
            if event.tool_calls:
                for call in event.tool_calls:
                    console.print(
                        f"[bold cyan]step {event.step}[/] {tag}model → "
                        f"[yellow]{call['name']}[/]({call['arguments']})  {cost}"
                    )
            else:
                console.print(f"[bold cyan]step {event.step}[/] {tag}model → answer  {cost}")
        elif event.type == "tool":
            text = (event.text or "").replace("\n", " ")
            text = text if len(text) <= 160 else text[:157] + "..."
            style = "red" if event.error else "green"
            console.print(f"         {tag}[{style}]{event.tool_name}[/] ← {text}", markup=True)
        elif event.type == "retry":
            console.print(f"         [magenta]retry[/] {event.text}")
        elif event.type == "repair":
            console.print(f"         [magenta]repair[/] {event.text}")
        elif event.type == "guardrail":
            console.print(f"         [red]guardrail[/] flagged the output of {event.tool_name}")
        elif event.type == "policy":
            console.print(f"         [red]policy[/] denied {event.tool_name}: {event.text}")
        elif event.type == "approval":
            console.print(
                f"         [yellow]approval needed[/] for {event.tool_name}({event.arguments}):"
                f" {event.text}\n         approve: [bold]workbench approve {event.approval_id}[/]"
                f"   deny: [bold]workbench approve {event.approval_id} --deny[/]"
            )

    return show


def report(result: ExecutionResult, console: Console, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result.summary()) + "\n")
        return
    console.print()
    if result.answer is not None:
        console.print(f"[bold]Answer:[/] {result.answer}")
    if result.error:
        console.print(f"[bold red]{result.status.value}:[/] {result.error}")
    console.print(
        f"[bold]status[/] {result.status.value}  [bold]steps[/] {result.steps}  "
        f"[bold]tokens[/] {result.tokens} "
        f"({result.prompt_tokens} in, {result.completion_tokens} out)"
        f"  [bold]cost[/] ${result.cost_usd:.6f}  [bold]time[/] {result.latency_s:.2f}s"
    )
    console.print(f"[bold]execution id[/] {result.execution_id}")


def exit_code(result: ExecutionResult) -> int:
    """0 completed, 3 paused at an approval gate, 1 any other status."""
    if result.status.value == "awaiting_approval":
        return 3
    return 0 if result.status.value == "completed" else 1


def _submit(
    spec: AgentSpec,
    task: str,
    api_key: str,
    execution_id: str | None,
    on_event: Callable[[StepEvent], None] | None,
) -> ExecutionResult:
    """Admit through the gateway, then run as the admitted principal."""
    from workbench._util import run_sync
    from workbench.gateway import Gateway, asubmit
    from workbench.runtime import Runtime

    async def go() -> ExecutionResult:
        gateway = Gateway()
        runtime = Runtime(ledger=gateway.ledger)
        try:
            return await asubmit(
                gateway,
                runtime,
                spec,
                api_key=api_key,
                task=task,
                execution_id=execution_id,
                on_event=on_event,
            )
        finally:
            await runtime.aclose()

    return run_sync(go())


def register(app: typer.Typer) -> None:
    """Add `run` and `resume` to the CLI."""

    @app.command("run")
    def run_command(
        agent: Annotated[Path, typer.Argument(help="Agent spec YAML file.", exists=True)],
        task: Annotated[str, typer.Option("--task", help="The task for the agent.")],
        execution_id: Annotated[
            str | None,
            typer.Option("--execution-id", help="Use this id (continues it if it exists)."),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")
        ] = False,
        queue: Annotated[
            str | None,
            typer.Option("--queue", help="redis://... : enqueue for `workbench worker` instead."),
        ] = None,
        api_key: Annotated[
            str | None,
            typer.Option(
                "--api-key",
                envvar="WORKBENCH_API_KEY",
                help="Go through the gateway as this key's principal (auth, scopes, rate,"
                " budget, input checks); env WORKBENCH_API_KEY.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Run an agent on a task, showing each step live."""
        console = Console(stderr=True) if as_json else Console()
        try:
            spec = AgentSpec.from_yaml(agent)
            if queue is not None:
                from workbench.queue import enqueue_execution

                job = enqueue_execution(queue, spec, task, execution_id=execution_id)
                if as_json:
                    sys.stdout.write(
                        json.dumps({"job_id": job.id, "execution_id": job.execution_id}) + "\n"
                    )
                else:
                    console.print(f"queued job {job.id}, execution id {job.execution_id}")
                return
            configure_phoenix()  # spans also go to Phoenix when it runs or is configured
            on_event = None if as_json else printer(console)
            if api_key is not None:
                result = _submit(spec, task, api_key, execution_id, on_event)
            else:
                result = run(spec, task, execution_id=execution_id, on_event=on_event)
        except WorkbenchError as exc:
            fail(exc)
        report(result, console, as_json)
        raise typer.Exit(exit_code(result))

    @app.command("resume")
    def resume_command(
        execution_id: Annotated[str, typer.Argument(help="The execution to continue.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Continue a stopped or killed execution; recorded effects are replayed, not redone."""
        console = Console(stderr=True) if as_json else Console()
        try:
            configure_phoenix()
            on_event = None if as_json else printer(console)
            result = resume(execution_id, on_event=on_event)
        except WorkbenchError as exc:
            fail(exc)
        report(result, console, as_json)
        raise typer.Exit(exit_code(result))
