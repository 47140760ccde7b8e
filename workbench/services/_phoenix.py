"""Arize Phoenix: the trace UI and OTLP collector, run from the project's environment."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, ClassVar

import httpx

from workbench.errors import ServiceError
from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._process import free_port
from workbench.services._registry import register_service

__all__ = ["PhoenixService"]

_GRPC_PORT_FILE = "grpc_port"
"""File in the working directory that remembers the gRPC port chosen at start."""


@register_service
class PhoenixService(ServiceDefinition):
    """``phoenix serve`` (arize-phoenix) with its data under the service's working directory.

    The UI, REST API and OTLP/HTTP collector (``/v1/traces``) listen on
    ``127.0.0.1:PORT``. Phoenix also always starts an OTLP/gRPC collector that binds
    **all interfaces**; only its port can be chosen (``PHOENIX_GRPC_PORT``), so it gets
    a free port of its own rather than the fixed 4317. The workbench sends over HTTP
    only. External resources (fonts, CDN scripts) and Phoenix's own telemetry are off,
    so it runs offline.

    State-file keys: ``base_url`` (for ``phoenix.client.Client``), ``otlp_http_endpoint``
    (what :func:`workbench.tracing.phoenix_endpoint` reads), ``grpc_port`` and
    ``working_dir`` (its SQLite database lives there).
    """

    name: ClassVar[str] = "phoenix"
    startup_timeout_s: ClassVar[float] = 90.0
    stop_grace_s: ClassVar[float] = 10.0

    def check_installed(self) -> None:
        """Raise ``ServiceError`` unless the ``arize-phoenix`` server package is importable."""
        if importlib.util.find_spec("phoenix.server.main") is None:
            raise ServiceError(
                f"Phoenix is not installed in {sys.prefix}: "
                "`pip install arize-phoenix==20.26.1` (a pinned dependency of agent-workbench)"
            )

    def command(self, *, port: int, workdir: Path) -> list[str]:
        """``python -m phoenix.server.main serve`` (the ``phoenix serve`` console script)."""
        return [sys.executable, "-m", "phoenix.server.main", "serve"]

    def env(self, *, port: int, workdir: Path) -> dict[str, str]:
        """Loopback host, the ports, a private working directory, no external calls."""
        grpc_port = free_port()
        (workdir / _GRPC_PORT_FILE).write_text(f"{grpc_port}\n")
        return {
            "PHOENIX_WORKING_DIR": str(workdir),
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(grpc_port),
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }

    async def ready(self, info: ServiceInfo) -> bool:
        """True once ``GET /healthz`` answers 200 and the REST API names a Phoenix."""
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                health = await client.get(f"{info.url}/healthz")
                if health.status_code != 200:
                    return False
                # Anything can answer /healthz; Phoenix's REST API lists projects.
                projects = await client.get(f"{info.url}/v1/projects")
        except httpx.HTTPError:
            return False
        return projects.status_code == 200 and "data" in _json(projects)

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        """``base_url``, ``otlp_http_endpoint``, ``grpc_port`` and ``working_dir``."""
        workdir = Path(info.log_path).parent / self.name
        try:
            grpc_port: int | None = int((workdir / _GRPC_PORT_FILE).read_text())
        except (OSError, ValueError):
            grpc_port = None
        return {
            "base_url": info.url,
            "otlp_http_endpoint": f"{info.url}/v1/traces",
            "grpc_port": grpc_port,
            "working_dir": str(workdir),
        }


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
