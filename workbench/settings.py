"""Settings: where state lives and the default of every limit, in one model.

The home directory holds everything the runtime writes (checkpoints, the effect
journal, trace spools, the DuckDB trace store, service state). It is
``$WORKBENCH_HOME`` when set, else ``.workbench`` in the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Limits", "Settings", "get_settings"]


class Limits(BaseModel):
    """Every limit of one execution. An agent spec may override any of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_steps: int = Field(default=10, ge=1, le=10_000)
    """Step cap: model calls in one execution before it stops with ``step_limit``."""
    model_timeout_s: float = Field(default=60.0, gt=0)
    """Timeout of one model call attempt."""
    execution_timeout_s: float = Field(default=600.0, gt=0)
    """Wall-clock timeout of one execution (time spent paused is not counted)."""
    max_retries: int = Field(default=4, ge=0, le=20)
    """Retries of one model call on 429, 5xx and timeouts."""
    backoff_base_s: float = Field(default=0.5, ge=0)
    """First backoff delay; doubles on each retry, with full jitter."""
    backoff_max_s: float = Field(default=30.0, ge=0)
    """Largest backoff delay, and the largest Retry-After that is honoured."""
    max_repairs: int = Field(default=3, ge=0, le=20)
    """Malformed model outputs (bad JSON, unknown tool, invalid arguments, truncation)
    sent back to the model as tool errors before the execution stops with ``malformed_output``."""
    tool_timeout_s: float = Field(default=30.0, gt=0)
    """Default per-tool timeout; a tool may declare its own."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Largest completion of one model call, passed to the provider when set."""
    max_cost_usd: float | None = Field(default=None, gt=0)
    """Budget of one execution in USD: no model call starts once it is spent, and the
    execution stops with ``budget_exceeded``. (The gateway's reserve-then-settle caps
    per principal come on top of this.)"""
    max_total_tokens: int | None = Field(default=None, ge=1)
    """Budget of one execution in tokens (prompt plus completion), enforced likewise."""
    approval_timeout_s: float = Field(default=3600.0, gt=0)
    """How long an approval gate waits for a person; past it the call counts as denied."""


class Settings(BaseModel):
    """Process-wide settings. Build with :func:`get_settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path
    """Directory of all runtime state."""
    limits: Limits = Field(default_factory=Limits)
    """Default limits of every execution."""
    database_url: str | None = None
    """PostgreSQL URL (``WORKBENCH_DATABASE_URL``) for checkpoints and the effect journal,
    so executions can resume on another machine (queue workers); SQLite files in ``home``
    when ``None``."""

    @property
    def trace_store_path(self) -> Path:
        """The DuckDB trace store (``traces.duckdb``)."""
        return self.home / "traces.duckdb"

    @property
    def spool_dir(self) -> Path:
        """Per-process append-only span spools, merged into the trace store."""
        return self.home / "spool"

    @property
    def checkpoint_path(self) -> Path:
        """SQLite file of LangGraph checkpoints."""
        return self.home / "checkpoints.sqlite"

    @property
    def journal_path(self) -> Path:
        """SQLite file of the effect journal (and what is needed to resume)."""
        return self.home / "journal.sqlite"

    @property
    def services_dir(self) -> Path:
        """One JSON file per running real server, with its address and pid."""
        return self.home / "services"


def get_settings(home: Path | str | None = None) -> Settings:
    """Settings for ``home``, else ``$WORKBENCH_HOME``, else ``./.workbench``."""
    chosen = home if home is not None else os.environ.get("WORKBENCH_HOME", ".workbench")
    return Settings(
        home=Path(chosen).resolve(),
        database_url=os.environ.get("WORKBENCH_DATABASE_URL") or None,
    )
