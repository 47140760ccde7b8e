"""Tool permissions: Cedar policies decide ``allow`` / ``deny`` / ``ask`` for every tool call.

A :class:`PolicyEngine` parses a policy directory once (``policies/`` at the
repository root, shipped inside the package too) and answers
:meth:`PolicyEngine.decide` for a :class:`ToolRequest` (principal and scopes, the
tool and its declared scope, risk, egress, side effects and approval flag, the
arguments, and whether untrusted data reached the call) with a
:class:`PolicyDecision`. Deny by default; "ask" is a forbid on
``Action::"call_unattended"``. See ``docs/policies.md``.

Example::

    from workbench.policy import PolicyEngine, ToolRequest

    engine = PolicyEngine.default()
    decision = engine.decide(
        ToolRequest(principal="alice", scopes=("tool:sql",), tool="sql", tool_scope="data.read")
    )
    assert decision.effect == "allow"
"""

from __future__ import annotations

from workbench.policy._engine import (
    DEFAULT_POLICY_DIR,
    SCHEMA_FILE,
    PolicyEngine,
    default_policy_dir,
)
from workbench.policy._types import Effect, PolicyDecision, Risk, ToolRequest

__all__ = [
    "DEFAULT_POLICY_DIR",
    "SCHEMA_FILE",
    "Effect",
    "PolicyDecision",
    "PolicyEngine",
    "Risk",
    "ToolRequest",
    "default_policy_dir",
]
