"""`dozor run` as a real child process for end-to-end tests: environment of the test's own,
stdout JSON lines collected by a thread, graceful stop (SIGTERM) or kill -9."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import IO, TypeVar

from bot.models import Subscription
from bot.store import Store, open_store
from tests.fakes.feed_server import FeedServer

REPO = Path(__file__).resolve().parents[1]
OWN_PREFIXES = ("DOZOR_", "REDIS_", "TELEGRAM_", "SLACK_")
T = TypeVar("T")


def dozor_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without any Dozor setting, plus loopback feeds, a store in
    `workdir`, a free HTTP port, and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    env.update(
        DOZOR_ALLOW_PRIVATE_NETWORKS="1",
        DOZOR_DB=str(workdir / "dozor.db"),
        DOZOR_HTTP_PORT="0",
        PYTHONPATH=str(REPO),
    )
    env.update(extra or {})
    return env


class Service:
    """A `dozor run --json` process whose stdout lines and stderr are collected by threads."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--json"],
            cwd=workdir,
            env=dozor_env(workdir, env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, object]] = queue.Queue()
        self.log: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._read_lines, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._read_log, args=(self.proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_lines(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(json.loads(line))

    def _read_log(self, stream: IO[str]) -> None:
        for line in stream:
            self.log.append(line)

    def take(self, count: int, timeout: float = 30) -> list[dict[str, object]]:
        return [self.lines.get(timeout=timeout) for _ in range(count)]

    def stop(self, timeout: float = 30) -> tuple[int, str]:
        """SIGTERM, then wait: the exit code and everything it logged."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        return code, "".join(self.log)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.kill()


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    """Wait on a condition (checked every 50 ms), not on a clock."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout}s: {what or condition}")
        time.sleep(0.05)


def titles(messages: Iterable[object]) -> list[str]:
    return [getattr(m, "plain", "").split("\n", 1)[0] for m in messages]


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def polls_later(server: FeedServer, path: str = "/f.xml", count: int = 2) -> None:
    """Wait until `path` was fetched `count` more times (the service kept polling)."""
    hits = server.hits(path)
    wait_until(lambda: server.hits(path) >= hits + count, what=f"{count} more polls of {path}")


def read_store(workdir: Path, read: Callable[[Store], Awaitable[T]]) -> T:
    """`read` on the service's embedded store in `workdir` (read after it stopped, or beside
    it: SQLite lets a reader in)."""

    async def opened() -> T:
        store = await open_store(None, str(workdir / "dozor.db"))
        try:
            return await read(store)
        finally:
            await store.close()

    return asyncio.run(opened())


def stored_subscriptions(workdir: Path) -> list[Subscription]:
    """What the service's embedded store in `workdir` holds, read after it stopped."""
    return list(read_store(workdir, lambda store: store.subscriptions()))
