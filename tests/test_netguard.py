"""The SSRF guard, proved without a single packet leaving the machine.

Address rules are pure functions tested on values. The wiring is tested with an injected resolver
and a fake socket layer: a layer that fails the test if reached (refusals happen before any
connect), or one that records where it was asked to connect and answers with canned HTTP.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable

import httpcore
import pytest

from bot.fetch import Fetcher, FetchError
from bot.netguard import (
    PRIVATE_REASONS,
    AddressPolicy,
    GuardedBackend,
    address_problem,
    check_url,
    literal_address,
    resolve_checked,
    system_resolver,
    validate_feed_url,
)

PUBLIC = "93.184.215.14"
OK_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 6\r\n\r\n<rss/>"
)


# --- fakes: a resolver and socket layers that never touch the network -------------------------


class Resolver:
    """Answers from a table, counting calls; unknown names fail as DNS would."""

    def __init__(self, table: dict[str, list[list[str]] | list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.table.get(host)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answers and isinstance(answers[0], list):  # a sequence of answers, one per call
            n = len([c for c in self.calls if c == host]) - 1
            return list(answers[min(n, len(answers) - 1)])
        return [str(a) for a in answers]


class NoNetwork(httpcore.AsyncNetworkBackend):
    """A socket layer that must never be reached."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.calls.append((host, port))
        pytest.fail(f"connect attempted to {host}:{port}")


class CannedStream(httpcore.AsyncNetworkStream):
    def __init__(self, response: bytes) -> None:
        self._pending = [response]
        self.written = bytearray()
        self.server_hostname: str | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._pending.pop(0) if self._pending else b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.written += buffer

    async def aclose(self) -> None:
        pass

    async def start_tls(
        self, ssl_context: object, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        self.server_hostname = server_hostname
        return self


class CannedNetwork(httpcore.AsyncNetworkBackend):
    """Records each connect and answers it with the canned response for that IP."""

    def __init__(self, responses: dict[str, bytes]) -> None:
        self.responses = responses
        self.calls: list[tuple[str, int]] = []
        self.streams: list[CannedStream] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.calls.append((host, port))
        if host not in self.responses:
            pytest.fail(f"connect to an address the test did not expect: {host}")
        stream = CannedStream(self.responses[host])
        self.streams.append(stream)
        return stream


# --- address rules (pure) ----------------------------------------------------------------------

FORBIDDEN = {
    "10.0.0.1": "private network",
    "10.255.255.255": "private network",
    "172.16.0.1": "private network",
    "172.31.255.254": "private network",
    "192.168.1.1": "private network",
    "100.64.0.1": "shared address space",
    "100.127.255.254": "shared address space",
    "127.0.0.1": "loopback",
    "127.0.0.2": "loopback",
    "169.254.169.254": "link-local",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "0.0.0.0": "unspecified",
    "0.1.2.3": "unspecified",
    "255.255.255.255": "broadcast",
    "192.0.2.1": "documentation range",
    "203.0.113.10": "documentation range",
    "198.18.0.1": "benchmarking range",
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "private network",
    "fd12:3456::1": "private network",
    "ff02::1": "multicast",
    "::ffff:10.0.0.1": "private network",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "64:ff9b::a00:1": "private network",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1": "loopback",  # NAT64 of 127.0.0.1
    "2002:a00:1::": "private network",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1": "loopback",  # 6to4 of 127.0.0.1
    "2001:db8::1": "documentation range",
    "::a00:1": "reserved",  # IPv4-compatible, deprecated
    "2001::1": "reserved",  # Teredo
}
PUBLIC_ADDRESSES = [
    "1.1.1.1",
    "8.8.8.8",
    PUBLIC,
    "2606:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:1.1.1.1",
    "64:ff9b::101:101",
    "2002:101:101::1",
]


@pytest.mark.parametrize(("address", "reason"), sorted(FORBIDDEN.items()))
def test_non_public_addresses_are_refused_with_a_reason(address: str, reason: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("fe80::1%25eth0", "fe80::1%25eth0"),
    ],
)
def test_ip_literals_in_every_form_are_recognised(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "cafe", "deadbeef.example", ""])
def test_names_are_not_taken_for_literals(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.ORG/feed.xml", "https://example.org/feed.xml"),
        ("  http://example.org:80/rss#top ", "http://example.org/rss"),
        ("https://example.org:443/a?b=1", "https://example.org/a?b=1"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("https://bücher.de/feed", "https://xn--bcher-kva.de/feed"),
        ("http://[2606:4700::1111]/feed", "http://[2606:4700::1111]/feed"),
    ],
)
def test_check_url_normalises(url: str, expected: str) -> None:
    assert check_url(url) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "empty"),
        ("example.org/feed", "absolute"),
        ("/feed.xml", "absolute"),
        ("ftp://example.org/feed", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "only http and https"),
        ("http:///feed", "no host"),
        ("http://user:secret@example.org/feed", "user name or password"),
        ("http://example.org:99999/", "out of range"),
        ("http://exa mple.org/", "spaces"),
        ("http://example.org/\nX-Injected: 1", "control"),
        ("http://" + "a" * 3000 + ".org/", "longer than"),
    ],
)
def test_check_url_refuses(url: str, words: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url)
    assert caught.value.kind == "bad_url"
    assert words in str(caught.value)


def test_one_private_answer_refuses_the_whole_host() -> None:
    answers = [ipaddress.ip_address(PUBLIC), ipaddress.ip_address("10.0.0.5")]
    refusal = AddressPolicy().refusal("feeds.example", 443, answers)
    assert refusal == (
        "refused: feeds.example resolves to 10.0.0.5 (private network); "
        "set DOZOR_ALLOW_PRIVATE_NETWORKS=1 to allow"
    )


def test_allow_private_opens_loopback_and_private_networks() -> None:
    answers = [
        ipaddress.ip_address(ip) for ip in ("127.0.0.1", "fd00::1", "10.1.2.3", "100.64.0.1")
    ]
    assert AddressPolicy(allow_private=True).refusal("intranet", 80, answers) is None


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("169.254.169.254", "link-local"),  # a cloud's metadata service
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_allow_private_never_opens_link_local_or_odd_addresses(ip: str, reason: str) -> None:
    refusal = AddressPolicy(allow_private=True).refusal(ip, 80, [ipaddress.ip_address(ip)])
    assert refusal == f"refused: {ip} ({reason}); never allowed"


def test_a_trusted_endpoint_is_trusted_on_its_port_only() -> None:
    policy = AddressPolicy.build(trusted=[("127.0.0.1", 8080)])
    loopback = [ipaddress.ip_address("127.0.0.1")]
    assert policy.refusal("127.0.0.1", 8080, loopback) is None
    assert policy.refusal("127.0.0.1", 8081, loopback) is not None
    assert policy.refusal("x", 8080, [ipaddress.ip_address("127.0.0.2")]) is not None


# --- resolving: once, all answers checked, before any connect ---------------------------------


async def test_literals_are_judged_without_a_lookup() -> None:
    resolver = Resolver({})
    with pytest.raises(FetchError, match=r"2130706433 resolves to 127\.0\.0\.1 \(loopback\)"):
        await resolve_checked("2130706433", 80, policy=AddressPolicy(), resolver=resolver)
    assert resolver.calls == []


async def test_system_resolver_on_a_numeric_host() -> None:
    """getaddrinfo parses numeric hosts itself: no DNS query leaves the machine."""
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


async def test_localhost_is_refused_before_resolving() -> None:
    resolver = Resolver({"localhost": [PUBLIC], "feeds.localhost": [PUBLIC]})
    for host in ("localhost", "LOCALHOST.", "feeds.localhost"):
        with pytest.raises(FetchError) as caught:
            await resolve_checked(host, 80, policy=AddressPolicy(), resolver=resolver)
        assert caught.value.kind == "forbidden_address"
    assert resolver.calls == []


async def test_dns_failures_are_dns_errors() -> None:
    resolver = Resolver({"empty.test": []})
    for host in ("missing.test", "empty.test"):
        with pytest.raises(FetchError) as caught:
            await resolve_checked(host, 80, policy=AddressPolicy(), resolver=resolver)
        assert caught.value.kind == "dns"
        assert host in str(caught.value)


async def test_validate_feed_url_for_chat() -> None:
    resolver = Resolver({"news.test": [PUBLIC], "intranet.test": ["10.1.2.3"]})
    assert await validate_feed_url("HTTPS://News.Test/rss", resolver=resolver) == (
        "https://news.test/rss"
    )
    with pytest.raises(FetchError, match=r"intranet\.test resolves to 10\.1\.2\.3") as caught:
        await validate_feed_url("http://intranet.test/rss", resolver=resolver)
    assert caught.value.kind == "forbidden_address"
    assert await validate_feed_url(
        "http://intranet.test/rss", allow_private=True, resolver=resolver
    )
    with pytest.raises(FetchError, match="only http and https"):
        await validate_feed_url("file:///etc/passwd", resolver=resolver)


async def test_backend_refuses_before_connecting() -> None:
    network = NoNetwork()
    backend = GuardedBackend(
        policy=AddressPolicy(), resolver=Resolver({"feeds.test": ["10.0.0.1"]}), inner=network
    )
    with pytest.raises(FetchError) as caught:
        await backend.connect_tcp("feeds.test", 80)
    assert caught.value.kind == "forbidden_address"
    assert network.calls == []


async def test_backend_connects_to_the_checked_ip_and_tries_each() -> None:
    class FirstRefuses(CannedNetwork):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
        ) -> httpcore.AsyncNetworkStream:
            if not self.calls:
                self.calls.append((host, port))
                raise httpcore.ConnectError("refused")
            return await super().connect_tcp(host, port, timeout)

    network = FirstRefuses({"1.1.1.1": OK_RESPONSE})
    resolver = Resolver({"feeds.test": ["2606:4700::1111", "1.1.1.1"]})
    backend = GuardedBackend(policy=AddressPolicy(), resolver=resolver, inner=network)
    await backend.connect_tcp("feeds.test", 443)
    assert network.calls == [("2606:4700::1111", 443), ("1.1.1.1", 443)]
    assert resolver.calls == ["feeds.test"]


async def test_unix_sockets_are_refused() -> None:
    backend = GuardedBackend(policy=AddressPolicy(allow_private=True), inner=NoNetwork())
    with pytest.raises(FetchError):
        await backend.connect_unix_socket("/var/run/docker.sock")


# --- through the whole Fetcher, on a fake socket layer ----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://127.1:8080/",
        "http://0/",
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1%25eth0]/",
        "http://localhost/",
        "https://localhost:6379/",
        "http://10.0.0.1/",
        "http://100.64.1.1/",
    ],
)
async def test_fetcher_refuses_private_urls_before_any_connect(url: str) -> None:
    network = NoNetwork()
    resolver = Resolver({})
    async with Fetcher(resolver=resolver, network_backend=network) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(url)
    assert caught.value.kind == "forbidden_address", str(caught.value)
    # the hint to allow is given where allowing would open it, and only there
    opens = any(f"({reason})" in str(caught.value) for reason in PRIVATE_REASONS)
    assert ("DOZOR_ALLOW_PRIVATE_NETWORKS=1" in str(caught.value)) == opens
    assert opens or str(caught.value).endswith("never allowed")
    assert network.calls == []
    assert resolver.calls == []


async def test_fetcher_refuses_names_resolving_to_private_addresses() -> None:
    network = NoNetwork()
    resolver = Resolver({"feeds.example": [PUBLIC, "10.0.0.5"]})
    async with Fetcher(resolver=resolver, network_backend=network) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch("https://feeds.example/rss")
    assert str(caught.value) == (
        "refused: feeds.example resolves to 10.0.0.5 (private network); "
        "set DOZOR_ALLOW_PRIVATE_NETWORKS=1 to allow"
    )
    assert network.calls == []


async def test_dns_rebinding_cannot_swap_the_address() -> None:
    """The name is resolved once; the socket goes to that checked IP; Host and SNI keep the name."""
    resolver = Resolver({"news.test": [[PUBLIC], ["127.0.0.1"]]})
    network = CannedNetwork({PUBLIC: OK_RESPONSE})
    async with Fetcher(resolver=resolver, network_backend=network) as fetcher:
        result = await fetcher.fetch("https://news.test/rss")
    assert result.body == b"<rss/>"
    assert resolver.calls == ["news.test"]
    assert network.calls == [(PUBLIC, 443)]
    stream = network.streams[0]
    assert stream.server_hostname == "news.test"
    assert b"\r\nHost: news.test\r\n" in bytes(stream.written)


async def test_each_redirect_hop_is_checked() -> None:
    hop = (
        b"HTTP/1.1 302 Found\r\nLocation: http://metadata.test/latest\r\nContent-Length: 0\r\n\r\n"
    )
    resolver = Resolver({"news.test": [PUBLIC], "metadata.test": ["169.254.169.254"]})
    network = CannedNetwork({PUBLIC: hop})
    async with Fetcher(resolver=resolver, network_backend=network) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch("http://news.test/rss")
    assert caught.value.kind == "forbidden_address"
    assert "metadata.test resolves to 169.254.169.254 (link-local)" in str(caught.value)
    assert network.calls == [(PUBLIC, 80)]


async def test_a_redirect_to_a_private_literal_is_refused() -> None:
    hop = b"HTTP/1.1 301 Moved\r\nLocation: http://0x0a000001/admin\r\nContent-Length: 0\r\n\r\n"
    network = CannedNetwork({PUBLIC: hop})
    async with Fetcher(resolver=Resolver({"news.test": [PUBLIC]}), network_backend=network) as f:
        with pytest.raises(FetchError, match=r"0x0a000001 resolves to 10\.0\.0\.1") as caught:
            await f.fetch("http://news.test/rss")
    assert caught.value.kind == "forbidden_address"
    assert network.calls == [(PUBLIC, 80)]


async def test_tls_and_protocol_failures_are_named() -> None:
    class BadCertificate(CannedStream):
        async def start_tls(
            self,
            ssl_context: object,
            server_hostname: str | None = None,
            timeout: float | None = None,
        ) -> httpcore.AsyncNetworkStream:
            cause = ssl.SSLCertVerificationError("certificate verify failed")
            raise httpcore.ConnectError(str(cause)) from cause

    class Network(CannedNetwork):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
        ) -> httpcore.AsyncNetworkStream:
            self.calls.append((host, port))
            return BadCertificate(b"") if port == 443 else CannedStream(b"garbage\r\n\r\n")

    resolver = Resolver({"news.test": [PUBLIC]})
    async with Fetcher(resolver=resolver, network_backend=Network({})) as fetcher:
        with pytest.raises(FetchError) as tls:
            await fetcher.fetch("https://news.test/rss")
        with pytest.raises(FetchError) as protocol:
            await fetcher.fetch("http://news.test/rss")
    assert tls.value.kind == "tls"
    assert str(tls.value).startswith("TLS with news.test failed: ")
    assert protocol.value.kind == "protocol"
