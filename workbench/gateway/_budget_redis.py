"""The Redis budget ledger: reserve and settle as Lua scripts, atomic in Redis."""

from __future__ import annotations

import time
import uuid
from typing import Any

from workbench.errors import BudgetExceeded, ConfigError
from workbench.gateway._budget import (
    CapsSource,
    Reservation,
    Spend,
    cap_nano,
    check_caps,
    day_scope,
    execution_scope,
    from_nano,
    resolve_caps,
    to_nano,
    utc_day,
)
from workbench.gateway._config import BudgetCaps

__all__ = ["RedisBudgetLedger"]

# Totals hashes: st/sn settled tokens/nano-USD, rt/rn reserved tokens/nano-USD.
# KEYS: execution totals, day totals ('' when no principal), reservation hash.
# ARGV: tokens, nano, cap ex tokens, cap ex nano, cap day tokens, cap day nano (-1: none),
#       totals ttl ms, principal, execution id, day.
# Returns {0} when reserved, else {1 | 2 (which scope), current tokens, current nano}.
_RESERVE_LUA = """
local tokens = tonumber(ARGV[1])
local nano = tonumber(ARGV[2])
local function total(key)
  if key == '' then return 0, 0 end
  local v = redis.call('HMGET', key, 'st', 'sn', 'rt', 'rn')
  local t = (tonumber(v[1]) or 0) + (tonumber(v[3]) or 0)
  return t, (tonumber(v[2]) or 0) + (tonumber(v[4]) or 0)
end
local function over(cap, current, amount)
  local c = tonumber(cap)
  return c >= 0 and current + amount > c
end
local ex_t, ex_n = total(KEYS[1])
if over(ARGV[3], ex_t, tokens) or over(ARGV[4], ex_n, nano) then
  return {1, ex_t, ex_n}
end
local pd_t, pd_n = total(KEYS[2])
if KEYS[2] ~= '' and (over(ARGV[5], pd_t, tokens) or over(ARGV[6], pd_n, nano)) then
  return {2, pd_t, pd_n}
end
for i = 1, 2 do
  if KEYS[i] ~= '' then
    redis.call('HINCRBY', KEYS[i], 'rt', tokens)
    redis.call('HINCRBY', KEYS[i], 'rn', nano)
    redis.call('PEXPIRE', KEYS[i], ARGV[7])
  end
end
redis.call('HSET', KEYS[3], 'ex', KEYS[1], 'pd', KEYS[2], 't', tokens, 'n', nano,
  'principal', ARGV[8], 'execution_id', ARGV[9], 'day', ARGV[10])
redis.call('PEXPIRE', KEYS[3], ARGV[7])
return {0, 0, 0}
"""

# KEYS: reservation hash. ARGV: actual tokens, actual nano, ttl ms.
# Returns 1 when settled, 0 when settled before or unknown.
_SETTLE_LUA = """
local r = redis.call('HMGET', KEYS[1], 'ex', 'pd', 't', 'n', 'done')
if r[1] == false or r[5] == '1' then return 0 end
for i = 1, 2 do
  local key = r[i]
  if key ~= '' then
    redis.call('HINCRBY', key, 'rt', -tonumber(r[3]))
    redis.call('HINCRBY', key, 'rn', -tonumber(r[4]))
    redis.call('HINCRBY', key, 'st', ARGV[1])
    redis.call('HINCRBY', key, 'sn', ARGV[2])
    redis.call('PEXPIRE', key, ARGV[3])
  end
end
redis.call('HSET', KEYS[1], 'done', '1')
return 1
"""


class RedisBudgetLedger:
    """Budget totals in Redis, for executions of one principal on several machines.

    Each reserve is one Lua script that reads both totals, checks the caps and adds the
    reservation, atomically. Totals and reservations expire ``retention_s`` after their
    last change (default 8 days), so day totals outlive their day.

    Args:
        url: ``redis://host:port/db`` (e.g. from ``workbench services up redis``).
        caps: Caps for calls that pass none (see :data:`CapsSource`).
        prefix: Key prefix, so several workbenches can share one Redis.
        retention_s: Seconds totals and reservations are kept after their last change.
    """

    def __init__(
        self,
        url: str,
        *,
        caps: CapsSource = None,
        prefix: str = "wb:budget:",
        retention_s: float = 8 * 86_400,
    ) -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self._reserve = self._client.register_script(_RESERVE_LUA)
        self._settle = self._client.register_script(_SETTLE_LUA)
        self._prefix = prefix
        self._ttl_ms = int(retention_s * 1000)
        self.caps = caps

    def reserve(
        self,
        *,
        principal: str | None,
        execution_id: str,
        tokens: int,
        usd: float,
        caps: BudgetCaps | None = None,
    ) -> Reservation:
        """See :meth:`workbench.gateway.BudgetLedger.reserve`."""
        if tokens < 0:
            raise ConfigError(f"tokens must be >= 0, not {tokens}")
        nano = to_nano(usd)
        chosen = caps if caps is not None else resolve_caps(self.caps, principal)
        day = utc_day(time.time())
        ex_key = self._prefix + execution_scope(execution_id)
        pd_key = "" if principal is None else self._prefix + day_scope(principal, day)
        rid = uuid.uuid4().hex
        result: list[Any] = self._reserve(
            keys=[ex_key, pd_key, f"{self._prefix}res:{rid}"],
            args=[
                tokens,
                nano,
                _cap(chosen.execution_tokens),
                _cap(cap_nano(chosen.execution_usd)),
                _cap(chosen.principal_day_tokens),
                _cap(cap_nano(chosen.principal_day_usd)),
                self._ttl_ms,
                principal or "",
                execution_id,
                day,
            ],
        )
        which = int(result[0])
        if which != 0:
            current = (int(result[1]), int(result[2]))
            # Re-run the shared check on the numbers Redis saw, for the same message.
            check_caps(
                chosen,
                principal=principal,
                execution_id=execution_id,
                execution=current if which == 1 else (0, 0),
                day=current if which == 2 else None,
                tokens=tokens,
                nano=nano,
            )
            raise BudgetExceeded(
                f"budget of execution {execution_id} is spent", principal=principal
            )
        return Reservation(
            id=rid,
            principal=principal,
            execution_id=execution_id,
            day=day,
            tokens=tokens,
            usd=from_nano(nano),
        )

    def settle(self, reservation: Reservation, *, tokens: int, usd: float) -> None:
        """See :meth:`workbench.gateway.BudgetLedger.settle`."""
        if tokens < 0:
            raise ConfigError(f"tokens must be >= 0, not {tokens}")
        self._settle(
            keys=[f"{self._prefix}res:{reservation.id}"],
            args=[tokens, to_nano(usd), self._ttl_ms],
        )

    def release(self, reservation: Reservation) -> None:
        """See :meth:`workbench.gateway.BudgetLedger.release`."""
        self.settle(reservation, tokens=0, usd=0.0)

    def spent(
        self,
        *,
        principal: str | None = None,
        execution_id: str | None = None,
        day: str | None = None,
    ) -> Spend:
        """See :meth:`workbench.gateway.BudgetLedger.spent`."""
        if execution_id is not None:
            key = execution_scope(execution_id)
        elif principal is not None:
            key = day_scope(principal, day or utc_day())
        else:
            raise ConfigError("spent() needs a principal or an execution_id")
        values = self._client.hmget(self._prefix + key, ["st", "sn", "rt", "rn"])
        st, sn, rt, rn = (int(v) if v is not None else 0 for v in values)
        return Spend(st, from_nano(sn), rt, from_nano(rn))

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _cap(value: int | None) -> int:
    return -1 if value is None else value
