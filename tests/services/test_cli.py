"""``workbench services up|down|status`` over a small real test service."""

from __future__ import annotations

from typer.testing import CliRunner

from workbench.cli._services import services_app
from workbench.services import service_status
from workbench.settings import Settings

runner = CliRunner()


def test_up_status_down(settings: Settings) -> None:
    up = runner.invoke(services_app, ["up", "test-http"], terminal_width=200)
    assert up.exit_code == 0, up.output
    info = service_status("test-http", settings=settings)
    assert info is not None
    assert info.url in up.output
    assert f"base_url: {info.url}/" in up.output

    again = runner.invoke(services_app, ["up", "test-http"], terminal_width=200)
    assert again.exit_code == 0
    assert service_status("test-http", settings=settings) == info

    one = runner.invoke(services_app, ["status", "test-http"], terminal_width=200)
    assert one.exit_code == 0
    assert "ready" in one.output
    assert str(info.pid) in one.output

    every = runner.invoke(services_app, ["status"], terminal_width=200)
    assert every.exit_code == 0
    assert "model" in every.output
    assert "stopped" in every.output

    down = runner.invoke(services_app, ["down", "test-http"], terminal_width=200)
    assert down.exit_code == 0
    assert "down test-http" in down.output
    assert service_status("test-http", settings=settings) is None
    twice = runner.invoke(services_app, ["down", "test-http"], terminal_width=200)
    assert "test-http was not running" in twice.output


def test_up_failure_exits_1_with_log_tail(settings: Settings) -> None:
    result = runner.invoke(services_app, ["up", "test-crash"], terminal_width=200)
    assert result.exit_code == 1
    assert "cannot open the data directory" in result.output


def test_unknown_service_exits_2() -> None:
    result = runner.invoke(services_app, ["up", "nope"], terminal_width=200)
    assert result.exit_code == 2
    assert "unknown service 'nope'" in result.output
