"""The server-sent events response of ``GET /v1/executions/{id}/events``."""

from __future__ import annotations

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from workbench.server._state import ServedExecution

__all__ = ["EventStream"]

_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStream(StreamingResponse):
    """An execution's step events, then its status, as ``text/event-stream``.

    A stream opened after the execution stopped running (the usual case for a short
    execution) is answered with one body: every frame and the status at once, with no
    task group listening for a disconnect. A running one streams as
    :meth:`ServedExecution.stream` produces frames. The bytes are the same either way.

    Args:
        served: The execution to stream.
    """

    def __init__(self, served: ServedExecution) -> None:
        super().__init__(served.stream(), media_type="text/event-stream", headers=_HEADERS)
        self.served = served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the whole stream at once if the execution already stopped; else stream it."""
        served = self.served
        if served.running:
            await super().__call__(scope, receive, send)
            return
        body = "".join(served.frames) + served.status_frame()
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": body.encode(), "more_body": False})
