"""``http_get_tool``: GET over http(s) from allow-listed hosts only, SSRF-checked and pinned.

Every hop (the first request and each redirect) goes through the same checks, in
this order, and nothing touches the network before they pass:

1. the scheme is ``http`` or ``https`` and the URL has no user info;
2. the host (and port) is on the allow-list;
3. the host is resolved (``getaddrinfo``) and *every* address is checked: private,
   loopback, link-local, multicast, reserved, unspecified and other non-global
   addresses (IPv4-mapped IPv6 included) are refused, unless the allow-list entry
   that matched is that very IP literal;
4. the connection is pinned to the checked address: the request is made with
   ``httpcore`` (httpx's transport layer) through a network backend that connects
   only to that address, so a second DNS answer (rebinding) is never used. The URL
   keeps its host name, so the ``Host`` header and TLS SNI/certificate checks are the
   real name's.

A refused call raises :class:`~workbench.errors.ToolRefused`; the wall-clock cap covers
resolution, redirects and the body; the body is read to at most ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore

from workbench.errors import ConfigError, ToolExecutionError, ToolRefused, ToolTimeout
from workbench.tools._tool import Tool, tool

__all__ = ["http_get_tool"]

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = ("content-type", "content-length", "last-modified", "etag", "location")
_MAX_URL = 2048
_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62}\.?)*$")


@dataclass(frozen=True, slots=True)
class _Entry:
    host: str
    """Lower-cased name, or a normalised IP literal (no brackets)."""
    port: int | None
    """``None``: the scheme's default port only."""
    literal: bool
    """The host is an IP literal, so that address may be non-global."""


def _literal(host: str) -> _IP | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _parse_entry(raw: str, tool_name: str) -> _Entry:
    text = raw.strip().lower()
    host, port = text, None
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise ConfigError(f"tool {tool_name!r}: bad allow-list entry {raw!r}")
        host = inside
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"tool {tool_name!r}: bad allow-list entry {raw!r}")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host:
        raise ConfigError(f"tool {tool_name!r}: bad allow-list entry {raw!r}")
    number: int | None = None
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"tool {tool_name!r}: bad port in allow-list entry {raw!r}")
        number = int(port)
    ip = _literal(host)
    if ip is None and not _NAME.match(host):
        raise ConfigError(f"tool {tool_name!r}: bad host in allow-list entry {raw!r}")
    return _Entry(host if ip is None else ip.compressed, number, ip is not None)


def _forbidden(ip: _IP) -> str | None:
    """Why ``ip`` may not be reached (unless allow-listed as a literal), else ``None``."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-global"


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    address: str


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to one checked address, and only for the host and port it was checked for."""

    def __init__(self, target: _Target) -> None:
        self._target = target
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if (host.strip("[]").lower(), port) != (self._target.host, self._target.port):
            raise httpcore.ConnectError(f"connection to {host}:{port} was not checked")
        return await self._inner.connect_tcp(
            self._target.address, port, timeout=timeout, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Fetcher:
    def __init__(
        self,
        allow_hosts: Sequence[str],
        *,
        name: str,
        max_bytes: int,
        max_redirects: int,
    ) -> None:
        self.name = name
        self.entries = [_parse_entry(h, name) for h in allow_hosts]
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.ssl = ssl.create_default_context()

    def _refuse(self, reason: str) -> ToolRefused:
        return ToolRefused(f"http_get refused: {reason}", tool=self.name)

    async def check(self, url: str) -> _Target:
        """Every check of one hop; resolves the host, connects nowhere."""
        if len(url) > _MAX_URL:
            raise self._refuse(f"the URL is longer than {_MAX_URL} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise self._refuse(f"the URL does not parse: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise self._refuse(f"only http and https URLs are allowed, got {scheme or 'none'!r}")
        if parts.username is not None or parts.password is not None:
            raise self._refuse("URLs with user info are not allowed")
        raw_host = (parts.hostname or "").lower()
        if not raw_host:
            raise self._refuse("the URL has no host")
        ip = _literal(raw_host)
        host = raw_host if ip is None else ip.compressed
        port = port if port is not None else _DEFAULT_PORTS[scheme]
        entry = next(
            (
                e
                for e in self.entries
                if e.host == host
                and (e.port == port or (e.port is None and port == _DEFAULT_PORTS[scheme]))
            ),
            None,
        )
        if entry is None:
            allowed = ", ".join(
                e.host if e.port is None else f"{e.host}:{e.port}" for e in self.entries
            )
            raise self._refuse(f"host {host}:{port} is not allow-listed (allowed: {allowed})")
        addresses = [ip] if ip is not None else await self._resolve(host, port)
        for address in addresses:
            why = _forbidden(address)
            if why is not None and not (entry.literal and address.compressed == entry.host):
                raise self._refuse(f"{host} resolves to {address}, a {why} address")
        return _Target(url, scheme, host, port, addresses[0].compressed)

    async def _resolve(self, host: str, port: int) -> list[_IP]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ToolExecutionError(f"cannot resolve {host}: {exc}", tool=self.name) from exc
        found: list[_IP] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        if not found:
            raise ToolExecutionError(f"{host} has no address", tool=self.name)
        return found

    async def fetch(self, url: str) -> dict[str, Any]:
        for _ in range(self.max_redirects + 1):
            target = await self.check(url)
            result, location = await self._get(target)
            if location is None:
                return result
            url = urljoin(target.url, location)
        raise self._refuse(f"more than {self.max_redirects} redirects")

    async def _get(self, target: _Target) -> tuple[dict[str, Any], str | None]:
        pool = httpcore.AsyncConnectionPool(
            ssl_context=self.ssl, network_backend=_PinnedBackend(target), max_connections=1
        )
        headers = [(b"Accept-Encoding", b"identity"), (b"User-Agent", b"agent-workbench")]
        try:
            async with pool, pool.stream("GET", target.url, headers=headers) as response:
                found = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers
                }
                location = found.get("location")
                if response.status in _REDIRECTS and location:
                    return {}, location
                body = bytearray()
                truncated = False
                async for chunk in response.aiter_stream():
                    body += chunk
                    if len(body) > self.max_bytes:
                        truncated = True
                        del body[self.max_bytes :]
                        break
        except httpcore.TimeoutException as exc:
            raise ToolTimeout(f"GET {target.url} timed out", tool=self.name) from exc
        except httpcore.ConnectError as exc:
            raise ToolExecutionError(
                f"cannot connect to {target.url}: {exc}", tool=self.name
            ) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            raise ToolExecutionError(f"GET {target.url} failed: {exc!r}", tool=self.name) from exc
        return {
            "status": response.status,
            "url": target.url,
            "headers": {k: found[k] for k in _HEADERS if k in found},
            "text": bytes(body).decode(_charset(found.get("content-type", "")), "replace"),
            "bytes": len(body),
            "truncated": truncated,
        }, None


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                return codecs.lookup(value.strip("\"'")).name
            except LookupError:
                break
    return "utf-8"


def http_get_tool(
    *,
    allow_hosts: Sequence[str],
    max_bytes: int = 1_000_000,
    timeout_s: float = 10.0,
    max_redirects: int = 3,
    name: str = "http_get",
) -> Tool:
    """A tool that GETs a URL from an allow-listed host and returns the start of its body.

    Args:
        allow_hosts: Hosts the tool may reach: ``"example.com"`` (default port of the
            scheme only), ``"example.com:8080"``, ``"10.1.2.3:8000"``, ``"[::1]:8000"``.
            Names match exactly (no wildcards). A name that resolves to a private,
            loopback, link-local, multicast, reserved or unspecified address is refused;
            to reach such an address, list the IP literal itself.
        max_bytes: Most body bytes read; the rest is dropped and ``truncated`` is set.
        timeout_s: Wall-clock cap of a call: resolution, every redirect and the body.
        max_redirects: Redirects followed; each target is checked like the first URL.
        name: Tool name.

    Returns:
        A tool with scope ``net.egress`` returning ``{"status", "url" (the final URL),
        "headers" (content-type, content-length, last-modified, etag), "text",
        "bytes", "truncated"}``.

    Raises:
        ConfigError: An empty or malformed allow-list, or a non-positive cap.
    """
    if not allow_hosts or isinstance(allow_hosts, str):
        raise ConfigError(f"tool {name!r}: allow_hosts must be a non-empty list of hosts")
    if max_bytes < 1 or timeout_s <= 0 or max_redirects < 0:
        raise ConfigError(
            f"tool {name!r}: max_bytes and timeout_s must be positive, max_redirects >= 0"
        )
    fetcher = _Fetcher(allow_hosts, name=name, max_bytes=max_bytes, max_redirects=max_redirects)

    async def http_get(url: str) -> dict[str, Any]:
        """Fetch a web page or API response with an HTTP GET.

        Args:
            url: An http:// or https:// URL on one of the allowed hosts.
        """
        try:
            async with asyncio.timeout(timeout_s):
                return await fetcher.fetch(url)
        except TimeoutError as exc:
            raise ToolTimeout(f"GET {url} took longer than {timeout_s:g} s", tool=name) from exc

    hosts = ", ".join(allow_hosts)
    description = (
        f"HTTP GET a URL and get its status, a few headers and the body as text (at most "
        f"{max_bytes} bytes). Only these hosts are allowed: {hosts}."
    )
    return tool(
        http_get,
        name=name,
        description=description,
        scope="net.egress",
        side_effects=False,
        # A GET only reads, so low risk; but what it sends (the URL) leaves the machine.
        egress=True,
        # The call enforces timeout_s itself; the tool's timeout is a backstop.
        timeout_s=timeout_s + 5.0,
    )
