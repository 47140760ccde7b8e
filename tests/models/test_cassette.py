"""Cassettes: record then replay, misses, modes, key normalisation, the shipped cassette."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import CassetteMissError, ConfigError
from workbench.models import (
    Cassette,
    ModelReply,
    Turn,
    acomplete,
    get_scripted_model,
    register_script,
    request_key,
    use_cassette,
)

SHIPPED = Path(__file__).parent / "cassettes" / "scripted_weather.json"
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Current weather of a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


async def weather_conversation(model: str) -> list[ModelReply]:
    """Two turns: a tool call, then a final answer that uses the tool result."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": "What is the weather in Paris?"},
    ]
    first = await acomplete(model, messages, tools=TOOLS, timeout_s=5, temperature=0.0)
    messages.append(first.to_message())
    messages.append({"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "18C"})
    second = await acomplete(model, messages, tools=TOOLS, timeout_s=5, temperature=0.0)
    return [first, second]


def register_weather() -> str:
    return register_script(
        "weather",
        [Turn.call("weather", city="Paris"), Turn.final("It is 18C and sunny in Paris.")],
    )


async def record_weather(path: Path) -> list[ModelReply]:
    """How the shipped cassette was made (``mode="record"`` against a scripted model)."""
    model = register_weather()
    with use_cassette(path, mode="record"):
        return await weather_conversation(model)


@pytest.mark.anyio
async def test_record_then_replay(tmp_path: Path, name: str) -> None:
    path = tmp_path / "c.json"
    model = register_script(name, [Turn.call("weather", city="Paris"), Turn.final("Sunny.")])
    with use_cassette(path, mode="record") as cassette:
        recorded = await weather_conversation(model)
    assert len(cassette) == 2
    # A script that would fail if consulted: replay must not call the model.
    register_script(name, [])
    with use_cassette(path):
        replayed = await weather_conversation(model)
    assert [r.model_dump(exclude={"latency_s"}) for r in replayed] == [
        r.model_dump(exclude={"latency_s"}) for r in recorded
    ]
    assert [r.latency_s for r in replayed] == [0.0, 0.0]
    assert get_scripted_model(model).calls == []


@pytest.mark.anyio
async def test_replay_miss_names_the_request(tmp_path: Path, name: str) -> None:
    path = tmp_path / "c.json"
    model = register_script(name, [Turn.final("a")])
    with use_cassette(path, mode="record"):
        await acomplete(model, [{"role": "user", "content": "recorded"}], timeout_s=5)
    with use_cassette(path), pytest.raises(CassetteMissError) as caught:
        await acomplete(model, [{"role": "user", "content": "never recorded"}], timeout_s=5)
    error = caught.value
    assert error.request_summary == f"model={model}, last message=user: never recorded"
    assert error.key == request_key(
        model, [{"role": "user", "content": "never recorded"}], None, {}
    )
    assert error.request_summary in error.message


@pytest.mark.anyio
async def test_auto_mode_records_misses_and_replays_hits(tmp_path: Path, name: str) -> None:
    model = register_script(name, [Turn.final("a")])
    messages = [{"role": "user", "content": "q"}]
    with use_cassette(tmp_path / "c.json", mode="auto"):
        first = await acomplete(model, messages, timeout_s=5)
        second = await acomplete(model, messages, timeout_s=5)
    assert (first.text, second.text, second.latency_s) == ("a", "a", 0.0)
    assert len(get_scripted_model(model).calls) == 1


def test_replay_of_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="record it first"), use_cassette(tmp_path / "no.json"):
        pass


@pytest.mark.anyio
async def test_env_var_activates_a_cassette(monkeypatch: pytest.MonkeyPatch) -> None:
    register_weather()
    monkeypatch.setenv("WORKBENCH_CASSETTE", str(SHIPPED))
    monkeypatch.setenv("WORKBENCH_CASSETTE_MODE", "replay")
    register_script("weather", [])  # the script is not consulted on replay
    replies = await weather_conversation("scripted/weather")
    assert replies[1].text == "It is 18C and sunny in Paris."


@pytest.mark.anyio
async def test_cassettes_are_per_task(tmp_path: Path, name: str) -> None:
    model = register_script(name, lambda messages, tools: Turn.final(messages[-1]["content"]))

    async def run(label: str) -> None:
        with use_cassette(tmp_path / f"{label}.json", mode="record"):
            await asyncio.sleep(0)  # interleave the two tasks
            await acomplete(model, [{"role": "user", "content": label}], timeout_s=5)

    await asyncio.gather(run("left"), run("right"))
    for label in ("left", "right"):
        entries = json.loads((tmp_path / f"{label}.json").read_text())
        assert [e["response"]["text"] for e in entries.values()] == [label]


@pytest.mark.anyio
async def test_shipped_cassette_replays() -> None:
    register_script("weather", [])
    with use_cassette(SHIPPED):
        first, second = await weather_conversation("scripted/weather")
    assert first.tool_calls[0].name == "weather"
    assert json.loads(first.tool_calls[0].arguments) == {"city": "Paris"}
    assert second.text == "It is 18C and sunny in Paris."
    assert second.cost_usd > 0


@pytest.mark.anyio
async def test_shipped_cassette_is_what_record_mode_writes(tmp_path: Path) -> None:
    path = tmp_path / "again.json"
    await record_weather(path)
    assert json.loads(path.read_text()) == json.loads(SHIPPED.read_text())


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def _conversation(call_id: str, pad: str = "") -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"{pad}What is the weather in Paris?{pad}"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris", "u": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "18C"},
    ]


def test_request_key_is_stable_under_key_order_whitespace_and_ids() -> None:
    base = request_key("m", _conversation("call_abc"), TOOLS, {"temperature": 0.0})
    rng = random.Random(7)
    for _ in range(5):
        shuffled = _shuffled(_conversation("call_abc"), rng)
        assert request_key("m", shuffled, _shuffled(TOOLS, rng), {"temperature": 0.0}) == base
    padded = _conversation("toolu_999", pad="  \n")
    assert request_key("m", padded, TOOLS, {"temperature": 0.0}) == base
    reordered_args = _conversation("call_abc")
    reordered_args[1]["tool_calls"][0]["function"]["arguments"] = '{"u":1,"city":"Paris"}'
    assert request_key("m", reordered_args, TOOLS, {"temperature": 0.0}) == base
    volatile = {"temperature": 0.0, "timeout": 3, "num_retries": 0, "max_tokens": None}
    assert request_key("m", _conversation("x"), TOOLS, volatile) == base


def test_request_key_changes_with_what_the_model_sees() -> None:
    base = request_key("m", _conversation("a"), TOOLS, {"temperature": 0.0})
    changed = _conversation("a")
    changed[2]["content"] = "19C"
    assert request_key("m", changed, TOOLS, {"temperature": 0.0}) != base
    assert request_key("other", _conversation("a"), TOOLS, {"temperature": 0.0}) != base
    assert request_key("m", _conversation("a"), None, {"temperature": 0.0}) != base
    assert request_key("m", _conversation("a"), TOOLS, {"temperature": 0.7}) != base


def test_cassette_file_is_one_object_keyed_by_request(tmp_path: Path) -> None:
    reply = ModelReply(
        text="t",
        finish_reason="stop",
        prompt_tokens=1,
        completion_tokens=1,
        cost_usd=0.5,
        model="scripted/none",
        latency_s=0.3,
    )
    cassette = Cassette(tmp_path / "x.json", mode="record")
    cassette.put("k1", {"summary": "s"}, reply)
    data = json.loads((tmp_path / "x.json").read_text())
    assert list(data) == ["k1"]
    assert data["k1"]["request"] == {"summary": "s"}
    assert "latency_s" not in data["k1"]["response"]
    # Unknown price in this process: the recorded cost is used.
    assert Cassette(tmp_path / "x.json").get("k1") == reply.model_copy(update={"latency_s": 0.0})
