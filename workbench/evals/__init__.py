"""Evaluation: suites, the resumable runner, scorers, and the non-inferiority gate.

- :class:`Suite` (``evals/<suite>.yaml``) names a JSONL dataset, the agent versions to
  compare, scorers, an optional judge, epochs, limits and the gate.
- :func:`run_suite` / :func:`arun_suite` run it (adaptive concurrency, per-sample
  timeouts, results persisted per sample, resume, cost forecast and cap, progress).
- :func:`arun_sample` runs one sample on one agent version (the seam shadow runs use);
  ``arun_suite(runtime_factory=..., on_sample=...)`` are the runner's seams (a suite
  class's :meth:`Suite.make_runtime` and :meth:`Suite.sample_context` by default; the
  red team's ``kind: redteam`` suites run on them), and ``queue=`` hands the units to
  ``workbench worker`` processes.
- :func:`shadow` / :func:`ashadow` run a candidate on the inputs a baseline received.
- ``@scorer`` registers scorers; :func:`rescore` scores a recorded run again.
- :class:`EvalRun` returns results as DataFrames and decides the gate with the paired
  statistics of :func:`compare_versions`.

See ``docs/evals.md``.
"""

from workbench.evals._judge import (
    JudgeVerdict,
    PairwiseJudge,
    PairwiseOrderVerdict,
    PairwiseVerdict,
    RubricJudge,
    pairwise_frame,
    position_consistency,
)
from workbench.evals._judge_cache import JudgeCache
from workbench.evals._judge_card import JudgeCard, cohen_kappa, judge_card
from workbench.evals._limiter import AdaptiveLimiter, LimitChange
from workbench.evals._phoenix import annotate_run_in_phoenix, phoenix_base_url
from workbench.evals._progress import Progress, ProgressMode, make_progress
from workbench.evals._records import (
    EVAL_RUNS,
    EVAL_SAMPLES,
    GroupCommit,
    SafetyLookup,
    finished_keys,
    list_runs,
    load_run_state,
    load_sample_rows,
)
from workbench.evals._report import report_frames, write_report
from workbench.evals._rescore import rescore
from workbench.evals._result import SCORE_COLUMNS, EvalRun, reduce_epochs
from workbench.evals._runner import arun_suite, new_run_id, run_suite
from workbench.evals._sample import SampleRun, arun_sample, sample_execution_id
from workbench.evals._shadow import (
    SHADOW_SAMPLES,
    Divergence,
    ShadowInput,
    ShadowPair,
    ShadowRun,
    Trajectory,
    TrajectoryStep,
    ashadow,
    diff_trajectories,
    load_shadow_run,
    replay_override,
    shadow,
    shadow_inputs_from_store,
    trajectory_from_store,
)
from workbench.evals._stats import (
    LOWER_IS_BETTER,
    Comparison,
    GateVerdict,
    MetricComparison,
    MetricGate,
    compare_versions,
)
from workbench.evals._suite import (
    SUITE_KINDS,
    GateSpec,
    JudgeSpec,
    MetricGateSpec,
    RuntimeFactory,
    Sample,
    SampleHook,
    SampleUnit,
    ScorerSpec,
    Suite,
    load_dataset,
    suite_class,
)
from workbench.evals._workers import shutdown_workers
from workbench.evals.scorers import (
    SampleOutcome,
    Score,
    ScoreFn,
    Scorer,
    ToolCall,
    build_scorer,
    check_scorer_specs,
    registered_scorers,
    scorer,
)

__all__ = [
    "EVAL_RUNS",
    "EVAL_SAMPLES",
    "LOWER_IS_BETTER",
    "SCORE_COLUMNS",
    "SHADOW_SAMPLES",
    "SUITE_KINDS",
    "AdaptiveLimiter",
    "Comparison",
    "Divergence",
    "EvalRun",
    "GateSpec",
    "GateVerdict",
    "GroupCommit",
    "JudgeCache",
    "JudgeCard",
    "JudgeSpec",
    "JudgeVerdict",
    "LimitChange",
    "MetricComparison",
    "MetricGate",
    "MetricGateSpec",
    "PairwiseJudge",
    "PairwiseOrderVerdict",
    "PairwiseVerdict",
    "Progress",
    "ProgressMode",
    "RubricJudge",
    "RuntimeFactory",
    "SafetyLookup",
    "Sample",
    "SampleHook",
    "SampleOutcome",
    "SampleRun",
    "SampleUnit",
    "Score",
    "ScoreFn",
    "Scorer",
    "ScorerSpec",
    "ShadowInput",
    "ShadowPair",
    "ShadowRun",
    "Suite",
    "ToolCall",
    "Trajectory",
    "TrajectoryStep",
    "annotate_run_in_phoenix",
    "arun_sample",
    "arun_suite",
    "ashadow",
    "build_scorer",
    "check_scorer_specs",
    "cohen_kappa",
    "compare_versions",
    "diff_trajectories",
    "finished_keys",
    "judge_card",
    "list_runs",
    "load_dataset",
    "load_run_state",
    "load_sample_rows",
    "load_shadow_run",
    "make_progress",
    "new_run_id",
    "pairwise_frame",
    "phoenix_base_url",
    "position_consistency",
    "reduce_epochs",
    "registered_scorers",
    "replay_override",
    "report_frames",
    "rescore",
    "run_suite",
    "sample_execution_id",
    "scorer",
    "shadow",
    "shadow_inputs_from_store",
    "shutdown_workers",
    "suite_class",
    "trajectory_from_store",
    "write_report",
]
