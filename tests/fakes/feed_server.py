"""A real HTTP feed server on 127.0.0.1 for tests: the corpus, routes set at runtime, misbehaviour.

It runs in a background thread, so sync tests, async tests and `dozor` subprocesses can all
reach it (a subprocess needs DOZOR_ALLOW_PRIVATE_NETWORKS=1, as everything here is loopback).

    from tests.fakes.feed_server import FeedServer, feed_server_fixture  # noqa: F401

    def test_something(feed_server: FeedServer) -> None:
        feed_server.url("/en_mirror_worldnews_rss2.xml")   # a corpus file, by name
        feed_server.set("/feed.xml", b"<rss>...</rss>")    # ETag + Last-Modified, 304 on match
        feed_server.set("/gone", b"", status=404)
        feed_server.set("/busy", b"", status=429, headers={"Retry-After": "7"})
        feed_server.set("/zipped", body, gzip=True)         # when the client accepts gzip
        feed_server.set("/slow", body, delay=0.5)           # waits before answering
        feed_server.redirect("/old", "/feed.xml", status=301)
        feed_server.dribble("/drip", body, chunk=1, interval=0.2)  # a byte every 0.2 s
        feed_server.huge("/huge", 50_000_000)               # streamed, never held in memory
        feed_server.endless("/endless")                     # a body that never ends
        feed_server.gzip_bomb("/bomb", 100_000_000)         # ~100 KB on the wire, 100 MB decoded
        feed_server.hits("/feed.xml")                       # requests seen for a path
        feed_server.last_request("/feed.xml").headers["user-agent"]
        feed_server.max_in_flight                           # most requests served at once

Runtime routes win over corpus files. Every response closes its connection. `stop()` (or leaving
the `with` block, or the fixture's teardown) ends slow and endless responses and joins every
thread. `python -m tests.fakes.feed_server [DIR]` serves a directory by hand.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip as gzip_module
import hashlib
import socket
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

import pytest

RSS = "application/rss+xml; charset=utf-8"
_BLOCK = 64 * 1024
_FILLER = (b"<!-- filler: a feed that is far too big -->\n" * (_BLOCK // 44 + 1))[:_BLOCK]
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server saw it; header names are lower-cased."""

    method: str
    path: str
    target: str
    headers: dict[str, str]
    time: float = 0.0  # time.monotonic() on arrival


@dataclass
class _Static:
    body: bytes
    content_type: str | None
    status: int
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    encoding: str | None
    delay: float


@dataclass
class _Redirect:
    location: str
    status: int


@dataclass
class _Stream:
    """Bodies made while sending: dribble (given body, slowly), huge, endless, bomb."""

    kind: str
    body: bytes = b""
    size: int = 0
    chunk: int = _BLOCK
    interval: float = 0.0
    content_length: bool = True
    content_type: str = RSS


_Route = _Static | _Redirect | _Stream


@dataclass
class _Stats:
    hits: dict[str, int] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle client cannot hold a thread for long
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def do_GET(self) -> None:
        self.close_connection = not self.server.owner.keep_alive
        self.server.owner._serve(self)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read the request log instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins them: no thread outlives stop()
    block_on_close = True

    def __init__(self, address: tuple[str, int], owner: FeedServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class FeedServer:
    """Serves `corpus_dir` (files by name) plus runtime routes on 127.0.0.1, on a free port."""

    def __init__(
        self,
        corpus_dir: Path | str | None = None,
        *,
        host: str = "127.0.0.1",
        keep_alive: bool = False,
    ) -> None:
        """keep_alive: whole responses leave the connection open for the next request, as
        real servers do (streamed ones always close it); off, every answer closes it. Files
        are served with an ETag and Last-Modified unless `validators` is set to False."""
        self.corpus_dir = Path(corpus_dir).resolve() if corpus_dir is not None else None
        self.host = host
        self.keep_alive = keep_alive
        self.validators = True
        self._routes: dict[str, _Route] = {}
        self._stats = _Stats()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FeedServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server((self.host, 0), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="feed-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut open connections, end slow responses, join all threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the feed server is not running: call start()")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """The full URL of a path (a leading slash is optional)."""
        return self.base_url + _norm(path)

    # --- routes ----------------------------------------------------------------------------

    def set(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str | None = RSS,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        etag: bool | str = True,
        last_modified: bool | str = True,
        gzip: bool = False,
        encoding: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve `body` at `path`. etag=True derives a strong ETag from the content; a string
        is used as is. last_modified=True stamps now. `encoding` ("gzip", "deflate", or
        "raw-deflate", which is sent as deflate) compresses when the client accepts it."""
        tag = f'"{hashlib.sha256(body).hexdigest()[:20]}"' if etag is True else (etag or None)
        stamp = email.utils.formatdate(usegmt=True) if last_modified is True else last_modified
        self._put(
            path,
            _Static(
                body=body,
                content_type=content_type,
                status=status,
                headers=dict(headers or {}),
                etag=tag,
                last_modified=stamp or None,
                encoding=encoding or ("gzip" if gzip else None),
                delay=delay,
            ),
        )

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer `path` with a redirect; `location` is sent verbatim (relative is fine)."""
        self._put(path, _Redirect(location, status))

    def dribble(self, path: str, body: bytes, *, chunk: int = 1, interval: float = 0.1) -> None:
        """Send `body` (Content-Length set) `chunk` bytes at a time, `interval` seconds apart."""
        self._put(path, _Stream("dribble", body=body, chunk=chunk, interval=interval))

    def huge(self, path: str, size: int, *, content_length: bool = True) -> None:
        """A body of `size` filler bytes made while sending; chunked if not content_length."""
        self._put(path, _Stream("huge", size=size, content_length=content_length))

    def endless(self, path: str, *, interval: float = 0.0) -> None:
        """A chunked body that goes on until the client leaves or the server stops."""
        self._put(path, _Stream("endless", interval=interval))

    def gzip_bomb(self, path: str, decoded_size: int = 100_000_000) -> None:
        """One gzip stream of zeros, compressed while sending: ~1000x smaller on the wire."""
        self._put(path, _Stream("bomb", size=decoded_size, content_length=False))

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(_norm(path), None)

    # --- what was seen ---------------------------------------------------------------------

    def hits(self, path: str) -> int:
        with self._lock:
            return self._stats.hits.get(_norm(path), 0)

    def requests(self, path: str | None = None) -> list[SeenRequest]:
        with self._lock:
            seen = list(self._stats.requests)
        return seen if path is None else [r for r in seen if r.path == _norm(path)]

    def last_request(self, path: str) -> SeenRequest:
        seen = self.requests(path)
        if not seen:
            raise AssertionError(f"no request for {_norm(path)}")
        return seen[-1]

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._stats.max_in_flight

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        with self._lock:
            return self._stats.connections

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = _Stats()

    # --- serving (handler threads) ---------------------------------------------------------

    def _put(self, path: str, route: _Route) -> None:
        with self._lock:
            self._routes[_norm(path)] = route

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
                self._stats.connections += 1
            else:
                self._sockets.discard(sock)

    def _serve(self, handler: _Handler) -> None:
        path = unquote(urlsplit(handler.path).path)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._lock:
            self._stats.requests.append(
                SeenRequest(handler.command, path, handler.path, headers, time.monotonic())
            )
            self._stats.hits[path] = self._stats.hits.get(path, 0) + 1
            self._stats.in_flight += 1
            self._stats.max_in_flight = max(self._stats.max_in_flight, self._stats.in_flight)
            route = self._routes.get(path)
        try:
            route = route or self._corpus_route(path)
            if route is None:
                _respond(handler, 404, {"Content-Type": "text/plain"}, b"not found\n")
            elif isinstance(route, _Redirect):
                _respond(handler, route.status, {"Location": route.location}, b"")
            elif isinstance(route, _Static):
                self._serve_static(handler, route, headers)
            else:
                self._serve_stream(handler, route)
        except _GONE:
            pass  # the client hung up: that is what many tests are about
        finally:
            with self._lock:
                self._stats.in_flight -= 1

    def _corpus_route(self, path: str) -> _Static | None:
        if self.corpus_dir is None:
            return None
        file = (self.corpus_dir / path.lstrip("/")).resolve()
        if not file.is_file() or not file.is_relative_to(self.corpus_dir):
            return None
        body = file.read_bytes()
        return _Static(
            body=body,
            content_type="application/xml",
            status=200,
            headers={},
            etag=f'"{hashlib.sha256(body).hexdigest()[:20]}"' if self.validators else None,
            last_modified=(
                email.utils.formatdate(file.stat().st_mtime, usegmt=True)
                if self.validators
                else None
            ),
            encoding=None,
            delay=0.0,
        )

    def _serve_static(self, handler: _Handler, route: _Static, asked: dict[str, str]) -> None:
        if route.delay and self._stopping.wait(route.delay):
            return
        body, etag = route.body, route.etag
        out: dict[str, str] = {}
        accepted = asked.get("accept-encoding", "").lower()
        if route.encoding and route.encoding.replace("raw-", "") in accepted:
            body = _compress(body, route.encoding)
            out["Content-Encoding"] = route.encoding.replace("raw-", "")
            out["Vary"] = "Accept-Encoding"
            etag = f'{etag[:-1]}-{route.encoding}"' if etag else None
        if etag:
            out["ETag"] = etag
        if route.last_modified:
            out["Last-Modified"] = route.last_modified
        if route.status == 200 and _not_modified(asked, etag, route.last_modified):
            _respond(handler, 304, out, None)
            return
        if route.content_type:
            out["Content-Type"] = route.content_type
        out.update(route.headers)
        _respond(handler, route.status, out, body)

    def _serve_stream(self, handler: _Handler, route: _Stream) -> None:
        head = {"Content-Type": route.content_type}
        if route.kind == "dribble":
            head["Content-Length"] = str(len(route.body))
            pieces: Iterator[bytes] = _pieces(route.body, route.chunk)
        elif route.kind == "huge":
            pieces = _filler(route.size)
        elif route.kind == "bomb":
            head["Content-Encoding"] = "gzip"
            pieces = _zeros_gzipped(route.size)
        else:
            pieces = _filler(None)
        if route.kind == "huge" and route.content_length:
            head["Content-Length"] = str(route.size)
        chunked = "Content-Length" not in head
        if chunked:
            head["Transfer-Encoding"] = "chunked"
        handler.close_connection = True
        _start(handler, 200, head)
        for piece in pieces:
            if self._stopping.is_set():
                return
            _write(handler, piece, chunked=chunked)
            if route.interval and self._stopping.wait(route.interval):
                return
        if chunked:
            handler.wfile.write(b"0\r\n\r\n")


def _norm(path: str) -> str:
    return "/" + path.lstrip("/")


def _not_modified(asked: dict[str, str], etag: str | None, last_modified: str | None) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since against the stamp."""
    if "if-none-match" in asked:
        tags = [t.strip().removeprefix("W/") for t in asked["if-none-match"].split(",")]
        return etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    since, stamp = asked.get("if-modified-since"), last_modified
    if not since or not stamp:
        return False
    try:
        return email.utils.parsedate_to_datetime(stamp) <= email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def _compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip_module.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return squeezer.compress(body) + squeezer.flush()


def _start(handler: _Handler, status: int, headers: Mapping[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if handler.close_connection:
        handler.send_header("Connection", "close")
    handler.end_headers()


def _respond(
    handler: _Handler, status: int, headers: Mapping[str, str], body: bytes | None
) -> None:
    """A whole response; body None means none at all (304), not even Content-Length."""
    head = dict(headers)
    if body is not None:
        head["Content-Length"] = str(len(body))
    _start(handler, status, head)
    if body:
        handler.wfile.write(body)


def _write(handler: _Handler, data: bytes, *, chunked: bool) -> None:
    if not data:
        return
    if chunked:
        data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
    handler.wfile.write(data)


def _pieces(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), max(size, 1)):
        yield body[start : start + size]


def _filler(size: int | None) -> Iterator[bytes]:
    """`size` filler bytes (forever if None), one block at a time."""
    sent = 0
    while size is None or sent < size:
        piece = _FILLER if size is None else _FILLER[: size - sent]
        sent += len(piece)
        yield piece


def _zeros_gzipped(size: int) -> Iterator[bytes]:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    made = 0
    while made < size:
        block = zeros[: size - made]
        made += len(block)
        yield squeezer.compress(block)
    yield squeezer.flush()


@pytest.fixture(name="feed_server")
def feed_server_fixture(corpus_dir: Path) -> Iterator[FeedServer]:
    """A running FeedServer over the corpus, stopped (threads joined) after the test."""
    with FeedServer(corpus_dir) as server:
        yield server


def main(argv: list[str]) -> None:
    """Serve a directory on 127.0.0.1 until Ctrl-C; prints the base URL."""
    directory = (
        Path(argv[0])
        if argv
        else Path(__file__).resolve().parents[3] / "shared" / "corpus" / "feeds"
    )
    with FeedServer(directory) as server:
        print(f"serving {directory} at {server.base_url}/", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main(sys.argv[1:])
