"""Fixtures of the gateway tests: a real redis-server for the session, stores, a spool tracer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from gateway_helpers import SpoolTrace

from workbench.gateway import KeyStore, RedisBudgetLedger, SqliteBudgetLedger
from workbench.services import start_service, stop_service
from workbench.settings import get_settings


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``redis-server`` started by the service manager; stopped after the session."""
    settings = get_settings(tmp_path_factory.mktemp("redis-home"))
    info = start_service("redis", settings=settings)
    try:
        yield str(info.extra["redis_url"])
    finally:
        assert stop_service("redis", settings=settings)


@pytest.fixture
def redis_db(redis_url: str) -> str:
    """The session's Redis, emptied for this test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys.sqlite")


@pytest.fixture(params=["sqlite", "redis"])
def ledger_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def ledger_target(ledger_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the ledger of this parametrisation lives: a SQLite path or a Redis URL."""
    if ledger_kind == "sqlite":
        return str(tmp_path / "budget.sqlite")
    url: str = request.getfixturevalue("redis_db")
    return url


@pytest.fixture
def ledger(
    ledger_kind: str, ledger_target: str
) -> Iterator[SqliteBudgetLedger | RedisBudgetLedger]:
    if ledger_kind == "sqlite":
        yield SqliteBudgetLedger(ledger_target)
        return
    redis_ledger = RedisBudgetLedger(ledger_target)
    yield redis_ledger
    redis_ledger.close()


@pytest.fixture
def trace(tmp_path: Path) -> Iterator[SpoolTrace]:
    spool = SpoolTrace(tmp_path)
    yield spool
    spool.tracer.shutdown()
