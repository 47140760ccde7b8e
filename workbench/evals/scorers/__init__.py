"""Scorers: the ``@scorer`` registry and the built-in scorers.

A scorer is a small typed factory registered by name with :func:`scorer`; a suite names
it with its arguments (``{name, args}``), and both are recorded with every score, so a
run can be scored again from its log (:func:`workbench.evals.rescore`). The built-ins
(:mod:`._builtin`) register on first use: ``exact``, ``includes``, ``regex``,
``numeric``, ``json_schema``, ``tool_call``, ``trajectory``, ``no_safety_events``,
``cost_below``, ``latency_below``. See ``docs/evals.md``.
"""

from __future__ import annotations

from workbench.evals.scorers._registry import (
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
