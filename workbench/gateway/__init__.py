"""The gateway: what a request passes before it reaches the loop.

:class:`Gateway` admits an :class:`AdmissionRequest` in this order, each step a span
and each refusal a safety event plus a typed :class:`~workbench.errors.GatewayRejected`:

1. **auth**: the API key (:class:`KeyStore`, hashed at rest) names a :class:`Principal`;
2. **scope**: the principal may use the agent (``agent:<name>`` / ``agent:*``);
3. **rate limit**: token buckets on requests and tokens per minute
   (:class:`InMemoryRateLimiter`, or :class:`RedisRateLimiter` across processes);
4. **budget**: the principal's day cap still has room (the exact, atomic check is
   :meth:`BudgetLedger.reserve` before every model call: reserve-then-settle, with
   :class:`SqliteBudgetLedger` or :class:`RedisBudgetLedger`);
5. **input**: size, valid text, the input JSON Schema (:class:`InputValidator`);
6. **guardrails**: an optional guard scans the task (block, or admit it redacted or
   marked).

See ``docs/gateway.md``.
"""

from __future__ import annotations

from workbench.gateway._budget import (
    BudgetLedger,
    CapsSource,
    Reservation,
    Spend,
    SqliteBudgetLedger,
    default_ledger,
    worst_case,
)
from workbench.gateway._budget_redis import RedisBudgetLedger
from workbench.gateway._config import DEFAULT_MAX_TOKENS, BudgetCaps, GatewayConfig
from workbench.gateway._gateway import Admission, AdmissionRequest, Gateway, InputGuard
from workbench.gateway._keys import KeyInfo, KeyStore, Principal
from workbench.gateway._ratelimit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from workbench.gateway._submit import asubmit
from workbench.gateway._validation import InputValidator

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "Admission",
    "AdmissionRequest",
    "BudgetCaps",
    "BudgetLedger",
    "CapsSource",
    "Gateway",
    "GatewayConfig",
    "InMemoryRateLimiter",
    "InputGuard",
    "InputValidator",
    "KeyInfo",
    "KeyStore",
    "Principal",
    "RateLimiter",
    "RedisBudgetLedger",
    "RedisRateLimiter",
    "Reservation",
    "Spend",
    "SqliteBudgetLedger",
    "asubmit",
    "default_ledger",
    "worst_case",
]
