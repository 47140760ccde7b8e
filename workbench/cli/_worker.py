"""``workbench worker``: run queued jobs (``workbench run --queue`` puts them there)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated

import typer
from rich.console import Console

from workbench.cli._output import fail
from workbench.errors import WorkbenchError
from workbench.queue import JobQueue, Worker
from workbench.tracing import configure_phoenix

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``worker`` to the CLI."""

    @app.command("worker")
    def worker_command(
        queue: Annotated[str, typer.Option("--queue", help="redis://host:port/db of the queue.")],
        concurrency: Annotated[
            int, typer.Option("--concurrency", min=1, help="Jobs run at once in this process.")
        ] = 1,
        visibility_timeout: Annotated[
            float,
            typer.Option(help="Seconds a job may go without a heartbeat before it is reclaimed."),
        ] = 30.0,
        max_attempts: Annotated[
            int, typer.Option(min=1, help="Deliveries of a job before it is dead-lettered.")
        ] = 3,
        queue_name: Annotated[str, typer.Option(help="Queue name on that Redis.")] = "default",
        drain: Annotated[
            bool, typer.Option("--drain", help="Exit once the queue is empty.")
        ] = False,
    ) -> None:
        """Process jobs from a Redis Streams queue until stopped (SIGINT/SIGTERM)."""
        console = Console(stderr=True)
        try:
            configure_phoenix()
            worker = Worker(
                JobQueue(queue, name=queue_name),
                concurrency=concurrency,
                visibility_timeout_s=visibility_timeout,
                max_attempts=max_attempts,
            )
        except WorkbenchError as exc:
            fail(exc)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc

        async def go() -> int:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, worker.stop)
            return await worker.arun(drain=drain)

        console.print(f"worker {worker.name}: {concurrency} slot(s) on {queue} ({queue_name})")
        try:
            done = asyncio.run(go())
        except WorkbenchError as exc:
            fail(exc, exit_code=1)
        console.print(f"worker {worker.name}: finished {done} job(s)")
