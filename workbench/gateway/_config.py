"""The gateway's settings: default limits, caps and input rules, in one model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_MAX_TOKENS", "BudgetCaps", "GatewayConfig"]

DEFAULT_MAX_TOKENS = 4096
"""Completion tokens reserved for a model call that sets no ``max_tokens``."""


class BudgetCaps(BaseModel):
    """Budget caps of one admitted request; ``None`` means no cap on that dimension."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_usd: float | None = Field(default=None, ge=0)
    """USD one execution may spend (settled plus outstanding reservations)."""
    execution_tokens: int | None = Field(default=None, ge=0)
    """Tokens (prompt plus completion) one execution may spend."""
    principal_day_usd: float | None = Field(default=None, ge=0)
    """USD one principal may spend per UTC day, over all its executions."""
    principal_day_tokens: int | None = Field(default=None, ge=0)
    """Tokens one principal may spend per UTC day, over all its executions."""

    def merged(self, override: BudgetCaps) -> BudgetCaps:
        """These caps with every cap that ``override`` sets replacing this one's."""
        values = {k: v for k, v in override.model_dump().items() if v is not None}
        return self.model_copy(update=values) if values else self


class GatewayConfig(BaseModel):
    """Defaults of the gateway. A key's own limits (``KeyStore.create``) win over these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_input_bytes: int = Field(default=65_536, ge=1)
    """Largest task plus structured input, in UTF-8 bytes (``InputTooLarge`` above it)."""
    allowed_control_chars: str = "\n\t"
    """Control characters a task may contain; every other one (C0, DEL, C1) is refused."""
    input_schema: dict[str, Any] | None = None
    """JSON Schema of every task input (the structured ``input``, else the task text)."""
    agent_input_schemas: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-agent JSON Schemas; an agent's own schema replaces ``input_schema``."""
    rate_per_minute: float | None = Field(default=None, gt=0)
    """Requests per minute per principal when its key sets none; ``None``: unlimited."""
    tokens_per_minute: float | None = Field(default=None, gt=0)
    """Estimated tokens per minute per principal when its key sets none; ``None``: unlimited."""
    caps: BudgetCaps = Field(default_factory=BudgetCaps)
    """Default budget caps; a key's daily caps replace the principal-day ones."""
    key_cache_ttl_s: float = Field(default=1.0, ge=0)
    """How long an authenticated key is served from memory before it is re-read (so a
    revocation in another process takes effect within this time; at once in this one)."""
    budget_check_ttl_s: float = Field(default=0.5, ge=0)
    """How long admission reuses a principal's day spend before re-reading the ledger.
    Admission's budget check is a fast pre-check; ``BudgetLedger.reserve`` is the exact one."""
    guard_channel: str = "user_input"
    """The guardrail channel the task is scanned on."""
