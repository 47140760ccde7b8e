"""Real sandboxes for the sandbox tests: bubblewrap and a real Docker engine (no skips).

The Docker engine is started once per session through the service manager
(``workbench services up docker``: installs docker.io when missing, builds the image)
in a session home, and stopped at the end. The rootfs tarball is kept between
sessions in the system temp directory, so only the first session on a machine runs
debootstrap.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import ALL_BACKENDS, ISOLATED_BACKENDS

from workbench.sandbox import (
    BubblewrapBackend,
    DockerBackend,
    SandboxBackend,
    UnsafeLocalBackend,
    UnsafeSandboxWarning,
    image_tag,
)
from workbench.services import start_service, stop_service
from workbench.settings import get_settings

_TARBALL_CACHE = Path(tempfile.gettempdir()) / "workbench-test-cache"


@pytest.fixture(scope="session")
def bubblewrap() -> Iterator[BubblewrapBackend]:
    """One bubblewrap backend with a warm pool of 2 for the whole session."""
    backend = BubblewrapBackend(pool_size=2)
    backend.prewarm()
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def unsafe_local() -> UnsafeLocalBackend:
    return UnsafeLocalBackend()


def _share_tarball(source_dir: Path, target_dir: Path) -> None:
    name = f"sandbox-rootfs-{image_tag().partition(':')[2]}.tar"
    source, target = source_dir / name, target_dir / name
    if source.exists() and not target.exists():
        target_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.link(source, target)


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private dockerd with the sandbox image, for the session; yields its DOCKER_HOST."""
    settings = get_settings(tmp_path_factory.mktemp("docker"))
    cache = settings.home / "cache" / "docker"
    _share_tarball(_TARBALL_CACHE, cache)
    info = start_service("docker", settings=settings)
    _share_tarball(cache, _TARBALL_CACHE)
    yield info.url
    stop_service("docker", settings=settings)


@pytest.fixture(scope="session")
def docker(docker_engine: str) -> Iterator[DockerBackend]:
    """One docker backend with a warm pool of 2 (per container shape) for the session."""
    backend = DockerBackend(docker_host=docker_engine, pool_size=2)
    backend.prewarm()
    yield backend
    backend.close()


def _pick(request: pytest.FixtureRequest) -> SandboxBackend:
    name = request.param
    if name in ("bubblewrap", "docker"):
        backend: SandboxBackend = request.getfixturevalue(name)
        return backend
    if name == "unsafe-local":
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        backend = request.getfixturevalue("unsafe_local")
        return backend
    raise AssertionError(f"no fixture for backend {name!r}")


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> SandboxBackend:
    """Every backend: the conformance suite runs on each."""
    return _pick(request)


@pytest.fixture(params=ISOLATED_BACKENDS)
def isolated(request: pytest.FixtureRequest) -> SandboxBackend:
    """Every backend that is a security boundary: the attack suite runs on each."""
    return _pick(request)
