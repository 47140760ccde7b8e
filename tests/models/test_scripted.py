"""Scripted models: turns, faults, index-by-assistant-count, and loud failures."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from workbench.errors import (
    ConfigError,
    ModelRateLimited,
    ModelServerError,
    ModelTimeout,
    ScriptError,
)
from workbench.models import (
    RateLimitFault,
    ScriptedToolCall,
    ServerErrorFault,
    TimeoutFault,
    Turn,
    acomplete,
    get_scripted_model,
    register_script,
)

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def history(assistant_turns: int) -> list[dict[str, Any]]:
    """A conversation that already holds ``assistant_turns`` assistant messages."""
    messages: list[dict[str, Any]] = list(USER)
    for i in range(assistant_turns):
        call_id = f"call_{i}_0"
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "weather", "arguments": "{}"},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": f"result {i}"})
    return messages


@pytest.mark.anyio
async def test_final_turn_and_tool_call(name: str) -> None:
    model = register_script(name, [Turn.call("weather", city="Paris"), Turn.final("Sunny.")])
    assert model == f"scripted/{name}"
    first = await acomplete(model, USER, tools=TOOLS, timeout_s=5)
    assert first.finish_reason == "tool_calls"
    assert first.text is None
    assert [(c.id, c.name, json.loads(c.arguments)) for c in first.tool_calls] == [
        ("call_0_0", "weather", {"city": "Paris"})
    ]
    assert first.model == model
    second = await acomplete(
        model, [*USER, first.to_message(), _tool_result(first)], tools=TOOLS, timeout_s=5
    )
    assert (second.text, second.tool_calls, second.finish_reason) == ("Sunny.", [], "stop")
    get_scripted_model(model).assert_consumed()


def _tool_result(reply: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": reply.tool_calls[0].id, "content": "18C"}


@pytest.mark.anyio
async def test_rate_limit_fault_carries_retry_after_then_succeeds(name: str) -> None:
    model = register_script(name, [Turn(text="ok", faults=[RateLimitFault(retry_after_s=2.5)])])
    with pytest.raises(ModelRateLimited) as caught:
        await acomplete(model, USER, timeout_s=5)
    assert caught.value.retry_after == 2.5
    assert caught.value.retryable is True
    reply = await acomplete(model, USER, timeout_s=5)
    assert reply.text == "ok"
    assert [c.outcome for c in get_scripted_model(name).calls] == ["rate_limit", "ok"]


@pytest.mark.anyio
async def test_rate_limit_without_retry_after(name: str) -> None:
    model = register_script(name, [Turn(text="ok", faults=[RateLimitFault(retry_after_s=None)])])
    with pytest.raises(ModelRateLimited) as caught:
        await acomplete(model, USER, timeout_s=5)
    assert caught.value.retry_after is None


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_error_fault(name: str, status: int) -> None:
    model = register_script(name, [Turn(text="ok", faults=[ServerErrorFault(status=status)])])
    with pytest.raises(ModelServerError) as caught:
        await acomplete(model, USER, timeout_s=5)
    assert caught.value.status == status
    assert caught.value.retryable is True


@pytest.mark.anyio
async def test_faults_apply_in_order_per_attempt(name: str) -> None:
    faults = [ServerErrorFault(status=503), RateLimitFault(retry_after_s=0.5)]
    model = register_script(name, [Turn(text="ok", faults=faults)])
    outcomes: list[str] = []
    for _ in range(3):
        try:
            await acomplete(model, USER, timeout_s=5)
            outcomes.append("ok")
        except (ModelServerError, ModelRateLimited) as exc:
            outcomes.append(exc.code)
    assert outcomes == ["model_server_error", "model_rate_limited", "ok"]


@pytest.mark.anyio
async def test_faults_are_per_conversation(name: str) -> None:
    model = register_script(name, [Turn(text="ok", faults=[ServerErrorFault()])])
    other = [{"role": "user", "content": "another conversation"}]
    for messages in (USER, other):
        with pytest.raises(ModelServerError):
            await acomplete(model, messages, timeout_s=5)
        assert (await acomplete(model, messages, timeout_s=5)).text == "ok"


@pytest.mark.anyio
async def test_timeout_fault_raises_model_timeout_within_the_timeout(name: str) -> None:
    model = register_script(name, [Turn(text="ok", faults=[TimeoutFault()])])
    started = time.perf_counter()
    with pytest.raises(ModelTimeout):
        await acomplete(model, USER, timeout_s=0.3)
    elapsed = time.perf_counter() - started
    assert 0.29 <= elapsed < 0.6
    assert (await acomplete(model, USER, timeout_s=0.3)).text == "ok"


@pytest.mark.anyio
async def test_latency_longer_than_timeout_is_a_timeout(name: str) -> None:
    model = register_script(name, [Turn(text="slow", latency_s=5.0)])
    started = time.perf_counter()
    with pytest.raises(ModelTimeout):
        await acomplete(model, USER, timeout_s=0.2)
    assert time.perf_counter() - started < 0.5


@pytest.mark.anyio
async def test_malformed_tool_json_is_returned_raw(name: str) -> None:
    model = register_script(name, [Turn.malformed("weather")])
    reply = await acomplete(model, USER, tools=TOOLS, timeout_s=5)
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("weather", "{bad json")]
    assert reply.finish_reason == "tool_calls"


@pytest.mark.anyio
async def test_unknown_tool_call_is_returned(name: str) -> None:
    model = register_script(name, [Turn.unknown_tool()])
    reply = await acomplete(model, USER, tools=TOOLS, timeout_s=5)
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("no_such_tool", "{}")]


@pytest.mark.anyio
async def test_truncated_turn_finishes_with_length(name: str) -> None:
    model = register_script(name, [Turn(text="abcdefgh", truncated=True)])
    reply = await acomplete(model, USER, timeout_s=5)
    assert (reply.finish_reason, reply.text) == ("length", "abcd")


@pytest.mark.anyio
async def test_parallel_tool_calls_have_deterministic_ids(name: str) -> None:
    calls = [ScriptedToolCall(name="weather", arguments={"city": c}) for c in ("Paris", "Oslo")]
    model = register_script(name, [Turn.final("x"), Turn(tool_calls=calls)])
    reply = await acomplete(model, history(1), tools=TOOLS, timeout_s=5)
    assert [c.id for c in reply.tool_calls] == ["call_1_0", "call_1_1"]


@pytest.mark.anyio
async def test_resumed_conversation_gets_turn_by_assistant_count(name: str) -> None:
    turns = [Turn.call("weather", city=str(i)) for i in range(3)] + [Turn.final("done")]
    register_script(name, turns)
    # A fresh registration stands for a new process that resumes the conversation.
    model = register_script(name, turns)
    reply = await acomplete(model, history(2), tools=TOOLS, timeout_s=5)
    assert json.loads(reply.tool_calls[0].arguments) == {"city": "2"}
    assert [c.turn_index for c in get_scripted_model(model).calls] == [2]
    final = await acomplete(model, history(3), tools=TOOLS, timeout_s=5)
    assert final.text == "done"


@pytest.mark.anyio
async def test_unexpected_turn_raises_script_error(name: str) -> None:
    model = register_script(name, [Turn.final("only")])
    with pytest.raises(ScriptError) as caught:
        await acomplete(model, history(1), timeout_s=5)
    assert f"scripted/{name} has no turn 1; the script has 1 turns" in caught.value.message
    assert "last message: tool: result 0" in caught.value.message
    assert caught.value.retryable is False


@pytest.mark.anyio
async def test_unregistered_scripted_model_raises_script_error(name: str) -> None:
    with pytest.raises(ScriptError, match="not registered"):
        await acomplete(f"scripted/{name}", USER, timeout_s=5)
    with pytest.raises(ConfigError):
        get_scripted_model(name)


@pytest.mark.anyio
async def test_assert_consumed_lists_unused_turns(name: str) -> None:
    model = register_script(name, [Turn.final("a"), Turn.final("b"), Turn.final("c")])
    await acomplete(model, USER, timeout_s=5)
    with pytest.raises(ScriptError) as caught:
        get_scripted_model(model).assert_consumed()
    assert "turn indexes [1, 2]" in caught.value.message


@pytest.mark.anyio
async def test_function_script_sees_request_and_faults_apply(name: str) -> None:
    seen: list[tuple[int, list[str]]] = []

    def script(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
        seen.append((len(messages), [t["function"]["name"] for t in tools or []]))
        return Turn(text=f"echo {messages[-1]['content']}", faults=[ServerErrorFault()])

    model = register_script(name, script)
    with pytest.raises(ModelServerError):
        await acomplete(model, USER, tools=TOOLS, timeout_s=5)
    reply = await acomplete(model, USER, tools=TOOLS, timeout_s=5)
    assert reply.text == "echo What is the weather in Paris?"
    assert seen == [(1, ["weather"]), (1, ["weather"])]
    get_scripted_model(model).assert_consumed()  # no-op for function scripts


@pytest.mark.anyio
async def test_token_estimates_from_request_and_output(name: str) -> None:
    model = register_script(name, [Turn.final("x" * 40)])
    messages = [{"role": "user", "content": "y" * 400}]
    reply = await acomplete(model, messages, timeout_s=5)
    assert (reply.prompt_tokens, reply.completion_tokens) == (100, 10)
    fixed = register_script(name, [Turn(text="z", prompt_tokens=7, completion_tokens=3)])
    reply = await acomplete(fixed, messages, timeout_s=5)
    assert (reply.prompt_tokens, reply.completion_tokens) == (7, 3)


def test_register_script_rejects_bad_input(name: str) -> None:
    with pytest.raises(ConfigError):
        register_script("has space", [Turn.final("x")])
    with pytest.raises(ConfigError):
        register_script(name, ["not a turn"])  # type: ignore[list-item]


def test_provider_serves_litellm_completion_and_acompletion(name: str) -> None:
    import asyncio

    from workbench.models._litellm import get_litellm

    litellm = get_litellm()
    model = register_script(
        name, [Turn.call("weather", city="Oslo"), Turn(text="cold", prompt_tokens=5)]
    )
    sync = litellm.completion(model=model, messages=USER, tools=TOOLS, num_retries=0)
    tool_call = sync.choices[0].message.tool_calls[0]
    assert (tool_call.id, tool_call.function.name) == ("call_0_0", "weather")
    assert sync.usage.completion_tokens > 0
    assistant = {"role": "assistant", "content": "thinking"}
    reply = asyncio.run(litellm.acompletion(model=model, messages=[*USER, assistant]))
    assert reply.choices[0].message.content == "cold"
    assert (reply.usage.prompt_tokens, reply.choices[0].finish_reason) == (5, "stop")
