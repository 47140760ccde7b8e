"""Every LLM call of agent-workbench, over litellm: real providers, local and scripted models.

- :func:`acomplete` / :func:`complete`: one attempt at a chat completion, with cost.
- ``scripted/<name>``: deterministic models (:func:`register_script`, :class:`Turn`).
- ``local/<name>``: the OpenAI-compatible server of ``workbench services up model``.
- Cassettes (:func:`use_cassette`) record real calls and replay them offline.
- :func:`allow_model_requests` blocks real providers (tests).
"""

from __future__ import annotations

import os

# litellm downloads its cost map at import unless told not to; set before any import of it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# litellm scans every message for base64 to shorten in its own logs, O(conversation) per
# call; workbench traces calls itself, so that logging step is switched off.
os.environ.setdefault("MAX_BASE64_LENGTH_FOR_LOGGING", "0")

from workbench.models._cassette import Cassette, CassetteMode, request_key, use_cassette
from workbench.models._complete import acomplete, complete
from workbench.models._prices import cost_usd, register_price
from workbench.models._router import (
    ResponseCacheConfig,
    RoutedReply,
    acomplete_routed,
    clear_response_cache,
    next_model,
)
from workbench.models._scripted import (
    Fault,
    RateLimitFault,
    Script,
    ScriptedCall,
    ScriptedModel,
    ScriptedToolCall,
    ServerErrorFault,
    TimeoutFault,
    Turn,
    get_scripted_model,
    register_script,
)
from workbench.models._switch import allow_model_requests, model_requests_allowed
from workbench.models._types import ModelReply, ToolCallRequest

__all__ = [
    "Cassette",
    "CassetteMode",
    "Fault",
    "ModelReply",
    "RateLimitFault",
    "ResponseCacheConfig",
    "RoutedReply",
    "Script",
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedToolCall",
    "ServerErrorFault",
    "TimeoutFault",
    "ToolCallRequest",
    "Turn",
    "acomplete",
    "acomplete_routed",
    "allow_model_requests",
    "clear_response_cache",
    "complete",
    "cost_usd",
    "get_scripted_model",
    "model_requests_allowed",
    "next_model",
    "register_price",
    "register_script",
    "request_key",
    "use_cassette",
]
