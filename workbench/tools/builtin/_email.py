"""``send_email_tool``: a demo of a world-changing tool. It sends nothing over the network.

A call "sends" a mail by writing it to a local outbox (a SQLite file), which is
what a real mail integration would hand to its SMTP relay. It stands in for every
tool whose effect cannot be taken back, so it behaves like one should:

- high risk, egress and side-effecting (``@tool(risk="high", egress=True,
  side_effects=True)``): the shipped policies ask a person before tainted data
  reaches it, and forbid recipients outside an allow-list;
- its own recipient-domain allow-list, checked again here (defence in depth);
- one recipient per call, no CR/LF or other control characters in the address or
  subject (no header injection), bounded sizes;
- at most once per idempotency key: the outbox's ``idempotency_key`` column is
  unique, so a call run again (after a crash, on resume) returns the message it
  already queued.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from workbench.errors import ConfigError, ToolArgumentsInvalid, ToolRefused
from workbench.settings import get_settings
from workbench.tools._context import ToolContext
from workbench.tools._tool import Tool, tool

__all__ = ["DEFAULT_MAIL_DOMAINS", "read_outbox", "send_email_tool"]

DEFAULT_MAIL_DOMAINS = ("example.com", "workbench.test")
"""Recipient domains allowed by default (the same as the shipped policy's)."""

_MAX_SUBJECT = 200
_ADDRESS = re.compile(
    r"^[A-Za-z0-9._%+-]{1,64}@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$"
)
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS outbox (message_id TEXT PRIMARY KEY,"
                " idempotency_key TEXT NOT NULL UNIQUE, to_addr TEXT NOT NULL,"
                " subject TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL)"
            )

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:
                yield con
        finally:
            con.close()

    def queue(self, key: str, to: str, subject: str, body: str) -> tuple[str, bool]:
        """``(message_id, replayed)``; inserts only if ``key`` is new."""
        message_id = f"msg-{uuid.uuid4().hex[:16]}"
        with self.connect() as con:
            con.execute(
                "INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(idempotency_key) DO NOTHING",
                (message_id, key, to, subject, body, time.time()),
            )
            row = con.execute(
                "SELECT message_id FROM outbox WHERE idempotency_key = ?", (key,)
            ).fetchone()
        return str(row[0]), str(row[0]) != message_id


def read_outbox(path: Path | str | None = None) -> list[dict[str, Any]]:
    """Every queued message, oldest first (for tests, notebooks and demos).

    Args:
        path: The outbox; defaults to ``$WORKBENCH_HOME/outbox.sqlite``.
    """
    target = Path(path) if path is not None else get_settings().home / "outbox.sqlite"
    if not target.is_file():
        return []
    con = sqlite3.connect(target)
    try:
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM outbox ORDER BY created_at, rowid").fetchall()
    finally:
        con.close()
    return [dict(r) for r in rows]


def send_email_tool(
    *,
    outbox: Path | str | None = None,
    allow_domains: Sequence[str] = DEFAULT_MAIL_DOMAINS,
    max_body_chars: int = 20_000,
    name: str = "send_email",
) -> Tool:
    """A tool that queues an e-mail in a local outbox (a demo: nothing leaves the machine).

    Args:
        outbox: SQLite file of queued mail; defaults to ``$WORKBENCH_HOME/outbox.sqlite``.
        allow_domains: Recipient domains allowed (exact, lower-case; no wildcards).
        max_body_chars: Longest body accepted.
        name: Tool name.

    Returns:
        A high-risk, egress, side-effecting tool with scope ``mail.send`` returning
        ``{"message_id", "to", "queued": True, "replayed"}``. A recipient outside the
        allow-list raises :class:`~workbench.errors.ToolRefused`; a malformed address
        or a subject with a line break raises
        :class:`~workbench.errors.ToolArgumentsInvalid`.

    Raises:
        ConfigError: An empty or malformed allow-list, or ``max_body_chars < 1``.
    """
    if isinstance(allow_domains, str) or not allow_domains:
        raise ConfigError(f"tool {name!r}: allow_domains must be a non-empty list of domains")
    domains = frozenset(allow_domains)
    bad = sorted(d for d in domains if not _DOMAIN.match(d))
    if bad:
        raise ConfigError(f"tool {name!r}: malformed allow-listed domains {bad}")
    if max_body_chars < 1:
        raise ConfigError(f"tool {name!r}: max_body_chars must be at least 1")
    box = _Outbox(Path(outbox) if outbox is not None else get_settings().home / "outbox.sqlite")
    lock = threading.Lock()

    def invalid(reason: str) -> ToolArgumentsInvalid:
        return ToolArgumentsInvalid(f"{name}: {reason}", tool=name)

    def send_email(
        to: Annotated[str, Field(max_length=254)],
        subject: Annotated[str, Field(max_length=_MAX_SUBJECT)],
        body: str,
        ctx: ToolContext,
    ) -> dict[str, Any]:
        """Send an e-mail to one recipient.

        Args:
            to: The recipient's address, e.g. ``ops@example.com`` (one address only).
            subject: A one-line subject.
            body: The plain-text body.
        """
        found = _ADDRESS.match(to)
        if found is None:
            raise invalid(f"{to!r} is not one plain address like name@example.com")
        domain = found.group(1)
        if domain not in domains:
            allowed = ", ".join(sorted(domains))
            raise ToolRefused(
                f"{name} refused: mail to {domain!r} is not allowed (allowed: {allowed})",
                tool=name,
            )
        if "\r" in subject or "\n" in subject or _CONTROL.search(subject):
            raise invalid("the subject must be one line without control characters")
        if len(body) > max_body_chars:
            raise invalid(f"the body is longer than {max_body_chars} characters")
        if "\x00" in body:
            raise invalid("the body has a NUL character")
        # Without a key (a direct call outside the runtime) every call is a new mail.
        key = ctx.idempotency_key or f"adhoc:{uuid.uuid4().hex}"
        with lock:
            message_id, replayed = box.queue(key, to, subject, body)
        return {"message_id": message_id, "to": to, "queued": True, "replayed": replayed}

    description = (
        "Send a plain-text e-mail to one recipient (demo: queued in a local outbox). "
        f"Allowed recipient domains: {', '.join(sorted(domains))}."
    )
    return tool(
        send_email,
        name=name,
        description=description,
        scope="mail.send",
        side_effects=True,
        risk="high",
        egress=True,
    )
