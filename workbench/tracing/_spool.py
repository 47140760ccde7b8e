"""The per-process spool: each batch becomes one sealed segment file.

Layout of ``spool_dir``::

    <pid>-<token>-<seq>.<kind>.json.part   being written (garbage if <pid> is dead)
    <pid>-<token>-<seq>.<kind>.json        sealed: complete, never written again
    quarantine/                            sealed segments the store could not parse

``kind`` is ``spans`` (a JSON array of :class:`SpanRecord` arrays) or ``records`` (a JSON
array of :class:`RecordRow` arrays). A batch is one JSON array, not NDJSON, because one
``orjson.dumps`` call over the batch costs about 0.5 µs a span where per-line encoding
costs about 3 µs. ``token`` is random per process, so a recycled pid never reuses a
name. The rename from ``.part`` is the seal: once it returns, the batch survives the
process being killed (``fsync=True`` also makes it survive a power cut).
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from workbench._util import pid_alive
from workbench.tracing._exporter import SpanExporter
from workbench.tracing._model import RecordRow, SpanRecord

__all__ = ["SpoolExporter", "encode_batch", "is_dead_part", "sealed_segments"]

SPANS = "spans"
RECORDS = "records"
_SEALED_SUFFIX = ".json"
_PART_SUFFIX = ".json.part"


def _default(value: Any) -> Any:
    if isinstance(value, tuple):  # SpanRecord / RecordRow: encoded as arrays
        return list(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


_OPTIONS = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_NON_STR_KEYS


def _sanitise(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _sanitise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitise(v) for v in value]
    return _default(value)


def encode_batch(items: Sequence[SpanRecord | RecordRow]) -> bytes:
    """Encode a batch as one JSON array of arrays (what the store reads)."""
    try:
        return orjson.dumps(items, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        # Rare: an integer beyond 64 bits or a value orjson refuses. Fall back to a slow
        # walk that makes every value encodable rather than lose the batch.
        return orjson.dumps([_sanitise(list(item)) for item in items], option=_OPTIONS)


def sealed_segments(spool_dir: Path) -> list[Path]:
    """Sealed segments in ``spool_dir``, oldest name first within each process."""
    try:
        names = os.listdir(spool_dir)
    except FileNotFoundError:
        return []
    return [spool_dir / n for n in sorted(names) if n.endswith(_SEALED_SUFFIX)]


def segment_kind(path: Path) -> str:
    """``spans`` or ``records`` for a segment path."""
    return path.name.removesuffix(_SEALED_SUFFIX).rsplit(".", 1)[-1]


def is_dead_part(path: Path) -> bool:
    """True for a ``.part`` file whose writing process no longer exists (never admitted)."""
    if not path.name.endswith(_PART_SUFFIX):
        return False
    try:
        pid = int(path.name.split("-", 1)[0])
    except ValueError:
        return False
    return pid != os.getpid() and not pid_alive(pid)


class SpoolExporter(SpanExporter):
    """Writes each batch to a sealed segment file in this process's spool.

    Several processes may share one ``spool_dir``: names never collide, and
    :class:`~workbench.tracing.TraceStore` merges sealed segments into DuckDB under a
    file lock. The exporter never opens DuckDB, so it never waits for another process.

    Args:
        spool_dir: Directory of segments (created if missing), normally
            ``get_settings().spool_dir``.
        fsync: Also fsync each segment and the directory, so a sealed batch survives a
            machine crash and not only a killed process (slower).
    """

    def __init__(self, spool_dir: Path, *, fsync: bool = False) -> None:
        self.spool_dir = Path(spool_dir)
        self._fsync = fsync
        self._pid = -1
        self._prefix = ""
        self._seq = 0

    def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
        """Seal the batch's spans and rows into (at most) two new segments."""
        spans: list[SpanRecord | RecordRow] = []
        rows: list[SpanRecord | RecordRow] = []
        for item in batch:
            (rows if item.__class__ is RecordRow else spans).append(item)
        if spans:
            self._write(SPANS, encode_batch(spans))
        if rows:
            self._write(RECORDS, encode_batch(rows))

    def _write(self, kind: str, payload: bytes) -> None:
        pid = os.getpid()
        if pid != self._pid:
            # First write, or first write in a forked child: a fresh name space.
            self._pid = pid
            self._prefix = f"{pid}-{secrets.token_hex(4)}"
            self._seq = 0
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        base = self.spool_dir / f"{self._prefix}-{self._seq:010d}.{kind}"
        part = base.with_name(base.name + _PART_SUFFIX)
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if self._fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            part.unlink(missing_ok=True)  # never sealed, so never admitted: no debris
            raise
        os.close(fd)
        os.rename(part, base.with_name(base.name + _SEALED_SUFFIX))
        if self._fsync:
            dfd = os.open(self.spool_dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def __repr__(self) -> str:
        return f"SpoolExporter({str(self.spool_dir)!r})"
