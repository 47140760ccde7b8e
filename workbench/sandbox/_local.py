"""``unsafe-local``: the runner as a plain subprocess, for trusted code only."""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import warnings
from pathlib import Path

from workbench.sandbox._backend import SandboxBackend, register_backend
from workbench.sandbox._process import runner_source, start_runner
from workbench.sandbox._types import SandboxLimits, SandboxResult

__all__ = ["UnsafeLocalBackend", "UnsafeSandboxWarning"]

_log = logging.getLogger("workbench.sandbox")


class UnsafeSandboxWarning(UserWarning):
    """Code ran with the ``unsafe-local`` backend: no isolation at all."""


@register_backend("unsafe-local")
class UnsafeLocalBackend(SandboxBackend):
    """NOT a sandbox: runs code as a child process of the host, as the host's user.

    The code can read and write the host's files, use the network and signal the
    host's processes; only the resource limits (except, for root, the process
    limit), the wall time and the output cap apply, the environment is cleared and
    the current directory is a fresh temporary one. For trusted code where
    bubblewrap cannot run. Chosen only by name, never as a fallback; every call
    emits an :class:`UnsafeSandboxWarning` and logs a warning.
    """

    isolated = False

    def __init__(self, *, limits: SandboxLimits | None = None, python: str | None = None) -> None:
        """Create the backend.

        Args:
            limits: Default limits of every call.
            python: Interpreter; ``/usr/bin/python3`` when it exists, else this one.
        """
        super().__init__(limits=limits)
        system = Path("/usr/bin/python3")
        self.python = python or (str(system) if system.exists() else sys.executable)

    async def arun(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
        """See :meth:`SandboxBackend.arun`; warns on every call."""
        message = "unsafe-local runs code WITHOUT a sandbox: use it for trusted code only"
        warnings.warn(message, UnsafeSandboxWarning, stacklevel=2)
        _log.warning(message)
        chosen = limits or self.limits
        workdir = Path(tempfile.mkdtemp(prefix="workbench-unsafe-"))
        proc = await asyncio.to_thread(
            start_runner,
            [self.python, "-I", "-S", "-B", "-c", runner_source()],
            workdir=workdir,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir)},
            cwd=workdir,
        )
        try:
            return await asyncio.to_thread(proc.run_once, self.name, code, chosen)
        except BaseException:
            proc.kill()
            raise
