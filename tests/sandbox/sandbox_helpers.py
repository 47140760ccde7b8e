"""Shared constants of the sandbox tests."""

from __future__ import annotations

from workbench.sandbox import SandboxLimits

SMALL = SandboxLimits(
    cpu_s=1,
    memory_mb=256,
    processes=16,
    file_size_mb=1,
    open_files=32,
    wall_time_s=5,
    output_bytes=4096,
)
"""Tight limits, so that every limit test ends in about a second."""

ALL_BACKENDS = ["bubblewrap", "docker", "unsafe-local"]
ISOLATED_BACKENDS = ["bubblewrap", "docker"]
"""Backends that claim isolation run the attack suite."""
