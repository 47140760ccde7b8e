"""Rate limits per principal: two token buckets, requests per minute and tokens per minute.

Each bucket holds at most one minute's allowance and refills continuously, so a
principal may burst up to its per-minute rate and then sustain that rate. A request
passes only if both buckets have room; then both are charged together, atomically.
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from workbench.errors import ConfigError, RateLimited

__all__ = ["InMemoryRateLimiter", "RateLimiter", "RedisRateLimiter"]


class RateLimiter(ABC):
    """Checks and charges a principal's request and token buckets.

    Contract: :meth:`acquire` is thread-safe; the check of both buckets and the charge
    are one atomic step (two callers can never both take the last request); a refused
    call charges nothing. A ``None`` rate is unlimited. Implementations keep no
    per-call state beyond the buckets.
    """

    @abstractmethod
    def acquire(
        self,
        principal: str,
        *,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        tokens: int = 0,
    ) -> None:
        """Charge one request and ``tokens`` tokens to ``principal``'s buckets.

        Args:
            principal: Whose buckets.
            requests_per_minute: The request rate (and burst); None: unlimited.
            tokens_per_minute: The token rate (and burst); None: unlimited.
            tokens: Tokens this request is expected to use.

        Raises:
            RateLimited: A bucket has no room; ``retry_after`` is the seconds until it
                will (``None`` when ``tokens`` is over the whole per-minute rate).
        """

    def close(self) -> None:  # noqa: B027  # optional hook, nothing to release by default
        """Release connections, if any."""


def _too_many_tokens(principal: str, tokens: int, per_minute: float) -> RateLimited:
    return RateLimited(
        f"{tokens} tokens is over {principal}'s whole rate of {per_minute:g} tokens/min",
        principal=principal,
        retry_after=None,
    )


def _limited(principal: str, which: str, retry_after: float) -> RateLimited:
    return RateLimited(
        f"{principal} is over its {which} rate; retry in {retry_after:.3f} s",
        principal=principal,
        retry_after=retry_after,
    )


class InMemoryRateLimiter(RateLimiter):
    """Token buckets in this process's memory: the default, about a microsecond a call.

    Several processes sharing a principal each get the whole rate; use
    :class:`RedisRateLimiter` for one rate across them.

    Args:
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(self, *, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # principal -> [request level, token level, last refill]
        self._buckets: dict[str, list[float]] = {}

    def acquire(
        self,
        principal: str,
        *,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        tokens: int = 0,
    ) -> None:
        """See :meth:`RateLimiter.acquire`."""
        if requests_per_minute is None and tokens_per_minute is None:
            return
        if tokens_per_minute is not None and tokens > tokens_per_minute:
            raise _too_many_tokens(principal, tokens, tokens_per_minute)
        rpm = requests_per_minute if requests_per_minute is not None else math.inf
        tpm = tokens_per_minute if tokens_per_minute is not None else math.inf
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(principal)
            if bucket is None:
                bucket = self._buckets[principal] = [rpm, tpm, now]
            elapsed = now - bucket[2]
            req = min(rpm, bucket[0] + elapsed * rpm / 60.0)
            tok = min(tpm, bucket[1] + elapsed * tpm / 60.0)
            bucket[2] = now
            if req < 1.0:
                bucket[0], bucket[1] = req, tok
                raise _limited(principal, "request", (1.0 - req) * 60.0 / rpm)
            if tok < tokens:
                bucket[0], bucket[1] = req, tok
                raise _limited(principal, "token", (tokens - tok) * 60.0 / tpm)
            bucket[0], bucket[1] = req - 1.0, tok - tokens


# KEYS[1] bucket hash; ARGV: rpm, tpm (-1 = unlimited), tokens, ttl_ms.
# Returns {0, 0} when admitted, else {1 request | 2 token, retry_after_ms}.
_ACQUIRE_LUA = """
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'req', 'tok', 'ts')
local req = tonumber(state[1])
local tok = tonumber(state[2])
local ts = tonumber(state[3])
if ts == nil then
  req = rpm
  tok = tpm
  ts = now
end
local elapsed = math.max(0, now - ts)
if rpm >= 0 then req = math.min(rpm, req + elapsed * rpm / 60) end
if tpm >= 0 then tok = math.min(tpm, tok + elapsed * tpm / 60) end
local verdict = 0
local wait = 0
if rpm >= 0 and req < 1 then
  verdict = 1
  wait = (1 - req) * 60 / rpm
elseif tpm >= 0 and tok < tokens then
  verdict = 2
  wait = (tokens - tok) * 60 / tpm
else
  if rpm >= 0 then req = req - 1 end
  if tpm >= 0 then tok = tok - tokens end
end
redis.call('HSET', KEYS[1], 'req', tostring(req), 'tok', tostring(tok), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {verdict, math.ceil(wait * 1000)}
"""


class RedisRateLimiter(RateLimiter):
    """Token buckets in Redis, for several processes sharing one principal's rate.

    Check and charge run as one Lua script (atomic in Redis) on the server's clock, so
    processes on different machines agree. Buckets expire after two idle minutes.

    Args:
        url: ``redis://host:port/db`` (e.g. from ``workbench services up redis``).
        prefix: Key prefix, so several workbenches can share one Redis.
    """

    def __init__(self, url: str, *, prefix: str = "wb:rate:") -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_ACQUIRE_LUA)
        self._prefix = prefix

    def acquire(
        self,
        principal: str,
        *,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        tokens: int = 0,
    ) -> None:
        """See :meth:`RateLimiter.acquire`."""
        if requests_per_minute is None and tokens_per_minute is None:
            return
        if tokens_per_minute is not None and tokens > tokens_per_minute:
            raise _too_many_tokens(principal, tokens, tokens_per_minute)
        if tokens < 0:
            raise ConfigError(f"tokens must be >= 0, not {tokens}")
        rpm = -1.0 if requests_per_minute is None else requests_per_minute
        tpm = -1.0 if tokens_per_minute is None else tokens_per_minute
        verdict, wait_ms = self._script(
            keys=[f"{self._prefix}{principal}"], args=[rpm, tpm, tokens, 120_000]
        )
        if int(verdict) != 0:
            which = "request" if int(verdict) == 1 else "token"
            raise _limited(principal, which, int(wait_ms) / 1000.0)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
