"""The gateway in front of the runtime: `asubmit` and `workbench run --api-key`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import AuthenticationFailed, PermissionDenied
from workbench.gateway import Gateway, KeyStore, asubmit
from workbench.models import Turn, register_script
from workbench.runtime import AgentSpec, ExecutionStatus, Runtime
from workbench.tracing import TraceStore

pytestmark = pytest.mark.anyio


def _spec(name: str = "helper", turns: int = 1) -> AgentSpec:
    script = [Turn.call("calculator", expression="2+2")] * (turns - 1) + [Turn.final("4")]
    model = register_script(f"submit-{name}-{turns}", script)
    return AgentSpec(name=name, model=model, system_prompt="You help.", tools=["calculator"])


async def test_admitted_request_runs_as_the_principal_with_its_caps(workbench_home: Path) -> None:
    keys = KeyStore()
    _, secret = keys.create("team-a", ["agent:helper", "tool:*"], daily_budget_usd=5.0)
    gateway = Gateway(keys=keys)
    runtime = Runtime(ledger=gateway.ledger)
    try:
        result = await asubmit(gateway, runtime, _spec(), api_key=secret, task="2+2?")
        assert result.status is ExecutionStatus.COMPLETED
        meta = runtime.journal.load_meta(result.execution_id)
        assert meta is not None
        assert meta.principal == "team-a"
        assert meta.caps == {"principal_day_usd": 5.0}
        spent = gateway.ledger.spent(principal="team-a")
        assert spent.usd == pytest.approx(result.cost_usd)  # settled to the actual cost
        with pytest.raises(PermissionDenied):
            await asubmit(gateway, runtime, _spec("other"), api_key=secret, task="x")
        with pytest.raises(AuthenticationFailed):
            await asubmit(gateway, runtime, _spec(), api_key="wbk_nope", task="x")
    finally:
        await runtime.aclose()


async def test_a_day_cap_stops_an_execution_cleanly_with_budget_exceeded(
    workbench_home: Path,
) -> None:
    keys = KeyStore()
    _, secret = keys.create("tight", ["agent:helper", "tool:*"], daily_budget_usd=1e-9)
    gateway = Gateway(keys=keys)
    runtime = Runtime(ledger=gateway.ledger)
    try:
        result = await asubmit(gateway, runtime, _spec(turns=3), api_key=secret, task="2+2?")
    finally:
        await runtime.aclose()
    assert result.status is ExecutionStatus.BUDGET_EXCEEDED
    assert result.steps == 0
    assert result.error is not None
    assert "budget_exceeded" in result.error
    runtime.tracer.flush()
    kinds = TraceStore().sql(
        "SELECT kind, action FROM safety_events WHERE execution_id = ?", [result.execution_id]
    )
    assert kinds.values.tolist() == [["budget", "stop"]]


def test_cli_run_with_api_key(workbench_home: Path, tmp_path: Path) -> None:
    spec = _spec("clihelper")
    path = tmp_path / "a.yaml"
    path.write_text(json.dumps(spec.model_dump(mode="json", exclude_none=True)))
    _, secret = KeyStore().create("cli-user", ["agent:clihelper", "tool:*"])
    runner = CliRunner()
    ok = runner.invoke(app, ["run", str(path), "--task", "2+2?", "--json", "--api-key", secret])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["status"] == "completed"
    bad = runner.invoke(app, ["run", str(path), "--task", "2+2?"], env={"WORKBENCH_API_KEY": "x"})
    assert bad.exit_code == 2
    assert "[auth_failed]" in bad.output
