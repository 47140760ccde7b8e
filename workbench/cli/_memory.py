"""``workbench memory list|forget``: the long-term facts of principals."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.errors import ConfigError, WorkbenchError
from workbench.memory import MemoryStore

__all__ = ["memory_app"]

memory_app = typer.Typer(
    help="Long-term memory ($WORKBENCH_HOME/memory.duckdb): list and forget facts.",
    no_args_is_help=True,
)
_out = Console()


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


@memory_app.command("list")
def list_facts(
    principal: Annotated[
        str | None, typer.Option(help="Only this principal's facts (`local` for local runs).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List facts, oldest first, with their principal, source and taint."""
    try:
        facts = MemoryStore.default().list(principal)
    except WorkbenchError as exc:
        fail(exc)
    if as_json:
        for fact in facts:
            typer.echo(json.dumps(asdict(fact)))
        return
    table = Table("id", "principal", "created (UTC)", "source", "tainted", "text")
    for fact in facts:
        table.add_row(
            fact.id,
            fact.principal,
            _when(fact.created_at),
            fact.source,
            "yes" if fact.tainted else "no",
            fact.text if len(fact.text) <= 80 else fact.text[:77] + "...",
        )
    _out.print(table)
    _out.print(f"{len(facts)} facts")


@memory_app.command("forget")
def forget(
    principal: Annotated[
        str | None, typer.Option(help="Only this principal's facts (default: every principal).")
    ] = None,
    fact_id: Annotated[str | None, typer.Option("--id", help="Forget this fact.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Forget every selected fact.")] = False,
    older_than: Annotated[
        float | None, typer.Option("--older-than", help="Forget facts older than DAYS.")
    ] = None,
) -> None:
    """Delete facts: one by id, all of them, or those older than some days."""
    try:
        if sum([fact_id is not None, everything, older_than is not None]) != 1:
            raise ConfigError("give exactly one of --id, --all and --older-than")
        count = MemoryStore.default().forget(
            principal, fact_id=fact_id, everything=everything, older_than_days=older_than
        )
    except WorkbenchError as exc:
        fail(exc)
    _out.print(f"forgot {count} fact{'s' if count != 1 else ''}")
