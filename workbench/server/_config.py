"""What ``workbench serve`` serves: agents by name, their shadow versions, and server limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.errors import ConfigError
from workbench.runtime import AgentSpec

__all__ = ["SERVE_FILE", "AgentEntry", "LoadedAgent", "ServeConfig", "ShadowConfig"]

SERVE_FILE = "serve.yaml"
"""The server config file looked for in ``--agents DIR``."""


class ShadowConfig(BaseModel):
    """A candidate version that gets a sample of an agent's live traffic, off the request path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: Path
    """The candidate's agent spec (v2); relative to the config file."""
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share of completed v1 executions replayed on v2."""
    run_id: str | None = None
    """Shadow run the samples land in; ``live-<agent>-<v1>-<v2>`` when omitted."""


class AgentEntry(BaseModel):
    """One served agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: Path
    """The agent spec that answers callers (v1); relative to the config file."""
    shadow: ShadowConfig | None = None
    """Live shadow traffic to a candidate version; none when omitted."""


@dataclass(frozen=True, slots=True)
class LoadedAgent:
    """A served agent with its specs loaded."""

    spec: AgentSpec
    shadow: AgentSpec | None
    shadow_rate: float
    shadow_run_id: str | None


class ServeConfig(BaseModel):
    """The server config (``serve.yaml``).

    Example::

        agents:
          analyst:
            spec: analyst_v1.yaml
            shadow: {spec: analyst_v2.yaml, rate: 0.1}
        max_body_bytes: 1000000
        shadow_queue_size: 100
        max_wait_s: 30
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: dict[str, AgentEntry] = Field(default_factory=dict)
    """Served agents; the key must be the spec's ``name`` (callers ask for it by name)."""
    max_body_bytes: int = Field(default=1_000_000, ge=1)
    """Largest request body; a larger one is refused with 413 before it is read."""
    shadow_queue_size: int = Field(default=100, ge=1)
    """Shadow runs waiting at most; a sample that finds the queue full is dropped (and
    counted), so a slow candidate never holds up v1."""
    shadow_workers: int = Field(default=1, ge=1, le=64)
    """Shadow runs in flight at once."""
    max_wait_s: float = Field(default=30.0, ge=0.0, le=3600.0)
    """Longest ``POST /v1/executions?wait=N`` (or ``Prefer: wait=N``) honoured; a longer
    wait is cut to this, after which the answer is the usual 202."""
    queue_url: str | None = None
    """A Redis URL of ``workbench.queue``; its pending jobs are exported as queue depth."""
    rate_limit_url: str | None = None
    """A Redis URL (``workbench services up redis``): API keys' rate limits are kept there
    (``RedisRateLimiter``), one rate across every worker and server sharing it. Required
    by ``--workers`` above 1, whose workers would otherwise each grant the full rate."""

    @classmethod
    def from_yaml(cls, path: Path | str) -> ServeConfig:
        """Load ``serve.yaml``; spec paths become absolute (relative to the file).

        Raises:
            ConfigError: Missing file, bad YAML or an invalid field.
        """
        file = Path(path)
        try:
            data: Any = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except FileNotFoundError as exc:
            raise ConfigError(f"server config not found: {file}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"server config {file} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"server config {file} must be a mapping")
        base = file.resolve().parent
        for entry in (data.get("agents") or {}).values():
            if isinstance(entry, dict) and isinstance(entry.get("spec"), str):
                entry["spec"] = str(base / entry["spec"])
                shadow = entry.get("shadow")
                if isinstance(shadow, dict) and isinstance(shadow.get("spec"), str):
                    shadow["spec"] = str(base / shadow["spec"])
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"server config {file} is invalid: {exc}") from exc

    @classmethod
    def from_dir(cls, directory: Path | str) -> ServeConfig:
        """``DIR/serve.yaml`` when present; else every agent spec ``DIR/*.yaml``, no shadows.

        Raises:
            ConfigError: Not a directory, or no agent in it.
        """
        folder = Path(directory)
        if not folder.is_dir():
            raise ConfigError(f"agents directory not found: {folder}")
        if (folder / SERVE_FILE).is_file():
            return cls.from_yaml(folder / SERVE_FILE)
        agents: dict[str, AgentEntry] = {}
        for path in sorted(folder.glob("*.yaml")):
            try:
                spec = AgentSpec.from_yaml(path)
            except ConfigError:
                continue  # not an agent spec (a suite, a dataset config)
            agents.setdefault(spec.name, AgentEntry(spec=path.resolve()))
        if not agents:
            raise ConfigError(f"no agent spec in {folder}")
        return cls(agents=agents)

    def load(self) -> dict[str, LoadedAgent]:
        """Every served agent's specs, by name.

        Raises:
            ConfigError: A spec fails to load, or its name is not its key.
        """
        loaded: dict[str, LoadedAgent] = {}
        for name, entry in self.agents.items():
            spec = AgentSpec.from_yaml(entry.spec)
            if spec.name != name:
                raise ConfigError(f"agent {name!r} in the server config loads spec {spec.name!r}")
            shadow = AgentSpec.from_yaml(entry.shadow.spec) if entry.shadow else None
            loaded[name] = LoadedAgent(
                spec=spec,
                shadow=shadow,
                shadow_rate=entry.shadow.rate if entry.shadow else 0.0,
                shadow_run_id=entry.shadow.run_id if entry.shadow else None,
            )
        return loaded
