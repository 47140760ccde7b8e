"""Simulated latency overlaps: the eval benchmark needs many concurrent scripted calls."""

from __future__ import annotations

import asyncio
import time

import pytest

from workbench.models import Turn, acomplete, register_script


@pytest.mark.anyio
async def test_200_concurrent_calls_at_200ms_take_well_under_1_5s(name: str) -> None:
    model = register_script(name, lambda messages, tools: Turn.final("ok", latency_s=0.2))
    await acomplete(model, [{"role": "user", "content": "warm-up"}], timeout_s=5)
    started = time.perf_counter()
    replies = await asyncio.gather(
        *(
            acomplete(model, [{"role": "user", "content": f"sample {i}"}], timeout_s=5)
            for i in range(200)
        )
    )
    elapsed = time.perf_counter() - started
    assert [r.text for r in replies] == ["ok"] * 200
    assert 0.2 <= elapsed < 1.5, elapsed
