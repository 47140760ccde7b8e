"""Helpers of the gateway tests: run several worker processes that race at one instant."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from workbench.tracing import SpoolExporter, Tracer, TraceStore

WORKER = Path(__file__).with_name("gateway_worker.py")


def race(args_per_worker: list[list[str]], *, lead_s: float = 0.2) -> list[dict[str, Any]]:
    """Start one worker per argument list; once all are ready, release them together."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in args_per_worker
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.communicate(timeout=30)[1]
    start_at = f"{time.time() + lead_s:.3f}\n"
    results = []
    for proc in procs:
        out, err = proc.communicate(start_at, timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


class SpoolTrace:
    """A tracer that spools to disk, and the trace store that reads it back."""

    def __init__(self, root: Path) -> None:
        self.spool = root / "spool"
        self.tracer = Tracer([SpoolExporter(self.spool)], flush_interval_s=0.01)
        self._root = root

    def store(self) -> TraceStore:
        assert self.tracer.flush()
        return TraceStore(self._root / "traces.duckdb", spool_dir=self.spool)
