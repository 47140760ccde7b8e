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

When the spool's disk is full or unwritable (``ENOSPC``, ``EDQUOT``, ``EROFS``,
``EACCES``, ``EPERM``, ``EFBIG``), segments are sealed in a secondary directory instead
(:func:`default_fallback_dir`, normally in RAM under ``/dev/shm`` or
``$XDG_RUNTIME_DIR``), a ``spool_fallback`` row goes to ``operations_events``, and the
store merges that directory too, so the spans land once the store can write again.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import math
import os
import secrets
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from workbench._util import pid_alive
from workbench.tracing._exporter import SpanExporter
from workbench.tracing._model import RecordRow, SpanRecord

__all__ = [
    "FALLBACK_ENV",
    "SpoolExporter",
    "SpoolStats",
    "default_fallback_dir",
    "encode_batch",
    "is_dead_part",
    "sealed_segments",
]

_log = logging.getLogger("workbench.tracing")

FALLBACK_ENV = "WORKBENCH_SPOOL_FALLBACK_DIR"
"""Environment variable naming the secondary spool directory (used as given)."""
_OPERATIONS_EVENTS = "operations_events"
# A full, read-only or forbidden spool: worth a second location. Anything else (a bug,
# a vanished mount) is raised as before, and the tracer counts the batch as dropped.
_SPACE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
)

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


def default_fallback_dir(spool_dir: Path) -> Path:
    """The secondary spool of ``spool_dir``, used while the primary cannot be written.

    ``$WORKBENCH_SPOOL_FALLBACK_DIR`` when set, else a directory per primary spool (named by
    a hash of its absolute path) under ``$XDG_RUNTIME_DIR/workbench-spool``, else
    ``/dev/shm/workbench-<uid>/spool``, else the system temporary directory: another
    file system than the store's in the usual set-up, and in RAM, so it holds while the
    store's disk is full. Writer and store compute the same directory.
    """
    configured = os.environ.get(FALLBACK_ENV, "").strip()
    if configured:
        return Path(configured)
    key = hashlib.sha1(str(Path(spool_dir).resolve()).encode()).hexdigest()[:16]
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "workbench-spool" / key
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return Path(base) / f"workbench-{os.getuid()}" / "spool" / key


def is_dead_part(path: Path) -> bool:
    """True for a ``.part`` file whose writing process no longer exists (never admitted)."""
    if not path.name.endswith(_PART_SUFFIX):
        return False
    try:
        pid = int(path.name.split("-", 1)[0])
    except ValueError:
        return False
    return pid != os.getpid() and not pid_alive(pid)


class SpoolStats(NamedTuple):
    """Counters of one :class:`SpoolExporter`, read with :attr:`SpoolExporter.stats`."""

    segments: int
    """Segments sealed in the primary spool."""
    fallback_segments: int
    """Segments sealed in the secondary directory because the primary failed."""
    fallbacks: int
    """Times the exporter switched to the secondary directory."""
    in_fallback: bool
    """True while the primary spool is failing."""


class SpoolExporter(SpanExporter):
    """Writes each batch to a sealed segment file in this process's spool.

    Several processes may share one ``spool_dir``: names never collide, and
    :class:`~workbench.tracing.TraceStore` merges sealed segments into DuckDB under a
    file lock. The exporter never opens DuckDB, so it never waits for another process.

    Disk full or unwritable: when sealing in ``spool_dir`` fails with ``ENOSPC``,
    ``EDQUOT``, ``EROFS``, ``EACCES``, ``EPERM`` or ``EFBIG``, the segment is sealed in
    ``fallback_dir`` instead and a ``spool_fallback`` row (errno, paths, error) is
    recorded in ``operations_events`` beside it; the primary is tried again at most
    every ``retry_primary_s``, and the first segment sealed there again comes with a
    ``spool_recovered`` row. Only when both directories fail does :meth:`export` raise
    (the tracer logs it and counts the batch as dropped); its thread goes on.

    Args:
        spool_dir: Directory of segments (created if missing), normally
            ``get_settings().spool_dir``.
        fsync: Also fsync each segment and the directory, so a sealed batch survives a
            machine crash and not only a killed process (slower).
        fallback_dir: The secondary directory; default :func:`default_fallback_dir`.
            :class:`~workbench.tracing.TraceStore` must be given the same one (it
            computes the same default).
        retry_primary_s: Least time between two attempts on a failing primary, so a
            nearly full disk that still takes a small segment now and then does not
            make the exporter flap between the two directories.
    """

    def __init__(
        self,
        spool_dir: Path,
        *,
        fsync: bool = False,
        fallback_dir: Path | None = None,
        retry_primary_s: float = 1.0,
    ) -> None:
        self.spool_dir = Path(spool_dir)
        self.fallback_dir = (
            default_fallback_dir(self.spool_dir) if fallback_dir is None else Path(fallback_dir)
        )
        self._fsync = fsync
        self.retry_primary_s = retry_primary_s
        """Least time between two attempts on a failing primary (settable)."""
        self._pid = -1
        self._prefix = ""
        self._seq = 0
        self._segments = 0
        self._fallback_segments = 0
        self._fallbacks = 0
        self._failing_since: float | None = None
        self._last_failure = 0.0
        self._events: list[RecordRow] = []

    @property
    def stats(self) -> SpoolStats:
        """Segments sealed in each directory, fallback switches, and the current mode."""
        return SpoolStats(
            self._segments,
            self._fallback_segments,
            self._fallbacks,
            self._failing_since is not None,
        )

    def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
        """Seal the batch's spans and rows into (at most) two new segments.

        Raises:
            OSError: Neither the spool nor the fallback directory could be written.
        """
        spans: list[SpanRecord | RecordRow] = []
        rows: list[SpanRecord | RecordRow] = []
        for item in batch:
            (rows if item.__class__ is RecordRow else spans).append(item)
        if spans:
            self._seal(SPANS, encode_batch(spans))
        if rows:
            self._seal(RECORDS, encode_batch(rows))
        if self._events:
            # Events of a switch travel in their own segment, in whichever directory
            # works now; a further switch while sealing them waits for the next batch.
            events, self._events = self._events, []
            self._seal(RECORDS, encode_batch(events))

    def _seal(self, kind: str, payload: bytes) -> None:
        now = time.monotonic()
        if self._failing_since is None or now - self._last_failure >= self.retry_primary_s:
            try:
                self._write(self.spool_dir, kind, payload)
            except OSError as exc:
                if exc.errno not in _SPACE_ERRNOS:
                    raise
                self._note_failure(exc, now)
            else:
                self._segments += 1
                if self._failing_since is not None:
                    self._note_recovery(now)
                return
        self._write(self.fallback_dir, kind, payload)
        self._fallback_segments += 1

    def _note_failure(self, exc: OSError, now: float) -> None:
        self._last_failure = now
        if self._failing_since is not None:
            return
        self._failing_since = now
        self._fallbacks += 1
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        _log.warning(
            "trace spool %s cannot be written (%s); sealing segments in %s until it can",
            self.spool_dir,
            exc,
            self.fallback_dir,
        )
        self._events.append(
            self._event(
                "spool_fallback", errno=name, error=str(exc), fallbacks_total=self._fallbacks
            )
        )

    def _note_recovery(self, now: float) -> None:
        assert self._failing_since is not None
        _log.warning("trace spool %s is writable again", self.spool_dir)
        self._events.append(
            self._event(
                "spool_recovered",
                failing_s=round(now - self._failing_since, 3),
                fallback_segments_total=self._fallback_segments,
            )
        )
        self._failing_since = None

    def _event(self, kind: str, **fields: Any) -> RecordRow:
        row = {
            "kind": kind,
            "spool_dir": str(self.spool_dir),
            "fallback_dir": str(self.fallback_dir),
            "pid": os.getpid(),
            **fields,
            "at": datetime.now(UTC).isoformat(),
        }
        return RecordRow(_OPERATIONS_EVENTS, row, time.time_ns())

    def _write(self, directory: Path, kind: str, payload: bytes) -> None:
        pid = os.getpid()
        if pid != self._pid:
            # First write, or first write in a forked child: a fresh name space.
            self._pid = pid
            self._prefix = f"{pid}-{secrets.token_hex(4)}"
            self._seq = 0
        # One sequence across both directories, so names never collide when merged.
        self._seq += 1
        base = directory / f"{self._prefix}-{self._seq:010d}.{kind}"
        part = base.with_name(base.name + _PART_SUFFIX)
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            # The fallback may sit in a directory other users can read: keep it private.
            mode = 0o700 if directory == self.fallback_dir else 0o777
            directory.mkdir(mode=mode, parents=True, exist_ok=True)
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
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def __repr__(self) -> str:
        return f"SpoolExporter({str(self.spool_dir)!r})"
