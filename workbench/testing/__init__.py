"""Fakes that ship with the package, for users' tests and ours.

Production code never imports this package. Scripted models live in
:mod:`workbench.models` (the demo uses them too) and are re-exported here.
"""

from workbench.testing._otlp_collector import OtlpCollector
from workbench.testing._scripted import (
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
from workbench.testing._spans import InMemorySpanExporter
from workbench.testing._tool_caller import example_arguments, register_tool_caller

__all__ = [
    "Fault",
    "InMemorySpanExporter",
    "OtlpCollector",
    "RateLimitFault",
    "Script",
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedToolCall",
    "ServerErrorFault",
    "TimeoutFault",
    "Turn",
    "example_arguments",
    "get_scripted_model",
    "register_script",
    "register_tool_caller",
]
