"""The ``scripted`` litellm custom provider: serves scripted turns through litellm itself.

Works through both ``litellm.acompletion`` and ``litellm.completion``; faults are raised
as litellm's own exception types so every caller sees what a real provider would send.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from litellm.exceptions import (
    APIError,
    BadGatewayError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    ServiceUnavailableError,
)
from litellm.exceptions import Timeout as LitellmTimeout
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse, Usage

from workbench.errors import ConfigError, WorkbenchError
from workbench.models._prices import cost_usd
from workbench.models._scripted import (
    PREFIX,
    RateLimitFault,
    ScriptedOutput,
    ServerErrorFault,
    TimeoutFault,
    lookup,
)

__all__ = ["SCRIPTED_PROVIDER", "ScriptedProvider", "WorkbenchErrorCarrier"]

SCRIPTED_PROVIDER = "scripted"
_FAKE_URL = "http://scripted.invalid/v1/chat/completions"
# How far past the caller's timeout a TimeoutFault sleeps, so the caller's own timer fires.
_TIMEOUT_OVERSHOOT_S = 0.05


class WorkbenchErrorCarrier(BadRequestError):
    """Carries a :class:`WorkbenchError` (a ScriptError) through litellm unchanged.

    litellm re-wraps any exception that is not one of its own types, losing the
    original; a subclass of its BadRequestError passes through untouched, and
    ``acomplete`` re-raises ``.error``.
    """

    def __init__(self, error: WorkbenchError, model: str) -> None:
        super().__init__(error.message, model=model, llm_provider=SCRIPTED_PROVIDER)
        self.error = error


class ScriptedProvider(CustomLLM):
    """litellm custom provider for ``scripted/<name>`` models."""

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        """Serve one attempt synchronously (``litellm.completion``)."""
        planned = _plan(model, messages, kwargs.get("optional_params") or {})
        if isinstance(planned, TimeoutFault):
            time.sleep(_timeout_seconds(kwargs.get("timeout")) + _TIMEOUT_OVERSHOOT_S)
            raise _timeout(model)
        if isinstance(planned, RateLimitFault | ServerErrorFault):
            raise _fault_exception(model, planned)
        if planned.latency_s > 0:
            time.sleep(planned.latency_s)
        return _response(model, planned)

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        """Serve one attempt asynchronously (``litellm.acompletion``)."""
        planned = _plan(model, messages, kwargs.get("optional_params") or {})
        if isinstance(planned, TimeoutFault):
            await asyncio.sleep(_timeout_seconds(kwargs.get("timeout")) + _TIMEOUT_OVERSHOOT_S)
            raise _timeout(model)
        if isinstance(planned, RateLimitFault | ServerErrorFault):
            raise _fault_exception(model, planned)
        if planned.latency_s > 0:
            await asyncio.sleep(planned.latency_s)
        return _response(model, planned)


def _plan(
    model: str, messages: list[Any], optional_params: dict[str, Any]
) -> ScriptedOutput | RateLimitFault | ServerErrorFault | TimeoutFault:
    try:
        return lookup(model).respond(messages, optional_params.get("tools"))
    except WorkbenchError as error:
        raise WorkbenchErrorCarrier(error, model) from error


def _timeout_seconds(timeout: Any) -> float:
    if isinstance(timeout, int | float):
        return float(timeout)
    if isinstance(timeout, httpx.Timeout) and timeout.read is not None:
        return float(timeout.read)
    return 0.0


def _timeout(model: str) -> Exception:
    return LitellmTimeout(
        f"scripted/{model} timed out (scripted fault)",
        model=model,
        llm_provider=SCRIPTED_PROVIDER,
    )


def _fault_exception(model: str, fault: RateLimitFault | ServerErrorFault) -> Exception:
    request = httpx.Request("POST", _FAKE_URL)
    name = f"scripted/{model}"
    if isinstance(fault, RateLimitFault):
        headers = {} if fault.retry_after_s is None else {"retry-after": str(fault.retry_after_s)}
        response = httpx.Response(429, headers=headers, request=request)
        return RateLimitError(
            f"{name}: rate limited (scripted fault)",
            llm_provider=SCRIPTED_PROVIDER,
            model=model,
            response=response,
        )
    message = f"{name}: server error {fault.status} (scripted fault)"
    response = httpx.Response(fault.status, request=request)
    kwargs: dict[str, Any] = {"llm_provider": SCRIPTED_PROVIDER, "model": model}
    if fault.status == 500:
        return InternalServerError(message, response=response, **kwargs)
    if fault.status == 502:
        return BadGatewayError(message, response=response, **kwargs)
    if fault.status == 503:
        return ServiceUnavailableError(message, response=response, **kwargs)
    return APIError(fault.status, message, request=request, response=response, **kwargs)


def _response(model: str, output: ScriptedOutput) -> ModelResponse:
    message: dict[str, Any] = {"role": "assistant", "content": output.text}
    if output.tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}
            for call_id, name, raw in output.tool_calls
        ]
    response = ModelResponse(
        id=f"scripted-{model}-{output.turn_index}",
        model=model,
        choices=[{"index": 0, "finish_reason": output.finish_reason, "message": message}],
        usage=Usage(
            prompt_tokens=output.prompt_tokens,
            completion_tokens=output.completion_tokens,
            total_tokens=output.prompt_tokens + output.completion_tokens,
        ),
    )
    try:
        cost = cost_usd(
            PREFIX + model.removeprefix(PREFIX), output.prompt_tokens, output.completion_tokens
        )
    except ConfigError:
        return response
    # The provider knows its price, as a real one reports its bill: litellm reads a cost
    # already in ``_hidden_params["response_cost"]`` instead of computing one per call.
    response._hidden_params["response_cost"] = cost
    return response
