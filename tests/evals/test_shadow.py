"""Shadow runs: v2 on v1's inputs, with world-touching calls answered from v1's record."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from workbench.evals._shadow import (
    ShadowInput,
    ashadow,
    load_shadow_run,
    shadow_inputs_from_store,
    trajectory_from_store,
)
from workbench.models import Turn, register_script
from workbench.runtime import AgentSpec, Runtime
from workbench.settings import get_settings
from workbench.tools import ToolContext, tool
from workbench.tracing import TraceStore

pytestmark = pytest.mark.anyio

_names = itertools.count()


@tool
def balance(account: str) -> str:
    """Read a balance (read-only).

    Args:
        account: The account.
    """
    return f"{account}: 120.00"


@tool(side_effects=True)
def notify(to: str, body: str, ctx: ToolContext) -> str:
    """Send a notification to the outbox (changes the world).

    Args:
        to: Recipient.
        body: Text.
    """
    outbox = Path(str(_OUTBOX["path"]))
    with outbox.open("a") as f:
        f.write(json.dumps({"to": to, "body": body}) + "\n")
    return f"queued for {to}"


_OUTBOX: dict[str, object] = {}
TOOLS = [f"{__name__}:balance", f"{__name__}:notify"]


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    path = tmp_path / "outbox.jsonl"
    _OUTBOX["path"] = path
    return path


def _spec(version: str, recipient: str, answer: str, **extra: Any) -> AgentSpec:
    script = [
        Turn.call("balance", account="acme"),
        Turn.call("notify", to=recipient, body="balance is 120.00"),
        Turn.final(answer),
    ]
    model = register_script(f"shadow-{version}-{next(_names)}", script)
    return AgentSpec(
        name="notifier",
        version=version,
        model=model,
        system_prompt="Notify people.",
        tools=TOOLS,
        **extra,
    )


def _sent(outbox: Path) -> list[str]:
    return [json.loads(x)["to"] for x in outbox.read_text().splitlines()] if outbox.exists() else []


async def test_identical_calls_are_answered_from_the_baseline_record(
    workbench_home: Path, outbox: Path
) -> None:
    v1 = _spec("v1", "ops@example.com", "Notified ops.")
    v2 = _spec("v2", "ops@example.com", "Notified ops.")
    runtime = Runtime(get_settings(workbench_home))
    try:
        run = await ashadow(
            [ShadowInput(sample_id="s1", input="tell ops the balance")],
            candidate=v2,
            baseline=v1,
            runtime=runtime,
        )
    finally:
        await runtime.aclose()
    (pair,) = run.pairs
    assert _sent(outbox) == ["ops@example.com"]  # v1's one effect; v2 touched nothing
    assert pair.first_divergent_step is None
    assert pair.divergences == []
    assert pair.same_answer
    assert pair.candidate_status == "completed"
    assert [s["same"] for s in pair.steps] == [True, True, True]


async def test_a_different_call_is_refused_and_recorded_as_a_divergence(
    workbench_home: Path, outbox: Path
) -> None:
    v1 = _spec("v1", "ops@example.com", "Notified ops.")
    v2 = _spec("v2", "everyone@example.com", "Notified everyone.")
    runtime = Runtime(get_settings(workbench_home))
    try:
        run = await ashadow(
            [ShadowInput(sample_id="s1", input="tell ops the balance")],
            candidate=v2,
            baseline=v1,
            runtime=runtime,
        )
    finally:
        await runtime.aclose()
    (pair,) = run.pairs
    assert _sent(outbox) == ["ops@example.com"]
    assert pair.first_divergent_step == 1
    assert [(d.tool, d.step) for d in pair.divergences] == [("notify", 1)]
    assert json.loads(pair.divergences[0].arguments)["to"] == "everyone@example.com"
    assert not pair.same_answer
    frame = run.frame()
    assert frame.loc[0, "refused"] == 1
    assert frame.loc[0, "first_divergent_step"] == 1
    # It is in the store, readable back as the same run.
    store = TraceStore()
    again = load_shadow_run(store, run.run_id)
    assert again.pairs[0].divergences == pair.divergences
    view = store.sql("SELECT refused_calls, first_divergent_step FROM shadow_samples")
    assert view.iloc[0].tolist() == [1, 1]


async def test_shadow_of_recorded_executions_from_the_store(
    workbench_home: Path, outbox: Path
) -> None:
    v1 = _spec("v1", "ops@example.com", "Notified ops.")
    runtime = Runtime(get_settings(workbench_home))
    try:
        served = await runtime.arun(v1, "tell ops the balance", execution_id="ex-live-1")
        assert served.status.value == "completed"
        runtime.tracer.flush()
        store = TraceStore()
        recorded = trajectory_from_store(store, "ex-live-1")
        assert [s.action() for s in recorded.steps][2] == "answer"
        assert recorded.steps[1].calls[0].output == "queued for ops@example.com"
        inputs = shadow_inputs_from_store(store, agent="notifier", version="v1")
        assert [i.input for i in inputs] == ["tell ops the balance"]
        v2 = _spec("v2", "ops@example.com", "Ops notified.")
        run = await ashadow(inputs, candidate=v2, runtime=runtime, store=store)
    finally:
        await runtime.aclose()
    (pair,) = run.pairs
    assert _sent(outbox) == ["ops@example.com"]  # only the live execution's effect
    assert pair.baseline_execution_id == "ex-live-1"
    # Same calls, so the trajectories match; the answers differ.
    assert pair.first_divergent_step is None
    assert not pair.same_answer
    assert pair.baseline_cost_usd > 0
    assert pair.candidate_cost_usd > 0


def test_cli_shadow_run_and_report(workbench_home: Path, outbox: Path, tmp_path: Path) -> None:
    from workbench.cli import app

    for version, to in (("v1", "ops@example.com"), ("v2", "all@example.com")):
        spec = _spec(version, to, f"done {version}")
        (tmp_path / f"{version}.yaml").write_text(
            json.dumps(spec.model_dump(mode="json", exclude_none=True)), encoding="utf-8"
        )
    dataset = tmp_path / "inputs.jsonl"
    dataset.write_text(json.dumps({"id": "a", "input": "tell ops"}) + "\n", encoding="utf-8")
    runner = CliRunner()
    ran = runner.invoke(
        app,
        [
            "shadow",
            "run",
            "--candidate",
            str(tmp_path / "v2.yaml"),
            "--baseline",
            str(tmp_path / "v1.yaml"),
            "--dataset",
            str(dataset),
            "--json",
        ],
    )
    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.stdout)
    assert (summary["inputs"], summary["diverged"], summary["refused_calls"]) == (1, 1, 1)
    shown = runner.invoke(app, ["shadow", "report", summary["run_id"], "--json"])
    assert shown.exit_code == 0, shown.output
    rows = [json.loads(x) for x in shown.stdout.splitlines()]
    assert rows[0]["sample_id"] == "a"
    assert rows[0]["first_divergent_step"] == 1
    missing = runner.invoke(app, ["shadow", "report", "nope"])
    assert missing.exit_code == 2
    assert "[run_not_found]" in missing.output
