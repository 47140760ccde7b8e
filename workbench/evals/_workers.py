"""Local worker processes of the eval runner (``workers: N``): one runner, N cores.

The runner's process keeps everything it decides (units, resume, the adaptive
concurrency limit, epochs, the forecast and cost cap, progress, the run's rows, the
gate) and hands each unit to one of N child processes. A child runs it exactly as the
runner does in its own process (:class:`~workbench.evals._executor.UnitExecutor`:
``arun_sample`` on its own runtime, inside the suite's sample context), records and
seals the unit's ``eval_samples`` row in the spool (each process writes its own
segments), and sends back what the runner counts: status, USD and whether a 429 came
(a :class:`~workbench.queue.QueuedSample`).

- Processes are started with the ``spawn`` context (never a fork of a process that has
  threads and an event loop), import litellm once, and stay warm for later runs of the
  same process (a notebook's second run starts at once); :func:`shutdown_workers`
  stops them, and they end with the process.
- Each unit goes to the child with the fewest units in flight; the runner's limit is
  the window shared by all children.
- A child that dies (SIGKILL, a crash) fails its units in flight with
  :class:`~workbench.errors.EvalWorkerLost`; the runner then looks the unit up in the
  trace store (its row is either sealed there or was never written: a spool segment is
  sealed by a rename) and runs it again only when it is not, so every unit is recorded
  exactly once.
- Messages are tuples over a ``multiprocessing`` pipe; a reader thread per child turns
  replies into results of futures on the caller's event loop, so the pool works from
  any loop (the CLI's, a notebook's ``run_sync`` loop, a test's).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from workbench.errors import EvalError, EvalWorkerLost, WorkbenchError
from workbench.evals._executor import Unit, UnitExecutor, make_judge
from workbench.evals._suite import Suite
from workbench.evals.scorers import check_scorer_specs
from workbench.runtime import AgentSpec
from workbench.settings import Settings
from workbench.tracing import TraceStore, tracer_for

if TYPE_CHECKING:
    from workbench.queue import QueuedSample

__all__ = [
    "RunContext",
    "WorkerPool",
    "get_pool",
    "resolve_workers",
    "shutdown_workers",
]

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 180.0
"""How long a new child may take to import (litellm alone takes seconds)."""
_CLOSE_TIMEOUT_S = 30.0
_MAX_START_FAILURES = 3
_ENV_PREFIXES = ("WORKBENCH_", "LITELLM_")


def resolve_workers(value: int | str | None, default: int = 1) -> int:
    """The number of worker processes: ``auto`` is ``os.cpu_count()``, ``None`` the default.

    Raises:
        EvalError: Not a positive integer or ``auto``.
    """
    if value is None:
        return default
    if isinstance(value, str):
        if value == "auto":
            return max(1, os.cpu_count() or 1)
        try:
            value = int(value)
        except ValueError:
            message = f"workers must be a positive integer or 'auto', not {value!r}"
            raise EvalError(message) from None
    if isinstance(value, bool) or value < 1:
        raise EvalError(f"workers must be a positive integer or 'auto', not {value!r}")
    return value


@dataclass(frozen=True)
class RunContext:
    """What a child needs to run units of one run (sent once per run and child)."""

    token: str
    """Unique per runner invocation (a resumed run gets a new one)."""
    run_id: str
    settings: Settings
    suite: Suite
    specs: dict[str, AgentSpec]
    durable: bool
    env: dict[str, str] = field(default_factory=dict)
    """``WORKBENCH_*`` and ``LITELLM_*`` variables of the runner (a warm child started
    earlier gets the current ones)."""
    sys_path: list[str] = field(default_factory=list)
    """The runner's ``sys.path`` (modules agent specs import)."""

    @classmethod
    def of(
        cls,
        *,
        run_id: str,
        settings: Settings,
        suite: Suite,
        specs: dict[str, AgentSpec],
        durable: bool,
    ) -> RunContext:
        """A context with a fresh token and the current environment."""
        return cls(
            token=f"{run_id}:{os.getpid()}:{time.monotonic_ns()}",
            run_id=run_id,
            settings=settings,
            suite=suite,
            specs=specs,
            durable=durable,
            env={k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)},
            sys_path=list(sys.path),
        )


# ----------------------------------------------------------------------------------
# The child's side.


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an :class:`EvalError` naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        if isinstance(exc, WorkbenchError):
            return EvalError(f"[{exc.code}] {exc.message}")
        return EvalError(f"{type(exc).__name__}: {exc}")


class _Child:
    """A child process's state: the runs it serves and the units in flight."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.send_lock = threading.Lock()
        self.runs: dict[str, UnitExecutor | BaseException] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.conn.send(message)

    def open(self, ctx: RunContext) -> None:
        for key in [k for k in os.environ if k.startswith(_ENV_PREFIXES)]:
            if key not in ctx.env:
                del os.environ[key]
        os.environ.update(ctx.env)
        for entry in reversed(ctx.sys_path):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        try:
            suite = ctx.suite
            source = str(suite.source or suite.name)
            self.runs[ctx.token] = UnitExecutor(
                suite,
                run_id=ctx.run_id,
                settings=ctx.settings,
                tracer=tracer_for(ctx.settings.spool_dir),
                store=TraceStore(ctx.settings.trace_store_path, spool_dir=ctx.settings.spool_dir),
                durable=ctx.durable,
                specs=ctx.specs,
                scorers=check_scorer_specs(suite.scorers, source=source),
                judge=make_judge(suite),
                runtime_factory=suite.make_runtime,
                on_sample=suite.sample_context,
            )
        except Exception as exc:  # every unit of the run reports it
            self.runs[ctx.token] = _portable(exc)

    async def run_unit(self, token: str, uid: int, unit: Unit) -> None:
        try:
            executor = self.runs.get(token)
            if executor is None:
                raise EvalError(f"worker process {os.getpid()} has no run {token}")
            if isinstance(executor, BaseException):
                raise executor
            result = await executor.run(unit, on_rate_limited=lambda: self.send(("429", uid)))
            self.send(("done", uid, result.row["status"], result.spent_usd, result.rate_limited))
        except asyncio.CancelledError:
            raise  # the runner stopped waiting for it
        except BaseException as exc:
            self.send(("failed", uid, _portable(exc)))
        finally:
            self.tasks.pop(uid, None)

    def close(self, token: str) -> None:
        executor = self.runs.pop(token, None)
        if isinstance(executor, UnitExecutor):
            executor.close()
            executor.tracer.flush()
        self.send(("closed", token))

    def handle(self, message: tuple[Any, ...]) -> bool:
        """Act on one message; False on ``stop``."""
        kind = message[0]
        if kind == "unit":
            _, token, uid, version, sample, epoch = message
            task = asyncio.get_running_loop().create_task(
                self.run_unit(token, uid, Unit(version, sample, epoch))
            )
            self.tasks[uid] = task
        elif kind == "cancel":
            running = self.tasks.get(message[1])
            if running is not None:
                running.cancel()
        elif kind == "open":
            self.open(message[1])
        elif kind == "close":
            self.close(message[1])
        elif kind == "stop":
            return False
        return True

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            try:
                while self.conn.poll():
                    if not self.handle(self.conn.recv()):
                        break
                else:
                    return
            except (EOFError, OSError):
                pass  # the runner's process is gone
            if not stopped.done():
                stopped.set_result(None)

        loop.add_reader(self.conn.fileno(), readable)
        try:
            await stopped
        finally:
            loop.remove_reader(self.conn.fileno())
            for task in list(self.tasks.values()):
                task.cancel()
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
            for executor in self.runs.values():
                if isinstance(executor, UnitExecutor):
                    executor.close()
                    executor.tracer.flush()


def child_main(conn: Connection) -> None:
    """Entry point of a worker process (spawned; not for direct use)."""
    # Ctrl-C in a terminal reaches the whole process group: the runner decides what
    # stops (it cancels the units), so the children ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        importlib.import_module("litellm")  # seconds: before the first unit, not during
    except BaseException as exc:
        conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    asyncio.run(_Child(conn).serve())


# ----------------------------------------------------------------------------------
# The runner's side.


@dataclass
class _Waiter:
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    on_rate_limited: Callable[[], None] | None = None


def _resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class _Proc:
    """The runner's handle on one child process."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe(duplex=True)
        self.pool = pool
        self.index = index
        self.conn = ours
        self.process = ctx.Process(
            target=child_main, args=(theirs,), name=f"workbench-eval-{index}", daemon=True
        )
        self.process.start()
        theirs.close()
        self.pid = self.process.pid
        self.ready = False
        self.alive = True
        self.fatal: str | None = None
        self.opened: set[str] = set()
        self.units: dict[int, _Waiter] = {}
        self.closing: dict[str, _Waiter] = {}
        self.send_lock = threading.Lock()
        self.reader = threading.Thread(
            target=self._read, name=f"workbench-eval-reader-{index}", daemon=True
        )
        self.reader.start()

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.conn.send(message)

    def _read(self) -> None:
        pool = self.pool
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # an unpicklable reply: the child is broken
                log.exception("eval worker %s sent an unreadable message", self.pid)
                break
            kind = message[0]
            if kind == "done":
                _, uid, status, spent, rate_limited = message
                with pool.lock:
                    waiter = self.units.pop(uid, None)
                if waiter is not None:
                    waiter.loop.call_soon_threadsafe(
                        _resolve, waiter.future, (status, spent, rate_limited), None
                    )
            elif kind == "failed":
                with pool.lock:
                    waiter = self.units.pop(message[1], None)
                if waiter is not None:
                    waiter.loop.call_soon_threadsafe(_resolve, waiter.future, None, message[2])
            elif kind == "429":
                with pool.lock:
                    waiter = self.units.get(message[1])
                if waiter is not None and waiter.on_rate_limited is not None:
                    waiter.loop.call_soon_threadsafe(waiter.on_rate_limited)
            elif kind == "closed":
                with pool.lock:
                    waiter = self.closing.pop(message[1], None)
                if waiter is not None:
                    waiter.loop.call_soon_threadsafe(_resolve, waiter.future, None, None)
            elif kind == "ready":
                with pool.cond:
                    self.ready = True
                    pool.start_failures = 0
                    pool.cond.notify_all()
            elif kind == "fatal":
                self.fatal = str(message[1])
        self._died()

    def _died(self) -> None:
        pool = self.pool
        with pool.cond:
            self.alive = False
            pool.deaths += 1
            if not self.ready:
                pool.start_failures += 1
                pool.last_start_error = self.fatal or f"exit code {self.process.exitcode}"
            units, self.units = self.units, {}
            closing, self.closing = self.closing, {}
            pool.cond.notify_all()
        with contextlib.suppress(Exception):
            self.conn.close()
        self.process.join(5)
        lost = EvalWorkerLost(f"eval worker process {self.pid} died (exit {self.process.exitcode})")
        for waiter in units.values():
            waiter.loop.call_soon_threadsafe(_resolve, waiter.future, None, lost)
        for waiter in closing.values():
            waiter.loop.call_soon_threadsafe(_resolve, waiter.future, None, None)

    def stop(self, timeout_s: float) -> None:
        with contextlib.suppress(Exception):
            self.send(("stop",))
        self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class WorkerPool:
    """N warm worker processes that run units of eval runs.

    Thread-safe: runs on several event loops may share it. Use :func:`get_pool`.

    Args:
        size: Number of processes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.procs: list[_Proc] = []
        self.start_failures = 0
        self.last_start_error: str | None = None
        self._uids = itertools.count(1)
        self._closed = False
        self._spawned = 0
        self.deaths = 0
        """Processes that died so far (a runner re-reads the store after each)."""

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self.lock:
            return [p.pid for p in self.procs if p.alive and p.pid is not None]

    def _fill(self) -> None:
        """Replace dead processes so that ``size`` are alive or starting."""
        with self.lock:
            if self._closed:
                raise EvalError("the eval worker pool is shut down")
            if self.start_failures >= _MAX_START_FAILURES:
                raise EvalError(
                    f"eval worker processes fail to start ({self.start_failures} in a row):"
                    f" {self.last_start_error}; their error is on stderr. A script that runs"
                    " a suite with workers > 1 must do it under `if __name__ == '__main__':`"
                    " (worker processes are spawned and import the main module)"
                )
            self.procs = [p for p in self.procs if p.alive]
            missing = self.size - len(self.procs)
        for _ in range(missing):
            proc = _Proc(self, self._spawned)
            with self.lock:
                self._spawned += 1
                self.procs.append(proc)

    def _pick_now(self) -> _Proc | None:
        ready = [p for p in self.procs if p.alive and p.ready]
        return min(ready, key=lambda p: len(p.units)) if ready else None

    def _wait_ready(self, timeout_s: float) -> _Proc | None:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                chosen = self._pick_now()
                if chosen is not None or self.start_failures >= _MAX_START_FAILURES:
                    return chosen
                if not any(p.alive for p in self.procs):
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))

    def _wait_all_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while any(p.alive and not p.ready for p in self.procs):
                left = deadline - time.monotonic()
                if left <= 0 or self.start_failures >= _MAX_START_FAILURES:
                    return
                self.cond.wait(min(left, 1.0))

    async def astart(self) -> None:
        """Start the processes (those not running) and wait until they are ready, so the
        first window of units spreads over all of them.

        Raises:
            EvalError: The processes fail to start.
        """
        with self.lock:
            fresh = not any(p.alive and p.ready for p in self.procs)
        await asyncio.to_thread(self._fill)
        if fresh:  # a replacement for a dead process joins when ready, not waited for
            await asyncio.to_thread(self._wait_all_ready, _START_TIMEOUT_S)
        await self._pick()

    async def _pick(self) -> _Proc:
        with self.lock:
            chosen = self._pick_now()
            full = sum(p.alive for p in self.procs) == self.size
        if chosen is not None and full:
            return chosen
        for _ in range(_MAX_START_FAILURES + 1):
            await asyncio.to_thread(self._fill)
            chosen = await asyncio.to_thread(self._wait_ready, _START_TIMEOUT_S)
            if chosen is not None:
                return chosen
        raise EvalError(
            f"no eval worker process became ready in {_START_TIMEOUT_S:.0f}s"
            + (f": {self.last_start_error}" if self.last_start_error else "")
        )

    async def arun(
        self,
        ctx: RunContext,
        unit: Unit,
        *,
        on_rate_limited: Callable[[], None] | None = None,
    ) -> QueuedSample:
        """Run one unit on the least busy process and return what the runner counts.

        Raises:
            EvalWorkerLost: The process died with the unit in flight.
            WorkbenchError: The unit failed as a run would (re-raised from the child).
        """
        from workbench.queue import QueuedSample

        proc = await self._pick()
        loop = asyncio.get_running_loop()
        uid = next(self._uids)
        future: asyncio.Future[Any] = loop.create_future()
        with self.lock:
            if not proc.alive:
                raise EvalWorkerLost(f"eval worker process {proc.pid} died")
            proc.units[uid] = _Waiter(future, loop, on_rate_limited)
            first = ctx.token not in proc.opened
            proc.opened.add(ctx.token)
        try:
            if first:
                proc.send(("open", ctx))
            proc.send(("unit", ctx.token, uid, unit.version, unit.sample, unit.epoch))
        except (OSError, ValueError) as exc:
            with self.lock:
                proc.units.pop(uid, None)
            raise EvalWorkerLost(f"eval worker process {proc.pid} is gone: {exc}") from exc
        try:
            status, spent, rate_limited = await future
        except asyncio.CancelledError:
            with self.lock:
                live = proc.units.pop(uid, None) is not None
            if live:
                with contextlib.suppress(OSError, ValueError):
                    proc.send(("cancel", uid))
            raise
        return QueuedSample(status=status, spent_usd=spent, rate_limited=rate_limited)

    async def aclose_run(self, ctx: RunContext) -> None:
        """Free what the processes hold for a run (its runtimes) and flush their spools."""
        loop = asyncio.get_running_loop()
        futures = []
        with self.lock:
            procs = [p for p in self.procs if p.alive and ctx.token in p.opened]
            for proc in procs:
                proc.opened.discard(ctx.token)
                future: asyncio.Future[Any] = loop.create_future()
                proc.closing[ctx.token] = _Waiter(future, loop)
                futures.append(future)
        for proc in procs:
            with contextlib.suppress(OSError, ValueError):
                proc.send(("close", ctx.token))
        if futures:
            await asyncio.wait(futures, timeout=_CLOSE_TIMEOUT_S)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop every process (units in flight are abandoned: a resumed run does them)."""
        with self.lock:
            self._closed = True
            procs, self.procs = self.procs, []
        for proc in procs:
            proc.stop(timeout_s)


_pools: dict[int, WorkerPool] = {}
_pools_lock = threading.Lock()


def get_pool(size: int) -> WorkerPool:
    """The process's warm pool of ``size`` workers (made on first use, kept for later runs)."""
    with _pools_lock:
        pool = _pools.get(size)
        if pool is None or pool._closed:
            pool = _pools[size] = WorkerPool(size)
        return pool


def shutdown_workers() -> None:
    """Stop every eval worker process of this process (they also end when it exits)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown()


atexit.register(shutdown_workers)
