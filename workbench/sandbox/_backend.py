"""The sandbox backend interface and the registry of backends by name."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from workbench._util import run_sync
from workbench.errors import SandboxBackendNotFound
from workbench.sandbox._types import SandboxLimits, SandboxResult

__all__ = [
    "DEFAULT_BACKEND",
    "SandboxBackend",
    "backend_names",
    "get_backend",
    "register_backend",
]

DEFAULT_BACKEND = "bubblewrap"
"""The backend used when none is named."""

B = TypeVar("B", bound="type[SandboxBackend]")


class SandboxBackend(abc.ABC):
    """Runs untrusted Python code somewhere it cannot reach the host.

    Contract every backend keeps (and the conformance suite in ``tests/sandbox``
    checks):

    * **Isolation** (when ``isolated`` is true): the code sees no network but its own
      loopback, no host files but read-only system paths and a fresh, empty work
      directory (its current directory), no environment variables of the host, runs
      as an unprivileged user with no capabilities, and cannot signal, trace or read
      the memory of any host process. Nothing of one call is visible to the next.
    * **Limits**: every field of :class:`SandboxLimits` is enforced on every call,
      and a call that hits one returns normally with ``limit_hit`` set; a limit is
      never an exception.
    * **Errors**: only a failure of the sandbox itself raises (a
      :class:`~workbench.errors.SandboxError`); whatever the code does is a result.
    * **Threads and loops**: :meth:`arun` may be awaited from any event loop and any
      thread, many calls at once; a backend holds no per-loop state.
    * **Blocking**: :meth:`arun` never blocks its event loop (process I/O runs in a
      worker thread); :meth:`run` blocks the caller until the result is ready.
    * **Cancellation**: cancelling :meth:`arun` kills the sandbox of that call.
    * **Touches**: a call may create and delete one temporary work directory on the
      host and start processes; it writes nothing else.
    """

    name: ClassVar[str] = ""
    """Registry name of the backend (set by :func:`register_backend`)."""
    isolated: ClassVar[bool] = True
    """Whether the backend is a security boundary (``unsafe-local`` is not)."""

    def __init__(self, *, limits: SandboxLimits | None = None) -> None:
        """Create the backend.

        Args:
            limits: Default limits of every call; a call may pass its own.
        """
        self.limits = limits or SandboxLimits()

    @abc.abstractmethod
    async def arun(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
        """Run ``code`` (Python source) in a fresh sandbox and return what it produced.

        Args:
            code: The source; the value of its last statement, when that is an
                expression, becomes ``value``.
            limits: Limits of this call; the backend's defaults when ``None``.

        Raises:
            SandboxError: The sandbox itself failed; ``SandboxUnavailable`` when it
                cannot run on this machine.
        """

    def run(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
        """Blocking :meth:`arun`; usable from sync code and from a Jupyter cell."""
        return run_sync(self.arun(code, limits=limits))

    def close(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release what the backend holds (idle pooled sandboxes). Idempotent."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, limits={self.limits!r})"


_REGISTRY: dict[str, Callable[..., SandboxBackend]] = {}
_SHARED: dict[str, SandboxBackend] = {}
_LOCK = threading.Lock()


def register_backend(name: str) -> Callable[[B], B]:
    """Class decorator registering a :class:`SandboxBackend` subclass under ``name``.

    Args:
        name: Name used by :func:`get_backend` and ``--backend``.

    Raises:
        ValueError: The name is taken by another class.
    """

    def decorate(cls: B) -> B:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"sandbox backend {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def backend_names() -> list[str]:
    """Names of every registered backend, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_backend(name: str = DEFAULT_BACKEND, **options: Any) -> SandboxBackend:
    """The backend called ``name``.

    Without options, one shared instance per name (so its warm pool is shared by
    every caller of the process); with options, a new instance built with them.

    Args:
        name: A registered name (:func:`backend_names`).
        **options: Keyword arguments of the backend's constructor (``limits``,
            ``pool_size``, ...).

    Raises:
        SandboxBackendNotFound: No backend has that name.
        SandboxUnavailable: The backend cannot run on this machine (e.g. ``bwrap``
            is missing); there is never a fallback to another backend.
    """
    _load_builtin()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise SandboxBackendNotFound(
            f"no sandbox backend {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        )
    if options:
        return factory(**options)
    with _LOCK:
        backend = _SHARED.get(name)
        if backend is None:
            backend = _SHARED[name] = factory()
        return backend


def _load_builtin() -> None:
    # Importing the modules registers the built-in backends.
    import workbench.sandbox._bwrap
    import workbench.sandbox._docker
    import workbench.sandbox._local  # noqa: F401
