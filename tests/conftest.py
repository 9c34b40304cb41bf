"""Shared fixtures: a real Redis database of the tests' own, and the real-world feed corpus."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

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
