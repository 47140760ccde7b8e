"""``workbench serve --workers N``: N uvicorn processes behind one listening socket.

The supervisor (the ``workbench serve`` process) binds the port once and starts N
worker processes that inherit the socket and accept on it, as gunicorn's workers do;
the kernel hands each new connection to one of them. Each worker builds its own app
(runtime, gateway, tracer, live shadow queue) with a :class:`~workbench.server.Cluster`
naming its place, and also listens on a private unix socket ``<run_dir>/w<i>.sock``
through which the others forward the requests about executions it owns.

What the workers share is on disk or in Redis, never in one process's memory: the
journal and checkpoints (SQLite in the home, or PostgreSQL), the budget ledger (SQLite,
atomic across processes), API keys, the trace store's spool, the rate limits (Redis:
``rate_limit_url`` is required, as each worker's in-process limiter would grant the
full rate), and the Prometheus metrics (files in ``<run_dir>/metrics``).

A worker that dies is started again (its in-memory executions are gone with it: their
``GET`` answers 404 until they are resumed, as after a restart); a worker that dies
within its first seconds stops the server, as that is a start-up failure.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from workbench.errors import ConfigError, ServiceError
from workbench.server._cluster import Cluster
from workbench.server._config import ServeConfig
from workbench.server._metrics import METRICS_DIR
from workbench.server._run import _config, _registered
from workbench.settings import Settings, get_settings

__all__ = ["CONFIG_FILE", "serve_workers", "worker_main"]

log = logging.getLogger(__name__)

CONFIG_FILE = "serve.json"
"""The server config the supervisor hands its workers, in the run dir."""
_FAST_FAIL_S = 5.0
"""A worker that exits sooner than this after its start failed to start: stop the server."""
_ENTRY = "from workbench.server._workers import worker_main; worker_main()"


def serve_workers(
    config: ServeConfig,
    *,
    workers: int,
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: Settings | None = None,
    log_level: str = "info",
    run_dir: Path | None = None,
) -> None:
    """Serve ``config`` with ``workers`` processes until SIGINT/SIGTERM.

    Args:
        config: What to serve; ``rate_limit_url`` must be set when ``workers > 1``.
        workers: Worker processes (at least 1).
        host: Interface to bind.
        port: Port to listen on.
        settings: The workbench home the workers use; from the environment if omitted.
        log_level: uvicorn's log level in the workers.
        run_dir: Folder of the workers' private sockets and metric files; a new
            temporary folder (removed on exit) if omitted.

    Raises:
        ConfigError: ``workers > 1`` without ``rate_limit_url``, or a spec does not load.
        ServiceError: The port cannot be bound, or a worker failed to start.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    if workers > 1 and not config.rate_limit_url:
        raise ConfigError(
            f"--workers {workers} needs a shared rate limiter: each worker's in-process one "
            f"would grant every API key {workers} times its rate. Set rate_limit_url in "
            "serve.yaml or --rate-limit-url (a Redis URL: `workbench services up redis`)"
        )
    config.load()  # a spec that does not load fails here, once, not in every worker
    settings = settings or get_settings()
    listener = _listen(host, port)
    created = run_dir is None
    folder = Path(tempfile.mkdtemp(prefix="wb-serve-")) if run_dir is None else run_dir
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # the private sockets answer without any network in between
    metrics_dir = folder / METRICS_DIR
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    (folder / CONFIG_FILE).write_text(config.model_dump_json(), encoding="utf-8")
    env = {
        **os.environ,
        "WORKBENCH_HOME": str(settings.home),
        # Read by prometheus_client when the worker imports it: metric values go to files.
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    if settings.database_url:
        env["WORKBENCH_DATABASE_URL"] = settings.database_url

    def spawn(index: int) -> tuple[subprocess.Popen[bytes], float]:
        command = [
            sys.executable,
            "-c",
            _ENTRY,
            f"--index={index}",
            f"--count={workers}",
            f"--fd={listener.fileno()}",
            f"--run-dir={folder}",
            f"--host={host}",
            f"--port={port}",
            f"--log-level={log_level}",
        ]
        process = subprocess.Popen(command, env=env, pass_fds=(listener.fileno(),))
        return process, time.monotonic()

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
    failure: str | None = None
    try:
        with _registered(host, port, settings):
            procs = {index: spawn(index) for index in range(workers)}
            while failure is None and not stop.wait(0.2):
                failure = _restart_dead(procs, spawn, metrics_dir)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _terminate([process for process, _ in procs.values()])
        listener.close()
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            for path in [folder / CONFIG_FILE, *folder.glob("w*.sock")]:
                path.unlink(missing_ok=True)
    if failure is not None:
        raise ServiceError(failure)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServiceError(f"cannot listen on {host}:{port}: {exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _restart_dead(
    procs: dict[int, tuple[subprocess.Popen[bytes], float]],
    spawn: Callable[[int], tuple[subprocess.Popen[bytes], float]],
    metrics_dir: Path,
) -> str | None:
    from prometheus_client.multiprocess import mark_process_dead

    for index, (process, started) in list(procs.items()):
        code = process.poll()
        if code is None:
            continue
        # Its live gauges stop counting (prometheus_client leaves this function untyped).
        mark_process_dead(process.pid, str(metrics_dir))  # type: ignore[no-untyped-call]
        if time.monotonic() - started < _FAST_FAIL_S:
            return f"worker {index} exited with {code} while starting (see its log above)"
        log.warning(
            "worker %d (pid %d) exited with %s: starting it again", index, process.pid, code
        )
        procs[index] = spawn(index)
    return None


def _terminate(processes: list[subprocess.Popen[bytes]], timeout_s: float = 30.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_main(argv: list[str] | None = None) -> None:
    """One worker process (started by :func:`serve_workers`, never by hand)."""
    parser = argparse.ArgumentParser(prog="workbench-serve-worker")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    import uvicorn

    from workbench.server._app import create_app
    from workbench.tracing import set_tracer

    cluster = Cluster(index=args.index, count=args.count, run_dir=args.run_dir)
    config = ServeConfig.model_validate_json(
        (args.run_dir / CONFIG_FILE).read_text(encoding="utf-8")
    )
    app = create_app(config, cluster=cluster)
    set_tracer(app.state.server.tracer)  # one tracer (and its metrics) for the process
    listener = socket.socket(fileno=args.fd)
    private = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = cluster.socket_path(args.index)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    private.bind(str(path))
    private.listen(2048)
    server = uvicorn.Server(
        _config(app, args.host, args.port, log_level=args.log_level, access_log=True)
    )
    server.run(sockets=[listener, private])
