"""Fixtures for the real-browser test: JupyterLab started for real, Debian's Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM, REPO

from workbench.services import ServiceInfo, start_service, stop_service
from workbench.services._jupyter import ROOT_ENV


@pytest.fixture
def lab_root(tmp_path: Path) -> Path:
    """A served directory with a copy of notebook 02 (the browser saves into it, not into
    the repository) and the repository's agents."""
    root = tmp_path / "lab"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(REPO / "notebooks" / "02-guardrails-and-approvals.ipynb", root / "notebooks")
    (root / "agents").symlink_to(REPO / "agents")
    return root


@pytest.fixture
def jupyterlab(lab_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceInfo]:
    """`workbench services up jupyterlab` on the test's home, serving ``lab_root``; the
    kernels inherit this test's ``WORKBENCH_HOME``. Stopped at the end."""
    monkeypatch.setenv(ROOT_ENV, str(lab_root))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    assert os.environ.get("WORKBENCH_HOME")
    info = start_service("jupyterlab")
    try:
        yield info
    finally:
        stop_service("jupyterlab")


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash scripts/install-system-deps.sh` as root "
            "(apt-get install chromium)"
        )
    return CHROMIUM
