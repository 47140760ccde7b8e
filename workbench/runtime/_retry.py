"""Retry of model calls: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import random

from workbench.errors import ModelRateLimited, WorkbenchError
from workbench.settings import Limits

__all__ = ["backoff_delay", "should_retry"]


def should_retry(exc: BaseException, attempt: int, limits: Limits) -> bool:
    """Whether attempt number ``attempt`` (0-based) that raised ``exc`` is retried."""
    return isinstance(exc, WorkbenchError) and exc.retryable and attempt < limits.max_retries


def backoff_delay(exc: BaseException, attempt: int, limits: Limits, rng: random.Random) -> float:
    """Seconds to wait before retry ``attempt + 1``.

    Full jitter (uniform in ``[0, base * 2**attempt]``, capped) spreads the retries of
    many executions that failed together. A Retry-After from the provider is a floor:
    retrying earlier only earns another 429. Both are capped by ``backoff_max_s``.
    """
    ceiling = min(limits.backoff_max_s, limits.backoff_base_s * (2**attempt))
    delay = rng.uniform(0.0, ceiling)
    if isinstance(exc, ModelRateLimited) and exc.retry_after is not None:
        delay = max(delay, exc.retry_after)
    return min(delay, limits.backoff_max_s)
