"""Several worker processes behind one port: which worker owns an execution, and forwarding.

``workbench serve --workers N`` runs N processes that accept on one shared listening
socket, so any request may reach any worker. An execution's live state (its step
stream, its in-memory view, its background task) lives in the worker that started it,
its *owner*. The owner is a function of the id alone, ``crc32(id) % N``: a worker mints
ids until one hashes to itself, so nothing is stored or looked up to route, and an
execution started elsewhere (``workbench run``, then decided over the API) has a
deterministic owner too.

Each worker also listens on a private unix socket (``<run_dir>/w<i>.sock``). A request
about an execution another worker owns (``GET``, its events, ``stop``, the decision of
one of its approvals) is relayed there as raw HTTP/1.1, streamed back chunk by chunk,
so every endpoint answers the same from every worker. The relay is marked with
``X-Workbench-Forwarded`` and never forwarded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ServiceError
from workbench.runtime import new_execution_id

if TYPE_CHECKING:
    from workbench.runtime import Runtime

__all__ = ["FORWARDED_HEADER", "Cluster", "Forwarder", "Router"]

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_ASGI = Callable[[_Scope, _Receive, _Send], Awaitable[None]]
_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]

FORWARDED_HEADER = "x-workbench-forwarded"
"""Set on a relayed request (to the index of the worker that relayed it)."""

_EXECUTION = re.compile(r"^/v1/executions/([^/]+)(?:/events|/stop)?$")
_APPROVAL = re.compile(r"^/v1/approvals/([^/]+)$")
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-connection",
        FORWARDED_HEADER.encode(),
    }
)
_SET_BY_SERVER = frozenset({b"date", b"server"})
"""Response headers uvicorn adds to every answer: not copied from the owner's."""
_IDLE_S = 3.0
"""A pooled connection idle longer than this is dropped: uvicorn closes one after 5 s."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """This worker's place among the server's workers.

    Args:
        index: This worker, ``0 <= index < count``.
        count: Workers of the server.
        run_dir: Folder of the workers' private sockets (``w<i>.sock``).
    """

    index: int
    count: int
    run_dir: Path

    def owner(self, execution_id: str) -> int:
        """The worker that owns ``execution_id``: ``crc32(id) % count``."""
        return zlib.crc32(execution_id.encode()) % self.count

    def new_execution_id(self) -> str:
        """A new execution id that this worker owns (``count`` draws on average)."""
        while True:
            execution_id = new_execution_id()
            if self.owner(execution_id) == self.index:
                return execution_id

    def socket_path(self, index: int) -> Path:
        """The private unix socket of worker ``index``."""
        return self.run_dir / f"w{index}.sock"


class Forwarder:
    """Relays an ASGI request to another worker's private socket and streams the answer.

    Keeps idle keep-alive connections per worker. Bodies are read whole before relaying
    (the edge middleware has already refused any over ``max_body_bytes``).

    Args:
        cluster: Where the workers' sockets are.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._idle: dict[int, list[tuple[float, _Conn]]] = {}

    async def forward(self, owner: int, scope: _Scope, receive: _Receive, send: _Send) -> None:
        """Answer the request as worker ``owner`` answers it.

        Raises:
            ServiceError: The owner's socket cannot be reached (or broke before answering).
        """
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        request = self._head(scope, len(body)) + bytes(body)
        conn, head = await self._exchange(owner, request)
        status, headers, length, chunked = head
        await send({"type": "http.response.start", "status": status, "headers": headers})
        reader, writer = conn
        reusable = False
        try:
            if length is not None:
                data = await reader.readexactly(length) if length else b""
                await send({"type": "http.response.body", "body": data, "more_body": False})
                reusable = True
            elif chunked:
                reusable = await self._stream(reader, receive, send)
            else:  # no framing: the body runs to the end of the connection
                data = await reader.read()
                await send({"type": "http.response.body", "body": data, "more_body": False})
        finally:
            if reusable:
                self._idle.setdefault(owner, []).append((time.monotonic(), conn))
            else:
                writer.close()

    def close(self) -> None:
        """Close every idle connection."""
        for conns in self._idle.values():
            for _, (_, writer) in conns:
                writer.close()
        self._idle.clear()

    async def _exchange(
        self, owner: int, request: bytes
    ) -> tuple[_Conn, tuple[int, list[tuple[bytes, bytes]], int | None, bool]]:
        pooled = self._pooled(owner)
        if pooled is not None:
            try:
                return pooled, await self._send_head(pooled, request)
            except (OSError, asyncio.IncompleteReadError) as exc:
                pooled[1].close()
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise ServiceError(
                        f"worker {owner} of this server broke off its answer: {exc}"
                    ) from None
                # The owner closed the idle connection before reading the request: nothing
                # ran there, so sending it again on a new connection is safe.
        path = self.cluster.socket_path(owner)
        try:
            conn = await asyncio.open_unix_connection(str(path), limit=1 << 20)
            return conn, await self._send_head(conn, request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise ServiceError(
                f"worker {owner} of this server, which owns the execution, did not answer "
                f"on {path}: {type(exc).__name__}: {exc}"
            ) from None

    def _pooled(self, owner: int) -> _Conn | None:
        conns = self._idle.get(owner)
        now = time.monotonic()
        while conns:
            since, conn = conns.pop()
            if now - since < _IDLE_S and not conn[1].is_closing():
                return conn
            conn[1].close()
        return None

    @staticmethod
    async def _send_head(
        conn: _Conn, request: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], int | None, bool]:
        reader, writer = conn
        writer.write(request)
        raw = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = raw[:-4].partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            if name not in _HOP_BY_HOP and name not in _SET_BY_SERVER:
                headers.append((name, value))
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        return status, headers, length, chunked

    @staticmethod
    async def _stream(reader: asyncio.StreamReader, receive: _Receive, send: _Send) -> bool:
        """Relay a chunked body chunk by chunk; stop if the client goes away first."""

        async def pump() -> None:
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers are sent: the last CRLF
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                chunk = await reader.readexactly(size + 2)
                await send({"type": "http.response.body", "body": chunk[:-2], "more_body": True})

        async def gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        relay = asyncio.ensure_future(pump())
        watch = asyncio.ensure_future(gone())
        try:
            done, _ = await asyncio.wait({relay, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (relay, watch):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(relay, watch, return_exceptions=True)
        if relay in done:
            relay.result()
            return True
        return False  # the client left mid-stream: drop the owner's connection too

    def _head(self, scope: _Scope, length: int) -> bytes:
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        lines = [scope["method"].encode() + b" " + target + b" HTTP/1.1"]
        lines.extend(
            name + b": " + value
            for name, value in scope.get("headers", ())
            if name.lower() not in _HOP_BY_HOP
        )
        lines.append(b"content-length: " + str(length).encode())
        lines.append(FORWARDED_HEADER.encode() + b": " + str(self.cluster.index).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n"


class Router:
    """ASGI middleware: a request about an execution this worker does not own is forwarded.

    Routed: ``/v1/executions/{id}``, ``.../events`` and ``.../stop`` by the id; the
    decision ``POST /v1/approvals/{id}`` by its execution's id (read from the journal,
    shared by the workers). Everything else is answered here: creating an execution
    (the new id is this worker's), the approval list and costs (shared stores),
    ``/metrics`` (multiprocess), ``/healthz``.

    Args:
        app: The app behind.
        cluster: This worker's place.
        runtime: Reads approvals from the shared journal.
        on_error: Answers a :class:`ServiceError` of the relay (the app's JSON errors).
    """

    def __init__(
        self,
        app: _ASGI,
        *,
        cluster: Cluster,
        runtime: Runtime,
        on_error: Callable[[ServiceError], _ASGI],
    ) -> None:
        self.app = app
        self.cluster = cluster
        self.runtime = runtime
        self.on_error = on_error
        self.forwarder = Forwarder(cluster)

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        owner = self._owner(scope) if scope["type"] == "http" else None
        if owner is None or owner == self.cluster.index:
            await self.app(scope, receive, send)
            return
        scope["workbench.forwarded_to"] = owner
        started = [False]

        async def tracking_send(message: MutableMapping[str, Any]) -> None:
            started[0] = True
            await send(message)

        try:
            await self.forwarder.forward(owner, scope, receive, tracking_send)
        except ServiceError as exc:
            if started[0]:
                raise  # mid-body: nothing else can be said on this response
            await self.on_error(exc)(scope, receive, send)

    def _owner(self, scope: _Scope) -> int | None:
        path: str = scope["path"]
        if not path.startswith("/v1/"):
            return None
        for name, _ in scope.get("headers", ()):
            if name == b"x-workbench-forwarded":
                return None  # relayed once already: answer here whatever happens
        match = _EXECUTION.match(path)
        if match is not None:
            return self.cluster.owner(match.group(1))
        match = _APPROVAL.match(path)
        if match is not None and scope["method"] == "POST":
            approval = self.runtime.journal.get_approval(match.group(1))
            # An unknown approval is refused the same by every worker: answer it here.
            return None if approval is None else self.cluster.owner(approval.execution_id)
        return None
