"""Red-team suites (``evals/redteam_*.yaml``): eval suites with a model and approvals field.

A :class:`RedteamSuite` is an eval :class:`~workbench.evals.Suite` (dataset, versions,
scorers, gate) plus what an unattended attack run needs: the model every version runs
on (the worst-case model by default, from the specs; any litellm model such as
``local/smollm2`` when set) and what an approval gate gets (denied by default: nobody
is there to approve, so a gate is a stop).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

import workbench.redteam._scorers as _scorers  # noqa: F401  (registers the red-team scorers)
from workbench.errors import SuiteInvalid
from workbench.evals import Suite
from workbench.runtime import AgentSpec

__all__ = ["RedteamSuite"]


class RedteamSuite(Suite):
    """An attack suite, loaded with :meth:`from_yaml` like an eval suite.

    Example::

        name: redteam_gate_fail
        dataset: ../datasets/redteam_attacks.jsonl
        versions: {v1: ../agents/redteam_all.yaml, v2: ../agents/redteam_guardrails.yaml}
        model: null            # or local/smollm2, openai/gpt-4o-mini, ...
        approvals: deny
        scorers:
          - {name: utility}
          - {name: attack_success, args: {secrets: [sk_live_...]}}
        gate:
          baseline: v1
          candidate: v2
          metrics: {attack_success: {margin: 0.02, higher_is_better: false}}
    """

    model: str | None = None
    """Run every version on this litellm model instead of its spec's (``None``: the specs'
    models, the worst-case model in the shipped agents)."""
    approvals: Literal["deny", "approve"] = "deny"
    """What an approval gate gets in this unattended run: ``deny`` (a gate is a stop,
    recorded as an ``approval`` safety event) or ``approve`` (gates let calls through)."""
    attack_metrics: list[str] = Field(default_factory=lambda: ["attack_success", "harm", "defense"])
    """Metrics read on attack samples only (a benign sample has no attack to resist)."""

    def agent_specs(self) -> dict[str, AgentSpec]:
        """Every version's spec, on :attr:`model` when the suite sets one.

        Raises:
            SuiteInvalid: A spec file is missing or invalid.
        """
        specs = super().agent_specs()
        if self.model is None:
            return specs
        if not self.model.strip():
            raise SuiteInvalid(f"suite {self.source or self.name}: model must not be empty")
        return {label: s.model_copy(update={"model": self.model}) for label, s in specs.items()}
