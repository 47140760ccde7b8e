"""`workbench dlq`: list, inspect and re-drive failed tool calls (the dead-letter queue)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.errors import ConfigError, WorkbenchError

# Not re-exported by workbench.runtime (yet): how a spec's tool refs become tools.
from workbench.runtime import AgentSpec, import_spec_modules, resolve_tools
from workbench.tools import DeadLetter, Tool, get_dead_letter, list_dead_letters, retry_dead_letter
from workbench.tracing import TraceStore

__all__ = ["dlq_app"]

dlq_app = typer.Typer(
    help="The dead-letter queue: tool calls that failed, timed out or were refused.",
    no_args_is_help=True,
)
_console = Console()


def _clip(text: str, width: int = 60) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@dlq_app.command("list")
def list_command(
    execution_id: Annotated[
        str | None, typer.Option("--execution-id", help="Only this execution's letters.")
    ] = None,
    tool: Annotated[str | None, typer.Option(help="Only letters of this tool.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status: dead, retried or retry_failed.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Most letters shown, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List dead letters, newest first."""
    if status not in (None, "dead", "retried", "retry_failed"):
        fail(ConfigError(f"--status must be dead, retried or retry_failed, not {status!r}"))
    try:
        letters = list_dead_letters(
            TraceStore(),
            execution_id=execution_id,
            tool=tool,
            status=status,  # type: ignore[arg-type]  # checked above
            limit=limit,
        )
    except WorkbenchError as exc:
        fail(exc)
    if as_json:
        for letter in letters:
            typer.echo(letter.model_dump_json())
        return
    table = Table("id", "recorded at", "tool", "error", "status", "arguments", box=box.SIMPLE)
    for letter in letters:
        table.add_row(
            letter.id,
            letter.recorded_at.strftime("%Y-%m-%d %H:%M:%S"),
            letter.tool,
            f"{letter.error_code}: {_clip(letter.error_message, 40)}",
            letter.status,
            _clip(letter.arguments, 40),
        )
    _console.print(table)
    if not letters:
        _console.print("[dim]no dead letters[/]")


@dlq_app.command("show")
def show_command(letter_id: Annotated[str, typer.Argument(help="The letter's id.")]) -> None:
    """Print one dead letter, with its re-drives, as JSON."""
    try:
        letter = get_dead_letter(TraceStore(), letter_id)
    except WorkbenchError as exc:
        fail(exc)
    typer.echo(letter.model_dump_json(indent=2))


def _resolve(letter: DeadLetter, agent: Path | None) -> Tool:
    if agent is not None:
        spec = AgentSpec.from_yaml(agent)
    elif letter.agent_spec is not None:
        data: dict[str, Any] = {
            "model": "none",
            "system_prompt": "",
            **{k: v for k, v in letter.agent_spec.items() if k in ("name", "tools", "imports")},
            "datasets": letter.agent_spec.get("datasets") or {},
        }
        spec = AgentSpec.from_dict(data, source=f"dead letter {letter.id}")
    else:
        raise ConfigError(
            f"dead letter {letter.id!r} does not say which agent made it; pass --agent AGENT.yaml"
        )
    import_spec_modules(spec)
    return resolve_tools(spec).get(letter.tool)


@dlq_app.command("retry")
def retry_command(
    letter_id: Annotated[str, typer.Argument(help="The letter's id.")],
    agent: Annotated[
        Path | None,
        typer.Option(
            "--agent",
            help="Agent spec YAML to build the tool from (default: the tools recorded "
            "with the letter).",
            exists=True,
        ),
    ] = None,
) -> None:
    """Re-run a dead letter's call with its recorded arguments; print the letter as JSON.

    Exit 0 when the call succeeded this time, 1 when it failed again (recorded as
    ``retry_failed``), 2 for a bad id or a tool that cannot be built.
    """
    try:
        store = TraceStore()
        tool = _resolve(get_dead_letter(store, letter_id), agent)
        letter = retry_dead_letter(store, letter_id, tool)
    except WorkbenchError as exc:
        fail(exc)
    typer.echo(letter.model_dump_json(indent=2))
    raise typer.Exit(0 if letter.status == "retried" else 1)
