"""``local/...`` models through litellm's OpenAI client against a loopback server.

The server here stands in for the llama.cpp server of ``workbench services up model``;
it also lets the real litellm error paths (429 with Retry-After, 5xx, 4xx, a slow
answer) be mapped onto workbench errors with real HTTP.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ModelError, ModelRateLimited, ModelServerError, ModelTimeout
from workbench.models import acomplete
from workbench.settings import get_settings

USER = [{"role": "user", "content": "hello"}]


@dataclass
class Behaviour:
    """What the fake server answers next, and what it received."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "smollm2",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_local",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q": "x"'},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


@pytest.fixture
def server(workbench_home: Path) -> Iterator[Behaviour]:
    behaviour = Behaviour()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            behaviour.bodies.append(json.loads(self.rfile.read(length)))
            if behaviour.delay_s:
                time.sleep(behaviour.delay_s)
            body = _completion() if behaviour.status == 200 else {"error": {"message": "nope"}}
            data = json.dumps(body).encode()
            try:
                self.send_response(behaviour.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in behaviour.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    services = get_settings().services_dir
    services.mkdir(parents=True, exist_ok=True)
    port = httpd.server_address[1]
    (services / "model.json").write_text(
        json.dumps({"base_url": f"http://127.0.0.1:{port}/v1", "model": "smollm2"})
    )
    yield behaviour
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.anyio
async def test_local_model_reply_is_parsed_and_free(server: Behaviour) -> None:
    reply = await acomplete("local/smollm2", USER, timeout_s=10, max_tokens=32)
    assert reply.model == "local/smollm2"
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_local", "lookup", '{"q": "x"')
    ]
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cost_usd) == (11, 7, 0.0)
    assert reply.finish_reason == "tool_calls"
    [body] = server.bodies
    assert (body["model"], body["max_tokens"], body["messages"]) == ("smollm2", 32, USER)


@pytest.mark.anyio
async def test_http_429_maps_to_rate_limited_with_retry_after(server: Behaviour) -> None:
    server.status, server.headers = 429, {"retry-after": "3"}
    with pytest.raises(ModelRateLimited) as caught:
        await acomplete("local/smollm2", USER, timeout_s=10)
    assert caught.value.retry_after == 3.0
    assert len(server.bodies) == 1  # exactly one attempt: no retries inside litellm


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 503])
async def test_http_5xx_maps_to_server_error(server: Behaviour, status: int) -> None:
    server.status = status
    with pytest.raises(ModelServerError) as caught:
        await acomplete("local/smollm2", USER, timeout_s=10)
    assert caught.value.status == status
    assert len(server.bodies) == 1


@pytest.mark.anyio
async def test_http_400_maps_to_plain_model_error(server: Behaviour) -> None:
    server.status = 400
    with pytest.raises(ModelError) as caught:
        await acomplete("local/smollm2", USER, timeout_s=10)
    assert type(caught.value) is ModelError
    assert caught.value.retryable is False


@pytest.mark.anyio
async def test_slow_server_maps_to_timeout_within_the_timeout(server: Behaviour) -> None:
    server.delay_s = 2.0
    started = time.perf_counter()
    with pytest.raises(ModelTimeout):
        await acomplete("local/smollm2", USER, timeout_s=0.5)
    assert time.perf_counter() - started < 1.5


@pytest.mark.anyio
async def test_connection_refused_maps_to_server_error(workbench_home: Path) -> None:
    services = get_settings().services_dir
    services.mkdir(parents=True, exist_ok=True)
    import socket

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (services / "model.json").write_text(json.dumps({"base_url": f"http://127.0.0.1:{port}/v1"}))
    with pytest.raises(ModelServerError):
        await acomplete("local/smollm2", USER, timeout_s=5)
