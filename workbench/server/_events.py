"""The server-sent events response of ``GET /v1/executions/{id}/events``."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from workbench.server._state import ServedExecution

__all__ = ["EventStream"]

_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_KEEPALIVE = b": keep-alive\n\n"


class EventStream(StreamingResponse):
    """An execution's step events, then its status, as ``text/event-stream``.

    A stream opened after the execution stopped running (the usual case for a short
    execution) is answered with one body: every frame and the status at once. A running
    one sends every frame available in one write, waits for the next on a plain future
    (raced with the client's disconnect, so a client that left ends it), and sends the
    closing status together with the end of the body. The bytes are the same either
    way; the writes and the tasks per stream are as few as they can be (Starlette's
    streaming response would add a task group, and one write for the status and one
    for the end).

    Args:
        served: The execution to stream.
        keepalive_s: Seconds without an event after which a comment line is sent.
    """

    def __init__(self, served: ServedExecution, *, keepalive_s: float = 15.0) -> None:
        super().__init__(iter(()), media_type="text/event-stream", headers=_HEADERS)
        self.served = served
        self.keepalive_s = keepalive_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the whole stream at once if the execution already stopped; else stream it."""
        served = self.served
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        sent = 0
        gone: asyncio.Task[None] | None = None
        try:
            while True:
                frames = served.frames
                chunk = "".join(frames[sent:])
                sent = len(frames)
                if not served.running:
                    last = (chunk + served.status_frame()).encode()
                    await send({"type": "http.response.body", "body": last, "more_body": False})
                    return
                if chunk:
                    await send(_more(chunk.encode()))
                if gone is None:
                    gone = asyncio.ensure_future(_disconnected(receive))
                changed = served.changed()
                done, _ = await asyncio.wait(
                    {changed, gone}, timeout=self.keepalive_s, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done:
                    return  # the client left: nothing more to send it
                if not done:
                    changed.cancel()
                    await send(_more(_KEEPALIVE))
        finally:
            if gone is not None and not gone.done():
                gone.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gone


def _more(body: bytes) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": True}


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
