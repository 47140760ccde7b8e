"""JupyterLab: the notebook server the widgets and the browser test run in."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any, ClassVar

import httpx

from workbench.errors import ServiceError
from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._registry import register_service

__all__ = ["ROOT_ENV", "JupyterLabService"]

ROOT_ENV = "WORKBENCH_JUPYTER_ROOT"
"""Directory JupyterLab serves, when set; else the directory ``services up`` ran in."""

_TOKEN_FILE = "token"
_ROOT_FILE = "root_dir"
# Lab plug-ins that reach the network (news, update checks): off, so it runs offline and
# no "receive news?" prompt covers the notebook.
_DISABLED = (
    "@jupyterlab/apputils-extension:announcements",
    "@jupyterlab/extensionmanager-extension",
)


@register_service
class JupyterLabService(ServiceDefinition):
    """``jupyter lab`` on ``127.0.0.1:PORT`` with a random token, from the project's venv.

    Loopback only, no browser opened, ``--allow-root`` (the test machines run as root),
    user configuration and runtime files kept under the service's working directory
    (so ``~/.jupyter`` is neither read nor written), and the lab plug-ins that fetch
    news or check for updates disabled. Kernels are the server's own Python, so
    notebooks import ``workbench`` and inherit ``WORKBENCH_HOME``.

    Args:
        root_dir: Directory to serve; ``$WORKBENCH_JUPYTER_ROOT`` or the current
            directory at start if omitted.

    State-file keys: ``token``, ``root_dir`` and ``lab_url`` (``URL/lab?token=...``).
    """

    name: ClassVar[str] = "jupyterlab"
    startup_timeout_s: ClassVar[float] = 60.0
    stop_grace_s: ClassVar[float] = 10.0

    def __init__(self, root_dir: Path | None = None) -> None:
        self.root_dir = root_dir

    def check_installed(self) -> None:
        """Raise ``ServiceError`` unless ``jupyterlab`` is importable."""
        if importlib.util.find_spec("jupyterlab") is None:
            raise ServiceError(
                f"JupyterLab is not installed in {sys.prefix}: "
                "`pip install jupyterlab==4.6.6` (a pinned dependency of agent-workbench)"
            )

    def _root(self) -> Path:
        if self.root_dir is not None:
            return self.root_dir.resolve()
        return Path(os.environ.get(ROOT_ENV) or os.getcwd()).resolve()

    def command(self, *, port: int, workdir: Path) -> list[str]:
        """``python -m jupyterlab`` on loopback with a fresh token."""
        token = secrets.token_hex(24)
        token_file = workdir / _TOKEN_FILE
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        root = self._root()
        (workdir / _ROOT_FILE).write_text(str(root) + "\n")
        labconfig = workdir / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": dict.fromkeys(_DISABLED, True)})
        )
        # Every cell in the page (no virtual scrolling): what a scripted browser and a
        # screen reader need to see the whole notebook.
        tracker = workdir / "lab-settings" / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--port-retries=0",
            "--allow-root",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.disable_check_xsrf=False",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]

    def env(self, *, port: int, workdir: Path) -> dict[str, str]:
        """Jupyter's config, runtime and lab-settings directories under ``workdir``."""
        return {
            "JUPYTER_CONFIG_DIR": str(workdir / "config"),
            "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(workdir / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "workspaces"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
        }

    async def ready(self, info: ServiceInfo) -> bool:
        """True once ``GET /api/status`` answers 200 to the token."""
        token = _read(Path(info.log_path).parent / self.name / _TOKEN_FILE)
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                reply = await client.get(
                    f"{info.url}/api/status", headers={"Authorization": f"token {token}"}
                )
        except httpx.HTTPError:
            return False
        return reply.status_code == 200 and "started" in reply.text

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        """``token``, ``root_dir`` and ``lab_url``."""
        workdir = Path(info.log_path).parent / self.name
        token = _read(workdir / _TOKEN_FILE)
        return {
            "token": token,
            "root_dir": _read(workdir / _ROOT_FILE),
            "lab_url": f"{info.url}/lab?token={token}",
        }


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
