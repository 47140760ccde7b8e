"""``http_get``: a real server on 127.0.0.1, SSRF refusals before any connection, caps."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from workbench.errors import ConfigError, ToolRefused, ToolTimeout
from workbench.tools import Tool, ToolContext
from workbench.tools.builtin import http_get_tool

pytestmark = pytest.mark.anyio

CTX = ToolContext.for_call(execution_id="ex", step=0, call_index=0, side_effects=False)
_release = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/ok":
            self._send(200, f"hello from {self.headers['Host']}".encode())
        elif self.path == "/big":
            self._send(200, b"x" * 50_000)
        elif self.path == "/slow":
            _release.wait(10)  # the test's teardown releases it
            self._send(200, b"late")
        elif self.path == "/to-ok":
            self._send(302, b"", Location="/ok")
        elif self.path == "/to-metadata":
            self._send(302, b"", Location="http://169.254.169.254/latest/meta-data/")
        elif self.path == "/to-localhost":
            port = self.server.server_port  # type: ignore[attr-defined]
            self._send(302, b"", Location=f"http://localhost:{port}/ok")
        elif self.path == "/loop":
            self._send(302, b"", Location="/loop")
        else:
            self._send(404, b"nope")


@pytest.fixture
def server() -> Iterator[int]:
    _release.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    _release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record (and block) every outbound connection attempt."""
    attempts: list[object] = []

    def refuse(_self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"connection attempted to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def _resolve_to(monkeypatch: pytest.MonkeyPatch, mapping: dict[str, str]) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in mapping:
            address = mapping[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if ":" in address else (address, port)
            return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


async def _get(t: Tool, url: str) -> Any:
    return await t.ainvoke({"url": url}, CTX, timeout_s=30)


async def test_allow_listed_loopback_literal_is_fetched(server: int) -> None:
    t = http_get_tool(allow_hosts=[f"127.0.0.1:{server}"])
    assert t.scope == "net.egress"
    assert t.side_effects is False
    result = await _get(t, f"http://127.0.0.1:{server}/ok")
    assert result["status"] == 200
    assert result["text"] == f"hello from 127.0.0.1:{server}"
    assert result["headers"]["content-type"] == "text/plain; charset=utf-8"
    assert result["url"] == f"http://127.0.0.1:{server}/ok"
    assert result["truncated"] is False


async def test_redirect_within_allowed_host_is_followed(server: int) -> None:
    t = http_get_tool(allow_hosts=[f"127.0.0.1:{server}"])
    result = await _get(t, f"http://127.0.0.1:{server}/to-ok")
    assert result["url"] == f"http://127.0.0.1:{server}/ok"
    assert result["text"].startswith("hello")


async def test_loopback_without_its_port_listed_is_refused(
    server: int, no_connect: list[object]
) -> None:
    t = http_get_tool(allow_hosts=["127.0.0.1"])  # default port only
    with pytest.raises(ToolRefused, match="not allow-listed"):
        await _get(t, f"http://127.0.0.1:{server}/ok")
    assert no_connect == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://localhost/",
        "http://example.com@127.0.0.1/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "ftp://example.com/",
    ],
)
async def test_hosts_not_allow_listed_are_refused_before_connecting(
    url: str, no_connect: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved: list[object] = []

    def record(*args: object, **kwargs: object) -> list[object]:
        resolved.append(args)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", record)
    t = http_get_tool(allow_hosts=["example.com"])
    with pytest.raises(ToolRefused):
        await _get(t, url)
    assert no_connect == []
    assert resolved == []  # not even a DNS query for a host off the list


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "(private|reserved)"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "non-global"),
    ],
)
async def test_allow_listed_names_resolving_to_internal_addresses_are_refused(
    address: str, kind: str, no_connect: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolve_to(monkeypatch, {"api.example.test": address})
    t = http_get_tool(allow_hosts=["api.example.test"])
    with pytest.raises(ToolRefused, match=f"a {kind} address"):
        await _get(t, "http://api.example.test/")
    assert no_connect == []


async def test_localhost_is_refused_even_when_listed_by_name(
    server: int, no_connect: list[object]
) -> None:
    t = http_get_tool(allow_hosts=[f"localhost:{server}"])
    with pytest.raises(ToolRefused, match="loopback"):
        await _get(t, f"http://localhost:{server}/ok")
    assert no_connect == []


async def test_a_name_is_resolved_once_and_checked(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The name resolves to the real server once; a rebinding second answer is never asked.
    answers = iter(["127.0.0.1", "10.0.0.1"])
    calls: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        address = next(answers)
        calls.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    t = http_get_tool(allow_hosts=[f"127.0.0.1:{server}", f"svc.test:{server}"])
    # Listing the loopback literal does not let a *name* resolving to it through.
    with pytest.raises(ToolRefused):
        await _get(t, f"http://svc.test:{server}/ok")
    assert calls == ["127.0.0.1"]


async def test_pinned_name_keeps_its_host_header(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the address check disabled, svc.test (resolved once, to 127.0.0.1) reaches the
    # real server: the connection goes to the checked address, the Host header keeps
    # the name (so TLS SNI and virtual hosts see the real name).
    from workbench.tools.builtin import _http

    monkeypatch.setattr(_http, "_forbidden", lambda ip: None)
    _resolve_to(monkeypatch, {"svc.test": "127.0.0.1"})
    t = http_get_tool(allow_hosts=[f"svc.test:{server}"])
    result = await _get(t, f"http://svc.test:{server}/ok")
    assert result["text"] == f"hello from svc.test:{server}"


async def test_redirect_to_a_disallowed_host_is_refused(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        attempts.append(address)
        assert address[0] == "127.0.0.1", f"connection attempted to {address}"
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    t = http_get_tool(allow_hosts=[f"127.0.0.1:{server}"])
    with pytest.raises(ToolRefused, match=r"169\.254\.169\.254:80 is not allow-listed"):
        await _get(t, f"http://127.0.0.1:{server}/to-metadata")
    with pytest.raises(ToolRefused, match="localhost"):
        await _get(t, f"http://127.0.0.1:{server}/to-localhost")
    assert all(a[0] == "127.0.0.1" for a in attempts)


async def test_redirect_loops_are_capped(server: int) -> None:
    t = http_get_tool(allow_hosts=[f"127.0.0.1:{server}"], max_redirects=2)
    with pytest.raises(ToolRefused, match="more than 2 redirects"):
        await _get(t, f"http://127.0.0.1:{server}/loop")


async def test_oversized_body_is_truncated(server: int) -> None:
    t = http_get_tool(allow_hosts=[f"127.0.0.1:{server}"], max_bytes=1000)
    result = await _get(t, f"http://127.0.0.1:{server}/big")
    assert result["truncated"] is True
    assert result["bytes"] == 1000
    assert result["text"] == "x" * 1000


async def test_slow_server_times_out(server: int) -> None:
    t = http_get_tool(allow_hosts=[f"127.0.0.1:{server}"], timeout_s=0.3)
    with pytest.raises(ToolTimeout, match=r"longer than 0\.3 s"):
        await _get(t, f"http://127.0.0.1:{server}/slow")


@pytest.mark.parametrize(
    "hosts", [[], "example.com", ["host:99999"], ["host:x"], ["[::1"], ["a:b:c]:1"]]
)
def test_bad_allow_lists_are_config_errors(hosts: Any) -> None:
    with pytest.raises(ConfigError):
        http_get_tool(allow_hosts=hosts)
