"""Sandboxed execution of untrusted Python code.

One interface (:class:`SandboxBackend`), backends registered by name
(:func:`get_backend`): ``bubblewrap`` (default; namespaces, resource limits, a warm
pool), ``docker`` (a locked-down container per call, on the project's own image;
``workbench services up docker``) and ``unsafe-local`` (trusted code only; warns on
every call). There is no silent fallback: a backend that cannot run raises
:class:`~workbench.errors.SandboxUnavailable`. See ``docs/sandbox.md``.
"""

from __future__ import annotations

from workbench.sandbox._backend import (
    DEFAULT_BACKEND,
    SandboxBackend,
    backend_names,
    get_backend,
    register_backend,
)
from workbench.sandbox._bwrap import BubblewrapBackend
from workbench.sandbox._docker import DockerBackend
from workbench.sandbox._docker_image import ensure_image, image_tag
from workbench.sandbox._local import UnsafeLocalBackend, UnsafeSandboxWarning
from workbench.sandbox._pool import WarmPool
from workbench.sandbox._types import LimitHit, SandboxLimits, SandboxResult

__all__ = [
    "DEFAULT_BACKEND",
    "BubblewrapBackend",
    "DockerBackend",
    "LimitHit",
    "SandboxBackend",
    "SandboxLimits",
    "SandboxResult",
    "UnsafeLocalBackend",
    "UnsafeSandboxWarning",
    "WarmPool",
    "backend_names",
    "ensure_image",
    "get_backend",
    "image_tag",
    "register_backend",
]
