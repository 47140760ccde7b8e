"""Run a red-team suite: the eval runner, through its seams.

:func:`arun_redteam` is :func:`workbench.evals.arun_suite` with the suite's
``runtime_factory`` (a :class:`RedteamRuntime`: gateway guard, auto-decided approval
gates) and ``on_sample`` hook (the sample's injection bound to its execution id). So a
red-team run has everything an eval run has: the same ``eval_samples`` rows and
execution ids, ``eval_runs`` states (``workbench runs list`` shows it), resume of an
interrupted run (``run_id``), progress, and the queue (``queue``: workers rebuild the
suite from its ``kind`` and run it the same way). The runner records the red-team gate
(:meth:`RedteamSuite.gate_verdict`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from workbench._util import run_sync
from workbench.errors import EvalError
from workbench.evals import Progress, ProgressMode, arun_suite
from workbench.redteam._result import RedteamRun
from workbench.redteam._suite import RedteamSuite
from workbench.settings import Settings

__all__ = ["arun_redteam", "run_redteam"]


def _load(suite: RedteamSuite | Path | str, model: str | None) -> RedteamSuite:
    loaded = suite if isinstance(suite, RedteamSuite) else RedteamSuite.from_yaml(suite)
    if not isinstance(loaded, RedteamSuite):  # pragma: no cover - from_yaml builds cls
        raise EvalError(f"{suite} did not load as a red-team suite")
    return loaded.model_copy(update={"model": model}) if model is not None else loaded


async def arun_redteam(
    suite: RedteamSuite | Path | str,
    *,
    model: str | None = None,
    settings: Settings | None = None,
    versions: Sequence[str] | None = None,
    run_id: str | None = None,
    progress: ProgressMode | Progress = "none",
    on_start: Callable[[str], None] | None = None,
    queue: str | None = None,
    queue_name: str = "default",
) -> RedteamRun:
    """Run a red-team suite (or resume a run of it) and return the run with its red-team
    view and gate.

    Args:
        suite: A :class:`RedteamSuite` or the path of its YAML file.
        model: Run every version on this litellm model (overrides the suite's ``model``;
            pass the same one when resuming).
        settings: Where state lives; from the environment if omitted.
        versions: Run only these version labels (default: all).
        run_id: Resume this run: units already recorded are not run again.
        progress: As for :func:`~workbench.evals.arun_suite` (default none).
        on_start: Called with the run id before any sample runs.
        queue: ``redis://...``: hand the units to ``workbench worker`` processes.
        queue_name: The queue's name on that Redis.

    Returns:
        The finished run.

    Raises:
        SuiteInvalid: The suite, its dataset or an agent spec is invalid.
        RunNotFound: ``run_id`` names no run in this store.
        EvalError: A version label is unknown, or the run failed as a run.
    """
    red = _load(suite, model)
    run = await arun_suite(
        red,
        run_id=run_id,
        settings=settings,
        progress=progress,
        versions=versions,
        on_start=on_start,
        runtime_factory=red.make_runtime,
        on_sample=red.sample_context,
        queue=queue,
        queue_name=queue_name,
    )
    return RedteamRun(run, red)


def run_redteam(
    suite: RedteamSuite | Path | str,
    *,
    model: str | None = None,
    settings: Settings | None = None,
    versions: Sequence[str] | None = None,
    run_id: str | None = None,
    progress: ProgressMode | Progress = "none",
    on_start: Callable[[str], None] | None = None,
    queue: str | None = None,
    queue_name: str = "default",
) -> RedteamRun:
    """Sync wrapper of :func:`arun_redteam`; works inside a running event loop (Jupyter)."""
    return run_sync(
        arun_redteam(
            suite,
            model=model,
            settings=settings,
            versions=versions,
            run_id=run_id,
            progress=progress,
            on_start=on_start,
            queue=queue,
            queue_name=queue_name,
        )
    )
