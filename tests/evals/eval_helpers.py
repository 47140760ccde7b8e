"""Helpers of the eval tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def write_suite(tmp: Path, name: str, body: str) -> Path:
    """A suite file in ``tmp``; ``FIX/`` in ``body`` points into ``fixtures/``."""
    path = tmp / f"{name}.yaml"
    path.write_text(body.replace("FIX/", f"{FIXTURES}/"), encoding="utf-8")
    return path


def quiz_suite(
    tmp: Path,
    name: str,
    *,
    v1: str = "quiz_right",
    v2: str = "quiz_right",
    dataset: str = "quiz_small.jsonl",
    extra: str = "",
    gate: bool = True,
) -> Path:
    """A quiz suite comparing two fixture agents, with ``extra`` YAML lines appended."""
    body = f"""name: {name}
dataset: FIX/datasets/{dataset}
versions:
  v1: FIX/agents/{v1}.yaml
  v2: FIX/agents/{v2}.yaml
scorers:
  - {{name: numeric}}
"""
    if gate:
        body += """gate:
  baseline: v1
  candidate: v2
  metrics: {numeric: {margin: 0.05}}
"""
    return write_suite(tmp, name, body + extra)


def sigkill_eval_midway(
    home: Path, suite: Path, finished: Callable[[str], int], *args: str, at: int = 10
) -> str:
    """Run ``workbench eval SUITE ARGS`` in a child process, SIGKILL it once ``finished``
    (rows of the run so far) reaches ``at``, and return the run id."""
    child = subprocess.Popen(
        [
            *(sys.executable, "-c", "from workbench.cli import main; main()"),
            *("eval", str(suite), "--no-progress", *args),
        ],
        env={**os.environ, "WORKBENCH_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        line = child.stderr.readline()  # "run <id>" once the run is recorded
        assert line.startswith("run "), line
        run_id = line.split()[1]
        deadline = time.monotonic() + 120
        while finished(run_id) < at:
            assert child.poll() is None, "the run finished before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        if child.stderr is not None:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return run_id
