"""Rate-limit abuse: bursts, refill, token rates, and two processes sharing one Redis bucket."""

from __future__ import annotations

import pytest
from gateway_helpers import race

from workbench.errors import RateLimited
from workbench.gateway import InMemoryRateLimiter, RateLimiter, RedisRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _burst(limiter: RateLimiter, n: int, **limits: float | None) -> tuple[int, list[RateLimited]]:
    admitted, refusals = 0, []
    for _ in range(n):
        try:
            limiter.acquire(
                "mallory",
                requests_per_minute=limits.get("rpm"),
                tokens_per_minute=limits.get("tpm"),
                tokens=int(limits.get("tokens") or 0),
            )
            admitted += 1
        except RateLimited as exc:
            refusals.append(exc)
    return admitted, refusals


def test_burst_is_cut_at_the_per_minute_rate_then_refills() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(clock=clock)
    admitted, refusals = _burst(limiter, 100, rpm=30)
    assert admitted == 30
    assert len(refusals) == 70
    assert refusals[0].http_status == 429
    assert refusals[0].retry_after == pytest.approx(2.0)  # one request every 2 s
    clock.now += 2.0
    assert _burst(limiter, 5, rpm=30)[0] == 1
    clock.now += 600
    assert _burst(limiter, 100, rpm=30)[0] == 30  # the bucket never holds more than a minute


def test_token_rate_limits_on_estimated_tokens() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(clock=clock)
    assert _burst(limiter, 10, tpm=1000, tokens=300)[0] == 3
    admitted, refusals = _burst(limiter, 1, tpm=1000, tokens=300)
    assert admitted == 0
    assert refusals[0].retry_after == pytest.approx((300 - 100) * 60 / 1000)
    with pytest.raises(RateLimited, match="whole rate") as info:
        limiter.acquire("mallory", requests_per_minute=None, tokens_per_minute=1000, tokens=5000)
    assert info.value.retry_after is None


def test_a_refused_request_charges_nothing() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(clock=clock)
    # The token bucket refuses: the request bucket must not be charged for it.
    assert _burst(limiter, 1, rpm=2, tpm=100, tokens=100)[0] == 1
    assert _burst(limiter, 5, rpm=2, tpm=100, tokens=100)[0] == 0
    assert _burst(limiter, 1, rpm=2, tpm=100, tokens=0)[0] == 1


def test_principals_have_separate_buckets() -> None:
    limiter = InMemoryRateLimiter()
    for name in ("a", "b"):
        limiter.acquire(name, requests_per_minute=1, tokens_per_minute=None)
    with pytest.raises(RateLimited):
        limiter.acquire("a", requests_per_minute=1, tokens_per_minute=None)


def test_no_limits_means_unlimited() -> None:
    assert _burst(InMemoryRateLimiter(), 1000)[0] == 1000


@pytest.mark.slow
def test_redis_limiter_matches_the_in_memory_one(redis_db: str) -> None:
    limiter = RedisRateLimiter(redis_db)
    try:
        admitted, refusals = _burst(limiter, 50, rpm=20, tpm=10_000, tokens=10)
        assert admitted == 20
        assert 2.5 <= (refusals[0].retry_after or 0) <= 3.0
        limiter.acquire("other", requests_per_minute=None, tokens_per_minute=100, tokens=60)
        with pytest.raises(RateLimited, match="token rate"):
            limiter.acquire("other", requests_per_minute=None, tokens_per_minute=100, tokens=60)
    finally:
        limiter.close()


@pytest.mark.slow
def test_two_processes_share_one_principal_rate_through_redis(redis_db: str) -> None:
    results = race([["rate", redis_db, "shared", "60", "40"] for _ in range(2)])
    total = sum(r["admitted"] for r in results)
    # 40 per minute in all (plus at most one refilled during the ~ms race), not 40 each.
    assert 40 <= total <= 41, results
    assert sum(r["refused"] for r in results) == 120 - total
