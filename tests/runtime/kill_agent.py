"""The agent of the SIGKILL tests: two emails (side effects) and a lookup between them.

``WB_KILL_POINT`` chooses where the child process makes itself easy to kill, by
writing ``WB_MARKER`` and then sleeping: ``model`` (inside the second model call),
``tool`` (inside the second email, after its effect), ``between`` (after a step's
tool result is journaled, before its checkpoint; see kill_child.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.models import Turn, register_script


def _script(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
    results = [str(m["content"]) for m in messages if m.get("role") == "tool"]
    if len(results) == 0:
        return Turn.call("send_email", to="a@example.com", body="hello a")
    if len(results) == 1:
        marker = os.environ.get("WB_MARKER")
        if os.environ.get("WB_KILL_POINT") == "model" and marker:
            Path(marker).write_text("in model")
            return Turn(tool_calls=Turn.call("lookup", key="k1").tool_calls, latency_s=30.0)
        return Turn.call("lookup", key="k1")
    if len(results) == 2:
        return Turn.call("send_email", to="b@example.com", body="hello b")
    return Turn.final("done: " + "; ".join(results))


MODEL = register_script("killer", _script)
