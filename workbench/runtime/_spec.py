"""AgentSpec: what an agent is, loadable from YAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import ConfigError
from workbench.models._router import ResponseCacheConfig
from workbench.settings import Limits

__all__ = ["AgentSpec", "LimitsOverride"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class LimitsOverride(BaseModel):
    """Limits an agent spec sets; every field left out takes the settings' default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_steps: int | None = Field(default=None, ge=1, le=10_000)
    """Step cap (model calls per execution)."""
    model_timeout_s: float | None = Field(default=None, gt=0)
    """Timeout of one model call attempt."""
    execution_timeout_s: float | None = Field(default=None, gt=0)
    """Wall-clock timeout of one execution."""
    max_retries: int | None = Field(default=None, ge=0, le=20)
    """Retries of a model call on 429, 5xx and timeouts."""
    backoff_base_s: float | None = Field(default=None, ge=0)
    """First retry delay."""
    backoff_max_s: float | None = Field(default=None, ge=0)
    """Largest retry delay."""
    max_repairs: int | None = Field(default=None, ge=0, le=20)
    """Malformed outputs sent back to the model before the execution stops."""
    tool_timeout_s: float | None = Field(default=None, gt=0)
    """Default per-tool timeout."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Largest completion of one model call."""
    max_cost_usd: float | None = Field(default=None, gt=0)
    """USD budget of one execution."""
    max_total_tokens: int | None = Field(default=None, ge=1)
    """Token budget of one execution."""
    approval_timeout_s: float | None = Field(default=None, gt=0)
    """How long an approval gate waits before the call counts as denied."""

    def apply(self, defaults: Limits) -> Limits:
        """The effective limits: these overrides on top of ``defaults``."""
        return defaults.model_copy(update=self.model_dump(exclude_none=True))


class AgentSpec(BaseModel):
    """One version of one agent.

    Example YAML::

        name: analyst
        version: v1
        model: scripted/analyst
        imports: [workbench.demo.scripts]
        system_prompt: You are a careful data analyst.
        tools: [sql, calculator]
        datasets: {sales: ../datasets/sales.csv}
        limits: {max_steps: 8}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Agent name, also the trace store's ``agent_name``."""
    version: str = "v1"
    """Agent version; v1 and v2 of one name are compared by evals."""
    description: str = ""
    """What the agent is for."""
    model: str
    """A litellm model name: ``scripted/NAME``, ``local/NAME`` or any provider's."""
    system_prompt: str
    """The system message."""
    tools: list[str] = Field(default_factory=list)
    """Tools: built-in names (``sql``, ``calculator``, ``python``, ``http_get``, ``search``)
    or ``package.module:attr`` refs."""
    imports: list[str] = Field(default_factory=list)
    """Python modules imported before the agent runs (they register scripts or tools)."""
    datasets: dict[str, Path] = Field(default_factory=dict)
    """Named data files for the ``sql`` tool; relative paths are relative to the YAML file."""
    http_allow_hosts: list[str] = Field(default_factory=list)
    """Hosts the ``http_get`` tool may reach (``host``, ``host:port``); none by default."""
    search_corpus: Path | None = None
    """Documents for the ``search`` tool: a directory of .md/.txt files or a .jsonl file;
    relative to the YAML file."""
    limits: LimitsOverride = Field(default_factory=LimitsOverride)
    """Overrides of the default limits."""
    output_schema: dict[str, Any] | None = None
    """JSON Schema the final answer must satisfy (the answer is then JSON)."""
    temperature: float | None = None
    """Sampling temperature passed to the model, when set."""
    fallbacks: list[str] = Field(default_factory=list)
    """Models tried in order when ``model`` keeps failing with 429, 5xx or timeouts after
    the runtime's retries (see ``docs/serving.md``)."""
    response_cache: ResponseCacheConfig | None = None
    """Serve identical model requests from a cache for ``ttl_s`` seconds; off when omitted,
    and never for ``temperature > 0`` unless ``force`` is set."""
    guardrails: dict[str, Any] | None = None
    """Guardrails on tool outputs, tool arguments and the answer (a ``GuardConfig``
    mapping; ``{}`` for the defaults); off when omitted. See ``docs/guardrails.md``."""
    policy: str | None = None
    """Tool policies: ``default`` (the shipped ``policies/``) or a directory of Cedar
    files, relative to the YAML file; off when omitted. See ``docs/policies.md``."""
    workflow: dict[str, Any] | None = None
    """Set on a workflow's supervisor (see ``WorkflowSpec.to_agent_spec``): the workflow,
    from which the runtime builds the delegation and scratchpad tools."""

    @field_validator("name", "version")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must match {_NAME.pattern}")
        return value

    def effective_limits(self, defaults: Limits) -> Limits:
        """The limits this agent runs with."""
        return self.limits.apply(defaults)

    @classmethod
    def from_yaml(cls, path: Path | str) -> AgentSpec:
        """Load a spec from a YAML file; a typed :class:`ConfigError` on any problem."""
        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"agent spec not found: {file}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"agent spec {file} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"agent spec {file} must be a mapping, got {type(data).__name__}")
        if data.get("kind") == "workflow":
            from workbench.runtime._workflow import WorkflowSpec

            return WorkflowSpec.from_yaml(file).to_agent_spec()
        base = file.resolve().parent
        datasets = data.get("datasets") or {}
        if isinstance(datasets, dict):
            data["datasets"] = {k: (base / str(v)).resolve() for k, v in datasets.items()}
        if isinstance(data.get("search_corpus"), str):
            data["search_corpus"] = (base / data["search_corpus"]).resolve()
        policy = data.get("policy")
        if isinstance(policy, str) and policy != "default":
            data["policy"] = str((base / policy).resolve())
        return cls.from_dict(data, source=str(file))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> AgentSpec:
        """Validate a mapping into a spec; a typed :class:`ConfigError` on any problem."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(f"agent spec {source} is invalid: {problems}") from exc
