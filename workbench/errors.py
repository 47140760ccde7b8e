"""The one exception tree of agent-workbench.

Every error a user can see derives from :class:`WorkbenchError` and carries a
stable ``code`` (documented in ``docs/errors.md``) that scripts may match on::

    WorkbenchError
    ├── ConfigError                 bad settings, agent spec or YAML        (config_invalid)
    ├── ModelError                  a model call failed
    │   ├── ModelRateLimited        429, retryable, may carry Retry-After   (model_rate_limited)
    │   ├── ModelServerError        5xx, retryable                          (model_server_error)
    │   ├── ModelTimeout            the per-call timeout elapsed, retryable (model_timeout)
    │   ├── ModelRequestsBlocked    a test blocked real provider requests   (model_requests_blocked)
    │   ├── ScriptError             a scripted model got a turn it has not  (script_error)
    │   └── CassetteMissError       a replayed request is not in the cassette (cassette_miss)
    ├── ToolError                   returned to the model as a tool error, never a crash
    │   ├── ToolNotFound            the model called a tool it does not have (tool_not_found)
    │   ├── ToolArgumentsInvalid    malformed JSON, or arguments failing the schema
    │   │                           (tool_arguments_invalid)
    │   ├── ToolTimeout             the per-tool timeout elapsed            (tool_timeout)
    │   ├── ToolRefused             the tool's policy refused the call, e.g. a host
    │   │                           that is not allow-listed                (tool_refused)
    │   └── ToolExecutionError      the tool itself raised                  (tool_execution_error)
    │       └── SandboxLimitExceeded  sandboxed code hit a limit (cpu, memory, ...)
    │                                 (sandbox_limit_exceeded)
    ├── ExecutionError              an execution cannot be started or resumed
    │   └── ExecutionNotFound       no checkpoint for that execution id     (execution_not_found)
    ├── TraceStoreError             the trace store cannot be used          (trace_store_error)
    │   └── TraceStoreCorrupt       a corrupt or foreign trace file         (trace_store_corrupt)
    ├── DeadLetterNotFound          no dead letter has that id              (dead_letter_not_found)
    ├── ServiceError                a real server could not be started or found (service_error)
    └── SandboxError                the sandbox failed (not the code in it)  (sandbox_error)
        ├── SandboxUnavailable      the backend cannot run here, e.g. bwrap is missing
        │                           (sandbox_unavailable)
        └── SandboxBackendNotFound  no sandbox backend has that name
                                    (sandbox_backend_not_found)

Retryable model errors set ``retryable = True``; the runtime's retry policy is the
only place that reads it.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CassetteMissError",
    "ConfigError",
    "DeadLetterNotFound",
    "ExecutionError",
    "ExecutionNotFound",
    "ModelError",
    "ModelRateLimited",
    "ModelRequestsBlocked",
    "ModelServerError",
    "ModelTimeout",
    "SandboxBackendNotFound",
    "SandboxError",
    "SandboxLimitExceeded",
    "SandboxUnavailable",
    "ScriptError",
    "ServiceError",
    "ToolArgumentsInvalid",
    "ToolError",
    "ToolExecutionError",
    "ToolNotFound",
    "ToolRefused",
    "ToolTimeout",
    "TraceStoreCorrupt",
    "TraceStoreError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base of every error agent-workbench raises on purpose."""

    code: ClassVar[str] = "workbench_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """A JSON-able body: the stable code, the error type and the message."""
        return {"code": self.code, "type": type(self).__name__, "message": self.message}


class ConfigError(WorkbenchError):
    """Settings, an agent spec or a YAML file is invalid."""

    code = "config_invalid"


class ModelError(WorkbenchError):
    """A model call failed."""

    code = "model_error"


class ModelRateLimited(ModelError):
    """The provider answered 429. ``retry_after`` is its Retry-After in seconds, if any."""

    code = "model_rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelServerError(ModelError):
    """The provider answered with a 5xx status."""

    code = "model_server_error"
    retryable = True

    def __init__(self, message: str, *, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class ModelTimeout(ModelError):
    """The per-model-call timeout elapsed before the provider answered."""

    code = "model_timeout"
    retryable = True


class ModelRequestsBlocked(ModelError):
    """A request to a real provider was made while model requests are blocked (tests)."""

    code = "model_requests_blocked"


class ScriptError(ModelError):
    """A scripted model was asked for a turn its script does not have, or left turns unused."""

    code = "script_error"


class CassetteMissError(ModelError):
    """A request being replayed has no recorded entry in the cassette."""

    code = "cassette_miss"

    def __init__(self, message: str, *, key: str, request_summary: str) -> None:
        super().__init__(message)
        self.key = key
        self.request_summary = request_summary


class ToolError(WorkbenchError):
    """A tool call failed; the model sees it as a tool error and may repair its call."""

    code = "tool_error"

    def __init__(self, message: str, *, tool: str) -> None:
        super().__init__(message)
        self.tool = tool


class ToolNotFound(ToolError):
    """The model called a tool that the agent does not have."""

    code = "tool_not_found"


class ToolArgumentsInvalid(ToolError):
    """The arguments were not valid JSON or did not satisfy the tool's schema."""

    code = "tool_arguments_invalid"


class ToolTimeout(ToolError):
    """The tool ran longer than its timeout."""

    code = "tool_timeout"


class ToolRefused(ToolError):
    """The tool's own policy refused the call (e.g. ``http_get`` to a host not allow-listed)."""

    code = "tool_refused"


class ToolExecutionError(ToolError):
    """The tool raised while running."""

    code = "tool_execution_error"


class ExecutionError(WorkbenchError):
    """An execution cannot be started or resumed."""

    code = "execution_error"


class ExecutionNotFound(ExecutionError):
    """No checkpoint exists for the execution id."""

    code = "execution_not_found"


class TraceStoreError(WorkbenchError):
    """The trace store cannot be opened, written or queried."""

    code = "trace_store_error"


class TraceStoreCorrupt(TraceStoreError):
    """The trace file is corrupt or is not an agent-workbench trace store."""

    code = "trace_store_corrupt"


class DeadLetterNotFound(WorkbenchError):
    """No dead letter in the trace store has the id asked for."""

    code = "dead_letter_not_found"


class ServiceError(WorkbenchError):
    """A real server could not be installed, started, stopped or found."""

    code = "service_error"


class SandboxLimitExceeded(ToolExecutionError):
    """Code run in the sandbox hit a limit; ``limit`` names it, ``result`` is what it produced."""

    code = "sandbox_limit_exceeded"

    def __init__(
        self, message: str, *, tool: str, limit: str, result: dict[str, object] | None = None
    ) -> None:
        super().__init__(message, tool=tool)
        self.limit = limit
        self.result = result

    def to_dict(self) -> dict[str, object]:
        """The error body plus the limit's name."""
        return {**super().to_dict(), "limit": self.limit}


class SandboxError(WorkbenchError):
    """The sandbox itself failed (not the code running in it)."""

    code = "sandbox_error"


class SandboxUnavailable(SandboxError):
    """The backend cannot run on this machine; the message says how to fix it."""

    code = "sandbox_unavailable"


class SandboxBackendNotFound(SandboxError):
    """No sandbox backend is registered under that name."""

    code = "sandbox_backend_not_found"
