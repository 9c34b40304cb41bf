"""What only the SQLite store promises: WAL, a versioned schema, a locked file said plainly."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.models import Chat, Feed, FeedState, KeywordLine, Subscription
from bot.store import StoreError
from bot.store.sqlite import SCHEMA_VERSION, SqliteStore
from bot.store.sqlite_schema import MIGRATIONS


async def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "dozor.db"
    store = await SqliteStore.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    db.close()
    store = await SqliteStore.open(path)  # reopening migrates nothing and keeps one row
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)
    db.close()


async def test_a_version_1_database_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "dozor.db"
    old_sub = (
        '{"topic":"t","to":"telegram:1","keywords":[["x"]],"exclude":[],"mode":"instant",'
        '"digest":null,"created":0.0,"active":true}'
    )
    with closing(sqlite3.connect(path)) as db, db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute("INSERT INTO subscriptions VALUES (?, ?)", ('["telegram:1","t"]', old_sub))
    store = await SqliteStore.open(path)
    try:
        keywords = (KeywordLine(("x",)),)
        assert await store.subscriptions() == [
            Subscription(topic="t", to="telegram:1", keywords=keywords)
        ]
        feed = Feed(url="https://x/rss", name="X", owner="telegram:1")
        await store.save_feed(feed)
        await store.save_chat(Chat("telegram:1"))
        assert await store.feeds() == [feed]
        assert await store.chats() == [Chat("telegram:1")]
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dozor.db"
    await (await SqliteStore.open(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(StoreError, match="upgrade Dozor"):
        await SqliteStore.open(path)


async def test_a_locked_database_is_a_store_error_and_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "dozor.db"
    store = await SqliteStore.open(path, busy_timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="database is locked"):
            await store.commit_poll("f", ["a"], [], FeedState(), now=0.0, keep_seconds=10.0)
        other.execute("ROLLBACK")
        assert await store.commit_poll("f", ["a"], [], FeedState(), now=0.0, keep_seconds=10) == []
        assert await store.unseen("f", ["a"], now=0.0) == set()
    finally:
        other.close()
        await store.close()
