"""USD prices of models: registered prices first, then litellm's offline cost map."""

from __future__ import annotations

import math

from workbench.errors import ConfigError

__all__ = ["cost_usd", "ensure_price_known", "register_price"]

_PER_MTOK = 1_000_000
_LOCAL_PREFIX = "local/"
_SCRIPTED_PREFIX = "scripted/"

# model name -> (USD per input token, USD per output token)
_PRICES: dict[str, tuple[float, float]] = {}


def register_price(model: str, *, input_per_mtok: float, output_per_mtok: float) -> None:
    """Register (or replace) the price of ``model`` in USD per million tokens.

    A registered price wins over litellm's cost map. ``scripted/...`` models get
    one from :func:`register_script`; ``local/...`` models cost 0 unless one is
    registered here.

    Args:
        model: The model name exactly as passed to :func:`acomplete`.
        input_per_mtok: USD per million prompt tokens.
        output_per_mtok: USD per million completion tokens.

    Raises:
        ConfigError: A price is negative or not finite.
    """
    for label, value in (("input_per_mtok", input_per_mtok), ("output_per_mtok", output_per_mtok)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"price {label} of {model!r} must be a finite number >= 0: {value}")
    _PRICES[model] = (input_per_mtok / _PER_MTOK, output_per_mtok / _PER_MTOK)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD cost of ``prompt_tokens`` in and ``completion_tokens`` out on ``model``.

    Args:
        model: The model name as passed to :func:`acomplete`.
        prompt_tokens: Input tokens.
        completion_tokens: Output tokens.

    Returns:
        Registered price times tokens; else litellm's offline cost map; ``local/...``
        models cost 0.

    Raises:
        ConfigError: No price is known for ``model``; the message says how to register one.
    """
    price = _PRICES.get(model)
    if price is not None:
        return prompt_tokens * price[0] + completion_tokens * price[1]
    if model.startswith(_LOCAL_PREFIX):
        return 0.0
    if model.startswith(_SCRIPTED_PREFIX):
        raise ConfigError(
            f"no price for {model!r}: it is not registered in this process; "
            f"call register_script({model.removeprefix(_SCRIPTED_PREFIX)!r}, ...) first"
        )
    return _catalogue_cost(model, prompt_tokens, completion_tokens)


def ensure_price_known(model: str) -> None:
    """Raise :class:`ConfigError` now if ``model`` has no price, before paying for a call."""
    cost_usd(model, 1, 1)


def _catalogue_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    from workbench.models._litellm import get_litellm

    litellm = get_litellm()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception as exc:  # litellm raises several types for an unmapped model
        raise ConfigError(
            f"no price known for model {model!r} (not in litellm's cost map): register one with "
            f"workbench.models.register_price({model!r}, input_per_mtok=..., output_per_mtok=...)"
        ) from exc
    return float(prompt_cost) + float(completion_cost)
