"""Test-only service definitions: small real processes that start in milliseconds."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from workbench.services import (
    ServiceDefinition,
    ServiceInfo,
    _registry,
    register_service,
    stop_service,
)
from workbench.settings import Settings, get_settings


class HttpService(ServiceDefinition):
    """``python -m http.server`` on loopback; ready once ``GET /`` answers 200."""

    name: ClassVar[str] = "test-http"
    startup_timeout_s: ClassVar[float] = 15.0
    stop_grace_s: ClassVar[float] = 5.0

    def command(self, *, port: int, workdir: Path) -> list[str]:
        return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]

    async def ready(self, info: ServiceInfo) -> bool:
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                return (await client.get(info.url)).status_code == 200
        except httpx.HTTPError:
            return False

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        return {"base_url": f"{info.url}/", "kind": "http"}


class CrashingService(ServiceDefinition):
    """Exits at once with a message: start-up must fail with the log tail."""

    name: ClassVar[str] = "test-crash"
    startup_timeout_s: ClassVar[float] = 10.0

    def command(self, *, port: int, workdir: Path) -> list[str]:
        code = "import sys; print('fatal: cannot open the data directory'); sys.exit(3)"
        return [sys.executable, "-c", code]

    async def ready(self, info: ServiceInfo) -> bool:
        return False


class SilentService(ServiceDefinition):
    """Runs but never becomes ready; writes its pid so a test can check it was killed."""

    name: ClassVar[str] = "test-silent"
    startup_timeout_s: ClassVar[float] = 1.0

    def command(self, *, port: int, workdir: Path) -> list[str]:
        code = "import os, time; open('pid', 'w').write(str(os.getpid())); time.sleep(120)"
        return [sys.executable, "-c", code]

    async def ready(self, info: ServiceInfo) -> bool:
        return False


class StubbornService(ServiceDefinition):
    """Ignores SIGTERM; ready once it has logged READY. Stop must fall back to SIGKILL."""

    name: ClassVar[str] = "test-stubborn"
    startup_timeout_s: ClassVar[float] = 10.0
    stop_grace_s: ClassVar[float] = 0.5

    def command(self, *, port: int, workdir: Path) -> list[str]:
        code = (
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('READY', flush=True); time.sleep(120)"
        )
        return [sys.executable, "-c", code]

    async def ready(self, info: ServiceInfo) -> bool:
        return "READY" in await asyncio.to_thread(Path(info.log_path).read_text)


_TEST_SERVICES = (HttpService, CrashingService, SilentService, StubbornService)


@pytest.fixture(autouse=True)
def test_services(workbench_home: Path) -> Iterator[None]:
    """Register the test-only services for one test; stop them and restore the registry."""
    saved = dict(_registry._REGISTRY)
    for defn in _TEST_SERVICES:
        register_service(defn)
    yield
    for defn in _TEST_SERVICES:
        stop_service(defn.name, settings=get_settings(workbench_home))
    _registry._REGISTRY.clear()
    _registry._REGISTRY.update(saved)


@pytest.fixture
def settings(workbench_home: Path) -> Settings:
    """Settings for this test's own workbench home."""
    return get_settings(workbench_home)
