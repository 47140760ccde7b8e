"""Prometheus: scrapes every running ``workbench serve`` found by file-based discovery."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from workbench.errors import ServiceError
from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._registry import register_service

__all__ = ["PrometheusService"]

_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


@register_service
class PrometheusService(ServiceDefinition):
    """Debian's ``prometheus`` on ``127.0.0.1:PORT``, its data under the service's workdir.

    It scrapes the targets that servers write to ``<services_dir>/prometheus-targets/``
    (``workbench serve`` registers itself there on start) every second, and loads the
    shipped alert rules (``deploy/prometheus/alerts.yml``) when they are present.
    Installed by ``scripts/install-system-deps.sh`` (``apt-get install prometheus``).
    State-file key: ``prometheus_url``.
    """

    name: ClassVar[str] = "prometheus"
    startup_timeout_s: ClassVar[float] = 30.0
    stop_grace_s: ClassVar[float] = 5.0
    scrape_interval_s: ClassVar[float] = 1.0

    def check_installed(self) -> None:
        """Raise ``ServiceError`` unless ``prometheus`` is on the PATH."""
        if shutil.which("prometheus") is None:
            raise ServiceError(
                "prometheus is not installed: run `bash scripts/install-system-deps.sh` "
                "as root (or `apt-get install prometheus`)"
            )

    def command(self, *, port: int, workdir: Path) -> list[str]:
        """``prometheus`` with a generated config, on loopback only."""
        targets = workdir.parent / "prometheus-targets"
        targets.mkdir(parents=True, exist_ok=True)
        interval = f"{self.scrape_interval_s:g}s"
        rules = f"rule_files: ['{_RULES}']\n" if _RULES.is_file() else ""
        config = workdir / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
            f"{rules}"
            "scrape_configs:\n"
            "  - job_name: workbench\n"
            "    file_sd_configs:\n"
            f"      - files: ['{targets}/*.json']\n"
            "        refresh_interval: 1s\n",
            encoding="utf-8",
        )
        return [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ]

    async def ready(self, info: ServiceInfo) -> bool:
        """True once ``/-/ready`` answers 200."""
        import asyncio

        def probe() -> bool:
            try:
                with urllib.request.urlopen(f"{info.url}/-/ready", timeout=1.0) as resp:
                    return int(resp.status) == 200
            except (OSError, urllib.error.URLError):
                return False

        return await asyncio.to_thread(probe)

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        """``prometheus_url``, the base of its HTTP API (``/api/v1/query``)."""
        return {"prometheus_url": info.url}
