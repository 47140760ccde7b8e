"""The dead-letter queue: failed tool calls, kept for inspection and re-drive.

A tool call that ends in a :class:`~workbench.errors.ToolError` (it raised, timed out,
was refused by the tool's policy, or its arguments were invalid) is recorded as a row
of the ``dead_letters`` table through the tracer, so it travels the same off-thread
spool as spans and lands in the trace store's generic ``records`` table. A re-drive
appends a ``dead_letter_retries`` row; nothing is ever updated in place, and a letter's
status is derived from its newest retry. See ``docs/tools.md``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from workbench._util import run_sync
from workbench.errors import ConfigError, DeadLetterNotFound, ToolError, WorkbenchError
from workbench.tools._context import ToolContext
from workbench.tools._tool import Tool
from workbench.tracing import Tracer, TraceStore, get_tracer

__all__ = [
    "DEAD_LETTERS_TABLE",
    "DEAD_LETTER_RETRIES_TABLE",
    "DeadLetter",
    "DeadLetterRetry",
    "aretry_dead_letter",
    "get_dead_letter",
    "list_dead_letters",
    "record_dead_letter",
    "retry_dead_letter",
]

DEAD_LETTERS_TABLE = "dead_letters"
"""``records.table_name`` of dead letters."""
DEAD_LETTER_RETRIES_TABLE = "dead_letter_retries"
"""``records.table_name`` of re-drive outcomes."""

_MAX_RESULT = 16_000

DeadLetterStatus = Literal["dead", "retried", "retry_failed"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DeadLetterRetry(BaseModel):
    """The outcome of one re-drive of a dead letter."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: str
    """The letter re-driven."""
    retried_at: dt.datetime
    """When the re-drive finished (UTC)."""
    ok: bool
    """Whether the tool succeeded this time."""
    result: str | None = None
    """The tool's result as JSON text (clipped to 16,000 characters) when ``ok``."""
    error_code: str | None = None
    """The error's stable code when not ``ok``."""
    error_message: str | None = None
    """The error's message when not ``ok``."""


class DeadLetter(BaseModel):
    """A tool call that failed, with everything needed to inspect and re-run it."""

    model_config = ConfigDict(frozen=True)

    id: str
    """``"{execution_id}:{step}:{call_index}"``: stable, so a resumed execution that
    fails the same call again replaces the letter instead of adding one."""
    recorded_at: dt.datetime
    """When the failure was recorded (UTC)."""
    execution_id: str
    """The execution the call belongs to."""
    step: int
    """Step of the loop that made the call."""
    call_index: int
    """Index of the call within the step's tool calls (1-based in the loop)."""
    tool: str
    """Name of the tool called."""
    arguments: str
    """The arguments exactly as the model sent them (JSON text, possibly malformed)."""
    error_code: str
    """The error's stable code, e.g. ``tool_timeout``."""
    error_message: str
    """The error's message."""
    principal: str | None = None
    """The principal the execution ran for, if known."""
    agent_spec: dict[str, Any] | None = None
    """The agent's ``name``, ``tools``, ``imports`` and ``datasets``: enough to rebuild the
    tool for a re-drive without the YAML file."""
    status: DeadLetterStatus = "dead"
    """``dead`` (never re-driven), ``retried`` (the newest re-drive succeeded) or
    ``retry_failed``."""
    retries: list[DeadLetterRetry] = []
    """Re-drives, oldest first."""


def record_dead_letter(
    tracer: Tracer,
    *,
    execution_id: str,
    step: int,
    call_index: int,
    tool: str,
    arguments: str,
    error: WorkbenchError,
    principal: str | None = None,
    agent_spec: Mapping[str, Any] | None = None,
) -> DeadLetter:
    """Record a failed tool call as a dead letter (queued on the tracer; never raises).

    Args:
        tracer: The tracer that carries the row to the trace store.
        execution_id: The execution.
        step: The loop step.
        call_index: The call's index within the step.
        tool: The tool's name.
        arguments: The raw arguments the model sent.
        error: Why the call failed.
        principal: The execution's principal, if known.
        agent_spec: The agent's ``name``, ``tools``, ``imports`` and ``datasets``.

    Returns:
        The letter recorded.
    """
    letter = DeadLetter(
        id=f"{execution_id}:{step}:{call_index}",
        recorded_at=_now(),
        execution_id=execution_id,
        step=step,
        call_index=call_index,
        tool=tool,
        arguments=arguments,
        error_code=error.code,
        error_message=error.message,
        principal=principal,
        agent_spec=dict(agent_spec) if agent_spec is not None else None,
    )
    tracer.record(DEAD_LETTERS_TABLE, letter.model_dump(mode="json", exclude={"status", "retries"}))
    return letter


def _rows(store: TraceStore, table: str, where: str = "", params: list[Any] | None = None) -> Any:
    frame = store.sql(
        "SELECT CAST(row AS VARCHAR) AS row FROM records "
        f"WHERE table_name = ? {where} ORDER BY recorded_at",
        [table, *(params or [])],
    )
    return [json.loads(text) for text in frame["row"]]


def _assemble(store: TraceStore, letters: list[dict[str, Any]]) -> list[DeadLetter]:
    newest: dict[str, dict[str, Any]] = {}
    for row in letters:  # oldest first, so the newest row of an id wins
        newest[str(row.get("id"))] = row
    retries: dict[str, list[DeadLetterRetry]] = {}
    if newest:
        for row in _rows(store, DEAD_LETTER_RETRIES_TABLE):
            retry = DeadLetterRetry.model_validate(row)
            retries.setdefault(retry.dead_letter_id, []).append(retry)
    out: list[DeadLetter] = []
    for key, row in newest.items():
        done = retries.get(key, [])
        status: DeadLetterStatus = (
            "dead" if not done else "retried" if done[-1].ok else "retry_failed"
        )
        out.append(DeadLetter.model_validate({**row, "status": status, "retries": done}))
    out.sort(key=lambda letter: letter.recorded_at, reverse=True)
    return out


def list_dead_letters(
    store: TraceStore,
    *,
    execution_id: str | None = None,
    tool: str | None = None,
    status: DeadLetterStatus | None = None,
    limit: int | None = 100,
) -> list[DeadLetter]:
    """Dead letters, newest first.

    Args:
        store: The trace store (its spool is ingested first).
        execution_id: Only this execution's letters.
        tool: Only letters of this tool.
        status: Only letters with this status.
        limit: Most letters returned; ``None`` for all.
    """
    where, params = "", []
    if execution_id is not None:
        where, params = "AND (row ->> 'execution_id') = ?", [execution_id]
    letters = _assemble(store, _rows(store, DEAD_LETTERS_TABLE, where, params))
    chosen = [
        letter
        for letter in letters
        if (tool is None or letter.tool == tool) and (status is None or letter.status == status)
    ]
    return chosen if limit is None else chosen[:limit]


def get_dead_letter(store: TraceStore, letter_id: str) -> DeadLetter:
    """The dead letter with this id.

    Raises:
        DeadLetterNotFound: No letter has that id.
    """
    found = _assemble(
        store, _rows(store, DEAD_LETTERS_TABLE, "AND (row ->> 'id') = ?", [letter_id])
    )
    if not found:
        raise DeadLetterNotFound(f"no dead letter with id {letter_id!r}")
    return found[0]


async def aretry_dead_letter(
    store: TraceStore,
    letter_id: str,
    tool: Tool,
    *,
    tracer: Tracer | None = None,
    timeout_s: float | None = None,
) -> DeadLetter:
    """Re-run a dead letter's call with its recorded arguments and record the outcome.

    The call gets the original execution id, step, call index and principal, so a
    side-effecting tool sees the original idempotency key and applies its effect at
    most once. A failure is recorded too (status ``retry_failed``), not raised.

    Args:
        store: The trace store holding the letter.
        letter_id: The letter's id.
        tool: The tool to run; its name must be the letter's tool.
        tracer: Where the outcome is recorded; the process-wide tracer by default.
            It is flushed before returning.
        timeout_s: Timeout when the tool declares none; default the settings'
            ``tool_timeout_s``.

    Returns:
        The letter with this re-drive appended and its status updated.

    Raises:
        DeadLetterNotFound: No letter has that id.
        ConfigError: ``tool`` is not the letter's tool.
    """
    letter = await asyncio.to_thread(get_dead_letter, store, letter_id)
    if tool.name != letter.tool:
        raise ConfigError(
            f"dead letter {letter_id!r} is a call of {letter.tool!r}, not {tool.name!r}"
        )
    if timeout_s is None:
        from workbench.settings import get_settings

        timeout_s = get_settings().limits.tool_timeout_s
    ctx = ToolContext.for_call(
        execution_id=letter.execution_id,
        step=letter.step,
        call_index=letter.call_index,
        side_effects=tool.side_effects,
        principal=letter.principal,
    )
    try:
        value = await tool.ainvoke(tool.parse_arguments(letter.arguments), ctx, timeout_s=timeout_s)
    except ToolError as exc:
        retry = DeadLetterRetry(
            dead_letter_id=letter.id,
            retried_at=_now(),
            ok=False,
            error_code=exc.code,
            error_message=exc.message,
        )
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        retry = DeadLetterRetry(
            dead_letter_id=letter.id, retried_at=_now(), ok=True, result=text[:_MAX_RESULT]
        )
    tracer = tracer or get_tracer()
    tracer.record(DEAD_LETTER_RETRIES_TABLE, retry.model_dump(mode="json"))
    await asyncio.to_thread(tracer.flush)
    return letter.model_copy(
        update={
            "status": "retried" if retry.ok else "retry_failed",
            "retries": [*letter.retries, retry],
        }
    )


def retry_dead_letter(
    store: TraceStore,
    letter_id: str,
    tool: Tool,
    *,
    tracer: Tracer | None = None,
    timeout_s: float | None = None,
) -> DeadLetter:
    """Sync wrapper of :func:`aretry_dead_letter` (same arguments, result and errors)."""
    return run_sync(aretry_dead_letter(store, letter_id, tool, tracer=tracer, timeout_s=timeout_s))
