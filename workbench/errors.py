"""The one exception tree of agent-workbench.

Every error a user can see derives from :class:`WorkbenchError` and carries a
stable ``code`` (documented in ``docs/errors.md``) that scripts may match on::

    WorkbenchError
    ├── ConfigError                 bad settings, agent spec or YAML        (config_invalid)
    │   ├── PolicyError             a policy file is invalid                (policy_invalid)
    │   └── SuiteInvalid            an eval suite or dataset is invalid     (suite_invalid)
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
    │   │   │                       that is not allow-listed                (tool_refused)
    │   │   ├── PolicyDenied        the policy engine denied the call       (policy_denied)
    │   │   └── ApprovalDenied      denied at an approval gate, or timed out (approval_denied)
    │   └── ToolExecutionError      the tool itself raised                  (tool_execution_error)
    │       └── SandboxLimitExceeded  sandboxed code hit a limit (cpu, memory, ...)
    │                                 (sandbox_limit_exceeded)
    ├── ExecutionError              an execution cannot be started or resumed
    │   └── ExecutionNotFound       no checkpoint for that execution id     (execution_not_found)
    ├── TraceStoreError             the trace store cannot be used          (trace_store_error)
    │   └── TraceStoreCorrupt       a corrupt or foreign trace file         (trace_store_corrupt)
    ├── DeadLetterNotFound          no dead letter has that id              (dead_letter_not_found)
    ├── GatewayRejected             the gateway refused a request; each has ``http_status``
    │   ├── AuthenticationFailed    no, unknown, revoked or expired API key (auth_failed, 401)
    │   ├── PermissionDenied        outside the principal's scopes     (permission_denied, 403)
    │   ├── RateLimited             request or token rate spent, retry_after (rate_limited, 429)
    │   ├── BudgetExceeded          a budget cap has no room            (budget_exceeded, 402)
    │   ├── InputTooLarge           input over the size limit           (input_too_large, 413)
    │   ├── InputInvalid            bad encoding or input schema        (input_invalid, 422)
    │   └── GuardrailBlocked        a guardrail blocked the input       (guardrail_blocked, 422)
    ├── KeyNotFound                 no API key has that id              (key_not_found)
    ├── ApprovalNotFound            no pending approval has that id     (approval_not_found)
    ├── AgentNotFound               the server serves no agent of that name (agent_not_found)
    ├── EvalError                   an eval run failed as a run         (eval_error)
    │   ├── RunNotFound             no eval run has that id             (run_not_found)
    │   ├── EvalCostCapExceeded     spent or forecast cost over the cap (eval_cost_cap_exceeded)
    │   ├── EvalWorkerLost          an eval worker process died with units in flight
    │   │                           (eval_worker_lost)
    │   └── JudgeError              no parsable verdict from the judge  (judge_error)
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
    "AgentNotFound",
    "ApprovalDenied",
    "ApprovalNotFound",
    "AuthenticationFailed",
    "BudgetExceeded",
    "CassetteMissError",
    "ConfigError",
    "DeadLetterNotFound",
    "EvalCostCapExceeded",
    "EvalError",
    "EvalWorkerLost",
    "ExecutionError",
    "ExecutionNotFound",
    "GatewayRejected",
    "GuardrailBlocked",
    "InputInvalid",
    "InputTooLarge",
    "JudgeError",
    "KeyNotFound",
    "ModelError",
    "ModelRateLimited",
    "ModelRequestsBlocked",
    "ModelServerError",
    "ModelTimeout",
    "PermissionDenied",
    "PolicyDenied",
    "PolicyError",
    "RateLimited",
    "RunNotFound",
    "SandboxBackendNotFound",
    "SandboxError",
    "SandboxLimitExceeded",
    "SandboxUnavailable",
    "ScriptError",
    "ServiceError",
    "SuiteInvalid",
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


class GatewayRejected(WorkbenchError):
    """The gateway refused a request before it reached the loop; ``http_status`` maps it."""

    code = "gateway_rejected"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, principal: str | None = None) -> None:
        super().__init__(message)
        self.principal = principal


class AuthenticationFailed(GatewayRejected):
    """No API key, or one that is unknown, revoked or expired."""

    code = "auth_failed"
    http_status = 401


class PermissionDenied(GatewayRejected):
    """The principal's scopes do not cover the agent or tool asked for."""

    code = "permission_denied"
    http_status = 403


class RateLimited(GatewayRejected):
    """The principal's request or token rate is spent; ``retry_after`` says when to retry."""

    code = "rate_limited"
    http_status = 429

    def __init__(
        self, message: str, *, principal: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, principal=principal)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, object]:
        """The error body plus ``retry_after`` in seconds."""
        return {**super().to_dict(), "retry_after": self.retry_after}


class BudgetExceeded(GatewayRejected):
    """A budget cap (per execution, or per principal per day) has no room for the request."""

    code = "budget_exceeded"
    http_status = 402


class InputTooLarge(GatewayRejected):
    """The input is over the gateway's size limit."""

    code = "input_too_large"
    http_status = 413


class InputInvalid(GatewayRejected):
    """The input is not valid text or does not satisfy the task's input schema."""

    code = "input_invalid"
    http_status = 422


class GuardrailBlocked(GatewayRejected):
    """A guardrail flagged the input and its channel's action is ``block``."""

    code = "guardrail_blocked"
    http_status = 422


class KeyNotFound(WorkbenchError):
    """No API key has that id."""

    code = "key_not_found"


class PolicyError(ConfigError):
    """A policy file does not parse or does not validate against the schema."""

    code = "policy_invalid"


class PolicyDenied(ToolRefused):
    """The policy engine denied this tool call (principal, tool, arguments, taint)."""

    code = "policy_denied"


class ApprovalDenied(ToolRefused):
    """A person denied the call at an approval gate, or the approval timed out."""

    code = "approval_denied"


class ApprovalNotFound(WorkbenchError):
    """No pending approval has that id."""

    code = "approval_not_found"


class AgentNotFound(WorkbenchError):
    """The server serves no agent of that name (``workbench serve``, HTTP 404)."""

    code = "agent_not_found"


class EvalError(WorkbenchError):
    """An eval run failed as a run (not a sample in it)."""

    code = "eval_error"


class SuiteInvalid(ConfigError):
    """An eval suite or its dataset is invalid; the message names the line or field."""

    code = "suite_invalid"


class RunNotFound(EvalError):
    """No eval run has that id."""

    code = "run_not_found"


class EvalCostCapExceeded(EvalError):
    """The run's cost (spent or forecast) passed the suite's cost cap."""

    code = "eval_cost_cap_exceeded"


class EvalWorkerLost(EvalError):
    """A local eval worker process (``workers: N``) died with units in flight; the
    runner runs them again, and raises this only when one keeps killing its process."""

    code = "eval_worker_lost"


class JudgeError(EvalError):
    """The judge model's verdict could not be obtained or parsed."""

    code = "judge_error"
