"""House rule: explicit, sorted ``__all__``; the test kit re-exports the same objects."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import workbench.models as models
import workbench.testing._scripted as testing_scripted
from workbench.models import ModelReply, ToolCallRequest


def test_all_is_sorted_and_complete() -> None:
    for module in (models, testing_scripted):
        assert module.__all__ == sorted(module.__all__)
        for public in module.__all__:
            assert hasattr(module, public), public
    exported = {
        n
        for n, value in vars(models).items()
        if not n.startswith("_")
        and n not in {"annotations", "os"}
        and not isinstance(value, ModuleType)
    }
    assert exported == set(models.__all__)


def test_testing_reexports_the_same_objects() -> None:
    for public in testing_scripted.__all__:
        assert getattr(testing_scripted, public) is getattr(models, public)


def test_to_message_is_openai_format() -> None:
    reply = ModelReply(
        text=None,
        tool_calls=[ToolCallRequest(id="c1", name="f", arguments="{bad")],
        finish_reason="tool_calls",
        prompt_tokens=1,
        completion_tokens=1,
        cost_usd=0.0,
        model="scripted/x",
        latency_s=0.0,
    )
    expected: dict[str, Any] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{bad"}}
        ],
    }
    assert reply.to_message() == expected
    text_only = reply.model_copy(update={"text": "hi", "tool_calls": []})
    assert text_only.to_message() == {"role": "assistant", "content": "hi"}
