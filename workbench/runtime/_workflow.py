"""Multi-agent workflows: a supervisor that delegates to specialised agents.

A :class:`WorkflowSpec` (YAML with ``kind: workflow``) names a supervisor and its
agents, each an ordinary agent spec with its own model, tools, limits and budget share.
It compiles into the supervisor's :class:`~workbench.runtime.AgentSpec` with the
workflow embedded, so ``workbench run``, ``workbench resume``, evals and shadow runs
take a workflow wherever they take an agent. The supervisor gets these tools:

- ``delegate(agent, task)``: hand one task to one agent (sequential hand-off);
- ``delegate_parallel(tasks)``: fan out tasks to several agents at once, then join;
- ``scratchpad_read(key?)`` / ``scratchpad_write(key, value)``: a shared scratchpad,
  which every agent of the workflow also gets.

Each delegation is an execution of its own (its own LangGraph run, checkpoints and
journal) whose id is derived from the supervisor's call, so a resumed supervisor
continues a half-done delegation instead of starting it again, and whose root span is a
child of the supervisor's ``delegate`` tool span: the trace shows who did what and what
it cost. A delegation's budget is the smallest of the agent's own limit, its share of
the workflow budget and what is left of that budget; its timeout likewise.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench.errors import ConfigError, ToolExecutionError
from workbench.runtime._spec import AgentSpec, LimitsOverride
from workbench.tools import Tool, ToolContext

if TYPE_CHECKING:
    from workbench.runtime._runtime import Runtime

__all__ = [
    "WorkflowBudget",
    "WorkflowSpec",
    "delegated_totals",
    "is_workflow_file",
    "scratchpad_tools",
    "workflow_tools",
]

_MAX_FANOUT = 16


class WorkflowBudget(BaseModel):
    """The budget of a whole workflow (supervisor and delegations)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_cost_usd: float | None = Field(default=None, gt=0)
    """USD over every model call of the workflow."""
    max_total_tokens: int | None = Field(default=None, ge=1)
    """Tokens over every model call of the workflow."""


class WorkflowSpec(BaseModel):
    """A supervisor and the agents it may delegate to.

    Example YAML::

        kind: workflow
        name: research-team
        version: v1
        supervisor: supervisor.yaml          # or an inline agent mapping
        agents:
          researcher: researcher.yaml
          writer: writer.yaml
        shares: {researcher: 0.6, writer: 0.3}
        budget: {max_cost_usd: 0.05}
        timeout_s: 120
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["workflow"] = "workflow"
    name: str
    """Workflow name; the supervisor runs under it."""
    version: str = "v1"
    """Workflow version (the supervisor's ``agent_version``)."""
    description: str = ""
    supervisor: AgentSpec
    """The agent that plans and delegates."""
    agents: dict[str, AgentSpec] = Field(min_length=1)
    """Delegates by name (letters, digits, ``_`` and ``-``)."""
    shares: dict[str, float] = Field(default_factory=dict)
    """Largest fraction of the workflow budget one delegation to an agent may spend."""
    budget: WorkflowBudget = Field(default_factory=WorkflowBudget)
    """Budget of the whole workflow."""
    timeout_s: float | None = Field(default=None, gt=0)
    """Wall-clock limit of the supervisor; a delegation gets at most this too."""
    scratchpad: bool = True
    """Whether the agents share a scratchpad."""

    @model_validator(mode="after")
    def _check(self) -> WorkflowSpec:
        for name in self.agents:
            if not name.replace("_", "").replace("-", "").isalnum() or len(name) > 40:
                raise ValueError(f"agent name {name!r} must be letters, digits, _ or -")
        unknown = sorted(set(self.shares) - set(self.agents))
        if unknown:
            raise ValueError(f"shares name unknown agents: {unknown}")
        bad = sorted(k for k, v in self.shares.items() if not 0 < v <= 1)
        if bad:
            raise ValueError(f"shares must be in (0, 1]: {bad}")
        return self

    @classmethod
    def from_yaml(cls, path: Path | str) -> WorkflowSpec:
        """Load a workflow; agent entries may be paths relative to the file or mappings."""
        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"workflow not found: {file}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"workflow {file} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"workflow {file} must be a mapping")
        base = file.resolve().parent

        def load(entry: Any, what: str) -> Any:
            if isinstance(entry, str):
                return AgentSpec.from_yaml(base / entry)
            if isinstance(entry, dict):
                return AgentSpec.from_dict(entry, source=f"{file}:{what}")
            raise ConfigError(f"workflow {file}: {what} must be a path or a mapping")

        if "supervisor" in data:
            data["supervisor"] = load(data["supervisor"], "supervisor")
        agents = data.get("agents")
        if isinstance(agents, dict):
            data["agents"] = {k: load(v, f"agents.{k}") for k, v in agents.items()}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(f"workflow {file} is invalid: {problems}") from exc

    def to_agent_spec(self) -> AgentSpec:
        """The supervisor's spec, named after the workflow, with the workflow embedded."""
        sup = self.supervisor
        limits = sup.limits.model_dump(exclude_none=True)
        if self.timeout_s is not None:
            limits["execution_timeout_s"] = self.timeout_s
        return sup.model_copy(
            update={
                "name": self.name,
                "version": self.version,
                "description": self.description or sup.description,
                "limits": LimitsOverride.model_validate(limits),
                "workflow": self.model_dump(mode="json"),
            }
        )


def is_workflow_file(data: Any) -> bool:
    """Whether a loaded YAML mapping is a workflow (``kind: workflow``)."""
    return isinstance(data, dict) and data.get("kind") == "workflow"


def delegated_totals(messages: list[dict[str, Any]]) -> tuple[float, int, int]:
    """USD, prompt and completion tokens of the delegations in a supervisor's conversation."""
    usd, prompt, completion = 0.0, 0, 0
    for message in messages:
        if message["role"] != "tool" or not str(message["content"]).startswith('{"delegation"'):
            continue
        try:
            body = json.loads(message["content"])
        except json.JSONDecodeError:
            continue
        for item in body.get("results", [body]):
            usd += float(item.get("cost_usd", 0.0))
            prompt += int(item.get("prompt_tokens", 0))
            completion += int(item.get("completion_tokens", 0))
    return usd, prompt, completion


def _spent(messages: list[dict[str, Any]]) -> tuple[float, int]:
    usd, prompt, completion = delegated_totals(messages)
    return usd, prompt + completion


def workflow_tools(runtime: Runtime, workflow: WorkflowSpec) -> list[Tool]:
    """The supervisor's delegation and scratchpad tools for one runtime."""
    names = sorted(workflow.agents)

    def parent(tool_ctx: ToolContext) -> Any:
        return runtime._contexts[tool_ctx.execution_id]

    def child_limits(agent: str, tool_ctx: ToolContext, fraction: float) -> LimitsOverride:
        spec = workflow.agents[agent]
        ctx = parent(tool_ctx)
        own_limits = spec.effective_limits(runtime.settings.limits)
        child_usd, child_tokens = _spent(ctx.messages)
        update: dict[str, Any] = spec.limits.model_dump(exclude_none=True)
        budget = workflow.budget
        if budget.max_cost_usd is not None:
            left = budget.max_cost_usd - ctx.totals.cost_usd - child_usd
            share = workflow.shares.get(agent, 1.0) * budget.max_cost_usd * fraction
            caps = [c for c in (own_limits.max_cost_usd, share, left) if c is not None]
            update["max_cost_usd"] = max(min(caps), 1e-9)
        if budget.max_total_tokens is not None:
            used = ctx.totals.prompt_tokens + ctx.totals.completion_tokens + child_tokens
            left_t = budget.max_total_tokens - used
            share_t = int(workflow.shares.get(agent, 1.0) * budget.max_total_tokens * fraction)
            caps_t = [c for c in (own_limits.max_total_tokens, share_t, left_t) if c is not None]
            update["max_total_tokens"] = max(min(caps_t), 1)
        if workflow.timeout_s is not None:
            update["execution_timeout_s"] = min(own_limits.execution_timeout_s, workflow.timeout_s)
        return LimitsOverride.model_validate(update)

    def budget_left(tool_ctx: ToolContext) -> str | None:
        ctx = parent(tool_ctx)
        usd, tokens = _spent(ctx.messages)
        b = workflow.budget
        if b.max_cost_usd is not None and ctx.totals.cost_usd + usd >= b.max_cost_usd:
            return f"the workflow budget of {b.max_cost_usd} USD is spent"
        used = ctx.totals.prompt_tokens + ctx.totals.completion_tokens + tokens
        if b.max_total_tokens is not None and used >= b.max_total_tokens:
            return f"the workflow budget of {b.max_total_tokens} tokens is spent"
        return None

    async def run_one(
        agent: str, task: str, tool_ctx: ToolContext, suffix: str, fraction: float
    ) -> dict[str, Any]:
        ctx = parent(tool_ctx)
        spec = workflow.agents[agent].model_copy(
            update={"limits": child_limits(agent, tool_ctx, fraction)}
        )
        extra = scratchpad_tools(runtime, ctx.thread_id) if workflow.scratchpad else []
        result = await runtime.arun(
            spec,
            task,
            execution_id=f"{tool_ctx.execution_id}.{agent}.{tool_ctx.step}.{suffix}",
            thread_id=ctx.thread_id,
            principal=ctx.principal,
            scopes=ctx.defenses.scopes,
            caps=ctx.defenses.caps,
            on_event=ctx.on_event,
            extra_tools=extra,
            trace_id=ctx.trace_id,
        )
        return {
            "agent": agent,
            "execution_id": result.execution_id,
            "status": result.status.value,
            "answer": result.answer,
            "error": result.error,
            "cost_usd": result.cost_usd,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
        }

    async def delegate(agent: str, task: str, ctx: ToolContext) -> str:
        if agent not in workflow.agents:
            raise ToolExecutionError(f"no agent {agent!r}; use one of {names}", tool="delegate")
        spent = budget_left(ctx)
        if spent is not None:
            raise ToolExecutionError(spent, tool="delegate")
        body = await run_one(agent, task, ctx, str(ctx.call_index), 1.0)
        return json.dumps({"delegation": agent, **body})

    async def delegate_parallel(tasks: list[dict[str, str]], ctx: ToolContext) -> str:
        spent = budget_left(ctx)
        if spent is not None:
            raise ToolExecutionError(spent, tool="delegate_parallel")
        unknown = sorted({t["agent"] for t in tasks} - set(workflow.agents))
        if unknown:
            raise ToolExecutionError(
                f"no agents {unknown}; use some of {names}", tool="delegate_parallel"
            )
        fraction = 1.0 / len(tasks)
        results = await asyncio.gather(
            *(
                run_one(t["agent"], t["task"], ctx, f"{ctx.call_index}-{k}", fraction)
                for k, t in enumerate(tasks)
            )
        )
        return json.dumps({"delegation": "parallel", "results": list(results)})

    timeout = workflow.timeout_s or runtime.settings.limits.execution_timeout_s
    agent_list = "; ".join(
        f"{n}: {workflow.agents[n].description or 'no description'}" for n in names
    )
    tools = [
        Tool(
            name="delegate",
            description=(
                f"Hand one task to one of your agents and get its answer. Agents: {agent_list}"
            ),
            parameters={
                "type": "object",
                "properties": {
                    "agent": {"type": "string", "enum": names},
                    "task": {"type": "string", "minLength": 1, "maxLength": 20_000},
                },
                "required": ["agent", "task"],
            },
            fn=delegate,
            timeout_s=timeout,
            scope="workflow:delegate",
        ),
        Tool(
            name="delegate_parallel",
            description="Hand several tasks to your agents at once; returns every answer.",
            parameters={
                "type": "object",
                "properties": {
                    "tasks": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": _MAX_FANOUT,
                        "items": {
                            "type": "object",
                            "properties": {
                                "agent": {"type": "string", "enum": names},
                                "task": {"type": "string", "minLength": 1, "maxLength": 20_000},
                            },
                            "required": ["agent", "task"],
                        },
                    }
                },
                "required": ["tasks"],
            },
            fn=delegate_parallel,
            timeout_s=timeout,
            scope="workflow:delegate",
        ),
    ]
    return tools


def scratchpad_tools(runtime: Runtime, workflow_id: str) -> list[Tool]:
    """Read and write tools over the workflow's shared scratchpad (durable, in the journal)."""

    def read(key: str | None = None) -> dict[str, str]:
        pad = runtime.journal.scratchpad(workflow_id)
        return pad if key is None else {key: pad[key]} if key in pad else {}

    def write(key: str, value: str, ctx: ToolContext) -> str:
        runtime.journal.scratchpad_put(workflow_id, key, value, writer=ctx.execution_id)
        return f"saved {key!r}"

    return [
        Tool(
            name="scratchpad_read",
            description="Read the team's shared scratchpad (one key, or all of it).",
            parameters={
                "type": "object",
                "properties": {"key": {"type": "string", "maxLength": 200}},
            },
            fn=read,
            scope="workflow:scratchpad",
        ),
        Tool(
            name="scratchpad_write",
            description="Write a note to the team's shared scratchpad under a key.",
            parameters={
                "type": "object",
                "properties": {
                    "key": {"type": "string", "minLength": 1, "maxLength": 200},
                    "value": {"type": "string", "maxLength": 20_000},
                },
                "required": ["key", "value"],
            },
            fn=write,
            side_effects=True,
            scope="workflow:scratchpad",
        ),
    ]
