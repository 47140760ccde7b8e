"""Demo agents' scripted models and tools (imported by ``agents/*.yaml``)."""

from workbench.demo._analyst import ANALYST_MODEL, analyst_script
from workbench.demo._judge_demo import JUDGE_MODEL, judge_script
from workbench.demo._sales_eval import SALES_V1_MODEL, SALES_V2_MODEL, question_sql
from workbench.demo._support_demo import SUPPORT_MODEL, TICKETS, read_ticket, support_script
from workbench.demo._support_eval import (
    ORDERS,
    REFUND_LIMIT_USD,
    SUPPORT_EVAL_V1_MODEL,
    SUPPORT_EVAL_V2_MODEL,
    escalate,
    issue_refund,
    lookup_order,
)
from workbench.demo._team import AUDITOR_MODEL, SUPERVISOR_MODEL, WRITER_MODEL

__all__ = [
    "ANALYST_MODEL",
    "AUDITOR_MODEL",
    "JUDGE_MODEL",
    "ORDERS",
    "REFUND_LIMIT_USD",
    "SALES_V1_MODEL",
    "SALES_V2_MODEL",
    "SUPERVISOR_MODEL",
    "SUPPORT_EVAL_V1_MODEL",
    "SUPPORT_EVAL_V2_MODEL",
    "SUPPORT_MODEL",
    "TICKETS",
    "WRITER_MODEL",
    "analyst_script",
    "escalate",
    "issue_refund",
    "judge_script",
    "lookup_order",
    "question_sql",
    "read_ticket",
    "support_script",
]
