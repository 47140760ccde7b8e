"""Real sandboxes for the sandbox tests: bubblewrap must be installed (no skips)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from sandbox_helpers import ALL_BACKENDS, ISOLATED_BACKENDS

from workbench.sandbox import (
    BubblewrapBackend,
    SandboxBackend,
    UnsafeLocalBackend,
    UnsafeSandboxWarning,
)


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


def _pick(request: pytest.FixtureRequest) -> SandboxBackend:
    name = request.param
    if name == "bubblewrap":
        backend: SandboxBackend = request.getfixturevalue("bubblewrap")
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
