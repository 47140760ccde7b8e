"""Orchestration: agent specs and the ReAct loop on LangGraph, with durable resume."""

from workbench.runtime._context import ToolOverride
from workbench.runtime._defenses import (
    CONTENT_ARGUMENTS,
    Authorization,
    Defenses,
    taint_sources,
    tainted_arguments,
)
from workbench.runtime._journal import (
    Approval,
    EffectJournal,
    ExecutionMeta,
    JournalEntry,
    MemoryJournal,
    SqliteJournal,
)
from workbench.runtime._runtime import (
    Runtime,
    decide,
    new_execution_id,
    request_stop,
    resume,
    run,
)
from workbench.runtime._spec import AgentSpec, LimitsOverride
from workbench.runtime._toolset import BUILTIN_TOOLS, import_spec_modules, resolve_tools
from workbench.runtime._types import ExecutionResult, ExecutionStatus, StepEvent
from workbench.runtime._workflow import WorkflowBudget, WorkflowSpec

__all__ = [
    "BUILTIN_TOOLS",
    "CONTENT_ARGUMENTS",
    "AgentSpec",
    "Approval",
    "Authorization",
    "Defenses",
    "EffectJournal",
    "ExecutionMeta",
    "ExecutionResult",
    "ExecutionStatus",
    "JournalEntry",
    "LimitsOverride",
    "MemoryJournal",
    "Runtime",
    "SqliteJournal",
    "StepEvent",
    "ToolOverride",
    "WorkflowBudget",
    "WorkflowSpec",
    "decide",
    "import_spec_modules",
    "new_execution_id",
    "request_stop",
    "resolve_tools",
    "resume",
    "run",
    "taint_sources",
    "tainted_arguments",
]
