"""Shared fixtures: a real Redis database of the tests' own, and the real-world feed corpus."""

from __future__ import annotations

import builtins
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
import redis.asyncio as aioredis

pytest_plugins = [
    "tests.fakes.feed_server",
    "tests.fakes.slack_api",
    "tests.fakes.telegram_api",
]  # their fixtures

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "feeds"
TEST_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS}: ../shared/corpus must sit beside the repo")
    return CORPUS


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis database for one test, emptied before and after it."""
    client = aioredis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - environment problem, said plainly
        pytest.fail(f"Redis at {TEST_REDIS_URL} does not answer: {exc}")
    await client.flushdb()
    await client.aclose()
    try:
        yield TEST_REDIS_URL
    finally:
        # a fresh connection: a test may have had Redis drop every client
        client = aioredis.from_url(TEST_REDIS_URL)
        await client.flushdb()
        await client.aclose()


@pytest.fixture
def no_file_or_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records (and blocks) every file open, socket connection and feedparser fetch during
    a test: parsing must do none of them."""
    attempts: list[str] = []
    real_open = builtins.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"open {file}")
        return real_open(file, *args, **kwargs)

    def spy_connect(self: socket.socket, address: Any) -> None:
        attempts.append(f"connect {address}")
        raise OSError("network use in a parse test")

    def spy_get(*args: Any, **kwargs: Any) -> Any:
        attempts.append(f"feedparser.http.get {args[:1]}")
        raise OSError("feedparser fetching in a parse test")

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(socket.socket, "connect", spy_connect)
    monkeypatch.setattr(feedparser.http, "get", spy_get)
    return attempts
