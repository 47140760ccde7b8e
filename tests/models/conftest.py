"""Fixtures of the models tests: real provider requests blocked, unique script names."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from workbench.models import _switch, allow_model_requests


@pytest.fixture(autouse=True)
def block_real_requests() -> Iterator[None]:
    """No test here may reach a real provider; the ones that need it opt in."""
    previous = _switch.ALLOW_MODEL_REQUESTS
    allow_model_requests(False)
    yield
    allow_model_requests(previous)


@pytest.fixture
def name() -> str:
    """A scripted model name no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"
