"""Group commit of a tracer: one flush at a time, shared by every waiter meanwhile."""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["Flushable", "GroupCommit"]


class Flushable(Protocol):
    """What :class:`GroupCommit` needs: a blocking ``flush``, as a tracer has."""

    def flush(self, timeout_s: float = ...) -> bool:
        """Block until everything enqueued before the call is exported."""


class GroupCommit:
    """Flushes a tracer for many waiters at once (group commit).

    ``await commit()`` returns once a flush that started after the call has sealed
    everything recorded before it; callers arriving during a flush share the next one.
    So many coroutines finishing together cost one flush, not one blocked thread each
    (the default executor has few threads, and litellm needs them); a tracer's
    ``aflush`` waits on the event loop without taking a thread at all.
    State belongs to the running event loop; a call from another loop starts afresh.
    """

    def __init__(self, tracer: Flushable) -> None:
        self._tracer = tracer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def commit(self) -> None:
        """Wait until every row recorded before this call is sealed on disk."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._next, self._task = loop, None, None
        if self._next is None:
            self._next = loop.create_future()
        waiter = self._next
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        await asyncio.shield(waiter)

    async def _run(self) -> None:
        while self._next is not None:
            waiter, self._next = self._next, None
            # A tracer's own async flush waits on the loop; any other flushable blocks a
            # worker thread.
            aflush = getattr(self._tracer, "aflush", None)
            try:
                if aflush is not None:
                    await aflush()
                else:
                    await asyncio.to_thread(self._tracer.flush)
            except BaseException as exc:  # pragma: no cover - flush does not raise
                if not waiter.done():
                    waiter.set_exception(exc)
                raise
            if not waiter.done():
                waiter.set_result(None)
