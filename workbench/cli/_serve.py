"""`workbench serve`: the HTTP API on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli._output import fail
from workbench.errors import WorkbenchError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        agents: Annotated[
            Path,
            typer.Option(help="Folder of agent specs, or of a serve.yaml naming them."),
        ] = Path("agents"),
        config: Annotated[
            Path | None, typer.Option(help="A serve.yaml to use instead of --agents.")
        ] = None,
        workers: Annotated[
            int,
            typer.Option(
                min=1,
                help="Worker processes sharing the port; above 1 needs --rate-limit-url "
                "(or rate_limit_url in serve.yaml).",
            ),
        ] = 1,
        rate_limit_url: Annotated[
            str | None,
            typer.Option(
                help="Redis URL keeping API keys' rate limits, one rate across workers and "
                "servers (`workbench services up redis`); overrides serve.yaml's."
            ),
        ] = None,
        run_dir: Annotated[
            Path | None,
            typer.Option(
                help="With --workers above 1: folder of the workers' private sockets and "
                "metric files (a new temporary folder if omitted)."
            ),
        ] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    ) -> None:
        """Serve the agents over HTTP (executions, events, approvals, costs, /metrics)."""
        from workbench.server import ServeConfig, create_app, run_server, serve_workers
        from workbench.tracing import set_tracer

        try:
            serve_config = ServeConfig.from_yaml(config) if config else ServeConfig.from_dir(agents)
            if rate_limit_url:
                serve_config = serve_config.model_copy(update={"rate_limit_url": rate_limit_url})
            if workers > 1:
                names = ", ".join(sorted(serve_config.agents))
                typer.echo(
                    f"serving {names} on http://{host}:{port} with {workers} workers "
                    "(OpenAPI at /openapi.json)"
                )
                serve_workers(
                    serve_config,
                    workers=workers,
                    host=host,
                    port=port,
                    log_level=log_level,
                    run_dir=run_dir,
                )
                return
            api = create_app(serve_config)
        except WorkbenchError as exc:
            fail(exc)
        set_tracer(api.state.server.tracer)  # one tracer (and its metrics) for the process
        names = ", ".join(sorted(api.state.server.agents))
        typer.echo(f"serving {names} on http://{host}:{port} (OpenAPI at /openapi.json)")
        run_server(api, host=host, port=port, log_level=log_level)
