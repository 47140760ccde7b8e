"""What the policy engine is asked (:class:`ToolRequest`) and what it answers
(:class:`PolicyDecision`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.tools import Tool

__all__ = ["Effect", "PolicyDecision", "Risk", "ToolRequest"]

Effect = Literal["allow", "deny", "ask"]
"""``allow``: run the call; ``deny``: refuse it; ``ask``: a person must approve it first."""

Risk = Literal["low", "high"]
"""How much harm a tool can do: ``high`` for sending mail, HTTP POST, writing files,
running code."""


class ToolRequest(BaseModel):
    """One tool call to decide: who asks, which tool (with its metadata), with what.

    Build it from a :class:`~workbench.tools.Tool` with :meth:`for_tool`, which copies
    the tool's declared ``scope``, ``risk``, ``egress``, ``side_effects`` and
    ``requires_approval``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    principal: str | None = None
    """The gateway's principal; ``None`` (or ``""``) when there is none (a local run)."""
    scopes: tuple[str, ...] = ()
    """The principal's scopes, e.g. ``("tool:sql", "mail.send")`` or ``("tool:*",)``.
    The shipped policies permit nothing to a request without any scope."""
    tool: str
    """The tool's name."""
    tool_scope: str | None = None
    """The scope the tool declares, if any."""
    risk: Risk = "low"
    """The tool's risk."""
    egress: bool = False
    """Whether the tool sends data off the machine."""
    side_effects: bool = False
    """Whether calling the tool changes the world."""
    requires_approval: bool = False
    """Whether the tool wants a person to approve every call."""
    arguments: dict[str, Any] = Field(default_factory=dict)
    """The call's arguments as the model sent them (any JSON-like values; odd values
    are encoded safely, never raised on)."""
    tainted: bool = False
    """Whether any value the model used came from a tool output (untrusted data)."""
    taint_sources: tuple[str, ...] = ()
    """Where the taint came from, e.g. ``("tool:http_get",)``."""

    @classmethod
    def for_tool(
        cls,
        tool: Tool,
        arguments: Mapping[str, Any],
        *,
        principal: str | None = None,
        scopes: tuple[str, ...] | list[str] = (),
        tainted: bool = False,
        taint_sources: tuple[str, ...] | list[str] = (),
    ) -> ToolRequest:
        """The request for calling ``tool`` with ``arguments``.

        Args:
            tool: The tool; its declared metadata is copied.
            arguments: The call's arguments.
            principal: The principal, if any.
            scopes: The principal's scopes.
            tainted: Whether untrusted data reached this call.
            taint_sources: Where that data came from.
        """
        return cls(
            principal=principal,
            scopes=tuple(scopes),
            tool=tool.name,
            tool_scope=tool.scope,
            risk=tool.risk,
            egress=tool.egress,
            side_effects=tool.side_effects,
            requires_approval=tool.requires_approval,
            arguments=dict(arguments),
            tainted=tainted,
            taint_sources=tuple(taint_sources),
        )


class PolicyDecision(BaseModel):
    """The engine's answer for one :class:`ToolRequest`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    effect: Effect
    """``allow``, ``deny`` or ``ask``."""
    policy_ids: tuple[str, ...]
    """The ``@id`` of every policy that decided: the permits for ``allow``, the forbids
    for ``deny`` (empty for a default deny: no permit matched) and for ``ask``."""
    reason: str
    """Why, in words (the policies' ``@reason`` annotations, or Cedar's error)."""
    elapsed_us: float
    """Time the decision took, in microseconds (encoding plus Cedar)."""
