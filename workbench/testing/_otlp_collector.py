"""A loopback OTLP/HTTP trace collector, for tests and benchmarks of span export.

It decodes every request (so what it counts was really valid OTLP), can answer from a
script of statuses before it answers 200, can be slow, and reports its span count on
``GET`` so a benchmark can run it in another process.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["OtlpCollector"]


class OtlpCollector:
    """Receives OTLP/HTTP protobuf trace exports on ``127.0.0.1`` at :attr:`endpoint`.

    Args:
        statuses: HTTP statuses to answer first, in order (503 comes with Retry-After 0);
            then every request gets 200 and its spans are kept.
        delay_s: Time to wait before answering each request.
    """

    def __init__(self, statuses: list[int] | None = None, delay_s: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.delay_s = delay_s
        self.requests = 0
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with collector.lock:
                    body = json.dumps({"spans": len(collector.spans)}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(collector.delay_s)
                with collector.lock:
                    collector.requests += 1
                    status = collector.statuses.pop(0) if collector.statuses else 200
                    if status == 200:
                        collector._take(body)
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}/v1/traces"
        """The OTLP/HTTP traces URL to export to."""
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    attrs: dict[str, Any] = {}
                    for a in span.attributes:
                        v = a.value
                        attrs[a.key] = getattr(v, v.WhichOneof("value"))
                    self.spans.append(
                        {
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex() or None,
                            "name": span.name,
                            "project": resource.get("openinference.project.name"),
                            "attributes": attrs,
                        }
                    )

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
