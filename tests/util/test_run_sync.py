"""run_sync survives a SystemExit or KeyboardInterrupt raised inside its worker loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from workbench._util import run_sync

REPO = Path(__file__).resolve().parents[2]


async def _exit(code: int) -> None:
    raise SystemExit(code)


async def _exit_in_a_child_task() -> None:
    # As when a step-event callback (rich, on a closed stdout) raises inside a LangGraph
    # node: the SystemExit is raised in a task the awaited coroutine started.
    await asyncio.create_task(_exit(4))


async def _answer() -> int:
    return 42


def test_system_exit_reaches_the_caller_and_the_loop_keeps_serving() -> None:
    with pytest.raises(SystemExit) as raised:
        run_sync(_exit(3))
    assert raised.value.code == 3
    assert run_sync(_answer()) == 42
    with pytest.raises(SystemExit) as raised:
        run_sync(_exit_in_a_child_task())
    assert raised.value.code == 4
    assert run_sync(_answer()) == 42


def test_workbench_run_into_a_closed_pipe_ends() -> None:
    # `| head -1` closes stdout after the first step; the process must not hang.
    workbench = Path(sys.executable).with_name("workbench")
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"'{workbench}' run '{REPO / 'agents' / 'analyst.yaml'}' --task 'Which region"
            " sold most?' | head -1",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("step 0")
