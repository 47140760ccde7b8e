"""The blocking wrapper: plain, inside a running event loop, and with a cassette."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import ModelServerError
from workbench.models import ServerErrorFault, Turn, complete, register_script, use_cassette

USER = [{"role": "user", "content": "hi"}]


def test_complete_without_a_loop(name: str) -> None:
    model = register_script(name, [Turn.final("plain")])
    assert complete(model, USER, timeout_s=5).text == "plain"


@pytest.mark.anyio
async def test_complete_inside_a_running_loop(name: str) -> None:
    # As in Jupyter: a loop runs on this thread and the caller is synchronous.
    model = register_script(name, [Turn(text="nested", faults=[ServerErrorFault()])])
    with pytest.raises(ModelServerError):
        complete(model, USER, timeout_s=5)
    assert complete(model, USER, timeout_s=5).text == "nested"


@pytest.mark.anyio
async def test_complete_inside_a_loop_sees_the_active_cassette(tmp_path: Path, name: str) -> None:
    model = register_script(name, [Turn.final("taped")])
    with use_cassette(tmp_path / "c.json", mode="record") as cassette:
        complete(model, USER, timeout_s=5)
    assert len(cassette) == 1


def test_complete_from_many_threads_shares_one_loop(name: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    model = register_script(name, lambda messages, tools: Turn.final(messages[-1]["content"]))
    with ThreadPoolExecutor(max_workers=8) as pool:
        texts = list(
            pool.map(
                lambda i: complete(model, [{"role": "user", "content": str(i)}], timeout_s=5).text,
                range(32),
            )
        )
    assert texts == [str(i) for i in range(32)]
