"""Real Redis and PostgreSQL for the queue tests, started through the service manager once
per session (in a home the postgres user can reach) and stopped after."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from workbench.services import start_service, stop_service
from workbench.settings import Settings, get_settings


@pytest.fixture(scope="session")
def services_settings() -> Iterator[Settings]:
    root = Path(tempfile.mkdtemp(prefix="wb-queue-services-", dir="/tmp"))
    os.chmod(root, 0o755)  # PostgreSQL runs as the postgres user and must reach its data
    settings = get_settings(root / "wb")
    try:
        yield settings
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(services_settings: Settings) -> Iterator[str]:
    info = start_service("redis", settings=services_settings)
    try:
        yield str(info.extra["redis_url"])
    finally:
        stop_service("redis", settings=services_settings)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied before each test."""
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    return redis_server


@pytest.fixture(scope="session")
def postgres_server(services_settings: Settings) -> Iterator[str]:
    info = start_service("postgres", settings=services_settings)
    try:
        yield str(info.extra["database_url"])
    finally:
        stop_service("postgres", settings=services_settings)


@pytest.fixture
def database_url(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL for one test."""
    import psycopg

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
