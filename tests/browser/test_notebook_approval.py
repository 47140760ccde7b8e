"""The real-browser test: JupyterLab in Chromium runs notebook 02, a person clicks Approve.

Playwright (Python) drives Debian's Chromium (no browser download) against JupyterLab
started by `workbench services up jupyterlab`. The notebook is run cell by cell, as a
person would; when the AgentConsole shows the paused `send_email` call, the test clicks
**Approve** in the page, and then checks in the trace store that the paused execution
continued and finished. On failure a screenshot is saved under the test's tmp dir.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM_ARGS, REPO
from playwright.sync_api import Page, expect, sync_playwright

from workbench.services import ServiceInfo
from workbench.tracing import TraceStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "notebooks/02-guardrails-and-approvals.ipynb"
CONSOLE_CELL = 3
"""Index of the cell that displays the AgentConsole (cells count from 0)."""


def _run_cell(page: Page, index: int, *, timeout_ms: float = 60_000) -> None:
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Escape")  # command mode: Shift+Enter runs the selected cell
    page.keyboard.press("Shift+Enter")
    if "jp-CodeCell" in (cell.get_attribute("class") or ""):
        expect(cell.locator(".jp-InputPrompt").first).to_have_text(
            re.compile(r"\[\d+\]"), timeout=timeout_ms
        )


def test_approve_clicked_in_the_browser_finishes_the_paused_execution(
    jupyterlab: ServiceInfo, chromium_path: Path, tmp_path: Path, workbench_home: Path
) -> None:
    token = jupyterlab.extra["token"]
    url = f"{jupyterlab.url}/lab/tree/{NOTEBOOK}?token={token}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url)
            cells = page.locator(".jp-Notebook .jp-Cell")
            expect(cells.first).to_be_visible(timeout=30_000)
            n_cells = len(json.loads((REPO / NOTEBOOK).read_text())["cells"])
            expect(cells).to_have_count(n_cells, timeout=30_000)
            # Cells run before the kernel is connected are dropped: wait for it first.
            expect(
                page.locator(".jp-StatusBar-Widget").get_by_text(re.compile(r"\| Idle"))
            ).to_be_visible(timeout=60_000)
            for index in range(CONSOLE_CELL + 2):  # up to the asserts after the gate
                _run_cell(page, index)
            console = page.locator(".wb-agent-console")
            approve = console.get_by_role("button", name="Approve")
            expect(approve).to_be_enabled(timeout=30_000)
            expect(console.locator(".wb-status")).to_have_text("awaiting_approval")
            expect(console.locator(".wb-approval")).to_contain_text("send_email")

            approve.click()
            expect(console.locator(".wb-status")).to_have_text("completed", timeout=30_000)
            expect(console.locator(".wb-steps")).to_contain_text("Replied to dana.reyes@")

            for index in range(CONSOLE_CELL + 2, n_cells):
                _run_cell(page, index)
            errors = page.locator(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
            )
            assert errors.count() == 0, errors.all_inner_texts()
        except BaseException:
            shot = tmp_path / "browser-failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
            raise
        finally:
            browser.close()

    store = TraceStore()
    executions = store.sql("SELECT execution_id, status, steps, answer FROM executions")
    assert executions["status"].tolist() == ["completed"]
    eid = executions["execution_id"].iloc[0]
    events = store.sql(
        "SELECT kind, action, detail ->> 'reason' AS reason, detail ->> 'decided_by' AS who "
        "FROM safety_events WHERE execution_id = ? ORDER BY recorded_at",
        [eid],
    )
    assert events["kind"].tolist() == ["guardrail", "approval", "approval"]
    # The decision came from the button (the notebook's Python fallback gives another reason).
    assert events["action"].tolist()[2] == "approve"
    assert events["reason"].tolist()[2] == "approved in the AgentConsole"
    assert events["who"].tolist()[2] == "notebook"
    saved = json.loads((workbench_home.parent / "lab" / NOTEBOOK).read_text())
    assert saved["cells"][CONSOLE_CELL]["source"]  # the copy was served, not the repository's
