"""Eval suites (``evals/<suite>.yaml``) and their datasets (``datasets/*.jsonl``).

A suite names a dataset, the agent versions to compare, the scorers, an optional judge,
epochs and a reducer, the runner's limits (concurrency, per-sample timeout, cost cap)
and the non-inferiority gate. Every problem is a :class:`~workbench.errors.SuiteInvalid`
naming the file and the field or line.

A suite file's ``kind`` (``eval`` by default) picks its class: :meth:`Suite.from_yaml`
on a ``kind: redteam`` file returns a :class:`~workbench.redteam.RedteamSuite`. A suite
class says how its samples run: :meth:`Suite.make_runtime` builds the runtime each
sample runs on and :meth:`Suite.sample_context` wraps each sample's execution (the
red team binds its injection there), so the runner, and a queue worker that rebuilds
the suite from a job, run any kind the same way.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.errors import ConfigError, SuiteInvalid
from workbench.runtime import AgentSpec, Runtime

if TYPE_CHECKING:
    from workbench.evals._result import EvalRun
    from workbench.evals._stats import GateVerdict
    from workbench.settings import Settings
    from workbench.tracing import Tracer

__all__ = [
    "SUITE_KINDS",
    "GateSpec",
    "JudgeSpec",
    "MetricGateSpec",
    "RuntimeFactory",
    "Sample",
    "SampleHook",
    "SampleUnit",
    "ScorerSpec",
    "Suite",
    "load_dataset",
    "suite_class",
]

SUITE_KINDS: dict[str, str] = {
    "eval": "workbench.evals._suite:Suite",
    "redteam": "workbench.redteam._suite:RedteamSuite",
}
"""Suite ``kind`` -> ``module:Class`` of its suite class (imported when a file needs it)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Reducer = Literal["mean", "pass_at_k", "pass_hat_k"]


class Sample(BaseModel):
    """One line of a dataset: a stable id, the task, an optional target and metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    """Stable id: results are paired across versions and resumed by it."""
    input: str = Field(min_length=1)
    """The task given to the agent (its first user message)."""
    target: Any = None
    """What a correct answer contains or equals (text, a number, a list, an object)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Anything else: per-sample scorer expectations (``expected_tools``, ...), labels."""

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        # Integer ids are common in JSONL; they are stable as text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


@dataclass(frozen=True, slots=True)
class SampleUnit:
    """One unit of a run: a sample of the dataset on one version, in one epoch."""

    run_id: str
    """The run it belongs to."""
    suite: str
    """Suite name."""
    version: str
    """Version label (``v1``)."""
    sample: Sample
    """The dataset line."""
    epoch: int
    """Which repetition (0-based)."""
    execution_id: str
    """The execution it runs as (stable: a resumed or reclaimed unit reuses it)."""


class RuntimeFactory(Protocol):
    """Builds the runtime samples run on (``Runtime`` itself is one)."""

    def __call__(self, settings: Settings, *, tracer: Tracer, durable: bool) -> Runtime:
        """A runtime on ``settings`` recording to ``tracer``."""


SampleHook = Callable[[SampleUnit], AbstractContextManager[object]]
"""Called with each unit before it runs; the context it returns wraps the sample's
execution and scoring (e.g. an injection bound to the unit's execution id)."""


class ScorerSpec(BaseModel):
    """A scorer of the suite: a registered scorer name and its keyword arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Registered scorer name (``exact``, ``includes``, ``numeric``, ...)."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the scorer's factory; recorded with every score."""
    metric: str | None = None
    """Key of the score in results and the gate; default the scorer name. Needed when a
    suite uses one scorer twice with different arguments."""

    @property
    def key(self) -> str:
        """The metric name this scorer's scores go under."""
        return self.metric or self.name


class JudgeSpec(BaseModel):
    """An LLM judge that grades answers against a rubric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    """Any litellm model name (``scripted/<name>`` offline, ``local/smollm2``, ...)."""
    rubric: str = Field(min_length=1)
    """What a good answer is; the judge scores against it."""
    stage: Literal["after_checks", "always"] = "after_checks"
    """``after_checks``: judge only samples that passed every deterministic scorer (the
    others score 0 without a judge call); ``always``: judge every sample."""
    min_agreement: float | None = Field(default=None, ge=-1.0, le=1.0)
    """Least agreement (Cohen's kappa) with human labels on the labelled slice (samples
    whose ``metadata.human_passed`` is set) for the judge's metric to take part in the gate."""
    pass_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Normalised score at or above which a verdict passes."""
    imports: list[str] = Field(default_factory=list)
    """Modules imported before the judge runs (they register a scripted judge model)."""


class MetricGateSpec(BaseModel):
    """Non-inferiority margin of one metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    margin: float = Field(ge=0.0)
    """How much worse the candidate may be (in the metric's units) and still pass."""
    higher_is_better: bool = True
    """False for cost and latency."""


class GateSpec(BaseModel):
    """The regression gate: the candidate must be non-inferior to the baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: str
    """Version label of the baseline (e.g. ``v1``)."""
    candidate: str
    """Version label of the candidate (e.g. ``v2``)."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    """Confidence of the one-sided bound the margin is checked against."""
    metrics: dict[str, MetricGateSpec] = Field(min_length=1)
    """Gated metrics: scorer metric names, ``judge``, ``cost_usd`` or ``latency_ms``."""


class Suite(BaseModel):
    """An eval suite, loaded with :meth:`from_yaml`.

    Example::

        name: analyst
        dataset: ../datasets/analyst_questions.jsonl
        versions: {v1: ../agents/analyst_v1.yaml, v2: ../agents/analyst_v2.yaml}
        scorers:
          - {name: numeric, args: {tolerance: 0.01}}
        epochs: 1
        concurrency: 8
        workers: 1
        cost_cap_usd: 0.50
        gate:
          baseline: v1
          candidate: v2
          metrics: {numeric: {margin: 0.05}}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    KIND: ClassVar[str] = "eval"
    """The ``kind`` this class loads (see :data:`SUITE_KINDS`)."""

    kind: str = "eval"
    """Which suite class reads the file: ``eval`` (this one) or ``redteam``."""
    name: str
    """Suite name (recorded with every result)."""
    description: str = ""
    """What the suite checks."""
    dataset: Path
    """The JSONL dataset; relative to the suite file."""
    versions: dict[str, Path] = Field(min_length=1)
    """Version label -> agent spec file (relative to the suite file)."""
    scorers: list[ScorerSpec] = Field(default_factory=list)
    """Scorers run on every sample, in order."""
    judge: JudgeSpec | None = None
    """Optional LLM judge; its verdict is the ``judge`` metric."""
    epochs: int = Field(default=1, ge=1, le=1000)
    """Times every sample runs per version."""
    reducer: Reducer = "mean"
    """How epochs of one sample combine: ``mean``, ``pass_at_k`` (at least one of k
    passes) or ``pass_hat_k`` (all k pass)."""
    k: int | None = Field(default=None, ge=1)
    """The k of ``pass_at_k``/``pass_hat_k``; default ``epochs``."""
    concurrency: int = Field(default=8, ge=1, le=4096)
    """Most samples in flight; the runner lowers it on 429s and grows it back."""
    workers: int | Literal["auto"] = Field(default=1, ge=1, le=256)
    """Local worker processes the units run in (``auto``: one per CPU). ``1`` runs them in
    the runner's process; more spreads them (and the ``concurrency`` window) over that
    many processes, each with its own runtime, so a CPU-bound run uses every core."""
    sample_timeout_s: float | None = Field(default=None, gt=0)
    """Wall-clock limit of one sample; past it the sample is recorded as ``timeout``."""
    cost_cap_usd: float | None = Field(default=None, gt=0)
    """Hard cap on the run's USD (agents plus judge): forecast from the first samples
    before spending more, and enforced while running."""
    forecast_samples: int = Field(default=5, ge=1)
    """Samples run before the cost forecast (and the cap check against it)."""
    principal: str = "eval"
    """Principal the executions run as."""
    gate: GateSpec | None = None
    """The regression gate; without one the run is reported but never fails."""

    source: Path | None = Field(default=None, exclude=True)
    """The file the suite was loaded from."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must match {_NAME.pattern}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Suite:
        if self.kind != self.KIND:
            raise ValueError(f"kind: {self.kind!r} is not read by {type(self).__name__}")
        keys = [s.key for s in self.scorers]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"scorers: metric {dupes[0]!r} used twice; set `metric` to tell apart")
        if self.judge is not None and "judge" in keys:
            raise ValueError("scorers: the metric name 'judge' is reserved for the judge")
        if self.k is not None and self.k > self.epochs:
            raise ValueError(f"k ({self.k}) cannot exceed epochs ({self.epochs})")
        if self.gate is not None:
            for label in (self.gate.baseline, self.gate.candidate):
                if label not in self.versions:
                    raise ValueError(f"gate: version {label!r} is not in versions")
            known = {*keys, "cost_usd", "latency_ms", *(["judge"] if self.judge else [])}
            for metric in self.gate.metrics:
                if metric not in known:
                    raise ValueError(
                        f"gate.metrics: {metric!r} is not a metric of this suite"
                        f" ({', '.join(sorted(known))})"
                    )
        return self

    @property
    def effective_k(self) -> int:
        """The k of the reducer (``epochs`` unless set)."""
        return self.k or self.epochs

    @classmethod
    def from_yaml(cls, path: Path | str) -> Suite:
        """Load and validate a suite file (paths inside are relative to it).

        Raises:
            SuiteInvalid: The file is missing, not YAML, or a field is invalid; the
                message names the file and the field. Scorer names are checked too.
        """
        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SuiteInvalid(f"suite not found: {file}") from exc
        except yaml.YAMLError as exc:
            raise SuiteInvalid(f"suite {file} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise SuiteInvalid(f"suite {file}: must be a mapping, got {type(data).__name__}")
        kind = data.get("kind", cls.KIND)
        if kind != cls.KIND:
            if cls is not Suite:
                raise SuiteInvalid(f"suite {file}: kind {kind!r} is not a {cls.KIND} suite")
            return suite_class(str(kind), source=str(file)).from_yaml(file)
        base = file.resolve().parent
        if isinstance(data.get("dataset"), str):
            data["dataset"] = (base / data["dataset"]).resolve()
        if isinstance(data.get("versions"), dict):
            data["versions"] = {
                str(k): (base / str(v)).resolve() if isinstance(v, str) else v
                for k, v in data["versions"].items()
            }
        try:
            suite = cls.model_validate({**data, "source": file.resolve()})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors()
            )
            raise SuiteInvalid(f"suite {file} is invalid: {problems}") from exc
        from workbench.evals.scorers import check_scorer_specs

        check_scorer_specs(suite.scorers, source=str(file))
        return suite

    def make_runtime(self, settings: Settings, *, tracer: Tracer, durable: bool) -> Runtime:
        """The runtime this suite's samples run on (a :class:`RuntimeFactory`)."""
        return Runtime(settings, tracer=tracer, durable=durable)

    def sample_context(self, unit: SampleUnit) -> AbstractContextManager[object]:
        """What wraps one unit's execution (a :data:`SampleHook`); nothing here."""
        return contextlib.nullcontext()

    def gate_verdict(self, run: EvalRun) -> GateVerdict | None:
        """The verdict the runner records for a finished run: ``run.gate()`` here; a kind
        that reads its scores differently (the red team) gates on its own view."""
        return run.gate()

    def run_facts(self) -> dict[str, Any]:
        """Facts of this kind recorded with the run's ``eval_runs`` rows."""
        return {}

    def agent_specs(self) -> dict[str, AgentSpec]:
        """Load the agent spec of every version.

        Raises:
            SuiteInvalid: A spec file is missing or invalid (the message has its error).
        """
        specs: dict[str, AgentSpec] = {}
        for label, path in self.versions.items():
            try:
                specs[label] = AgentSpec.from_yaml(path)
            except ConfigError as exc:
                raise SuiteInvalid(
                    f"suite {self.source or self.name}: versions.{label}: {exc.message}"
                ) from exc
        return specs

    def samples(self) -> list[Sample]:
        """The dataset's samples (see :func:`load_dataset`)."""
        return load_dataset(self.dataset)


def suite_class(kind: str, *, source: str = "suite") -> type[Suite]:
    """The suite class of a ``kind`` (imported on first use).

    Raises:
        SuiteInvalid: No suite class has that kind.
    """
    target = SUITE_KINDS.get(kind)
    if target is None:
        raise SuiteInvalid(
            f"{source}: kind {kind!r} is not a suite kind ({', '.join(sorted(SUITE_KINDS))})"
        )
    module, name = target.split(":")
    found = getattr(importlib.import_module(module), name)
    if not (isinstance(found, type) and issubclass(found, Suite)):  # pragma: no cover
        raise SuiteInvalid(f"{source}: {target} is not a Suite class")
    return found


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except FileNotFoundError as exc:
        raise SuiteInvalid(f"dataset not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise SuiteInvalid(f"dataset {path} is not UTF-8 text: {exc}") from exc


def load_dataset(path: Path | str) -> list[Sample]:
    """Read a JSONL dataset: one ``{"id", "input", "target"?, "metadata"?}`` per line.

    Blank lines and lines starting with ``//`` are skipped.

    Raises:
        SuiteInvalid: A line is not JSON, is not a valid sample, or repeats an id; the
            message names the file and the line number. An empty dataset too.
    """
    file = Path(path)
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for number, line in _lines(file):
        text = line.strip()
        if not text or text.startswith("//"):
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SuiteInvalid(f"dataset {file} line {number}: not valid JSON: {exc.msg}") from exc
        if not isinstance(data, dict):
            raise SuiteInvalid(f"dataset {file} line {number}: must be a JSON object")
        try:
            sample = Sample.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors()
            )
            raise SuiteInvalid(f"dataset {file} line {number}: {problems}") from exc
        if sample.id in seen:
            raise SuiteInvalid(
                f"dataset {file} line {number}: duplicate id {sample.id!r}"
                f" (first on line {seen[sample.id]})"
            )
        seen[sample.id] = number
        samples.append(sample)
    if not samples:
        raise SuiteInvalid(f"dataset {file} has no samples")
    return samples
