"""Redis: the shared store of rate limits and budgets when several processes share a principal."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path
from typing import Any, ClassVar

from workbench.errors import ServiceError
from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._registry import register_service

__all__ = ["RedisService"]


@register_service
class RedisService(ServiceDefinition):
    """Debian's ``redis-server`` on ``127.0.0.1:PORT``, in memory only.

    No persistence (``--save ''``, ``--appendonly no``): rate buckets and budget totals
    live as long as the server does. Installed by ``scripts/install-system-deps.sh``
    (``apt-get install redis-server``). State-file key: ``redis_url``
    (``redis://127.0.0.1:PORT/0``), for ``RedisRateLimiter`` and ``RedisBudgetLedger``.
    """

    name: ClassVar[str] = "redis"
    startup_timeout_s: ClassVar[float] = 15.0
    stop_grace_s: ClassVar[float] = 5.0

    def check_installed(self) -> None:
        """Raise ``ServiceError`` unless ``redis-server`` is on the PATH."""
        if shutil.which("redis-server") is None:
            raise ServiceError(
                "redis-server is not installed: run `bash scripts/install-system-deps.sh` "
                "as root (or `apt-get install redis-server`)"
            )

    def command(self, *, port: int, workdir: Path) -> list[str]:
        """``redis-server`` on loopback only, no snapshots, no append-only file."""
        return [
            shutil.which("redis-server") or "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]

    def url(self, *, port: int) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{port}/0"

    async def ready(self, info: ServiceInfo) -> bool:
        """True once the server answers ``PING`` with ``PONG``."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", info.port), timeout=1.0
            )
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            reply = await asyncio.wait_for(reader.readline(), timeout=1.0)
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return reply == b"+PONG\r\n"

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        """``redis_url``, what the Redis-backed limiter and ledger take."""
        return {"redis_url": info.url}
