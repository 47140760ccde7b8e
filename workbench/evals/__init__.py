"""Evaluation: suites, the resumable runner, scorers, and the non-inferiority gate.

- :class:`Suite` (``evals/<suite>.yaml``) names a JSONL dataset, the agent versions to
  compare, scorers, an optional judge, epochs, limits and the gate.
- :func:`run_suite` / :func:`arun_suite` run it (adaptive concurrency, per-sample
  timeouts, results persisted per sample, resume, cost forecast and cap, progress).
- :func:`arun_sample` runs one sample on one agent version (the seam shadow runs use).
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
from workbench.evals._progress import Progress, make_progress
from workbench.evals._records import EVAL_RUNS, EVAL_SAMPLES, list_runs, load_run_state
from workbench.evals._report import report_frames, write_report
from workbench.evals._rescore import rescore
from workbench.evals._result import SCORE_COLUMNS, EvalRun, reduce_epochs
from workbench.evals._runner import arun_suite, new_run_id, run_suite
from workbench.evals._sample import SampleRun, arun_sample, sample_execution_id
from workbench.evals._scorers import (
    SampleOutcome,
    Score,
    ScoreFn,
    Scorer,
    ToolCall,
    build_scorer,
    registered_scorers,
    scorer,
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
    GateSpec,
    JudgeSpec,
    MetricGateSpec,
    Sample,
    ScorerSpec,
    Suite,
    load_dataset,
)

__all__ = [
    "EVAL_RUNS",
    "EVAL_SAMPLES",
    "LOWER_IS_BETTER",
    "SCORE_COLUMNS",
    "AdaptiveLimiter",
    "Comparison",
    "EvalRun",
    "GateSpec",
    "GateVerdict",
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
    "RubricJudge",
    "Sample",
    "SampleOutcome",
    "SampleRun",
    "Score",
    "ScoreFn",
    "Scorer",
    "ScorerSpec",
    "Suite",
    "ToolCall",
    "annotate_run_in_phoenix",
    "arun_sample",
    "arun_suite",
    "build_scorer",
    "cohen_kappa",
    "compare_versions",
    "judge_card",
    "list_runs",
    "load_dataset",
    "load_run_state",
    "make_progress",
    "new_run_id",
    "pairwise_frame",
    "phoenix_base_url",
    "position_consistency",
    "reduce_epochs",
    "registered_scorers",
    "report_frames",
    "rescore",
    "run_suite",
    "sample_execution_id",
    "scorer",
    "write_report",
]
