"""``workbench keys`` and ``workbench services ... redis`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from workbench.cli import app
from workbench.gateway import KeyStore
from workbench.settings import get_settings

runner = CliRunner()


def test_keys_create_list_revoke(workbench_home: Path) -> None:
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "alice",
            "--scope",
            "agent:analyst",
            "--scope",
            "tool:sql",
            "--daily-budget-usd",
            "2.5",
            "--rate-per-minute",
            "30",
            "--json",
        ],
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    assert body["principal"] == "alice"
    assert body["scopes"] == ["agent:analyst", "tool:sql"]
    store = KeyStore(get_settings(workbench_home).home / "keys.sqlite")
    principal = store.authenticate(body["secret"])
    assert (principal.name, principal.daily_budget_usd, principal.rate_per_minute) == (
        "alice",
        2.5,
        30,
    )

    listed = runner.invoke(app, ["keys", "list", "--json"])
    assert listed.exit_code == 0
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["key_id"], row["active"]) == (body["key_id"], True)
    assert body["secret"] not in listed.stdout
    assert "secret" not in row
    assert "secret_hash" not in row

    revoked = runner.invoke(app, ["keys", "revoke", body["key_id"]])
    assert revoked.exit_code == 0
    (row,) = [
        json.loads(line)
        for line in runner.invoke(app, ["keys", "list", "--json"]).stdout.splitlines()
    ]
    assert row["active"] is False
    assert runner.invoke(app, ["keys", "list", "--active", "--json"]).stdout == ""


def test_keys_create_prints_the_secret_once_in_text_mode(workbench_home: Path) -> None:
    result = runner.invoke(app, ["keys", "create", "bob", "--scope", "agent:*"])
    assert result.exit_code == 0
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("wbk_")
    listed = runner.invoke(app, ["keys", "list"])
    assert secret not in listed.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["keys", "revoke", "0123456789abcdef"], "key_not_found"),
        (["keys", "create", "alice", "--scope", "root"], "config_invalid"),
    ],
)
def test_keys_errors_are_typed(workbench_home: Path, args: list[str], code: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"[{code}]" in result.output


@pytest.mark.slow
def test_services_up_status_down_redis(workbench_home: Path) -> None:
    up = runner.invoke(app, ["services", "up", "redis"])
    assert up.exit_code == 0, up.output
    state = json.loads((get_settings(workbench_home).services_dir / "redis.json").read_text())
    client = redis.Redis.from_url(state["redis_url"])
    try:
        assert client.ping() is True
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        client.close()
    status = runner.invoke(app, ["services", "status", "redis"])
    assert "ready" in status.stdout
    down = runner.invoke(app, ["services", "down", "redis"])
    assert down.exit_code == 0
    assert "down redis" in down.stdout
    assert not (get_settings(workbench_home).services_dir / "redis.json").exists()
