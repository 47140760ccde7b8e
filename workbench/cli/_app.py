"""The `workbench` command: a thin face over the public API."""

from __future__ import annotations

import typer

from workbench.cli._dlq import dlq_app
from workbench.cli._run import register as register_run
from workbench.cli._sandbox import sandbox_app
from workbench.cli._services import services_app
from workbench.cli._traces import traces_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="workbench",
    help="Run, trace and evaluate AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
register_run(app)
app.add_typer(traces_app, name="traces")
app.add_typer(services_app, name="services")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(dlq_app, name="dlq")


def main() -> None:
    """Entry point of the `workbench` console script."""
    app()
