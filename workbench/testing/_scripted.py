"""Scripted models for tests, re-exported from :mod:`workbench.models` (one implementation)."""

from __future__ import annotations

from workbench.models import (
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

__all__ = [
    "Fault",
    "RateLimitFault",
    "Script",
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedToolCall",
    "ServerErrorFault",
    "TimeoutFault",
    "Turn",
    "get_scripted_model",
    "register_script",
]
