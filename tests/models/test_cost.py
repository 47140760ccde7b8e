"""Prices: registered prices, litellm's offline map, local models, unknown models."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.models import Turn, acomplete, cost_usd, register_price, register_script


def test_registered_price_is_tokens_times_price() -> None:
    register_price("acme/model-x", input_per_mtok=3.0, output_per_mtok=15.0)
    assert cost_usd("acme/model-x", 2_000, 500) == pytest.approx(2_000 * 3e-6 + 500 * 15e-6)
    assert cost_usd("acme/model-x", 0, 0) == 0.0


def test_litellm_offline_cost_map_prices_known_models() -> None:
    # gpt-4o-mini is $0.15 in / $0.60 out per million tokens in litellm's bundled map.
    assert cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)


def test_registered_price_overrides_the_catalogue() -> None:
    register_price("gpt-4o-mini", input_per_mtok=1.0, output_per_mtok=2.0)
    try:
        assert cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(3.0)
    finally:
        register_price("gpt-4o-mini", input_per_mtok=0.15, output_per_mtok=0.60)


def test_unknown_model_raises_config_error_saying_how_to_register() -> None:
    with pytest.raises(ConfigError) as caught:
        cost_usd("nowhere/unknown-model", 10, 10)
    assert "nowhere/unknown-model" in caught.value.message
    assert "register_price" in caught.value.message


def test_local_models_are_free_and_scripted_need_registration() -> None:
    assert cost_usd("local/smollm2", 10_000, 10_000) == 0.0
    with pytest.raises(ConfigError, match="register_script"):
        cost_usd("scripted/never-registered", 1, 1)


def test_negative_price_is_rejected() -> None:
    with pytest.raises(ConfigError):
        register_price("acme/bad", input_per_mtok=-1.0, output_per_mtok=0.0)


@pytest.mark.anyio
async def test_scripted_reply_cost_is_real_arithmetic(name: str) -> None:
    model = register_script(
        name,
        [Turn(text="ok", prompt_tokens=1_200, completion_tokens=300)],
        input_per_mtok=2.0,
        output_per_mtok=8.0,
    )
    reply = await acomplete(model, [{"role": "user", "content": "hi"}], timeout_s=5)
    assert reply.cost_usd == pytest.approx(1_200 * 2.0 / 1e6 + 300 * 8.0 / 1e6)
    assert reply.cost_usd == pytest.approx(cost_usd(model, 1_200, 300))
