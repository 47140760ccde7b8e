"""``python_tool``: run Python code in the sandbox and return its typed result."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from workbench.errors import SandboxLimitExceeded
from workbench.sandbox import SandboxBackend, SandboxLimits, get_backend
from workbench.tools._tool import Tool, tool

__all__ = ["MAX_CODE_LENGTH", "python_tool"]

MAX_CODE_LENGTH = 100_000
"""Longest code accepted, in characters."""
_TAIL = 2000
_LIMITS = {
    "cpu": "CPU time",
    "memory": "memory",
    "processes": "process count",
    "file_size": "file size",
    "open_files": "open files",
    "wall_time": "wall-clock time",
    "output_size": "output size",
}


def python_tool(
    backend: SandboxBackend | str | None = None,
    *,
    limits: SandboxLimits | None = None,
    name: str = "python",
) -> Tool:
    """A tool that runs Python code in a fresh sandbox per call.

    The code runs on the sandbox's system Python with no network, no host files
    (an empty work directory is its current directory) and no host environment,
    so the tool has no side effects outside the sandbox (``side_effects=False``).

    Args:
        backend: A backend, a registered name, or ``None`` for the default
            (``bubblewrap``). Resolved now: a backend that cannot run raises here,
            never falls back.
        limits: Limits of every call; the backend's defaults when ``None``.
        name: Tool name.

    Returns:
        A tool with scope ``code.execute`` returning the
        :class:`~workbench.sandbox.SandboxResult` as a dict. A call that hits a
        limit raises :class:`~workbench.errors.SandboxLimitExceeded` (the model sees
        a tool error naming the limit, with the output so far).

    Raises:
        SandboxUnavailable: The backend cannot run on this machine.
        SandboxBackendNotFound: No backend has that name.
    """
    chosen = (
        backend if isinstance(backend, SandboxBackend) else get_backend(backend or "bubblewrap")
    )
    call_limits = limits or chosen.limits

    async def run_python(
        code: Annotated[str, Field(min_length=1, max_length=MAX_CODE_LENGTH)],
    ) -> dict[str, Any]:
        """Run Python code in an isolated sandbox and get its output.

        Args:
            code: Python 3 source. Print what you need; the value of a final
                expression is returned as `value`.
        """
        result = await chosen.arun(code, limits=call_limits)
        body = result.model_dump(mode="json")
        if result.limit_hit is not None:
            raise SandboxLimitExceeded(
                f"the code hit the sandbox's {_LIMITS[result.limit_hit]} limit "
                f"({result.limit_hit}); stdout ends: {result.stdout[-_TAIL:]!r}; "
                f"stderr ends: {result.stderr[-_TAIL:]!r}",
                tool=name,
                limit=result.limit_hit,
                result=body,
            )
        return body

    description = (
        "Run Python 3 code in a fresh, isolated sandbox (no network, no files but an empty "
        "working directory, standard library only) and get stdout, stderr, exit_code and the "
        f"value of the last expression. Limits: {call_limits.cpu_s} s CPU, "
        f"{call_limits.wall_time_s:g} s wall time, {call_limits.memory_mb} MiB memory, "
        f"{call_limits.output_bytes} bytes of output. Nothing persists between calls."
    )
    return tool(
        run_python,
        name=name,
        description=description,
        scope="code.execute",
        side_effects=False,
        # Running code is high risk even in the sandbox: untrusted data reaching it asks.
        risk="high",
        # The sandbox enforces the wall time itself; the tool's timeout is a backstop.
        timeout_s=call_limits.wall_time_s + 15.0,
    )
