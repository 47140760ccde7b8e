"""What a real server is: its state record and the contract each definition fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ServiceDefinition", "ServiceInfo"]


class ServiceInfo(BaseModel):
    """A running real server, as recorded in ``<services_dir>/<name>.json``."""

    # The state file also carries the definition's ``describe`` keys at top level
    # (for readers such as ``workbench.models``); they are ignored when loading.
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    """The service's registered name, e.g. ``"model"``."""
    pid: int
    """Process id of the server; it leads its own session and process group."""
    url: str
    """Where clients reach it, e.g. ``http://127.0.0.1:41234``."""
    port: int
    """The loopback port it listens on."""
    started_at: datetime
    """When it was started (timezone-aware, UTC)."""
    log_path: str
    """File that receives the server's stdout and stderr."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """What the definition's :meth:`ServiceDefinition.describe` returned."""


class ServiceDefinition(ABC):
    """How to install, start, probe and stop one kind of real server.

    Contract:

    * **Install.** :meth:`check_installed` returns when everything the command needs is
      present, and otherwise raises :class:`~workbench.errors.ServiceError` whose
      message says exactly what to install (a package, a script to run). It never
      installs anything itself and never reaches the network.
    * **Start.** The manager picks a free loopback port (or takes the caller's), runs
      :meth:`command` with :meth:`env` added to the environment and the per-service
      working directory as cwd, detached in a new session, stdout and stderr appended
      to ``<services_dir>/<name>.log``. The command must stay in the foreground (not
      daemonise), bind only ``127.0.0.1`` and ``port``, and keep any data under
      ``workdir``.
    * **Ready.** :meth:`ready` is polled until it returns ``True`` or
      :attr:`startup_timeout_s` elapses. It must be cheap, must not raise on refused
      connections (return ``False``), and must tell this server apart from anything
      else on the port where it can (e.g. check the model name).
    * **Stop.** The manager sends SIGTERM to the server's process group, then SIGKILL
      after :attr:`stop_grace_s`, so it must shut down cleanly on SIGTERM.
    * **Describe.** :meth:`describe` returns the JSON-able keys that clients read from
      the state file (e.g. ``base_url``); they are written both at top level and
      under ``extra``.

    Definitions are stateless apart from configuration given to ``__init__``; one
    instance is registered per name with :func:`~workbench.services.register_service`.
    """

    name: ClassVar[str]
    """Registry key and CLI name, e.g. ``"model"``."""
    startup_timeout_s: ClassVar[float] = 60.0
    """Longest wait for :meth:`ready` after the process starts."""
    stop_grace_s: ClassVar[float] = 10.0
    """Wait between SIGTERM and SIGKILL."""

    def check_installed(self) -> None:
        """Raise ``ServiceError`` naming what to install when the server cannot run.

        The default assumes nothing needs installing.
        """
        return None

    @abstractmethod
    def command(self, *, port: int, workdir: Path) -> list[str]:
        """The argv that runs the server in the foreground on ``127.0.0.1:port``."""

    def env(self, *, port: int, workdir: Path) -> dict[str, str]:
        """Variables added to the current environment for the server process."""
        return {}

    def url(self, *, port: int) -> str:
        """The address clients use; HTTP on loopback by default."""
        return f"http://127.0.0.1:{port}"

    @abstractmethod
    async def ready(self, info: ServiceInfo) -> bool:
        """Whether the server answers as expected; ``False`` while it is starting."""

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        """Keys for clients, written into the state file (JSON-able values only)."""
        return {}
