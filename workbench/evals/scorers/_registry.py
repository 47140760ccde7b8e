"""Scorers: the ``@scorer`` registry and what a scorer sees (:class:`SampleOutcome`).

A scorer is a factory registered under a name: called with its keyword arguments it
returns a function of one :class:`SampleOutcome` that returns a :class:`Score` (sync or
async). The registry stamps every score with the scorer's name and arguments, so a run
can be re-scored from its log (:func:`workbench.evals.rescore`). Built-in scorers live
in ``_builtin.py``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import SuiteInvalid
from workbench.evals._suite import Sample, ScorerSpec

__all__ = [
    "SampleOutcome",
    "Score",
    "ScoreFn",
    "Scorer",
    "ToolCall",
    "build_scorer",
    "check_scorer_specs",
    "registered_scorers",
    "scorer",
]


class Score(BaseModel):
    """One scorer's verdict on one sample."""

    model_config = ConfigDict(frozen=True)

    value: float
    """The score, usually 0..1 (1 is best)."""
    passed: bool | None = None
    """Pass/fail when the scorer has one (McNemar pairs these); ``None`` otherwise."""
    explanation: str = ""
    """Why, in a few words (shown in reports)."""
    scorer: str = ""
    """Registered name of the scorer (stamped by the registry)."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Arguments the scorer was built with (stamped by the registry)."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the agent made, from its step events or the sample's log row."""

    name: str
    """Tool name."""
    arguments: Any
    """Arguments parsed from JSON (``None`` when they were not valid JSON)."""
    raw: str = ""
    """The argument text as the model produced it."""
    step: int = 0
    """Step of the execution that made it."""
    error: str | None = None
    """Error code of the tool result, when the call failed (e.g. ``tool_refused``)."""

    def to_dict(self) -> dict[str, Any]:
        """As stored in a sample row."""
        return {
            "name": self.name,
            "arguments": self.arguments,
            "raw": self.raw,
            "step": self.step,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """From a stored row."""
        return cls(
            name=str(data.get("name", "")),
            arguments=data.get("arguments"),
            raw=str(data.get("raw") or ""),
            step=int(data.get("step") or 0),
            error=data.get("error"),
        )

    @classmethod
    def parse(cls, name: str, raw: str | None, step: int, error: str | None = None) -> ToolCall:
        """From a step event's raw argument text."""
        text = raw or ""
        try:
            arguments = json.loads(text) if text else {}
        except json.JSONDecodeError:
            arguments = None
        return cls(name=name, arguments=arguments, raw=text, step=step, error=error)


async def _no_safety_events() -> list[dict[str, Any]]:
    return []


@dataclass
class SampleOutcome:
    """What a scorer sees: the sample and what one agent version did with it."""

    sample: Sample
    """The dataset line."""
    version: str
    """Version label in the suite (``v1``)."""
    answer: str | None
    """The final answer (``None`` unless the execution completed)."""
    status: str
    """Execution status, or ``error``/``timeout`` when the sample itself failed."""
    error: str | None = None
    """What went wrong, when something did."""
    execution_id: str | None = None
    """The execution (to look spans and safety events up by)."""
    cost_usd: float = 0.0
    """USD of the execution's model calls."""
    tokens: int = 0
    """Prompt plus completion tokens."""
    latency_ms: float = 0.0
    """Wall-clock time of the sample."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tool calls in order."""
    safety_lookup: Callable[[], Awaitable[list[dict[str, Any]]]] = _no_safety_events
    """Returns the ``safety_events`` rows of this execution (set by the runner)."""

    async def safety_events(self) -> list[dict[str, Any]]:
        """Rows of the ``safety_events`` view for this execution."""
        return await self.safety_lookup()


ScoreFn: TypeAlias = Callable[[SampleOutcome], Score | Awaitable[Score]]
_Factory: TypeAlias = Callable[..., ScoreFn]
_REGISTRY: dict[str, _Factory] = {}


def scorer(name: str) -> Callable[[_Factory], _Factory]:
    """Register a scorer factory under ``name``.

    Example::

        @scorer("shorter_than")
        def shorter_than(*, chars: int = 200) -> ScoreFn:
            def score(outcome: SampleOutcome) -> Score:
                ok = len(outcome.answer or "") < chars
                return Score(value=float(ok), passed=ok)
            return score

    Args:
        name: The name suites use; registering a name again replaces the factory.

    Returns:
        A decorator that registers the factory and returns it unchanged.
    """

    def register(factory: _Factory) -> _Factory:
        _REGISTRY[name] = factory
        return factory

    return register


def registered_scorers() -> list[str]:
    """Names of every registered scorer, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


@dataclass(frozen=True)
class Scorer:
    """A built scorer: its name, arguments, metric key and scoring function."""

    name: str
    """Registered name."""
    args: dict[str, Any]
    """Arguments it was built with."""
    key: str
    """Metric name its scores go under."""
    fn: ScoreFn
    """The scoring function."""

    async def ascore(self, outcome: SampleOutcome) -> Score:
        """Score one outcome; a scorer that raises scores 0 with the error as explanation."""
        try:
            result = self.fn(outcome)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # a broken scorer must not lose the sample
            result = Score(value=0.0, passed=False, explanation=f"scorer error: {exc!r}")
        assert isinstance(result, Score)
        return result.model_copy(update={"scorer": self.name, "args": dict(self.args)})

    def spec(self) -> ScorerSpec:
        """The spec that rebuilds this scorer."""
        return ScorerSpec(
            name=self.name, args=self.args, metric=None if self.key == self.name else self.key
        )


def _load_builtins() -> None:
    import workbench.evals.scorers._builtin  # noqa: F401  (registers on import)


def build_scorer(spec: ScorerSpec | str, /, **args: Any) -> Scorer:
    """Build a registered scorer from a spec (or a name and keyword arguments).

    Raises:
        SuiteInvalid: No scorer has that name, or the arguments do not fit its factory.
    """
    _load_builtins()
    if isinstance(spec, str):
        spec = ScorerSpec(name=spec, args=args)
    factory = _REGISTRY.get(spec.name)
    if factory is None:
        raise SuiteInvalid(
            f"unknown scorer {spec.name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        )
    try:
        inspect.signature(factory).bind(**spec.args)
        fn = factory(**spec.args)
    except (TypeError, ValueError) as exc:
        raise SuiteInvalid(f"scorer {spec.name!r}: bad args {spec.args}: {exc}") from exc
    return Scorer(name=spec.name, args=dict(spec.args), key=spec.key, fn=fn)


def check_scorer_specs(specs: Sequence[ScorerSpec], *, source: str) -> list[Scorer]:
    """Build every spec, naming ``source`` and the scorer's index in any error.

    Raises:
        SuiteInvalid: A scorer is unknown or has bad arguments.
    """
    built = []
    for index, spec in enumerate(specs):
        try:
            built.append(build_scorer(spec))
        except SuiteInvalid as exc:
            raise SuiteInvalid(f"suite {source}: scorers.{index}: {exc.message}") from exc
    return built
