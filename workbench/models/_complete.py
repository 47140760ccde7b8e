"""The one function every LLM call of the platform goes through: :func:`acomplete`."""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import time
from typing import Any

from workbench._util import run_sync
from workbench.errors import (
    ModelError,
    ModelRateLimited,
    ModelRequestsBlocked,
    ModelServerError,
    ModelTimeout,
    ServiceError,
    WorkbenchError,
)
from workbench.models._cassette import active_cassette, request_key, request_summary
from workbench.models._litellm import get_litellm
from workbench.models._prices import cost_usd, ensure_price_known
from workbench.models._scripted import lookup
from workbench.models._switch import model_requests_allowed
from workbench.models._types import ModelReply, ToolCallRequest
from workbench.settings import get_settings

__all__ = ["acomplete", "complete"]

_SCRIPTED = "scripted/"
_LOCAL = "local/"
# ``_provider.SCRIPTED_PROVIDER``; that module imports litellm, so it is not imported here.
_SCRIPTED_PROVIDER = "scripted"


async def acomplete(
    model: str,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    timeout_s: float,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> ModelReply:
    """Make exactly one attempt at a chat completion (retries belong to the runtime).

    ``scripted/NAME`` goes to the scripted provider, ``local/NAME`` to the local
    OpenAI-compatible server of ``workbench services up model``, anything else to
    litellm unchanged. An active cassette is consulted first.

    Args:
        model: Model name, e.g. ``"scripted/analyst"``, ``"local/smollm2"``, ``"gpt-4o-mini"``.
        messages: OpenAI-format messages.
        tools: OpenAI-format tool definitions.
        timeout_s: Timeout of this attempt, enforced here and passed to the provider.
        max_tokens: Largest completion, passed to the provider when set.
        temperature: Sampling temperature, passed to the provider when set.

    Returns:
        The reply with raw tool calls, usage, USD cost and latency.

    Raises:
        ModelRateLimited: 429, with the provider's Retry-After when it sent one.
        ModelServerError: A 5xx answer or a failed connection.
        ModelTimeout: ``timeout_s`` elapsed.
        ModelRequestsBlocked: A real provider was asked while requests are blocked.
        ScriptError: A scripted model has no turn for this request.
        CassetteMissError: Replaying, and the cassette does not hold this request.
        ConfigError: No price is known for the model.
        ServiceError: ``local/...`` was asked and the local model server is not running.
        ModelError: Any other provider failure.
    """
    cassette = active_cassette()
    if cassette is None:
        return await _call(model, messages, tools, timeout_s, max_tokens, temperature)
    params = {"max_tokens": max_tokens, "temperature": temperature}
    key = request_key(model, messages, tools, params)
    if cassette.mode != "record":
        recorded = cassette.get(key)
        if recorded is not None:
            return recorded
        if cassette.mode == "replay":
            raise cassette.miss(key, request_summary(model, messages))
    reply = await _call(model, messages, tools, timeout_s, max_tokens, temperature)
    summary = {
        "model": model,
        "messages": len(messages),
        "tools": sorted(_tool_names(tools)),
        "summary": request_summary(model, messages),
    }
    cassette.put(key, summary, reply)
    return reply


def complete(
    model: str,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    timeout_s: float,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> ModelReply:
    """Blocking :func:`acomplete`; works inside a running event loop (Jupyter) too.

    The call runs on one long-lived event loop in a worker thread, in a copy of the
    caller's context (so an active cassette applies). One loop for every sync call
    keeps litellm's per-loop state (its logging worker, HTTP clients) warm.
    """
    coro = acomplete(
        model,
        messages,
        tools=tools,
        timeout_s=timeout_s,
        max_tokens=max_tokens,
        temperature=temperature,
    )
    return run_sync(coro)


async def _call(
    model: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    timeout_s: float,
    max_tokens: int | None,
    temperature: float | None,
) -> ModelReply:
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "timeout": timeout_s,
        "num_retries": 0,
        "max_retries": 0,
    }
    if tools:
        kwargs["tools"] = tools
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if temperature is not None:
        kwargs["temperature"] = temperature
    if model.startswith(_LOCAL):
        base_url = _local_base_url()
        kwargs.update(
            model="openai/" + model.removeprefix(_LOCAL),
            api_base=base_url,
            api_key="sk-local",
            custom_llm_provider="openai",
        )
    elif model.startswith(_SCRIPTED):
        lookup(model)  # an unregistered script is a ScriptError, not a missing price
        # The provider is known: litellm skips resolving it from the name once per call.
        kwargs["custom_llm_provider"] = _SCRIPTED_PROVIDER
    elif not model_requests_allowed():
        raise ModelRequestsBlocked(
            f"request to real provider model {model!r} blocked: model requests are disabled "
            "(allow_model_requests(False) or WORKBENCH_ALLOW_MODEL_REQUESTS=0); "
            "use a scripted/... model or a cassette"
        )
    ensure_price_known(model)
    litellm = get_litellm()
    started = time.perf_counter()
    try:
        # ``asyncio.timeout`` runs the call in this task; ``wait_for`` would wrap it in a
        # task of its own (a task and two more event-loop turns per call).
        async with asyncio.timeout(timeout_s):
            response = await litellm.acompletion(**kwargs)
    except TimeoutError:
        raise ModelTimeout(f"{model} did not answer within {timeout_s} s") from None
    except WorkbenchError:
        raise
    except Exception as exc:
        raise _map_error(model, timeout_s, exc) from exc
    latency = time.perf_counter() - started
    return _reply(model, response, latency)


def _reply(model: str, response: Any, latency_s: float) -> ModelReply:
    choice = response.choices[0]
    message = choice.message
    # Every field is converted to its declared type here: construct, do not re-validate.
    calls = [
        ToolCallRequest.model_construct(
            id=str(call.id),
            name=str(call.function.name),
            arguments=str(call.function.arguments) if call.function.arguments is not None else "",
        )
        for call in (message.tool_calls or [])
    ]
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    content = message.content
    return ModelReply.model_construct(
        text=content if content is None or isinstance(content, str) else str(content),
        tool_calls=calls,
        finish_reason=str(choice.finish_reason or ("tool_calls" if calls else "stop")),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=float(cost_usd(model, prompt_tokens, completion_tokens)),
        model=model,
        latency_s=latency_s,
    )


def _map_error(model: str, timeout_s: float, exc: Exception) -> WorkbenchError:
    carried = getattr(exc, "error", None)
    if isinstance(carried, WorkbenchError):
        return carried
    import openai
    from litellm import exceptions as llx

    message = f"{model}: {exc}"
    if isinstance(exc, llx.RateLimitError):
        return ModelRateLimited(message, retry_after=_retry_after(exc))
    # litellm's Timeout derives from APIConnectionError: test it first.
    if isinstance(exc, llx.Timeout | openai.APITimeoutError):
        return ModelTimeout(f"{model} did not answer within {timeout_s} s: {exc}")
    status = _status(exc)
    if isinstance(
        exc,
        llx.InternalServerError
        | llx.ServiceUnavailableError
        | llx.BadGatewayError
        | llx.APIConnectionError
        | openai.APIConnectionError,
    ):
        return ModelServerError(message, status=status if status >= 500 else 500)
    if status >= 500:
        return ModelServerError(message, status=status)
    return ModelError(message)


def _status(exc: Exception) -> int:
    for attribute in ("provider_status_code", "status_code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int):
            return value
    return 0


def _retry_after(exc: Exception) -> float | None:
    sources: list[Any] = [getattr(exc, "headers", None)]
    response = getattr(exc, "response", None)
    if response is not None:
        sources.append(getattr(response, "headers", None))
    for headers in sources:
        if not headers:
            continue
        lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
        if "retry-after-ms" in lowered:
            seconds = _parse_seconds(lowered["retry-after-ms"])
            if seconds is not None:
                return seconds / 1000
        if "retry-after" in lowered:
            return _parse_retry_after(lowered["retry-after"])
    return None


def _parse_seconds(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _parse_retry_after(value: str) -> float | None:
    seconds = _parse_seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _local_base_url() -> str:
    path = get_settings().services_dir / "model.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServiceError(
            "local model server not running: run `workbench services up model`"
        ) from None
    except (OSError, ValueError) as exc:
        raise ServiceError(f"local model server state {path} is unreadable: {exc}") from exc
    base_url = info.get("base_url") if isinstance(info, dict) else None
    if not isinstance(base_url, str) or not base_url:
        raise ServiceError(f"local model server state {path} has no base_url")
    return base_url


def _tool_names(tools: list[dict[str, Any]] | None) -> list[str]:
    names = []
    for tool in tools or []:
        function = tool.get("function")
        if isinstance(function, dict) and "name" in function:
            names.append(str(function["name"]))
    return names
