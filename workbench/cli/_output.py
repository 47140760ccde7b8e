"""How every command reports a typed error: its stable code and message, on stderr."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from workbench.errors import WorkbenchError

__all__ = ["fail"]

_err = Console(stderr=True)


def fail(exc: WorkbenchError, *, exit_code: int = 2) -> NoReturn:
    """Print ``error [code] message`` and exit (2: bad input; 1: a failed operation)."""
    _err.print(f"[bold red]error[/] {escape(f'[{exc.code}] {exc.message}')}")
    raise typer.Exit(exit_code) from exc
