"""A warm pool of started sandboxes, each used for exactly one call."""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable

from workbench.sandbox._process import RunnerProcess

__all__ = ["WarmPool"]

_log = logging.getLogger("workbench.sandbox")
_READY_TIMEOUT_S = 30.0
_POOLS: weakref.WeakSet[WarmPool] = weakref.WeakSet()


class WarmPool:
    """Keeps ``size`` runners started and waiting for a job.

    :meth:`take` hands one out (it is never given back: the caller discards it
    after its one call), and a daemon thread starts a replacement. Thread-safe.
    The thread starts on first use; :meth:`close` (also run at exit) kills the
    idle runners.
    """

    def __init__(self, start: Callable[[], RunnerProcess], size: int) -> None:
        """Create an empty pool.

        Args:
            start: Starts one runner (blocking for the fork only, not its start-up).
            size: Runners kept ready; 0 disables the pool.
        """
        if size < 0:
            raise ValueError("pool size must be >= 0")
        self._start = start
        self.size = size
        self._ready: deque[RunnerProcess] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._failures = 0
        _POOLS.add(self)

    def take(self) -> RunnerProcess | None:
        """A ready runner, or ``None`` when none is ready (the caller starts one cold)."""
        if self.size == 0:
            return None
        self._ensure_thread()
        with self._cond:
            while self._ready:
                proc = self._ready.popleft()
                self._cond.notify_all()
                if proc.alive():
                    return proc
                proc.discard()
            self._cond.notify_all()
        return None

    def fill(self, timeout_s: float = 30.0) -> bool:
        """Block until the pool holds ``size`` ready runners; ``False`` on timeout."""
        if self.size == 0:
            return True
        self._ensure_thread()
        with self._cond:
            return self._cond.wait_for(
                lambda: len(self._ready) >= self.size or self._closed, timeout=timeout_s
            )

    @property
    def ready_count(self) -> int:
        """Runners ready right now."""
        with self._cond:
            return len(self._ready)

    def close(self) -> None:
        """Stop refilling and discard every idle runner. Idempotent."""
        with self._cond:
            self._closed = True
            idle = list(self._ready)
            self._ready.clear()
            self._cond.notify_all()
        for proc in idle:
            proc.discard()

    def _ensure_thread(self) -> None:
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._refill, name="workbench-sandbox-pool", daemon=True
                )
                self._thread.start()

    def _refill(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or len(self._ready) < self.size)
                if self._closed:
                    return
            try:
                proc = self._start()
            except Exception:
                _log.exception("could not start a pooled sandbox")
                return
            if not proc.wait_ready(_READY_TIMEOUT_S):
                # A sandbox that cannot start must not spin: calls start cold and
                # report the reason themselves. Not worth a warning when the pool was
                # closed meanwhile or the interpreter is exiting (its files are gone).
                with self._cond:
                    closing = self._closed or not threading.main_thread().is_alive()
                if not closing:
                    _log.warning("a pooled sandbox did not start; the pool stops refilling")
                proc.discard()
                return
            with self._cond:
                if self._closed:
                    closed = True
                else:
                    closed = False
                    self._ready.append(proc)
                    self._cond.notify_all()
            if closed:
                proc.discard()
                return


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        with contextlib.suppress(Exception):
            pool.close()
