"""The fetcher against a real HTTP server on 127.0.0.1: caching, caps, redirects, errors, limits.

Everything here is loopback. Tests that exercise the private-address guard over real sockets
trust one loopback endpoint explicitly and show that every other address is still refused.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.fetch import BoundedBody, Fetcher, FetchError, parse_retry_after
from tests.fakes.feed_server import FeedServer
from tests.service import free_port

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
MB = 1_000_000

MakeFetcher = Callable[..., Fetcher]


@pytest.fixture
async def make_fetcher() -> AsyncIterator[MakeFetcher]:
    """Fetchers allowed onto loopback (the test server), closed after the test."""
    made: list[Fetcher] = []

    def make(**options: object) -> Fetcher:
        options.setdefault("allow_private", True)
        fetcher = Fetcher(**options)  # type: ignore[arg-type]
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()


async def failure(fetcher: Fetcher, url: str, **kwargs: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url, **kwargs)
    return caught.value


# --- plain fetching and conditional GET --------------------------------------------------------


async def test_fetches_a_corpus_file(
    feed_server: FeedServer, corpus_dir: Path, make_fetcher: MakeFetcher
) -> None:
    name = "de_faz_net_rss2.xml"
    result = await make_fetcher().fetch(feed_server.url(name))
    assert result.status == 200
    assert result.body == (corpus_dir / name).read_bytes()
    assert result.etag and result.etag.startswith('"')
    assert result.last_modified and result.last_modified.endswith("GMT")
    assert result.content_type == "application/xml"
    assert result.url == feed_server.url(name)
    assert 0 < result.elapsed < 5


async def test_sends_an_honest_user_agent(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/feed.xml", FEED)
    await make_fetcher().fetch(feed_server.url("/feed.xml"))
    seen = feed_server.last_request("/feed.xml").headers
    assert seen["user-agent"].startswith("Dozor/")
    assert "(+https://github.com/dozor-bot/dozor; news monitoring bot)" in seen["user-agent"]
    assert "gzip" in seen["accept-encoding"]
    assert "if-none-match" not in seen
    await make_fetcher(user_agent="Custom/1.0").fetch(feed_server.url("/feed.xml"))
    assert feed_server.last_request("/feed.xml").headers["user-agent"] == "Custom/1.0"


async def test_unchanged_feed_with_etag_is_304(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/feed.xml", FEED, last_modified=False)
    fetcher = make_fetcher()
    first = await fetcher.fetch(feed_server.url("/feed.xml"))
    assert first.etag
    again = await fetcher.fetch(feed_server.url("/feed.xml"), etag=first.etag)
    assert (again.status, again.body, again.etag) == (304, b"", first.etag)
    assert feed_server.last_request("/feed.xml").headers["if-none-match"] == first.etag
    feed_server.set("/feed.xml", FEED + b"\n", last_modified=False)
    changed = await fetcher.fetch(feed_server.url("/feed.xml"), etag=first.etag)
    assert changed.status == 200
    assert changed.body == FEED + b"\n"
    assert changed.etag != first.etag


async def test_a_304_or_a_redirect_leaves_the_connection_for_the_next_poll(
    corpus_dir: Path, make_fetcher: MakeFetcher
) -> None:
    """Answers whose body is not wanted are read to their end, so a keep-alive server's
    connection is reused: ten polls of an unchanged feed, one of them redirected, one TCP
    connection."""
    with FeedServer(corpus_dir, keep_alive=True) as server:
        server.set("/feed.xml", FEED)
        server.redirect("/old.xml", server.url("/feed.xml"))
        fetcher = make_fetcher()
        first = await fetcher.fetch(server.url("/feed.xml"))
        statuses = [
            (await fetcher.fetch(server.url(path), etag=first.etag)).status
            for path in ["/feed.xml"] * 8 + ["/old.xml"]
        ]
        assert statuses == [304] * 9
        assert server.connections == 1


async def test_unchanged_feed_with_last_modified_is_304(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    stamp = email.utils.formatdate(time.time() - 3600, usegmt=True)
    feed_server.set("/feed.xml", FEED, etag=False, last_modified=stamp)
    fetcher = make_fetcher()
    first = await fetcher.fetch(feed_server.url("/feed.xml"))
    assert (first.etag, first.last_modified) == (None, stamp)
    again = await fetcher.fetch(feed_server.url("/feed.xml"), last_modified=stamp)
    assert (again.status, again.body, again.last_modified) == (304, b"", stamp)
    assert feed_server.last_request("/feed.xml").headers["if-modified-since"] == stamp


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_bodies_are_decoded(
    feed_server: FeedServer, make_fetcher: MakeFetcher, encoding: str
) -> None:
    body = FEED * 200
    feed_server.set("/z.xml", body, encoding=encoding)
    result = await make_fetcher().fetch(feed_server.url("/z.xml"))
    assert result.body == body


# --- size caps ---------------------------------------------------------------------------------


async def test_declared_length_over_the_cap_is_refused_before_reading(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.huge("/huge.xml", 200 * MB)
    error = await failure(make_fetcher(max_bytes=MB), feed_server.url("/huge.xml"))
    assert error.kind == "too_large"
    assert str(error) == "body exceeds 1 MB (Content-Length 200000000)"


async def test_streamed_body_over_the_cap_is_cut_off(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.endless("/endless.xml")  # never ends: only an abort can finish this test
    started = time.monotonic()
    error = await failure(make_fetcher(max_bytes=MB), feed_server.url("/endless.xml"))
    assert (error.kind, str(error)) == ("too_large", "body exceeds 1 MB")
    assert time.monotonic() - started < 3


async def test_default_cap_is_ten_megabytes(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.huge("/ok.xml", 10 * MB, content_length=False)
    feed_server.huge("/big.xml", 10 * MB + 1, content_length=False)
    fetcher = make_fetcher()
    assert len((await fetcher.fetch(feed_server.url("/ok.xml"))).body) == 10 * MB
    error = await failure(fetcher, feed_server.url("/big.xml"))
    assert (error.kind, str(error)) == ("too_large", "body exceeds 10 MB")


async def test_gzip_bomb_is_stopped_at_the_decoded_cap(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.gzip_bomb("/bomb.xml", 1_000_000_000)
    started = time.monotonic()
    error = await failure(make_fetcher(max_bytes=MB), feed_server.url("/bomb.xml"))
    assert error.kind == "too_large"
    assert time.monotonic() - started < 3


def test_bounded_body_never_holds_more_than_the_cap() -> None:
    bomb = gzip.compress(bytes(50 * MB), compresslevel=9)  # ~50 KB in, one feed() call
    body = BoundedBody("gzip", MB)
    with pytest.raises(FetchError, match="body exceeds 1 MB"):
        body.feed(bomb)
    assert body._size <= MB + 1


def test_bounded_body_decodes_multi_member_gzip_and_both_deflates() -> None:
    members = gzip.compress(b"one ") + gzip.compress(b"two")
    assert _decode("gzip", members) == b"one two"
    assert _decode("deflate", zlib.compress(FEED)) == FEED
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert _decode("deflate", raw.compress(FEED) + raw.flush()) == FEED
    assert _decode(None, FEED) == FEED
    assert _decode("identity", FEED) == FEED


def test_bounded_body_refuses_broken_or_unknown_encodings() -> None:
    with pytest.raises(FetchError, match="unsupported Content-Encoding: br"):
        BoundedBody("br", MB)
    with pytest.raises(FetchError, match="ended before"):
        _decode("gzip", gzip.compress(FEED)[:-12])
    with pytest.raises(FetchError, match="not valid gzip"):
        _decode("gzip", b"this is not gzip at all")
    with pytest.raises(FetchError, match="deflate body ended before"):
        _decode("deflate", b"x")  # shorter than any header: judged at the end


def _decode(encoding: str | None, data: bytes) -> bytes:
    body = BoundedBody(encoding, MB)
    for start in range(0, len(data), 7):  # in awkward pieces, as the wire delivers them
        body.feed(data[start : start + 7])
    return body.finish()


# --- redirects ---------------------------------------------------------------------------------


async def test_redirects_are_followed_to_the_final_url(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/feeds/new.xml", FEED)
    feed_server.redirect("/old", "/moved", status=301)
    feed_server.redirect("/moved", "feeds/new.xml", status=307)  # relative to /moved
    result = await make_fetcher().fetch(feed_server.url("/old"))
    assert (result.status, result.body) == (200, FEED)
    assert result.url == feed_server.url("/feeds/new.xml")


async def test_five_redirects_are_followed_six_are_not(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/r0", FEED)
    for n in range(1, 7):
        feed_server.redirect(f"/r{n}", f"/r{n - 1}")
    fetcher = make_fetcher()
    assert (await fetcher.fetch(feed_server.url("/r5"))).body == FEED
    error = await failure(fetcher, feed_server.url("/r6"))
    assert (error.kind, str(error)) == ("too_many_redirects", "more than 5 redirects")
    assert feed_server.hits("/r0") == 1


async def test_a_redirect_loop_is_stopped(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.redirect("/a", "/b")
    feed_server.redirect("/b", "/a")
    error = await failure(make_fetcher(), feed_server.url("/a"))
    assert error.kind == "too_many_redirects"
    assert "loop" in str(error)
    assert feed_server.hits("/a") == 1


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "ftp://127.0.0.1/feed", "gopher://127.0.0.1:6379/_INFO", "javascript:1"],
)
async def test_redirect_to_another_scheme_is_refused(
    feed_server: FeedServer, make_fetcher: MakeFetcher, location: str
) -> None:
    feed_server.redirect("/away", location)
    error = await failure(make_fetcher(), feed_server.url("/away"))
    assert error.kind == "bad_url"
    assert "redirect refused" in str(error)


async def test_redirect_without_location_is_a_protocol_error(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/nowhere", b"", status=302)
    error = await failure(make_fetcher(), feed_server.url("/nowhere"))
    assert error.kind == "protocol"


# --- the address guard over real sockets -------------------------------------------------------


async def test_loopback_is_refused_by_default_and_allowed_when_asked(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/feed.xml", FEED)
    error = await failure(make_fetcher(allow_private=False), feed_server.url("/feed.xml"))
    assert error.kind == "forbidden_address"
    assert str(error) == (
        "refused: 127.0.0.1 (loopback); set DOZOR_ALLOW_PRIVATE_NETWORKS=1 to allow"
    )
    assert feed_server.hits("/feed.xml") == 0
    allowed = await make_fetcher(allow_private=True).fetch(feed_server.url("/feed.xml"))
    assert allowed.body == FEED


async def test_every_hop_is_checked_not_just_the_first(
    feed_server: FeedServer, corpus_dir: Path, make_fetcher: MakeFetcher
) -> None:
    """Only 127.0.0.1 on the test server's port is trusted; every redirect elsewhere is refused."""
    names = {"feeds.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}

    async def resolver(host: str, port: int) -> list[str]:
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return names[host]

    port = feed_server.port
    with FeedServer(corpus_dir) as other:
        other.set("/secret", b"internal")
        fetcher = make_fetcher(
            allow_private=False, trusted=[("127.0.0.1", port)], resolver=resolver
        )
        feed_server.set("/feed.xml", FEED)
        feed_server.redirect("/hop", f"http://feeds.test:{port}/feed.xml")
        result = await fetcher.fetch(f"http://feeds.test:{port}/hop")
        assert (result.body, result.url) == (FEED, f"http://feeds.test:{port}/feed.xml")

        forbidden = {
            "/to-other-port": other.url("/secret"),
            "/to-other-name": f"http://other.test:{other.port}/secret",
            "/to-127-0-0-2": f"http://127.0.0.2:{port}/feed.xml",
            "/to-localhost": f"http://localhost:{port}/feed.xml",
            "/to-decimal": f"http://2130706433:{other.port}/secret",
            "/to-mapped": f"http://[::ffff:127.0.0.1]:{other.port}/secret",
        }
        for path, location in forbidden.items():
            feed_server.redirect(path, location)
            error = await failure(fetcher, f"http://feeds.test:{port}{path}")
            assert error.kind == "forbidden_address", (path, str(error))
            assert feed_server.hits(path) == 1
        assert other.hits("/secret") == 0


async def test_unresolvable_and_closed_give_dns_and_connect(make_fetcher: MakeFetcher) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    fetcher = make_fetcher(resolver=resolver)
    error = await failure(fetcher, "http://no-such-host.test/feed")
    assert (error.kind, str(error)) == (
        "dns",
        "cannot resolve no-such-host.test: Name or service not known",
    )
    error = await failure(fetcher, f"http://127.0.0.1:{free_port()}/feed")
    assert error.kind == "connect"


async def test_bad_urls_are_refused_before_anything(make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    for url in ("ftp://127.0.0.1/feed", "http://user:pw@127.0.0.1/", "not a url"):
        assert (await failure(fetcher, url)).kind == "bad_url"


# --- HTTP errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "text"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500 ")])
async def test_error_statuses(
    feed_server: FeedServer, make_fetcher: MakeFetcher, status: int, text: str
) -> None:
    feed_server.set("/err", b"nope", status=status)
    error = await failure(make_fetcher(), feed_server.url("/err"))
    assert (error.kind, error.status, error.retry_after) == ("http_status", status, None)
    assert str(error).startswith(text.strip())


async def test_429_carries_retry_after(feed_server: FeedServer, make_fetcher: MakeFetcher) -> None:
    feed_server.set("/busy", b"", status=429, headers={"Retry-After": "120"})
    later = email.utils.formatdate(time.time() + 300, usegmt=True)
    feed_server.set("/down", b"", status=503, headers={"Retry-After": later})
    fetcher = make_fetcher()
    busy = await failure(fetcher, feed_server.url("/busy"))
    assert (busy.kind, busy.status, busy.retry_after) == ("http_status", 429, 120.0)
    assert str(busy) == "HTTP 429 Too Many Requests"
    down = await failure(fetcher, feed_server.url("/down"))
    assert down.status == 503
    assert down.retry_after is not None and 290 < down.retry_after <= 300


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("30", now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now=now) == 90.0
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after(None, now=now) is None


# --- time limits -------------------------------------------------------------------------------


async def test_a_dribbling_server_hits_the_total_timeout(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.dribble("/drip.xml", FEED, chunk=1, interval=0.1)  # 8 s in all, a byte each 0.1 s
    started = time.monotonic()
    error = await failure(
        make_fetcher(total_timeout=0.5, read_timeout=5), feed_server.url("/drip.xml")
    )
    assert (error.kind, str(error)) == ("timeout", "no complete answer within 0.5s")
    assert 0.4 < time.monotonic() - started < 2


async def test_a_silent_server_hits_the_read_timeout(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/stuck.xml", FEED, delay=5)
    started = time.monotonic()
    error = await failure(make_fetcher(read_timeout=0.3), feed_server.url("/stuck.xml"))
    assert (error.kind, str(error)) == ("timeout", "127.0.0.1 sent nothing for 0.3s")
    assert time.monotonic() - started < 2


async def test_the_total_timeout_spans_redirect_hops(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/slow-end", FEED, delay=0.3)
    feed_server.set("/slow-hop", b"", status=302, headers={"Location": "/slow-end"}, delay=0.3)
    fetcher = make_fetcher(total_timeout=0.5)
    assert (await fetcher.fetch(feed_server.url("/slow-end"))).body == FEED
    assert (await failure(fetcher, feed_server.url("/slow-hop"))).kind == "timeout"


# --- concurrency bounds ----------------------------------------------------------------------


async def test_per_host_bound_is_respected(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]  # two names, one server: it sees both hosts' requests

    feed_server.set("/slow.xml", FEED, delay=0.15)
    fetcher = make_fetcher(per_host=2, resolver=resolver)
    urls = [f"http://{host}:{feed_server.port}/slow.xml" for host in ("a.test", "b.test")] * 5
    results = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
    assert all(r.body == FEED for r in results)
    assert feed_server.max_in_flight == 4  # 2 per host, both hosts at once


async def test_overall_bound_is_respected(
    feed_server: FeedServer, make_fetcher: MakeFetcher
) -> None:
    feed_server.set("/slow.xml", FEED, delay=0.15)
    fetcher = make_fetcher(max_connections=3, per_host=10)
    await asyncio.gather(*(fetcher.fetch(feed_server.url("/slow.xml")) for _ in range(8)))
    assert feed_server.max_in_flight == 3


# --- the fake itself: quick to stop, nothing left running ------------------------------------


def test_feed_server_stops_quickly_with_responses_in_flight(corpus_dir: Path) -> None:
    before = threading.active_count()
    server = FeedServer(corpus_dir).start()
    server.endless("/endless", interval=0.05)
    stalled = socket.create_connection(("127.0.0.1", server.port))
    stalled.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
    idle = socket.create_connection(("127.0.0.1", server.port))  # never sends a request
    try:
        while server.hits("/endless") == 0:
            time.sleep(0.01)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1
        assert threading.active_count() == before
    finally:
        stalled.close()
        idle.close()
