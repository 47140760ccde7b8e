"""A private Docker engine for the ``docker`` sandbox backend: dockerd on a unix socket."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path
from typing import Any, ClassVar

from workbench.errors import SandboxUnavailable, ServiceError
from workbench.sandbox._docker import API_VERSION
from workbench.sandbox._docker_image import apt_install, ensure_image
from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._registry import register_service

__all__ = ["DockerService", "docker_cache_dir"]

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def docker_cache_dir(workdir: Path) -> Path:
    """Where the sandbox rootfs tarball is cached: ``<home>/cache/docker``.

    ``workdir`` is the service's working directory ``<home>/services/docker``.
    """
    return workdir.parent.parent / "cache" / "docker"


def _socket(workdir: Path) -> Path:
    return workdir / "docker.sock"


@register_service
class DockerService(ServiceDefinition):
    """``dockerd`` as root on a private socket, with its data under the workbench home.

    The engine listens only on ``unix://<home>/services/docker/docker.sock`` (no TCP;
    the manager's port is not used), keeps images and containers in
    ``<home>/services/docker/data`` (so the image cache survives restarts), and
    touches no firewall rule or bridge (``--iptables=false --bridge=none``): sandbox
    containers have no network at all. Debian's ``docker.io`` is installed with
    apt-get on first start when ``dockerd`` is missing (unlike other services, since
    the sandbox issue asks for it; about a minute). Ready means the engine answers a
    ping and holds the sandbox image, which the first start builds (debootstrap,
    about 30 s; the rootfs tarball is cached in ``<home>/cache/docker``).

    State-file keys: ``docker_host`` (``DOCKER_HOST`` form, what the docker backend
    reads), ``socket``, ``data_root``, ``image``.
    """

    name: ClassVar[str] = "docker"
    startup_timeout_s: ClassVar[float] = 900.0
    stop_grace_s: ClassVar[float] = 20.0

    def __init__(self) -> None:
        """Create the definition (it remembers each start's working directory by port)."""
        self._workdirs: dict[int, Path] = {}
        self._lock = threading.Lock()

    def check_installed(self) -> None:
        """Install ``docker.io`` with apt-get when ``dockerd`` is missing; root only.

        Raises:
            ServiceError: Not root, or apt-get failed.
        """
        if os.geteuid() != 0:
            raise ServiceError(
                "the docker service runs dockerd as root: run `workbench services up docker` "
                "as root, or point DOCKER_HOST at an engine you run yourself"
            )
        if shutil.which("dockerd", path=_PATH) is None:
            apt_install(["docker.io"], error=ServiceError)
        if shutil.which("dockerd", path=_PATH) is None:
            raise ServiceError("docker.io installed but dockerd is not on PATH")

    def command(self, *, port: int, workdir: Path) -> list[str]:
        """``dockerd`` on the private socket, data and exec roots under ``workdir``."""
        with self._lock:
            self._workdirs[port] = workdir
        dockerd = shutil.which("dockerd", path=_PATH) or "dockerd"
        return [
            dockerd,
            "--host",
            f"unix://{_socket(workdir)}",
            "--data-root",
            str(workdir / "data"),
            "--exec-root",
            str(workdir / "exec"),
            "--pidfile",
            str(workdir / "dockerd.pid"),
            "--iptables=false",
            "--ip-forward=false",
            "--bridge=none",
            "--shutdown-timeout=2",
        ]

    def env(self, *, port: int, workdir: Path) -> dict[str, str]:
        """A PATH with the sbin directories (containerd and runc live there)."""
        return {"PATH": _PATH}

    def url(self, *, port: int) -> str:
        """``unix://<workdir>/docker.sock``: what ``DOCKER_HOST`` should be."""
        with self._lock:
            workdir = self._workdirs.pop(port, None)
        if workdir is None:
            raise ServiceError("the docker service's url is known only once it is started")
        return f"unix://{_socket(workdir)}"

    async def ready(self, info: ServiceInfo) -> bool:
        """True once the engine answers a ping and holds the sandbox image (built if not).

        Raises:
            ServiceError: The image could not be built or imported.
        """
        workdir = Path(info.log_path).parent / self.name
        try:
            return await asyncio.to_thread(_ping_and_image, info.url, workdir)
        except SandboxUnavailable as exc:
            raise ServiceError(f"the docker engine runs but {exc.message}") from exc

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        """``docker_host``, ``socket``, ``data_root`` and ``image``."""
        from workbench.sandbox._docker_image import image_tag

        workdir = Path(info.log_path).parent / self.name
        return {
            "docker_host": info.url,
            "socket": str(_socket(workdir)),
            "data_root": str(workdir / "data"),
            "image": image_tag(),
        }


def _ping_and_image(url: str, workdir: Path) -> bool:
    import docker
    import docker.errors
    import requests.exceptions

    if not _socket(workdir).exists():
        return False
    try:
        client = docker.DockerClient(base_url=url, version=API_VERSION, timeout=10)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return False
    try:
        try:
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
            return False
        ensure_image(client, cache_dir=docker_cache_dir(workdir))
        return True
    finally:
        client.close()
