"""Model routing: fallback models after the runtime's retries, and a response cache with a TTL.

An agent spec may list ``fallbacks`` (models tried in order once the current model has
failed with a retryable error, 429, 5xx or timeout, and the runtime's retries on it are
spent) and a ``response_cache`` (``{ttl_s: N}``). The loop asks :func:`next_model` which
model comes next and calls :func:`acomplete_routed` instead of
:func:`~workbench.models.acomplete`.

Why not litellm's ``Router`` for the fallbacks: the Router is its own retry loop (it sets
the provider's retries to 0 and retries, falls back and cools deployments down inside
one call). The runtime already owns retries (backoff with jitter, ``Retry-After`` as a
floor, one span and one step event per attempt, the budget reservation per call); a
second retry loop inside the call would hide attempts from the trace and the budget.
The cache does use litellm's own TTL store (``litellm.caching.InMemoryCache``), keyed by
the cassettes' normalised request hash (:func:`~workbench.models.request_key`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import ModelError
from workbench.models._cassette import request_key
from workbench.models._complete import acomplete
from workbench.models._types import ModelReply

__all__ = [
    "ResponseCacheConfig",
    "RoutedReply",
    "acomplete_routed",
    "clear_response_cache",
    "next_model",
]

_DEFAULT_MAX_ENTRIES = 10_000


class ResponseCacheConfig(BaseModel):
    """The ``response_cache`` of an agent spec: reuse identical model requests for a while.

    Off unless the spec sets it. A request is cached only when its sampling is
    deterministic (``temperature`` unset or ``<= 0``) unless ``force`` is true.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_s: float = Field(gt=0, le=7 * 24 * 3600)
    """How long a reply is served again, in seconds."""
    force: bool = False
    """Cache even when ``temperature > 0`` (the reply is then one sample, served again)."""
    max_entries: int = Field(default=_DEFAULT_MAX_ENTRIES, ge=1)
    """Most replies kept in this process."""

    def applies(self, temperature: float | None) -> bool:
        """Whether a request with ``temperature`` may be served from the cache."""
        return self.force or temperature is None or temperature <= 0


class RoutedReply(NamedTuple):
    """A reply and how it was obtained."""

    reply: ModelReply
    """The reply; a cache hit has cost and tokens 0 (nothing was billed)."""
    cache_hit: bool
    """True when the reply came from the response cache."""


_caches: dict[int, Any] = {}
_lock = threading.Lock()


def _cache(max_entries: int) -> Any:
    with _lock:
        cache = _caches.get(max_entries)
        if cache is None:
            from litellm.caching.in_memory_cache import InMemoryCache

            cache = _caches[max_entries] = InMemoryCache(max_size_in_memory=max_entries)
        return cache


def clear_response_cache() -> None:
    """Forget every cached reply of this process (tests, or after a model change)."""
    with _lock:
        for cache in _caches.values():
            cache.flush_cache()


def next_model(
    models: Sequence[str], current: str, exc: BaseException, *, retries_left: bool
) -> str | None:
    """The model to fall back to after ``exc`` on ``current``, if any.

    A fallback is taken only for a retryable model error (429, 5xx, timeout) once the
    runtime's retries on ``current`` are spent; other errors (a bad request, a missing
    price) would fail the same way on every model.

    Args:
        models: The primary model then the spec's fallbacks, in order.
        current: The model that just failed.
        exc: What it raised.
        retries_left: Whether the runtime would still retry ``current``.
    """
    if retries_left or not (isinstance(exc, ModelError) and exc.retryable):
        return None
    try:
        index = list(models).index(current)
    except ValueError:
        return None
    return models[index + 1] if index + 1 < len(models) else None


async def acomplete_routed(
    model: str,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    timeout_s: float,
    max_tokens: int | None = None,
    temperature: float | None = None,
    cache: ResponseCacheConfig | None = None,
) -> RoutedReply:
    """One attempt at ``model``, served from the response cache when it holds the request.

    Args:
        model: The model to ask (the primary or a fallback).
        messages: OpenAI-format messages.
        tools: OpenAI-format tool definitions.
        timeout_s: Timeout of this attempt.
        max_tokens: Largest completion.
        temperature: Sampling temperature.
        cache: The spec's ``response_cache``; ``None`` calls the model every time.

    Returns:
        The reply (cost 0 on a hit) and whether it was a hit.

    Raises:
        ModelError: As :func:`~workbench.models.acomplete`; a failed call is never cached.
    """
    use_cache = cache is not None and cache.applies(temperature)
    key = ""
    if use_cache:
        assert cache is not None
        params = {"max_tokens": max_tokens, "temperature": temperature}
        key = request_key(model, messages, tools, params)
        stored = _cache(cache.max_entries).get_cache(key)
        if isinstance(stored, dict):
            hit = ModelReply.model_validate(stored).model_copy(
                update={"cost_usd": 0.0, "prompt_tokens": 0, "completion_tokens": 0}
            )
            return RoutedReply(hit.model_copy(update={"latency_s": 0.0}), True)
    reply = await acomplete(
        model,
        messages,
        tools=tools,
        timeout_s=timeout_s,
        max_tokens=max_tokens,
        temperature=temperature,
    )
    if use_cache:
        assert cache is not None
        _cache(cache.max_entries).set_cache(key, reply.model_dump(mode="json"), ttl=cache.ttl_s)
    return RoutedReply(reply, False)
