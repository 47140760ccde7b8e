"""``workbench keys create|list|revoke``: API keys of the gateway."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from workbench.cli._output import fail
from workbench.errors import WorkbenchError
from workbench.gateway import KeyInfo, KeyStore

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="API keys of the gateway: create (the secret is shown once), list, revoke.",
    no_args_is_help=True,
)
_out = Console()


def _when(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


@keys_app.command("create")
def create(
    principal: Annotated[str, typer.Argument(help="Who the key acts for.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="agent:<name>, agent:*, tool:<name> or tool:* (repeat the option).",
        ),
    ] = None,
    expires_in_days: Annotated[
        float | None, typer.Option(help="The key expires this many days from now.")
    ] = None,
    daily_budget_usd: Annotated[float | None, typer.Option(help="USD cap per UTC day.")] = None,
    daily_budget_tokens: Annotated[int | None, typer.Option(help="Token cap per UTC day.")] = None,
    rate_per_minute: Annotated[float | None, typer.Option(help="Requests per minute.")] = None,
    tokens_per_minute: Annotated[
        float | None, typer.Option(help="Estimated tokens per minute.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
) -> None:
    """Create a key and print its secret: it is shown now and never again."""
    expires_at = None
    if expires_in_days is not None:
        expires_at = datetime.now(UTC).timestamp() + expires_in_days * 86_400
    try:
        key_id, secret = KeyStore().create(
            principal,
            scope or [],
            expires_at=expires_at,
            daily_budget_usd=daily_budget_usd,
            daily_budget_tokens=daily_budget_tokens,
            rate_per_minute=rate_per_minute,
            tokens_per_minute=tokens_per_minute,
        )
    except WorkbenchError as exc:
        fail(exc)
    if as_json:
        body = {"key_id": key_id, "principal": principal, "scopes": sorted(set(scope or []))}
        typer.echo(json.dumps({**body, "secret": secret}))
        return
    _out.print(f"[green]created[/green] key {key_id} for {principal}")
    _out.print("secret (shown once, store it now):", highlight=False)
    typer.echo(secret)


@keys_app.command("list")
def list_command(
    active: Annotated[bool, typer.Option("--active", help="Hide revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List keys (never their secrets)."""
    try:
        infos = KeyStore().list(include_revoked=not active)
    except WorkbenchError as exc:
        fail(exc)
    if as_json:
        for info in infos:
            typer.echo(json.dumps({**asdict(info), "active": info.active}))
        return
    table = Table("principal", "scopes", "state", "created (UTC)", "expires", "limits")
    table.columns.insert(0, Column("key id", no_wrap=True))
    for info in infos:
        table.add_row(
            info.key_id,
            info.principal,
            " ".join(info.scopes),
            _state(info),
            _when(info.created_at),
            _when(info.expires_at),
            _limits(info),
        )
    _out.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`workbench keys list`).")],
) -> None:
    """Revoke a key: it fails authentication from now on."""
    try:
        KeyStore().revoke(key_id)
    except WorkbenchError as exc:
        fail(exc)
    _out.print(f"[yellow]revoked[/yellow] {key_id}")


def _state(info: KeyInfo) -> str:
    if info.revoked_at is not None:
        return "revoked"
    return "active" if info.active else "expired"


def _limits(info: KeyInfo) -> str:
    parts = []
    if info.daily_budget_usd is not None:
        parts.append(f"${info.daily_budget_usd:g}/day")
    if info.daily_budget_tokens is not None:
        parts.append(f"{info.daily_budget_tokens} tok/day")
    if info.rate_per_minute is not None:
        parts.append(f"{info.rate_per_minute:g} req/min")
    if info.tokens_per_minute is not None:
        parts.append(f"{info.tokens_per_minute:g} tok/min")
    return ", ".join(parts)
