"""An adaptive concurrency limit: additive increase, multiplicative decrease (AIMD).

A 429 (``ModelRateLimited``) halves the limit, at most once per window so that one
burst of 429s from requests already in flight counts once; each window of successes
(as many successes as the limit) adds one back, up to the suite's concurrency.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

__all__ = ["AdaptiveLimiter", "LimitChange"]


@dataclass(frozen=True, slots=True)
class LimitChange:
    """One change of the limit, for the run's record and tests."""

    at: float
    """Monotonic seconds since the limiter was made."""
    limit: int
    """The new limit."""
    reason: str
    """``rate_limited`` or ``recovered``."""


class AdaptiveLimiter:
    """A semaphore whose size follows AIMD between 1 and ``maximum``.

    Args:
        maximum: The largest (and initial) limit.
        minimum: The smallest limit.
    """

    def __init__(self, maximum: int, *, minimum: int = 1) -> None:
        if maximum < 1 or not 1 <= minimum <= maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self.maximum = maximum
        self.minimum = minimum
        self.limit = maximum
        """The current limit."""
        self.in_flight = 0
        """Slots held now."""
        self.peak_in_flight = 0
        """Most slots ever held at once."""
        self.history: list[LimitChange] = []
        """Every change of the limit, in order."""
        self._cond = asyncio.Condition()
        self._successes = 0
        self._since_decrease = 0  # completions since the last decrease
        self._t0 = time.monotonic()

    async def acquire(self) -> None:
        """Wait for a free slot under the current limit."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    async def release(self, *, rate_limited: bool = False) -> None:
        """Free a slot and adapt: halve on a 429, grow back after a window of successes.

        Args:
            rate_limited: The finished work saw a 429 (even if a retry then succeeded).
        """
        async with self._cond:
            self.in_flight -= 1
            self._since_decrease += 1
            if rate_limited:
                self._decrease()
            else:
                self._successes += 1
                if self._successes >= self.limit and self.limit < self.maximum:
                    self._successes = 0
                    self.limit += 1
                    self._note("recovered")
            self._cond.notify_all()

    def note_rate_limited(self) -> None:
        """Signal a 429 as it happens, before the work finishes (call it on the loop).

        Lowering the limit needs no wake-up: nobody waits for a slot to shrink.
        """
        self._decrease()

    def _decrease(self) -> None:
        # One decrease per window: requests already in flight when the first 429 came
        # would otherwise halve the limit again for the same overload.
        recent = bool(self.history) and self.history[-1].reason == "rate_limited"
        if recent and self._since_decrease < self.limit:
            self._successes = 0
            return
        new = max(self.minimum, self.limit // 2)
        self._successes = 0
        self._since_decrease = 0
        if new != self.limit:
            self.limit = new
            self._note("rate_limited")

    def _note(self, reason: str) -> None:
        self.history.append(LimitChange(time.monotonic() - self._t0, self.limit, reason))
