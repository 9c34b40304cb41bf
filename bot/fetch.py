"""Fetching feeds over HTTP: conditional GET, caps on size and time, manual redirects, SSRF guard.

A feed server is a stranger: its body is capped while it streams (decoded bytes, so a gzip bomb
stops early), its time is capped per phase and in total, each redirect hop is re-checked, and the
socket layer refuses non-public addresses (see bot.netguard for how and why).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from importlib import metadata
from types import TracebackType

import httpcore
import httpx

from bot.netguard import (
    AddressPolicy,
    FetchError,
    GuardedBackend,
    GuardedTransport,
    Resolver,
    address_problem,
    check_url,
    system_resolver,
    validate_feed_url,
)

__all__ = [
    "FetchError",
    "FetchResult",
    "Fetcher",
    "Resolver",
    "address_problem",
    "check_url",
    "default_user_agent",
    "parse_retry_after",
    "validate_feed_url",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


def default_user_agent() -> str:
    """The honest User-Agent: who we are and where to complain; read lazily, never at import."""
    try:
        version = metadata.version("dozor")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"Dozor/{version} (+https://github.com/dozor-bot/dozor; news monitoring bot)"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetch got: a body (2xx) or news that nothing changed (304, empty body)."""

    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    url: str
    content_type: str | None
    elapsed: float


def human_size(size: int) -> str:
    """10_000_000 -> "10 MB", for messages people read."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


class BoundedBody:
    """Decodes a response body as it streams and stops at `limit` bytes, compressed or not.

    zlib's max_length bounds each step's output, so even a 1000:1 gzip bomb costs at most
    `limit` bytes of memory before it is refused. Only gzip and deflate are asked for.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError("protocol", f"unsupported Content-Encoding: {content_encoding}")
        self._coding = codings[0] if codings else None
        self._limit = limit
        self._raw_size = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._inflater: zlib._Decompress | None = None
        self._pending = b""

    def feed(self, raw: bytes) -> None:
        """Take the next bytes off the wire; FetchError("too_large") as soon as a cap is passed."""
        self._raw_size += len(raw)
        if self._raw_size > self._limit:
            self._too_large()
        if self._coding is None:
            self._keep(raw)
        else:
            self._decode(raw, final=False)

    def finish(self) -> bytes:
        """The whole decoded body; FetchError("protocol") if compressed data ended early."""
        if self._coding is not None:
            if self._pending:
                self._decode(b"", final=True)
            if self._inflater is not None and not self._inflater.eof:
                raise FetchError("protocol", f"{self._coding} body ended before its end marker")
        return b"".join(self._parts)

    def _decode(self, data: bytes, *, final: bool) -> None:
        try:
            self._inflate(data, final=final)
        except zlib.error as exc:
            raise FetchError("protocol", f"body is not valid {self._coding}: {exc}") from exc

    def _inflate(self, data: bytes, *, final: bool) -> None:
        if self._inflater is None:
            self._pending += data
            if len(self._pending) < 2 and not final:
                return
            data = self._start()
        inflater = self._inflater
        assert inflater is not None
        while data:
            out = inflater.decompress(data, self._limit - self._size + 1)
            self._keep(out)
            data = inflater.unconsumed_tail
            if inflater.eof:
                rest = inflater.unused_data
                if self._coding == "deflate" or not rest.strip(b"\x00"):
                    return
                inflater = self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = rest  # another gzip member follows

    def _start(self) -> bytes:
        """Pick the zlib window for the coding; "deflate" may be zlib-wrapped or raw in the wild."""
        data, self._pending = self._pending, b""
        if self._coding == "deflate":
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        else:
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return data

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            self._too_large()
        if data:
            self._parts.append(data)

    def _too_large(self) -> None:
        raise FetchError("too_large", f"body exceeds {human_size(self._limit)}")


@dataclass(slots=True)
class _HostSlot:
    semaphore: asyncio.Semaphore
    users: int = 0


REUSE_BODY_LIMIT = 16 * 1024


async def _finish_small(response: httpx.Response) -> None:
    """Read the rest of an answer whose body is not wanted (a 304, a redirect, an error page)
    when it is small: a response read to its end leaves its connection in the pool for the
    next poll of the host; one abandoned mid-way closes it, and the next poll connects anew."""
    declared = response.headers.get("content-length", "")
    if response.status_code != 304 and not (
        declared.isdigit() and int(declared) <= REUSE_BODY_LIMIT
    ):
        return
    async for _ in response.aiter_raw():
        pass


class Fetcher:
    """Fetches feeds politely and defensively; one per process, shared by all polls.

    Concurrency is bounded overall and per host. The total timeout counts from the moment a
    hop gets its per-host slot, so feeds queued behind a slow host are not timed out by waiting.
    `trusted` lists (ip, port) endpoints exempt from the private-address rule; `network_backend`
    replaces the socket layer under the guard (tests pass a fake that must never be reached).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        max_bytes: int = 10_000_000,
        connect_timeout: float = 10,
        read_timeout: float = 20,
        total_timeout: float = 60,
        max_redirects: int = 5,
        max_connections: int = 64,
        per_host: int = 4,
        user_agent: str | None = None,
        resolver: Resolver | None = None,
        trusted: Iterable[tuple[str, int]] = (),
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = AddressPolicy.build(allow_private=allow_private, trusted=trusted)
        self._max_bytes = max_bytes
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._total_timeout = total_timeout
        self._max_redirects = max_redirects
        self._per_host = per_host
        self._slots = asyncio.Semaphore(max_connections)
        self._hosts: dict[str, _HostSlot] = {}
        backend = GuardedBackend(
            policy=self.policy, resolver=resolver or system_resolver, inner=network_backend
        )
        transport = GuardedTransport(
            backend=backend, max_connections=max_connections, ssl_context=ssl_context
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=total_timeout
            ),
            headers={
                "User-Agent": user_agent or default_user_agent(),
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url`, following up to max_redirects checked hops; FetchError on any failure.

        etag/last_modified from the previous fetch make it conditional: 304 means unchanged.
        """
        current = check_url(url)
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        loop = asyncio.get_running_loop()
        visited = {current}
        budget = self._total_timeout
        started: float | None = None
        async with self._slots:
            for _hop in range(self._max_redirects + 1):
                async with self._host_slot(httpx.URL(current).host):
                    hop_started = loop.time()
                    started = hop_started if started is None else started
                    try:
                        async with asyncio.timeout(max(budget, 0.0)):
                            answer = await self._get(current, headers, etag, last_modified)
                    except TimeoutError:
                        raise FetchError(
                            "timeout", f"no complete answer within {self._total_timeout:g}s"
                        ) from None
                    budget -= loop.time() - hop_started
                if isinstance(answer, FetchResult):
                    return replace(answer, elapsed=loop.time() - started)
                if answer in visited:
                    raise FetchError("too_many_redirects", f"redirect loop back to {answer}")
                visited.add(answer)
                current = answer
        raise FetchError("too_many_redirects", f"more than {self._max_redirects} redirects")

    @contextlib.asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        """At most per_host requests to one host at a time; idle hosts leave no state behind."""
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = _HostSlot(asyncio.Semaphore(self._per_host))
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._hosts[host]

    async def _get(
        self, url: str, headers: dict[str, str], etag: str | None, last_modified: str | None
    ) -> FetchResult | str:
        """One hop: the final answer, or the checked absolute URL a redirect points to."""
        try:
            response = await self._client.send(
                self._client.build_request("GET", url, headers=headers), stream=True
            )
            try:
                return await self._answer(url, response, etag, last_modified)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise self._transport_error(url, exc) from exc
        except httpx.InvalidURL as exc:  # httpx pre-builds the next request of any redirect
            raise FetchError("bad_url", f"redirect refused: invalid Location ({exc})") from exc

    async def _answer(
        self, url: str, response: httpx.Response, etag: str | None, last_modified: str | None
    ) -> FetchResult | str:
        status = response.status_code
        got = response.headers
        if not 200 <= status < 300:  # a 304, a redirect or an error: its body is not wanted
            await _finish_small(response)
        if status in REDIRECT_STATUSES:
            return redirect_target(url, status, got.get("location"))
        if status == 304:
            return FetchResult(
                304,
                b"",
                got.get("etag") or etag,
                got.get("last-modified") or last_modified,
                url,
                got.get("content-type"),
                elapsed=0.0,  # set by fetch() for the whole chain
            )
        if not 200 <= status < 300:
            retry_after = parse_retry_after(got.get("retry-after"), now=time.time())
            reason = response.reason_phrase or ""
            raise FetchError(
                "http_status",
                f"HTTP {status} {reason}".rstrip(),
                status=status,
                retry_after=retry_after,
            )
        declared = got.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FetchError(
                "too_large",
                f"body exceeds {human_size(self._max_bytes)} (Content-Length {declared})",
            )
        body = BoundedBody(got.get("content-encoding"), self._max_bytes)
        async for chunk in response.aiter_raw():
            body.feed(chunk)
        return FetchResult(
            status,
            body.finish(),
            got.get("etag"),
            got.get("last-modified"),
            url,
            got.get("content-type"),
            elapsed=0.0,
        )

    def _transport_error(self, url: str, exc: httpx.HTTPError) -> FetchError:
        """Name an httpx failure in the user's words, with the phase and limit that applied."""
        host = httpx.URL(url).host
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.ConnectTimeout):
            return FetchError(
                "timeout", f"connecting to {host} took over {self._connect_timeout:g}s"
            )
        if isinstance(exc, httpx.TimeoutException):
            return FetchError("timeout", f"{host} sent nothing for {self._read_timeout:g}s")
        if isinstance(exc, httpx.ConnectError):
            return FetchError("connect", f"cannot connect to {host}: {detail}")
        if isinstance(exc, httpx.NetworkError):
            return FetchError("connect", f"connection to {host} failed: {detail}")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return FetchError("bad_url", f"cannot fetch {url}: {detail}")
        return FetchError("protocol", f"{host} broke HTTP: {detail}")


def redirect_target(url: str, status: int, location: str | None) -> str:
    """Where a redirect points, resolved against `url` and checked like any feed URL."""
    if not location:
        raise FetchError("protocol", f"HTTP {status} redirect without a Location header")
    try:
        target = str(httpx.URL(url).join(location.strip()))
    except httpx.InvalidURL as exc:
        raise FetchError("bad_url", f"redirect to an invalid URL: {location!r}") from exc
    try:
        return check_url(target)
    except FetchError as exc:
        raise FetchError("bad_url", f"redirect refused: {exc}") from exc
