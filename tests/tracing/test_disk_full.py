"""A full or read-only spool disk: segments go to the fallback directory and nothing is lost.

The disks are real: a tmpfs of a few pages (``ENOSPC`` when full) and a tmpfs remounted
read-only (``EROFS``), mounted per test. Tests run as root here, where a ``chmod`` would
not stop a write, but a mount does.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.tracing import (
    FALLBACK_ENV,
    SpanKind,
    SpoolExporter,
    Tracer,
    TraceStore,
    default_fallback_dir,
)

_PAYLOAD = "x" * 400  # ~0.5 KB a span, so a batch of 40 is ~20 KB: a 64 KB disk fills fast


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"this test needs to mount a tmpfs (root): mount {args}: {done.stderr}")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    _mount("-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _emit(tracer: Tracer, batch: int, n: int) -> None:
    for i in range(n):
        with tracer.span(
            f"tool.step{i}",
            SpanKind.TOOL,
            {"workbench.execution_id": f"e{batch}", "workbench.step": i, "input.value": _PAYLOAD},
        ):
            pass
    assert tracer.flush(10.0)


def _events(store: TraceStore) -> list[dict[str, object]]:
    frame = store.sql(
        "SELECT row FROM records WHERE table_name = 'operations_events' ORDER BY recorded_at"
    )
    return [json.loads(r) for r in frame["row"]]


def test_full_disk_spools_to_fallback_and_lands_when_space_returns(
    tiny_disk: Path, tmp_path: Path
) -> None:
    spool, fallback = tiny_disk / "spool", tmp_path / "fallback"
    exporter = SpoolExporter(spool, fallback_dir=fallback, retry_primary_s=3600.0)
    tracer = Tracer([exporter], flush_interval_s=10.0)
    store = TraceStore(tmp_path / "traces.duckdb", spool_dir=spool, fallback_dir=fallback)

    batches, per_batch = 10, 40
    for b in range(batches):
        _emit(tracer, b, per_batch)
    emitted = batches * per_batch

    # The disk filled part-way: later segments went to the fallback, nothing was dropped.
    stats = exporter.stats
    assert stats.segments >= 1, stats
    assert stats.fallback_segments >= 1, stats
    assert (stats.fallbacks, stats.in_fallback) == (1, True), stats
    assert (tracer.stats.dropped, tracer.stats.export_errors) == (0, 0), tracer.stats
    assert not list(spool.glob("*.part")), "a failed write left debris"
    on_disk = len(list(spool.glob("*.json"))) + len(list(fallback.glob("*.json")))
    assert on_disk == stats.segments + stats.fallback_segments

    # Merging empties the small disk (space returns) and lands both directories.
    store.ingest()
    assert not list(spool.glob("*.json"))
    assert not list(fallback.glob("*.json"))
    counted = store.sql("SELECT count(*) AS n, count(DISTINCT span_id) AS d FROM spans")
    assert (int(counted.n[0]), int(counted.d[0])) == (emitted, emitted)

    # Writing resumes on the primary spool at the next attempt, with a recovery event.
    exporter.retry_primary_s = 0.0
    _emit(tracer, batches, per_batch)
    assert not exporter.stats.in_fallback
    assert len(list(spool.glob("*.json"))) >= 1
    tracer.shutdown()
    assert int(store.sql("SELECT count(*) AS n FROM spans").n[0]) == emitted + per_batch

    events = _events(store)
    assert [e["kind"] for e in events] == ["spool_fallback", "spool_recovered"]
    assert events[0]["errno"] == "ENOSPC"
    assert events[0]["spool_dir"] == str(spool)
    assert events[0]["fallback_dir"] == str(fallback)
    assert events[1]["fallback_segments_total"] == stats.fallback_segments


def test_read_only_spool_falls_back_until_remounted_read_write(
    tiny_disk: Path, tmp_path: Path
) -> None:
    spool, fallback = tiny_disk / "spool", tmp_path / "fallback"
    spool.mkdir()
    exporter = SpoolExporter(spool, fallback_dir=fallback, retry_primary_s=0.0)
    tracer = Tracer([exporter], flush_interval_s=10.0)
    store = TraceStore(tmp_path / "traces.duckdb", spool_dir=spool, fallback_dir=fallback)

    _mount("-o", "remount,ro", str(tiny_disk))
    for b in range(3):
        _emit(tracer, b, 5)
    ro = exporter.stats
    assert (ro.segments, ro.fallback_segments, ro.in_fallback) == (0, 4, True), ro
    # The store merges the fallback even while the spool is read-only.
    assert int(store.sql("SELECT count(*) AS n FROM spans").n[0]) == 15

    _mount("-o", "remount,rw", str(tiny_disk))
    _emit(tracer, 3, 5)
    tracer.shutdown()
    assert exporter.stats.segments == 2  # the spans, then the recovery event
    assert int(store.sql("SELECT count(*) AS n FROM spans").n[0]) == 20
    assert tracer.stats.dropped == 0
    events = _events(store)
    assert [(e["kind"], e.get("errno")) for e in events] == [
        ("spool_fallback", "EROFS"),
        ("spool_recovered", None),
    ]


def test_both_directories_failing_counts_a_drop_and_the_tracer_goes_on(
    tiny_disk: Path, tmp_path: Path
) -> None:
    spool, fallback = tiny_disk / "spool", tiny_disk / "fallback"
    spool.mkdir()
    fallback.mkdir()
    _mount("-o", "remount,ro", str(tiny_disk))
    tracer = Tracer([SpoolExporter(spool, fallback_dir=fallback)], flush_interval_s=10.0)
    _emit(tracer, 0, 3)
    assert tracer.stats.dropped == 3
    assert tracer.stats.export_errors == 1
    _mount("-o", "remount,rw", str(tiny_disk))
    _emit(tracer, 1, 3)  # the thread survived; the primary is retried after retry_primary_s
    tracer.shutdown()
    store = TraceStore(tmp_path / "traces.duckdb", spool_dir=spool, fallback_dir=fallback)
    assert int(store.sql("SELECT count(*) AS n FROM spans").n[0]) == 3


def test_default_fallback_dir_is_shared_by_writer_and_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(FALLBACK_ENV, raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    a, b = default_fallback_dir(tmp_path / "a"), default_fallback_dir(tmp_path / "b")
    assert a != b
    assert a.parent == b.parent
    assert default_fallback_dir(tmp_path / "x" / ".." / "a") == a
    store = TraceStore(tmp_path / "t.duckdb", spool_dir=tmp_path / "a")
    assert store.fallback_dir == SpoolExporter(tmp_path / "a").fallback_dir == a

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_fallback_dir(tmp_path / "a").parent == tmp_path / "workbench-spool"
    monkeypatch.setenv(FALLBACK_ENV, str(tmp_path / "fb"))
    assert default_fallback_dir(tmp_path / "a") == tmp_path / "fb"
