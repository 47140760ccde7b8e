"""Red-team evals: attack suites, the worst-case model, defenses compared and gated.

- :func:`worst_case_model` registers a scripted model that does its benign plan and
  carries out every injected goal it reads (:func:`find_goals`, the goal grammar);
- the desk (``read_ticket``, ``open_document``, ``recall_memory``) is the agent's
  world; an attack sample's :class:`Injection` is served to its execution only;
- :class:`RedteamSuite` (``evals/redteam_*.yaml``) is an eval suite with a ``model``
  and ``approvals`` field; the scorers ``utility``, ``attack_success``, ``harm`` and
  ``defense`` are in the ``@scorer`` registry;
- :func:`run_redteam` runs it on a :class:`RedteamRuntime` (gateway input guard,
  approval gates auto-denied) and returns a :class:`RedteamRun`: per-version utility
  without and under attack, attack success, harm, stops by defense, and the eval's
  paired non-inferiority gate and HTML report.

See ``docs/redteam.md``.
"""

from __future__ import annotations

from workbench.redteam._dataset import CORPUS_DEFAULT, build_samples, load_corpus_templates
from workbench.redteam._desk import (
    DOCUMENTS,
    MEMORIES,
    PLANTED_SECRET,
    REDTEAM_MODEL,
    TICKETS,
    Injection,
    bind_injection,
    desk_plan,
    open_document,
    read_ticket,
    recall_memory,
)
from workbench.redteam._goals import Goal, find_goals, read_text
from workbench.redteam._result import RedteamRun
from workbench.redteam._runner import arun_redteam, run_redteam
from workbench.redteam._runtime import RedteamRuntime
from workbench.redteam._scorers import DEFENSES, stopped_by
from workbench.redteam._suite import RedteamSuite
from workbench.redteam._worst_case import Plan, WorstCaseModel, worst_case_model

__all__ = [
    "CORPUS_DEFAULT",
    "DEFENSES",
    "DOCUMENTS",
    "MEMORIES",
    "PLANTED_SECRET",
    "REDTEAM_MODEL",
    "TICKETS",
    "Goal",
    "Injection",
    "Plan",
    "RedteamRun",
    "RedteamRuntime",
    "RedteamSuite",
    "WorstCaseModel",
    "arun_redteam",
    "bind_injection",
    "build_samples",
    "desk_plan",
    "find_goals",
    "load_corpus_templates",
    "open_document",
    "read_text",
    "read_ticket",
    "recall_memory",
    "run_redteam",
    "stopped_by",
    "worst_case_model",
]
