"""Run the app on uvicorn: in the foreground (`workbench serve`) or on a thread (tests).

A running server registers itself as a Prometheus scrape target by writing
``<services_dir>/prometheus-targets/serve-<port>.json`` (file-based service discovery,
which ``workbench services up prometheus`` watches), and removes the file on exit.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from workbench.errors import ServiceError
from workbench.settings import Settings, get_settings

__all__ = ["TARGETS_DIR", "ServerHandle", "run_server", "scrape_targets_dir"]

TARGETS_DIR = "prometheus-targets"
"""Folder of ``<services_dir>`` holding file-discovery targets for Prometheus."""


def scrape_targets_dir(settings: Settings | None = None) -> Path:
    """Where servers register themselves for ``workbench services up prometheus``."""
    return (settings or get_settings()).services_dir / TARGETS_DIR


@contextlib.contextmanager
def _registered(host: str, port: int, settings: Settings | None) -> Iterator[None]:
    folder = scrape_targets_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"serve-{port}.json"
    entry = [
        {"targets": [f"{host}:{port}"], "labels": {"job": "workbench", "instance_port": str(port)}}
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry), encoding="utf-8")
    tmp.replace(path)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _config(app: FastAPI, host: str, port: int, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=options.pop("log_level", "warning"),
        access_log=options.pop("access_log", False),
        lifespan="on",
        **options,
    )


def run_server(
    app: FastAPI,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: Settings | None = None,
    log_level: str = "info",
) -> None:
    """Serve ``app`` in the foreground until SIGINT/SIGTERM (``workbench serve``)."""
    server = uvicorn.Server(_config(app, host, port, log_level=log_level, access_log=True))
    with _registered(host, port, settings):
        server.run()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerHandle:
    """A real uvicorn server on a free loopback port, on a background thread.

    Example:
        >>> with ServerHandle(app) as server:  # doctest: +SKIP
        ...     httpx.get(server.url + "/healthz")
    """

    def __init__(
        self, app: FastAPI, *, port: int | None = None, settings: Settings | None = None
    ) -> None:
        self.app = app
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        self._settings = settings
        self._server = uvicorn.Server(_config(app, "127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self._registration: contextlib.ExitStack | None = None

    def start(self, timeout_s: float = 20.0) -> ServerHandle:
        """Start serving and wait until uvicorn has bound the port.

        Raises:
            ServiceError: It did not start within ``timeout_s``.
        """
        self._registration = contextlib.ExitStack()
        self._registration.enter_context(_registered("127.0.0.1", self.port, self._settings))
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 20.0) -> None:
        """Shut down gracefully (the app's lifespan closes the runtime) and join."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._registration is not None:
            self._registration.close()
            self._registration = None

    def __enter__(self) -> ServerHandle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
