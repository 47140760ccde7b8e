"""The one way sync code runs a coroutine: ``run_sync``.

Public APIs are async inside with thin sync wrappers outside. The wrappers must also
work where an event loop is already running (a Jupyter cell), where ``asyncio.run``
refuses. Every wrapper runs its coroutine on one long-lived event loop in a daemon
thread, in a copy of the caller's context (so context variables such as an active
cassette apply). One loop for every sync call keeps per-loop state warm (litellm's
logging worker and HTTP clients, the runtime's checkpoint connection).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _serve_forever(loop: asyncio.AbstractEventLoop) -> None:
    # asyncio re-raises a SystemExit or KeyboardInterrupt of any task out of run_forever
    # (after handing it to the task's awaiters): keep serving, or every later call would
    # wait forever on a loop whose thread is gone.
    while True:
        try:
            loop.run_forever()
        except (SystemExit, KeyboardInterrupt):
            continue
        return


def _worker_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=_serve_forever, args=(loop,), name="workbench-sync", daemon=True
            )
            thread.start()
            _loop = loop
        return _loop


class _Escaped(Exception):
    """A ``SystemExit`` or ``KeyboardInterrupt`` raised inside the worker loop's task."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.exc = exc


async def _contained(coro: Coroutine[Any, Any, T]) -> T:
    # A BaseException escaping a task stops the loop's thread for good (asyncio does not
    # catch it), and every caller then waits forever; e.g. rich raises SystemExit when
    # stdout is a closed pipe (`workbench run ... | head -1`). Carry it to the caller.
    try:
        return await coro
    except (SystemExit, KeyboardInterrupt) as exc:
        raise _Escaped(exc) from None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, from any thread or loop.

    A ``SystemExit`` or ``KeyboardInterrupt`` raised by the coroutine is raised here, in
    the caller's thread; the worker loop goes on serving other calls.
    """
    loop = _worker_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        # Called from code already running on the worker loop: waiting on it would deadlock.
        context = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-sync") as pool:
            return pool.submit(context.run, asyncio.run, coro).result()
    # run_coroutine_threadsafe copies this thread's context into the task it starts.
    future = asyncio.run_coroutine_threadsafe(_contained(coro), loop)
    try:
        return future.result()
    except _Escaped as escaped:
        raise escaped.exc from None
    except BaseException:
        future.cancel()  # e.g. KeyboardInterrupt in a notebook: do not leave the work running
        raise
