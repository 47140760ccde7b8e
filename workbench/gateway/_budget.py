"""Budgets, reserve-then-settle: reserve a model call's worst case, settle to its actual cost.

A reservation succeeds only if settled spend plus outstanding reservations plus this
one stay within every cap, and the check and the record are one atomic step. So
however many executions of a principal race, spend stays within the cap unless a
provider returns more than ``max_tokens`` (the only way an actual cost can exceed its
reservation); the overshoot is then at most that one call's excess.

USD is kept as integer nano-dollars, so sums at the cap are exact.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from workbench.errors import BudgetExceeded, ConfigError
from workbench.gateway._config import DEFAULT_MAX_TOKENS, BudgetCaps
from workbench.settings import Settings, get_settings

__all__ = [
    "BudgetLedger",
    "CapsSource",
    "Reservation",
    "Spend",
    "SqliteBudgetLedger",
    "cap_nano",
    "check_caps",
    "day_scope",
    "default_ledger",
    "execution_scope",
    "from_nano",
    "resolve_caps",
    "to_nano",
    "utc_day",
    "worst_case",
]

_NANO = 1_000_000_000
_MESSAGE_OVERHEAD = 4
"""Tokens added per message for role and separators in :func:`worst_case`."""

CapsSource: TypeAlias = BudgetCaps | Callable[[str | None], BudgetCaps] | None
"""Where a ledger finds the caps of a call that passes none: fixed caps, or a function
of the principal; ``None``: no caps."""


def to_nano(usd: float) -> int:
    """USD as integer nano-dollars (rounded up, so a reservation never under-counts)."""
    if not math.isfinite(usd) or usd < 0:
        raise ConfigError(f"a USD amount must be a finite number >= 0, not {usd}")
    return math.ceil(usd * _NANO - 1e-6)


def from_nano(nano: int) -> float:
    """Integer nano-dollars as USD."""
    return nano / _NANO


def utc_day(at: float | None = None) -> str:
    """The UTC day (``YYYY-MM-DD``) of Unix time ``at`` (now if None)."""
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Reservation:
    """A reserved worst case, to be settled or released exactly once.

    Attributes:
        id: Unique id of the reservation.
        principal: Whose day budget it counts against (None: only the execution's).
        execution_id: The execution it counts against.
        day: The UTC day it counts in.
        tokens: Tokens reserved.
        usd: USD reserved.
    """

    id: str
    principal: str | None
    execution_id: str
    day: str
    tokens: int
    usd: float


@dataclass(frozen=True, slots=True)
class Spend:
    """Spend of an execution or a principal's day.

    Attributes:
        tokens: Settled tokens.
        usd: Settled USD.
        reserved_tokens: Tokens reserved and not yet settled.
        reserved_usd: USD reserved and not yet settled.
    """

    tokens: int = 0
    usd: float = 0.0
    reserved_tokens: int = 0
    reserved_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Settled plus reserved tokens: what a new reservation is checked against."""
        return self.tokens + self.reserved_tokens

    @property
    def total_usd(self) -> float:
        """Settled plus reserved USD."""
        return self.usd + self.reserved_usd


class BudgetLedger(Protocol):
    """Where reservations and settled costs are kept.

    Contract: every method is thread-safe and, for the shared backends, safe across
    processes. :meth:`reserve` checks the caps and records the reservation in one
    atomic step (no other reserve can interleave). :meth:`settle` and :meth:`release`
    apply once; a second call for the same reservation is a no-op. Settled costs and
    outstanding reservations persist for at least the UTC day they count in.
    """

    def reserve(
        self,
        *,
        principal: str | None,
        execution_id: str,
        tokens: int,
        usd: float,
        caps: BudgetCaps | None = None,
    ) -> Reservation:
        """Reserve ``tokens`` and ``usd`` against the execution and the principal's day.

        Args:
            principal: Whose day budget (None: the execution's caps only).
            execution_id: The execution.
            tokens: Worst-case tokens of the call (see :func:`worst_case`).
            usd: Worst-case USD of the call.
            caps: The caps to check (e.g. ``Admission.caps``); the ledger's own if None.

        Raises:
            BudgetExceeded: A cap has no room for it; nothing is reserved.
        """
        ...

    def settle(self, reservation: Reservation, *, tokens: int, usd: float) -> None:
        """Replace the reservation with the call's actual ``tokens`` and ``usd``."""
        ...

    def release(self, reservation: Reservation) -> None:
        """Drop the reservation (the call failed before costing anything)."""
        ...

    def spent(
        self,
        *,
        principal: str | None = None,
        execution_id: str | None = None,
        day: str | None = None,
    ) -> Spend:
        """Spend of ``execution_id``, else of ``principal`` on ``day`` (today if None)."""
        ...


def worst_case(
    model: str,
    messages_or_prompt_tokens: int | Sequence[dict[str, Any]] | str,
    max_tokens: int | None = None,
) -> tuple[int, float]:
    """The most a model call can cost: ``(tokens, usd)``, for :meth:`BudgetLedger.reserve`.

    Prompt tokens are exact when given as an int. For messages or text, the bound is the
    UTF-8 byte count plus 4 per message: no byte-level BPE tokenizer emits more tokens
    than bytes, so it is a true upper bound (pessimistic, about 4x on English text).
    Completion tokens are ``max_tokens``, or :data:`DEFAULT_MAX_TOKENS` (4096) when the
    call sets none.

    Args:
        model: The model name as passed to :func:`workbench.models.acomplete`.
        messages_or_prompt_tokens: Prompt tokens, OpenAI-style messages, or prompt text.
        max_tokens: The call's completion cap.

    Returns:
        Worst-case total tokens and USD.

    Raises:
        ConfigError: No price is known for ``model``.
    """
    from workbench.models import cost_usd

    if isinstance(messages_or_prompt_tokens, int):
        prompt = messages_or_prompt_tokens
    elif isinstance(messages_or_prompt_tokens, str):
        prompt = len(messages_or_prompt_tokens.encode()) + _MESSAGE_OVERHEAD
    else:
        prompt = sum(
            len(json.dumps(m, ensure_ascii=False).encode()) + _MESSAGE_OVERHEAD
            for m in messages_or_prompt_tokens
        )
    completion = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    return prompt + completion, cost_usd(model, prompt, completion)


def check_caps(
    caps: BudgetCaps,
    *,
    principal: str | None,
    execution_id: str,
    execution: tuple[int, int],
    day: tuple[int, int] | None,
    tokens: int,
    nano: int,
) -> None:
    """Raise :class:`BudgetExceeded` if ``tokens``/``nano`` do not fit under ``caps``.

    ``execution`` and ``day`` are the current (tokens, nano-USD), settled plus reserved.
    """
    checks: list[tuple[str, int | None, int, int, bool]] = [
        (f"execution {execution_id}", caps.execution_tokens, execution[0], tokens, False),
        (f"execution {execution_id}", cap_nano(caps.execution_usd), execution[1], nano, True),
    ]
    if day is not None:
        who = f"principal {principal} today"
        checks.append((who, caps.principal_day_tokens, day[0], tokens, False))
        checks.append((who, cap_nano(caps.principal_day_usd), day[1], nano, True))
    for who, cap, current, amount, usd in checks:
        if cap is not None and current + amount > cap:
            if usd:
                text = (
                    f"${from_nano(current):.6f} spent or reserved + ${from_nano(amount):.6f} "
                    f"asked > cap ${from_nano(cap):.6f}"
                )
            else:
                text = f"{current} tokens spent or reserved + {amount} asked > cap {cap}"
            raise BudgetExceeded(f"budget of {who}: {text}", principal=principal)


def cap_nano(usd: float | None) -> int | None:
    """A USD cap as nano-dollars, rounded down (rounding never raises a cap)."""
    return None if usd is None else math.floor(usd * _NANO + 1e-6)


def resolve_caps(source: CapsSource, principal: str | None) -> BudgetCaps:
    """The caps ``source`` gives for ``principal``."""
    if source is None:
        return _NO_CAPS
    if isinstance(source, BudgetCaps):
        return source
    return source(principal)


_NO_CAPS = BudgetCaps()

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS budget_totals (
        scope TEXT PRIMARY KEY,
        settled_tokens INTEGER NOT NULL DEFAULT 0,
        settled_nano INTEGER NOT NULL DEFAULT 0,
        reserved_tokens INTEGER NOT NULL DEFAULT 0,
        reserved_nano INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS budget_reservations (
        id TEXT PRIMARY KEY,
        principal TEXT,
        execution_id TEXT NOT NULL,
        day TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        nano INTEGER NOT NULL,
        created_at REAL NOT NULL,
        settled_at REAL,
        actual_tokens INTEGER,
        actual_nano INTEGER
    )""",
)
_UPSERT = (
    "INSERT INTO budget_totals (scope, settled_tokens, settled_nano, reserved_tokens, "
    "reserved_nano) VALUES (?, ?, ?, ?, ?) ON CONFLICT(scope) DO UPDATE SET "
    "settled_tokens = settled_tokens + excluded.settled_tokens, "
    "settled_nano = settled_nano + excluded.settled_nano, "
    "reserved_tokens = reserved_tokens + excluded.reserved_tokens, "
    "reserved_nano = reserved_nano + excluded.reserved_nano"
)


def execution_scope(execution_id: str) -> str:
    """Ledger key of an execution's totals."""
    return f"ex:{execution_id}"


def day_scope(principal: str, day: str) -> str:
    """Ledger key of a principal's totals for one UTC day."""
    return f"pd:{day}:{principal}"


class SqliteBudgetLedger:
    """The default ledger: one SQLite file (``<home>/budget.sqlite``), safe across processes.

    Each reserve runs in a ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write
    lock before reading the totals, so check and record are atomic across threads and
    processes. Totals are kept per execution and per principal-day, so a check reads
    two rows however long the history.

    Args:
        path: The SQLite file; ``settings.home / "budget.sqlite"`` if None.
        caps: Caps for calls that pass none (see :data:`CapsSource`).
    """

    def __init__(self, path: Path | str | None = None, *, caps: CapsSource = None) -> None:
        self.path = Path(path) if path is not None else get_settings().home / "budget.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.caps = caps
        self._local = threading.local()
        with self._transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def reserve(
        self,
        *,
        principal: str | None,
        execution_id: str,
        tokens: int,
        usd: float,
        caps: BudgetCaps | None = None,
    ) -> Reservation:
        """See :meth:`BudgetLedger.reserve`."""
        if tokens < 0:
            raise ConfigError(f"tokens must be >= 0, not {tokens}")
        nano = to_nano(usd)
        chosen = caps if caps is not None else resolve_caps(self.caps, principal)
        now = time.time()
        day = utc_day(now)
        ex_key = execution_scope(execution_id)
        pd_key = None if principal is None else day_scope(principal, day)
        with self._transaction() as conn:
            current_ex = _total(conn, ex_key)
            current_pd = None if pd_key is None else _total(conn, pd_key)
            check_caps(
                chosen,
                principal=principal,
                execution_id=execution_id,
                execution=current_ex,
                day=current_pd,
                tokens=tokens,
                nano=nano,
            )
            reservation = Reservation(
                id=uuid.uuid4().hex,
                principal=principal,
                execution_id=execution_id,
                day=day,
                tokens=tokens,
                usd=from_nano(nano),
            )
            for key in (ex_key, pd_key):
                if key is not None:
                    conn.execute(_UPSERT, (key, 0, 0, tokens, nano))
            conn.execute(
                "INSERT INTO budget_reservations (id, principal, execution_id, day, tokens, "
                "nano, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (reservation.id, principal, execution_id, day, tokens, nano, now),
            )
        return reservation

    def settle(self, reservation: Reservation, *, tokens: int, usd: float) -> None:
        """See :meth:`BudgetLedger.settle`."""
        if tokens < 0:
            raise ConfigError(f"tokens must be >= 0, not {tokens}")
        nano = to_nano(usd)
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT principal, execution_id, day, tokens, nano FROM budget_reservations "
                "WHERE id = ? AND settled_at IS NULL",
                (reservation.id,),
            ).fetchone()
            if row is None:
                return  # settled or released already
            principal, execution_id, day, r_tokens, r_nano = row
            keys = [execution_scope(execution_id)]
            if principal is not None:
                keys.append(day_scope(principal, day))
            for key in keys:
                conn.execute(_UPSERT, (key, tokens, nano, -r_tokens, -r_nano))
            conn.execute(
                "UPDATE budget_reservations SET settled_at = ?, actual_tokens = ?, "
                "actual_nano = ? WHERE id = ?",
                (time.time(), tokens, nano, reservation.id),
            )

    def release(self, reservation: Reservation) -> None:
        """See :meth:`BudgetLedger.release`."""
        self.settle(reservation, tokens=0, usd=0.0)

    def spent(
        self,
        *,
        principal: str | None = None,
        execution_id: str | None = None,
        day: str | None = None,
    ) -> Spend:
        """See :meth:`BudgetLedger.spent`."""
        key = _spend_scope(principal, execution_id, day)
        row = (
            self._conn()
            .execute(
                "SELECT settled_tokens, settled_nano, reserved_tokens, reserved_nano "
                "FROM budget_totals WHERE scope = ?",
                (key,),
            )
            .fetchone()
        )
        if row is None:
            return Spend()
        return Spend(int(row[0]), from_nano(row[1]), int(row[2]), from_nano(row[3]))

    def _conn(self) -> sqlite3.Connection:
        # One connection per thread and process (a forked child opens its own).
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        if held is None or held[0] != os.getpid():
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            held = (os.getpid(), conn)
            self._local.held = held
        return held[1]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def default_ledger(settings: Settings | None = None, *, caps: CapsSource = None) -> BudgetLedger:
    """The default ledger of a home: :class:`SqliteBudgetLedger` at ``<home>/budget.sqlite``.

    Args:
        settings: Whose home; :func:`~workbench.settings.get_settings` if None.
        caps: Caps for calls that pass none (see :data:`CapsSource`).
    """
    home = (settings or get_settings()).home
    return SqliteBudgetLedger(home / "budget.sqlite", caps=caps)


def _total(conn: sqlite3.Connection, key: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT settled_tokens + reserved_tokens, settled_nano + reserved_nano "
        "FROM budget_totals WHERE scope = ?",
        (key,),
    ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _spend_scope(principal: str | None, execution_id: str | None, day: str | None) -> str:
    if execution_id is not None:
        return execution_scope(execution_id)
    if principal is not None:
        return day_scope(principal, day or utc_day())
    raise ConfigError("spent() needs a principal or an execution_id")
