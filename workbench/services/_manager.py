"""Start, stop and find real servers; one JSON state file per running service.

Async inside; the sync functions are thin wrappers that also work where an event
loop already runs (a notebook cell), by running the coroutine on a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shlex
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from workbench._util import run_sync
from workbench.errors import ServiceError
from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._process import (
    free_port,
    is_alive,
    port_is_free,
    proc_start_ticks,
    read_tail,
    signal_group,
    spawn,
)
from workbench.services._registry import get_service_definition
from workbench.settings import Settings, get_settings

__all__ = [
    "aservice_status",
    "astart_service",
    "astop_service",
    "service_status",
    "start_service",
    "stop_service",
]

_T = TypeVar("_T")
_POLL_S = 0.2
_PROC_KEY = "proc_start_ticks"


async def astart_service(
    name: str, *, settings: Settings | None = None, port: int | None = None
) -> ServiceInfo:
    """Start the service ``name`` unless it already runs, and wait until it is ready.

    Idempotent: when the service runs and answers, its record is returned as is. A
    new server gets a free loopback port (or ``port``), runs detached in its own
    session with output to ``<services_dir>/<name>.log`` (the previous log is kept
    as ``<name>.log.1``), and is recorded in ``<services_dir>/<name>.json`` only once
    it is ready. Concurrent starts of one service, from any process, are serialised
    by a lock file.

    Args:
        name: A registered service name (see :func:`list_services`).
        settings: Where state lives; :func:`~workbench.settings.get_settings` if None.
        port: Loopback port to use instead of a free one.

    Returns:
        The running service.

    Raises:
        ServiceError: Unknown name, not installed, the port is taken, the server
            exited or was not ready within ``startup_timeout_s`` (the message ends
            with the tail of its log; the process is killed), or it runs but does not
            answer.
    """
    defn = get_service_definition(name)
    services_dir = (settings or get_settings()).services_dir
    services_dir.mkdir(parents=True, exist_ok=True)
    async with _locked(services_dir / f"{name}.lock", timeout_s=defn.startup_timeout_s + 30):
        loaded = _load_running(services_dir, name)
        if loaded is not None:
            running, ticks = loaded
            if port is not None and port != running.port:
                raise ServiceError(
                    f"service {name!r} already runs on port {running.port}; "
                    f"stop it first to move it to port {port}"
                )
            # A busy server may answer its health probe late: wait, never kill it.
            if await _wait_ready(defn, running, ticks, timeout_s=defn.startup_timeout_s):
                return running
            raise ServiceError(
                f"service {name!r} runs (pid {running.pid}) but does not answer at "
                f"{running.url}; stop it with `workbench services down {name}`"
            )
        return await _launch(defn, services_dir, port)


async def astop_service(name: str, *, settings: Settings | None = None) -> bool:
    """Stop the service ``name``: SIGTERM to its process group, SIGKILL after a grace.

    Returns:
        True when a running server was stopped, False when none was running.

    Raises:
        ServiceError: Unknown name, or the process survived SIGKILL.
    """
    defn = get_service_definition(name)
    services_dir = (settings or get_settings()).services_dir
    if not services_dir.exists():
        return False
    async with _locked(services_dir / f"{name}.lock", timeout_s=defn.startup_timeout_s + 30):
        loaded = _load_running(services_dir, name)
        if loaded is None:
            return False
        info, ticks = loaded
        await _terminate(info.pid, ticks, grace_s=defn.stop_grace_s)
        _state_path(services_dir, name).unlink(missing_ok=True)
        return True


async def aservice_status(name: str, *, settings: Settings | None = None) -> ServiceInfo | None:
    """The running service ``name``, or None; a state file of a dead process is removed.

    Raises:
        ServiceError: Unknown name.
    """
    get_service_definition(name)
    loaded = _load_running((settings or get_settings()).services_dir, name)
    return None if loaded is None else loaded[0]


def start_service(
    name: str, *, settings: Settings | None = None, port: int | None = None
) -> ServiceInfo:
    """Sync wrapper of :func:`astart_service`."""
    return run_sync(astart_service(name, settings=settings, port=port))


def stop_service(name: str, *, settings: Settings | None = None) -> bool:
    """Sync wrapper of :func:`astop_service`."""
    return run_sync(astop_service(name, settings=settings))


def service_status(name: str, *, settings: Settings | None = None) -> ServiceInfo | None:
    """Sync wrapper of :func:`aservice_status`."""
    return run_sync(aservice_status(name, settings=settings))


async def _launch(defn: ServiceDefinition, services_dir: Path, port: int | None) -> ServiceInfo:
    defn.check_installed()
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise ServiceError(f"cannot start {defn.name!r}: 127.0.0.1:{port} is in use")
    workdir = services_dir / defn.name
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = services_dir / f"{defn.name}.log"
    if log_path.exists():
        log_path.replace(log_path.with_name(f"{log_path.name}.1"))
    argv = defn.command(port=port, workdir=workdir)
    started_at = datetime.now(UTC)
    log_path.write_text(f"# {started_at.isoformat()} workbench starts: {shlex.join(argv)}\n")
    try:
        pid = spawn(
            argv,
            cwd=workdir,
            env={**os.environ, **defn.env(port=port, workdir=workdir)},
            log_path=log_path,
        )
    except OSError as exc:
        raise ServiceError(f"cannot start {defn.name!r}: {argv[0]}: {exc}") from exc
    ticks = proc_start_ticks(pid)
    info = ServiceInfo(
        name=defn.name,
        pid=pid,
        url=defn.url(port=port),
        port=port,
        started_at=started_at,
        log_path=str(log_path),
    )
    try:
        failure = await _await_startup(defn, info, ticks)
    except BaseException:
        # Cancelled or interrupted while waiting: leave no orphan behind.
        await _terminate(pid, ticks, grace_s=0.0)
        raise
    if failure is not None:
        await _terminate(pid, ticks, grace_s=0.0)
        tail = read_tail(log_path)
        raise ServiceError(f"service {defn.name!r} {failure}; last lines of {log_path}:\n{tail}")
    info = info.model_copy(update={"extra": defn.describe(info)})
    _write_state(services_dir, info, ticks)
    return info


async def _await_startup(
    defn: ServiceDefinition, info: ServiceInfo, ticks: int | None
) -> str | None:
    """None once ready, else why not (the process exited, or the timeout elapsed)."""
    deadline = time.monotonic() + defn.startup_timeout_s
    while True:
        if not is_alive(info.pid, ticks):
            return "exited before it was ready"
        if await defn.ready(info):
            return None
        if time.monotonic() >= deadline:
            return f"was not ready within {defn.startup_timeout_s:g} s"
        await asyncio.sleep(_POLL_S)


async def _wait_ready(
    defn: ServiceDefinition, info: ServiceInfo, ticks: int | None, *, timeout_s: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    while not await defn.ready(info):
        if time.monotonic() >= deadline or not is_alive(info.pid, ticks):
            return False
        await asyncio.sleep(_POLL_S)
    return True


async def _terminate(pid: int, ticks: int | None, *, grace_s: float) -> None:
    signal_group(pid, signal.SIGTERM)
    if await _wait_dead(pid, ticks, timeout_s=grace_s):
        return
    signal_group(pid, signal.SIGKILL)
    if not await _wait_dead(pid, ticks, timeout_s=10.0):
        raise ServiceError(f"process {pid} survived SIGKILL")


async def _wait_dead(pid: int, ticks: int | None, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while is_alive(pid, ticks):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _state_path(services_dir: Path, name: str) -> Path:
    return services_dir / f"{name}.json"


def _write_state(services_dir: Path, info: ServiceInfo, ticks: int | None) -> None:
    # Describe keys at top level for simple readers; ServiceInfo's own fields win.
    record = {**info.extra, **info.model_dump(mode="json"), _PROC_KEY: ticks}
    path = _state_path(services_dir, info.name)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)


def _load_running(services_dir: Path, name: str) -> tuple[ServiceInfo, int | None] | None:
    """The recorded service and its start ticks if its process still runs.

    A state file that cannot be read or names a dead (or recycled) pid is removed.
    """
    path = _state_path(services_dir, name)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        record = None
    info: ServiceInfo | None = None
    ticks: int | None = None
    if isinstance(record, dict):
        with contextlib.suppress(ValidationError):
            info = ServiceInfo.model_validate(record)
        raw_ticks = record.get(_PROC_KEY)
        ticks = raw_ticks if isinstance(raw_ticks, int) else None
    if info is None or not is_alive(info.pid, ticks):
        path.unlink(missing_ok=True)
        return None
    return info, ticks


@contextlib.asynccontextmanager
async def _locked(path: Path, *, timeout_s: float) -> AsyncIterator[None]:
    """An exclusive flock on ``path``, polled so the event loop is never blocked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ServiceError(f"timed out waiting for lock {path}") from None
                await asyncio.sleep(_POLL_S)
        yield
    finally:
        os.close(fd)
