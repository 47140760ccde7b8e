"""Blocking real provider requests: no I/O at all, scripted/local/replays still allowed."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ModelRequestsBlocked, ServiceError
from workbench.models import (
    Cassette,
    ModelReply,
    Turn,
    acomplete,
    allow_model_requests,
    model_requests_allowed,
    register_script,
    request_key,
    use_cassette,
)

USER = [{"role": "user", "content": "hello"}]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any socket connection attempt is recorded and fails."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.mark.anyio
async def test_blocked_real_request_raises_before_any_io(no_network: list[Any]) -> None:
    assert model_requests_allowed() is False
    with pytest.raises(ModelRequestsBlocked) as caught:
        await acomplete("openai/gpt-4o-mini", USER, timeout_s=5)
    assert "openai/gpt-4o-mini" in caught.value.message
    assert no_network == []


@pytest.mark.anyio
async def test_env_var_blocks_even_when_switch_is_on(
    monkeypatch: pytest.MonkeyPatch, no_network: list[Any]
) -> None:
    allow_model_requests(True)
    monkeypatch.setenv("WORKBENCH_ALLOW_MODEL_REQUESTS", "0")
    assert model_requests_allowed() is False
    with pytest.raises(ModelRequestsBlocked):
        await acomplete("anthropic/claude-3-5-haiku-20241022", USER, timeout_s=5)
    assert no_network == []
    monkeypatch.setenv("WORKBENCH_ALLOW_MODEL_REQUESTS", "1")
    assert model_requests_allowed() is True


@pytest.mark.anyio
async def test_scripted_models_are_allowed_while_blocked(name: str) -> None:
    model = register_script(name, [Turn.final("fine")])
    assert (await acomplete(model, USER, timeout_s=5)).text == "fine"


@pytest.mark.anyio
async def test_local_models_are_not_blocked() -> None:
    # Blocked would be ModelRequestsBlocked; a local model gets as far as the server lookup.
    with pytest.raises(ServiceError, match="workbench services up model"):
        await acomplete("local/smollm2", USER, timeout_s=5)


@pytest.mark.anyio
async def test_cassette_replay_of_a_real_model_is_allowed(
    tmp_path: Path, no_network: list[Any]
) -> None:
    path = tmp_path / "real.json"
    recorded = ModelReply(
        text="recorded answer",
        finish_reason="stop",
        prompt_tokens=1_000,
        completion_tokens=100,
        cost_usd=0.0,
        model="gpt-4o-mini",
        latency_s=1.0,
    )
    key = request_key("gpt-4o-mini", USER, None, {})
    Cassette(path, mode="record").put(key, {"model": "gpt-4o-mini"}, recorded)
    with use_cassette(path):
        reply = await acomplete("gpt-4o-mini", USER, timeout_s=5)
    assert (reply.text, reply.latency_s) == ("recorded answer", 0.0)
    # Cost is recomputed from the recorded tokens with litellm's offline price map.
    assert reply.cost_usd == pytest.approx(1_000 * 0.15e-6 + 100 * 0.6e-6)
    assert no_network == []


@pytest.mark.anyio
async def test_record_mode_still_blocks_real_requests(tmp_path: Path) -> None:
    with use_cassette(tmp_path / "new.json", mode="record"), pytest.raises(ModelRequestsBlocked):
        await acomplete("gpt-4o-mini", USER, timeout_s=5)
