"""Where a feed fetch may connect: URL checks and the SSRF guard under httpx.

Feed URLs come from strangers (chat commands, feeds.yaml from the internet), so a fetch must not
become a way to reach the bot's own network. The rule is applied to addresses, not strings: the
host is resolved once, every answer is checked, and the socket is opened to a checked IP, so DNS
rebinding (public on the check, private on the connect) has no second lookup to exploit.

Wiring: `GuardedBackend` is an httpcore network backend whose `connect_tcp` resolves, decides
and connects; `GuardedTransport` is an `httpx.AsyncHTTPTransport` whose connection pool uses it.
httpcore still sends Host and TLS SNI for the hostname of the URL, and verifies the certificate
against that name, because only the TCP connect is redirected to the IP.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to IP address strings; the default is the event loop's getaddrinfo."""

ALLOW_HINT = "set DOZOR_ALLOW_PRIVATE_NETWORKS=1 to allow"
MAX_URL_LENGTH = 2048
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
_NUMERIC_V4_CHARS = frozenset("0123456789abcdefxABCDEFX.")


class FetchError(Exception):
    """A fetch failed; `kind` is a machine word, str() one human line for logs and chat replies.

    Kinds: bad_url, forbidden_address, dns, connect, timeout, too_large, too_many_redirects,
    http_status, tls, protocol. Defined here so the guard can raise it from inside httpcore.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"FetchError({self.kind!r}, {str(self)!r}, status={self.status!r})"


# --- the pure decisions ----------------------------------------------------------------------

_V4_RULES: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), reason)
    for net, reason in (
        ("255.255.255.255/32", "broadcast"),
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private network"),
        ("172.16.0.0/12", "private network"),
        ("192.168.0.0/16", "private network"),
        ("100.64.0.0/10", "shared address space"),
        ("169.254.0.0/16", "link-local"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation range"),
        ("198.51.100.0/24", "documentation range"),
        ("203.0.113.0/24", "documentation range"),
        ("198.18.0.0/15", "benchmarking range"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)

_V6_RULES: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "reserved"),  # IPv4-compatible, deprecated
        ("64:ff9b:1::/48", "private network"),  # local-use NAT64
        ("100::/64", "reserved"),  # discard-only
        ("2001::/32", "reserved"),  # Teredo: the client address is hidden
        ("2001:db8::/32", "documentation range"),
        ("fc00::/7", "private network"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "link-local"),  # site-local, deprecated
        ("ff00::/8", "multicast"),
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# What DOZOR_ALLOW_PRIVATE_NETWORKS opens: the bot's own machine and the networks an intranet
# feed can live on. Link-local (where clouds keep their metadata services), unspecified,
# multicast, broadcast, documentation and reserved addresses stay closed even then.
PRIVATE_REASONS = frozenset({"loopback", "private network", "shared address space"})


def address_problem(ip: IPAddress) -> str | None:
    """None when `ip` is a public unicast address, else why a fetch must not reach it.

    IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            return address_problem(embedded)
        for net6, reason in _V6_RULES:
            if ip in net6:
                return reason
    else:
        for net4, reason in _V4_RULES:
            if ip in net4:
                return reason
    return None if ip.is_global else "not globally routable"


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one delivers to: IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def name_problem(host: str) -> str | None:
    """Names that mean this machine whatever DNS says (RFC 6761): refused without resolving."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The IP a host string denotes by itself, in any form the C library accepts, or None.

    Covers `[::1]`, `127.0.0.1` and the legacy numeric forms getaddrinfo also accepts
    (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`), so they are judged as the address they are.
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if text and set(text) <= _NUMERIC_V4_CHARS:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


@functools.lru_cache(maxsize=1 << 14)
def check_url(url: str) -> str:
    """Validate a feed URL's form and return it normalised; raise FetchError("bad_url").

    Only http/https with a host; credentials are refused (they would end up in logs and chat);
    the fragment and a default port are dropped, the host is lower-cased and IDNA-encoded.
    Answers are kept (every poll of a feed asks again; a refusal is worked out each time).
    """
    text = url.strip()
    if not text:
        raise FetchError("bad_url", "empty URL")
    if len(text) > MAX_URL_LENGTH:
        raise FetchError("bad_url", f"URL longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise FetchError("bad_url", f"URL contains spaces or control characters: {text!r}")
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise FetchError("bad_url", f"not a valid URL: {text} ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        if not parsed.scheme:
            raise FetchError("bad_url", f"not an absolute URL (add https://): {text}")
        raise FetchError("bad_url", f"only http and https URLs are fetched, not {parsed.scheme}:")
    if not parsed.host:
        raise FetchError("bad_url", f"URL has no host: {text}")
    if parsed.userinfo:
        raise FetchError("bad_url", "URLs with a user name or password are refused")
    port = parsed.port
    if port is not None and not 0 < port < 65536:
        raise FetchError("bad_url", f"port {port} is out of range")
    raw_host = parsed.raw_host.decode("ascii")
    if ":" not in raw_host and not set(raw_host) <= _HOST_CHARS:
        raise FetchError("bad_url", f"host name has characters a host cannot have: {raw_host}")
    default_port = 443 if parsed.scheme == "https" else 80
    normalised = parsed.copy_with(fragment=None, port=None if port == default_port else port)
    return str(normalised)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which resolved addresses a fetch may connect to.

    `trusted` names exact (ip, port) endpoints allowed despite being private: one intranet server,
    or the test feed server, without opening every private network.
    """

    allow_private: bool = False
    trusted: frozenset[tuple[IPAddress, int]] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls, *, allow_private: bool = False, trusted: Iterable[tuple[str, int]] = ()
    ) -> AddressPolicy:
        """Parse trusted endpoints given as ("127.0.0.1", 8080) pairs."""
        endpoints = frozenset((ipaddress.ip_address(ip), int(port)) for ip, port in trusted)
        return cls(allow_private=allow_private, trusted=endpoints)

    def refusal(self, host: str, port: int, answers: Sequence[IPAddress]) -> str | None:
        """Pure decision on a resolver's answers: None to go ahead, else the refusal line.

        One forbidden answer refuses the host: a name that mixes public and private records
        is exactly what a rebinding attack publishes.
        """
        for ip in answers:
            if (ip, port) in self.trusted:
                continue
            reason = address_problem(ip)
            if reason is not None and not (self.allow_private and reason in PRIVATE_REASONS):
                hint = ALLOW_HINT if reason in PRIVATE_REASONS else "never allowed"
                if host.strip("[]") == str(ip):
                    return f"refused: {ip} ({reason}); {hint}"
                return f"refused: {host} resolves to {ip} ({reason}); {hint}"
        return None


# --- the edge: resolve once, decide, connect to what was decided on ---------------------------


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with getaddrinfo in the loop's thread pool; unique addresses in the given order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in found:
            found.append(str(sockaddr[0]))
    return found


async def resolve_checked(
    host: str, port: int, *, policy: AddressPolicy, resolver: Resolver
) -> list[IPAddress]:
    """Resolve `host` once and return its addresses if all are allowed; else FetchError.

    IP literals are not resolved; `localhost` names are refused before any lookup.
    """
    literal = literal_address(host)
    if literal is not None:
        answers = [literal]
    else:
        problem = None if policy.allow_private else name_problem(host)
        if problem is not None:
            raise FetchError("forbidden_address", f"refused: {host} ({problem}); {ALLOW_HINT}")
        answers = await _resolve(host, port, resolver)
    refusal = policy.refusal(host, port, answers)
    if refusal is not None:
        raise FetchError("forbidden_address", refusal)
    return answers


async def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    """Call the resolver and parse its answers, turning every failure into FetchError("dns")."""
    try:
        raw = await resolver(host, port)
    except OSError as exc:
        raise FetchError("dns", f"cannot resolve {host}: {exc.strerror or exc}") from exc
    try:
        answers = [ipaddress.ip_address(item) for item in raw]
    except ValueError as exc:
        raise FetchError("dns", f"resolver gave a non-address for {host}: {exc}") from exc
    if not answers:
        raise FetchError("dns", f"cannot resolve {host}: no addresses")
    return answers


async def validate_feed_url(
    url: str, *, allow_private: bool = False, resolver: Resolver | None = None
) -> str:
    """check_url plus the address check, for a URL typed in chat: a clear refusal before saving.

    Fetches check again at connect time; this early check only makes the reply immediate.
    """
    normalised = check_url(url)
    parsed = httpx.URL(normalised)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    policy = AddressPolicy(allow_private=allow_private)
    await resolve_checked(parsed.host, port, policy=policy, resolver=resolver or system_resolver)
    return normalised


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows.

    The checked IP, never the name, is handed to the inner backend, so nothing resolves twice.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                answers = await resolve_checked(
                    host, port, policy=self._policy, resolver=self._resolver
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout}s") from exc
        failure: Exception | None = None
        for ip in answers:
            try:
                stream = await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
            else:
                return _TlsNamingStream(stream)
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise FetchError("forbidden_address", "refused: unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _TlsNamingStream(httpcore.AsyncNetworkStream):
    """Passes everything through; a failed TLS handshake becomes FetchError("tls").

    Needed because httpcore's pool re-raises connect errors `from None`, so the ssl.SSLError
    cause is gone by the time httpx reports a plain ConnectError.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
    ) -> httpcore.AsyncNetworkStream:
        try:
            return await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except httpcore.ConnectError as exc:
            raise FetchError("tls", f"TLS with {server_hostname} failed: {exc}") from exc

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (exception mapping, streaming) over a pool that uses GuardedBackend.

    httpx has no public hook for the network backend, so the pool it builds is replaced by an
    equivalent one: HTTP/1.1 only, no retries, no proxy (trust_env off).
    """

    def __init__(
        self,
        *,
        backend: GuardedBackend,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=context, trust_env=False, retries=0)
        if not hasattr(self, "_pool"):  # pragma: no cover - would mean httpx changed
            raise RuntimeError("httpx.AsyncHTTPTransport has no _pool: update GuardedTransport")
        self._pool: Any = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )
