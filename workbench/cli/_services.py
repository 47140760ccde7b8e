"""``workbench services up|down|status``: start, stop and list the real servers."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.errors import ServiceError
from workbench.services import (
    ServiceInfo,
    get_service_definition,
    list_services,
    service_status,
    start_service,
    stop_service,
)

__all__ = ["services_app"]

services_app = typer.Typer(
    help="Start, stop and list the real servers (model, ...) on loopback ports.",
    no_args_is_help=True,
)
_out = Console()


def _known(name: str) -> None:
    try:
        get_service_definition(name)
    except ServiceError as exc:
        fail(exc, exit_code=2)


@services_app.command("up")
def up(
    name: Annotated[str, typer.Argument(help="Service name, e.g. `model`.")],
    port: Annotated[
        int | None, typer.Option(help="Loopback port to use instead of a free one.")
    ] = None,
) -> None:
    """Start a service (or find it running) and print its URL."""
    _known(name)
    try:
        info = start_service(name, port=port)
    except ServiceError as exc:
        fail(exc, exit_code=1)
    _out.print(f"[green]up[/green] {name} pid {info.pid} at {info.url}")
    for key, value in info.extra.items():
        if key.endswith("url"):
            _out.print(f"  {key}: {value}")


@services_app.command("down")
def down(name: Annotated[str, typer.Argument(help="Service name, e.g. `model`.")]) -> None:
    """Stop a service; stopping one that is not running is not an error."""
    _known(name)
    try:
        stopped = stop_service(name)
    except ServiceError as exc:
        fail(exc, exit_code=1)
    _out.print(f"[yellow]down[/yellow] {name}" if stopped else f"{name} was not running")


@services_app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="One service; all when omitted.")] = None,
) -> None:
    """Show which services run, where, and whether they answer."""
    names = list_services() if name is None else [name]
    if name is not None:
        _known(name)
    table = Table("service", "state", "pid", "url", "started (UTC)")
    logs: list[str] = []
    for each in names:
        info = service_status(each)
        if info is None:
            table.add_row(each, "[dim]stopped[/dim]", "", "", "")
            continue
        state = "[green]ready[/green]" if _answers(info) else "[yellow]not answering[/yellow]"
        table.add_row(
            each,
            state,
            str(info.pid),
            info.url,
            info.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
        logs.append(f"{each} log: {info.log_path}")
    _out.print(table)
    for line in logs:
        _out.print(line, soft_wrap=True, highlight=False)


def _answers(info: ServiceInfo) -> bool:
    return asyncio.run(get_service_definition(info.name).ready(info))
