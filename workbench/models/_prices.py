"""USD prices of models: registered prices first, then litellm's offline cost map."""

from __future__ import annotations

import math
from collections.abc import Iterable
from types import ModuleType

from workbench.errors import ConfigError

__all__ = ["cost_usd", "ensure_price_known", "mirror_prices", "register_price"]

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
    from workbench.models._litellm import loaded

    litellm = loaded()
    if litellm is not None:
        mirror_prices(litellm, [model])


def mirror_prices(litellm: ModuleType, models: Iterable[str] | None = None) -> None:
    """Tell litellm the prices of our ``scripted/...`` models (all of them by default).

    We price calls ourselves (:func:`cost_usd`), but litellm still computes a cost for
    every call for its own logging payload; for a model missing from its cost map that
    lookup walks every fallback name pattern (about 1 ms of CPU a call). Registering the
    price (``litellm.register_model``) makes the lookup direct and keeps litellm's
    figure equal to ours. Only the ``scripted/`` namespace is ours to register: a real
    provider's entry in litellm's map is left as litellm has it.
    """
    names = list(_PRICES) if models is None else list(models)
    entries = {
        name: {
            "input_cost_per_token": _PRICES[name][0],
            "output_cost_per_token": _PRICES[name][1],
            "cache_creation_input_token_cost": 0.0,
            "cache_read_input_token_cost": 0.0,
            "litellm_provider": "scripted",
            "mode": "chat",
        }
        for name in names
        if name.startswith(_SCRIPTED_PREFIX) and name in _PRICES
    }
    if entries:
        litellm.register_model(entries)


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
