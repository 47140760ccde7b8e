"""The `workbench` command: a thin face over the public API."""

from __future__ import annotations

import typer

from workbench.cli._approve import register as register_approve
from workbench.cli._dlq import dlq_app
from workbench.cli._eval import register as register_eval
from workbench.cli._guard import guard_app
from workbench.cli._keys import keys_app
from workbench.cli._memory import memory_app
from workbench.cli._redteam import register as register_redteam
from workbench.cli._run import register as register_run
from workbench.cli._runs import runs_app
from workbench.cli._sandbox import sandbox_app
from workbench.cli._serve import register as register_serve
from workbench.cli._services import services_app
from workbench.cli._shadow import shadow_app
from workbench.cli._traces import traces_app
from workbench.cli._worker import register as register_worker

__all__ = ["app", "main"]

app = typer.Typer(
    name="workbench",
    help="Run, trace and evaluate AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
register_run(app)
register_approve(app)
register_eval(app)
register_redteam(app)
register_worker(app)
register_serve(app)
app.add_typer(traces_app, name="traces")
app.add_typer(services_app, name="services")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(dlq_app, name="dlq")
app.add_typer(guard_app, name="guard")
app.add_typer(shadow_app, name="shadow")
app.add_typer(keys_app, name="keys")
app.add_typer(memory_app, name="memory")
app.add_typer(runs_app, name="runs")


def main() -> None:
    """Entry point of the `workbench` console script."""
    app()
