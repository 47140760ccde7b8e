"""Typed limits and results of one sandboxed call."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LimitHit", "SandboxLimits", "SandboxResult"]

LimitHit = Literal[
    "cpu", "memory", "processes", "file_size", "open_files", "wall_time", "output_size"
]
"""Which limit stopped a call."""


class SandboxLimits(BaseModel):
    """Every limit of one sandboxed call; each is enforced by the kernel or the host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_s: int = Field(default=10, ge=1, le=3600)
    """CPU seconds (``RLIMIT_CPU``): SIGXCPU at the limit, SIGKILL one second later."""
    memory_mb: int = Field(default=512, ge=32, le=65536)
    """Address space of each process in MiB (``RLIMIT_AS``): allocations fail with MemoryError."""
    processes: int = Field(default=32, ge=1, le=4096)
    """Processes and threads the code may have at once, its own included (``RLIMIT_NPROC``)."""
    file_size_mb: int = Field(default=64, ge=1, le=65536)
    """Largest file the code may write, in MiB (``RLIMIT_FSIZE``); also the size of ``/tmp``."""
    open_files: int = Field(default=64, ge=16, le=65536)
    """Open file descriptors per process (``RLIMIT_NOFILE``)."""
    wall_time_s: float = Field(default=30.0, gt=0, le=3600)
    """Wall-clock time of the call; the host kills the whole sandbox when it elapses."""
    output_bytes: int = Field(default=1_000_000, ge=1024, le=1_000_000_000)
    """Bytes of stdout plus stderr kept; the host kills the sandbox when more arrive."""


class SandboxResult(BaseModel):
    """What one call produced, and why it stopped.

    The value is the value of the code's last statement when that statement is an
    expression (as in a notebook cell); ``None`` otherwise. There is no magic
    ``result`` variable.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str
    """Name of the backend that ran the call."""
    stdout: str
    """Standard output (UTF-8, undecodable bytes replaced), at most ``output_bytes``."""
    stderr: str
    """Standard error, including the traceback of an uncaught exception."""
    value: Any = None
    """The last expression's value when it is JSON-able (no NaN or infinity), else ``None``."""
    value_repr: str | None = None
    """``repr()`` of the last expression's value (at most 10,000 characters), else ``None``."""
    exit_code: int
    """0 on success, 1 after an uncaught exception, the ``SystemExit`` code, or ``-N``
    when a signal N killed the code (``-9`` when the host killed the sandbox)."""
    limit_hit: LimitHit | None = None
    """The limit that stopped the code, if one did."""
    error_type: str | None = None
    """Class name of the uncaught exception, if any (``"MemoryError"``, ...)."""
    cpu_s: float = 0.0
    """CPU seconds the code used (user plus system), when the sandbox reported it."""
    duration_s: float = 0.0
    """Wall-clock seconds from handing the code over to the result."""

    @property
    def ok(self) -> bool:
        """Whether the code ran to the end: exit code 0 and no limit hit."""
        return self.exit_code == 0 and self.limit_hit is None
