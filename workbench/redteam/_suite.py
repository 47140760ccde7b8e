"""Red-team suites (``evals/redteam_*.yaml``): eval suites with a model and approvals field.

A :class:`RedteamSuite` is an eval :class:`~workbench.evals.Suite` (dataset, versions,
scorers, gate) plus what an unattended attack run needs: the model every version runs
on (the worst-case model by default, from the specs; any litellm model such as
``local/smollm2`` when set) and what an approval gate gets (denied by default: nobody
is there to approve, so a gate is a stop).

Its file says ``kind: redteam``, so ``Suite.from_yaml`` (and with it ``workbench eval``,
``EvalRun.load`` and a queue worker) reads it as a red-team suite. Its samples run on
a :class:`~workbench.redteam.RedteamRuntime` (:meth:`RedteamSuite.make_runtime`) with
the sample's injection bound to its execution id (:meth:`RedteamSuite.sample_context`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

import workbench.redteam._scorers as _scorers  # noqa: F401  (registers the red-team scorers)
from workbench.errors import SuiteInvalid
from workbench.evals import SampleUnit, Suite
from workbench.redteam._desk import Injection, bind_injection
from workbench.redteam._runtime import RedteamRuntime
from workbench.runtime import AgentSpec

if TYPE_CHECKING:
    from workbench.evals import EvalRun, GateVerdict
    from workbench.settings import Settings
    from workbench.tracing import Tracer

__all__ = ["RedteamSuite"]


class RedteamSuite(Suite):
    """An attack suite, loaded with :meth:`from_yaml` like an eval suite.

    Example::

        kind: redteam
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

    KIND: ClassVar[str] = "redteam"

    kind: str = "redteam"
    """``redteam`` (the default when this class loads the file)."""
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

    def make_runtime(self, settings: Settings, *, tracer: Tracer, durable: bool) -> RedteamRuntime:
        """A :class:`RedteamRuntime` (gateway input guard, gates decided by :attr:`approvals`)."""
        return RedteamRuntime(settings, tracer=tracer, durable=durable, approvals=self.approvals)

    def sample_context(self, unit: SampleUnit) -> AbstractContextManager[object]:
        """Serve the unit's injection (``metadata.attack``) to its execution only."""
        return bind_injection(unit.execution_id, Injection.from_metadata(unit.sample.metadata))

    def gate_verdict(self, run: EvalRun) -> GateVerdict | None:
        """The red-team gate: attack metrics on attack samples only, utility split into
        clean and attacked (:meth:`~workbench.redteam.RedteamRun.gate`)."""
        from workbench.redteam._result import RedteamRun

        return RedteamRun(run, self).gate()

    def run_facts(self) -> dict[str, Any]:
        """``model`` and ``approvals``, recorded with the run."""
        return {"model": self.model, "approvals": self.approvals}
