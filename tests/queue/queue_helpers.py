"""Helpers of the queue tests: worker subprocesses on the runtime tests' kill agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
WORKBENCH = Path(sys.executable).with_name("workbench")

KILL_SPEC = """\
name: killer
model: scripted/killer
imports: [kill_agent]
system_prompt: You send emails.
tools: ["tools_for_tests:send_email", "tools_for_tests:lookup"]
"""
KILL_ANSWER = "done: sent to a@example.com; value-of-k1; sent to b@example.com"


def worker_env(home: Path, outbox: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WB_")}
    env.pop("WORKBENCH_DATABASE_URL", None)
    env.update(
        WORKBENCH_HOME=str(home),
        WB_OUTBOX=str(outbox),
        PYTHONPATH=os.pathsep.join(
            [str(TESTS / "runtime"), str(TESTS / "queue"), env.get("PYTHONPATH", "")]
        ),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        WORKBENCH_MEMORY_EMBEDDER="hashing",
        **extra,
    )
    return env


def start_worker(url: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(WORKBENCH), "worker", "--queue", url, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(path: Path, child: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if child.poll() is not None:
            raise AssertionError(child.communicate()[1].decode()[-3000:])
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def outbox(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["to"] for line in path.read_text().splitlines()]
