"""`workbench approve`: decide a tool call paused at an approval gate, in any process."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workbench.cli._output import fail
from workbench.cli._run import exit_code, printer, report
from workbench.errors import WorkbenchError
from workbench.runtime import Approval, Runtime, decide
from workbench.tracing import configure_phoenix

__all__ = ["register"]


def _row(a: Approval) -> dict[str, object]:
    return {
        "id": a.id,
        "execution_id": a.execution_id,
        "tool": a.tool,
        "arguments": a.arguments,
        "reason": a.reason,
        "principal": a.principal,
        "deadline": dt.datetime.fromtimestamp(a.deadline, dt.UTC).isoformat(),
    }


def _list(as_json: bool) -> None:
    runtime = Runtime()
    try:
        pending = runtime.pending_approvals()
    finally:
        runtime.close()
    if as_json:
        sys.stdout.write(json.dumps([_row(a) for a in pending]) + "\n")
        return
    if not pending:
        Console().print("no approvals are pending")
        return
    table = Table("id", "tool", "arguments", "reason", "principal", "deadline (UTC)")
    for a in pending:
        r = _row(a)
        table.add_row(
            *(str(r[k]) for k in ("id", "tool", "arguments", "reason", "principal")),
            str(r["deadline"])[:19],
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add `approve` to the CLI."""

    @app.command("approve")
    def approve_command(
        approval_id: Annotated[
            str | None, typer.Argument(help="The approval (as printed by `workbench run`).")
        ] = None,
        deny: Annotated[bool, typer.Option("--deny", help="Deny the call instead.")] = False,
        reason: Annotated[
            str | None, typer.Option("--reason", help="Why; a denial's reason reaches the model.")
        ] = None,
        by: Annotated[str | None, typer.Option("--by", help="Who decides (recorded).")] = None,
        list_pending: Annotated[
            bool, typer.Option("--list", help="List the pending approvals and exit.")
        ] = False,
        expire: Annotated[
            bool,
            typer.Option("--expire", help="Resume the executions whose approval timed out."),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    ) -> None:
        """Approve (or --deny) a paused tool call and resume its execution here.

        Approve runs the tool once; deny returns a tool error to the model; an approval
        past its deadline stays denied. Exit code: 0 completed, 3 paused at another gate,
        1 any other status, 2 an error.
        """
        console = Console(stderr=True) if as_json else Console()
        try:
            if list_pending:
                _list(as_json)
                return
            configure_phoenix()
            on_event = None if as_json else printer(console)
            if expire:
                from workbench._util import run_sync

                runtime = Runtime()
                try:
                    results = run_sync(runtime.aexpire_approvals(on_event=on_event))
                finally:
                    runtime.close()
                for result in results:
                    report(result, console, as_json)
                return
            if approval_id is None:
                raise typer.BadParameter("give an APPROVAL_ID, --list or --expire")
            result = decide(
                approval_id, approve=not deny, reason=reason, decided_by=by, on_event=on_event
            )
        except WorkbenchError as exc:
            fail(exc)
        report(result, console, as_json)
        raise typer.Exit(exit_code(result))
