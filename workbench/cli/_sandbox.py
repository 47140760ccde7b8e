"""`workbench sandbox`: run code in a sandbox backend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli._output import fail
from workbench.errors import ConfigError, WorkbenchError
from workbench.sandbox import DEFAULT_BACKEND, get_backend

__all__ = ["sandbox_app"]

sandbox_app = typer.Typer(help="Run untrusted Python code in a sandbox.", no_args_is_help=True)


@sandbox_app.command("exec")
def exec_file(
    file: Annotated[Path, typer.Argument(help="The Python file to run.")],
    backend: Annotated[
        str,
        typer.Option(help="Sandbox backend: bubblewrap, docker, or unsafe-local (trusted code)."),
    ] = DEFAULT_BACKEND,
) -> None:
    """Run FILE in a fresh sandbox and print the result as JSON.

    Exit 0 when the code ran to the end, 1 when it failed or hit a limit, 2 for bad
    input or a sandbox that cannot run here.
    """
    try:
        code = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        fail(ConfigError(f"cannot read {file}: {exc}"))
    try:
        sandbox = (
            # One call: no warm pool to start and tear down.
            get_backend(backend, pool_size=0)
            if backend in ("bubblewrap", "docker")
            else get_backend(backend)
        )
        try:
            result = sandbox.run(code)
        finally:
            if backend in ("bubblewrap", "docker"):
                sandbox.close()
    except WorkbenchError as exc:
        fail(exc)
    typer.echo(result.model_dump_json())
    raise typer.Exit(0 if result.ok else 1)
