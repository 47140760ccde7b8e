"""SIGKILL an execution at several points, resume it in a fresh process, and check that
the answer is the same and that each side effect happened exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
WORKBENCH = Path(sys.executable).with_name("workbench")

SPEC = """\
name: killer
model: scripted/killer
imports: [kill_agent]
system_prompt: You send emails.
tools: ["tools_for_tests:send_email", "tools_for_tests:lookup"]
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WB_")}
    env.update(
        WORKBENCH_HOME=str(home / "wb"),
        WB_OUTBOX=str(home / "outbox.jsonl"),
        PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        **extra,
    )
    return env


def _spec(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "killer.yaml"
    path.write_text(SPEC)
    return path


def _outbox(home: Path) -> list[str]:
    path = home / "outbox.jsonl"
    return (
        [json.loads(line)["to"] for line in path.read_text().splitlines()] if path.exists() else []
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    home = tmp_path_factory.mktemp("reference")
    out = subprocess.run(
        [sys.executable, str(HERE / "kill_child.py"), str(_spec(home)), "ex-ref"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    summary: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed"
    assert _outbox(home) == ["a@example.com", "b@example.com"]
    return summary


@pytest.mark.slow
@pytest.mark.parametrize("point", ["model", "tool", "between"])
def test_sigkill_then_resume_in_a_new_process(
    tmp_path: Path, point: str, reference: dict[str, object]
) -> None:
    marker = tmp_path / "marker"
    spec = _spec(tmp_path)
    env = _env(tmp_path, WB_KILL_POINT=point, WB_MARKER=str(marker), WB_TOOL_MARKER=str(marker))
    child = subprocess.Popen(
        [sys.executable, str(HERE / "kill_child.py"), str(spec), "ex-kill"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180  # a cold child imports litellm; slow on a busy machine
    while not marker.exists():
        assert child.poll() is None, child.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the child never reached the kill point"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=10)  # reaps it and closes the pipes
    assert child.returncode == -signal.SIGKILL

    resumed = subprocess.run(
        [str(WORKBENCH), "resume", "ex-kill", "--json"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    assert summary["status"] == "completed"
    assert summary["answer"] == reference["answer"]
    assert summary["steps"] == reference["steps"]
    assert summary["tokens"] == reference["tokens"]
    assert _outbox(tmp_path) == ["a@example.com", "b@example.com"]  # each effect once
