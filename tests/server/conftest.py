"""Fixtures of the server tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Served, start_served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    handle, served = start_served(tmp_path)
    try:
        yield served
    finally:
        handle.stop()
