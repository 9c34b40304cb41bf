"""The embedded store: one SQLite file in WAL mode, for a single Dozor process.

One connection, and an asyncio lock around it, so a transaction begun by one coroutine never
sees another's statements. Writes that must be atomic run in `BEGIN IMMEDIATE` transactions.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiosqlite

from bot.models import Alert, Chat, Feed, FeedState, OutboxEntry, Subscription, Topic
from bot.store import codec
from bot.store.base import SENDING, StoreError
from bot.store.sqlite_move import move_destination
from bot.store.sqlite_schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

_CHUNK = 500  # bound variables a statement, well under SQLite's limit


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


class SqliteStore:
    """`Store` on one SQLite file; build it with `SqliteStore.open`."""

    def __init__(self, db: aiosqlite.Connection, where: str) -> None:
        self._db = db
        self._where = where
        self._guard = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> SqliteStore:
        """Open (creating if need be) the database and bring its schema up to date.

        `busy_timeout`: seconds to wait for another connection's write before giving up."""
        where = os.fspath(path)
        if where != ":memory:" and await asyncio.to_thread(os.path.isdir, where):
            raise StoreError(f"cannot open SQLite database {where}: it is a directory")
        try:
            db = await aiosqlite.connect(where, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open SQLite database {where}: {exc} (does its folder exist and is it"
                " writable?)"
            ) from exc
        store = cls(db, where)
        try:
            await store._prepare(busy_timeout)
        except BaseException:
            await db.close()
            raise
        return store

    async def _prepare(self, busy_timeout: float) -> None:
        async with self._guard:
            with self._errors("set up the database"):
                await self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
                await self._db.execute("PRAGMA journal_mode = WAL")
                await self._db.execute("PRAGMA synchronous = NORMAL")
        async with self._write("create its schema") as db:
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = list(await db.execute_fetchall("SELECT max(version) FROM schema_version"))
            version = int(rows[0][0] or 0)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"SQLite database {self._where} has schema version {version}; this Dozor"
                    f" knows up to {SCHEMA_VERSION}: upgrade Dozor"
                )
            for migration in MIGRATIONS[version:]:
                for statement in migration:
                    await db.execute(statement)
            if version < SCHEMA_VERSION:
                await db.execute("DELETE FROM schema_version")
                await db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            hint = ""
            if "locked" in str(exc) or "busy" in str(exc):
                hint = " (is another process using it? the SQLite store is for one process)"
            elif "full" in str(exc) or "I/O error" in str(exc):
                hint = " (is the disk full, or the file no longer writable?)"
            raise StoreError(
                f"SQLite database {self._where} failed to {doing}: {exc}{hint}"
            ) from exc

    @asynccontextmanager
    async def _write(self, doing: str) -> AsyncIterator[aiosqlite.Connection]:
        """One `BEGIN IMMEDIATE` transaction: committed if the body returns, else rolled back."""
        async with self._guard:
            with self._errors(doing):
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    await self._db.execute("COMMIT")
                except BaseException:
                    # queued behind whatever is running; a no-op if no transaction is open
                    await self._db.rollback()
                    raise

    async def _fetch(self, doing: str, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        async with self._guard:
            with self._errors(doing):
                return list(await self._db.execute_fetchall(sql, tuple(params)))

    async def _change(self, doing: str, sql: str, params: Iterable[Any] = ()) -> int:
        """One statement (atomic on its own); the number of rows it changed."""
        async with self._guard:
            with self._errors(doing):
                async with self._db.execute(sql, tuple(params)) as cursor:
                    return int(cursor.rowcount)

    async def close(self) -> None:
        with self._errors("close"):
            await self._db.close()

    async def ping(self) -> None:
        await self._fetch("answer a query", "SELECT 1")

    # --- feed state -------------------------------------------------------------------------
    async def feed_state(self, feed_id: str) -> FeedState:
        rows = await self._fetch(
            "read a feed state", "SELECT data FROM feed_state WHERE feed_id = ?", (feed_id,)
        )
        return codec.decode_feed_state(rows[0][0] if rows else None)

    async def feed_states(self, feed_ids: Sequence[str]) -> dict[str, FeedState]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(feed_ids))):
            marks = _marks(len(chunk))
            sql = f"SELECT feed_id, data FROM feed_state WHERE feed_id IN ({marks})"  # noqa: S608
            found.update(await self._fetch("read feed states", sql, chunk))
        return {f: codec.decode_feed_state(found.get(f)) for f in feed_ids}

    async def save_feed_state(self, feed_id: str, state: FeedState) -> None:
        await self._change(
            "save a feed state", _UPSERT_STATE, (feed_id, codec.encode_feed_state(state))
        )

    # --- seen items and the poll's commit ---------------------------------------------------
    async def unseen(
        self, feed_id: str, keys: Sequence[str], *, now: float | None = None
    ) -> set[str]:
        async with self._guard:
            with self._errors("check seen items"):
                seen = await _seen_among(self._db, feed_id, keys, now)
        return set(keys) - seen

    async def commit_poll(
        self,
        feed_id: str,
        keys: Sequence[str],
        alerts: Sequence[Alert],
        state: FeedState,
        *,
        now: float,
        keep_seconds: float,
    ) -> list[Alert]:
        expires = now + keep_seconds
        marked = list(dict.fromkeys([*keys, *(a.id for a in alerts)]))
        async with self._write("commit a poll") as db:
            seen = await _seen_among(db, feed_id, [a.id for a in alerts], now)
            fresh = [a for a in alerts if a.id not in seen]
            linked = await _linked_among(db, fresh, now)
            picked: list[Alert] = []
            for alert in fresh:
                mark = (alert.to, alert.topic, alert.delivery, alert.dedup_link)
                if mark not in linked:
                    linked.add(mark)
                    picked.append(alert)
            await db.executemany(
                "INSERT INTO links (dest, topic, delivery, link, expires) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET expires = excluded.expires",
                [(a.to, a.topic, a.delivery, a.dedup_link, expires) for a in picked],
            )
            await db.executemany(
                "INSERT INTO outbox (due, data) VALUES (?, ?)",
                [(now, codec.encode_alert(a)) for a in picked if a.delivery == "instant"],
            )
            await db.executemany(
                "INSERT INTO digest (dest, topic, data) VALUES (?, ?, ?)",
                [(a.to, a.topic, codec.encode_alert(a)) for a in picked if a.delivery != "instant"],
            )
            await db.executemany(
                "INSERT INTO seen (feed_id, key, expires) VALUES (?, ?, ?)"
                " ON CONFLICT DO UPDATE SET expires = excluded.expires",
                [(feed_id, key, expires) for key in marked],
            )
            await db.execute(_UPSERT_STATE, (feed_id, codec.encode_feed_state(state)))
        return picked

    async def purge(self, now: float) -> int:
        async with self._write("purge expired items") as db:
            async with db.execute("DELETE FROM seen WHERE expires <= ?", (now,)) as cursor:
                forgotten = int(cursor.rowcount)
            async with db.execute("DELETE FROM links WHERE expires <= ?", (now,)) as cursor:
                forgotten += int(cursor.rowcount)
            async with db.execute("DELETE FROM records WHERE expires <= ?", (now,)) as cursor:
                forgotten += int(cursor.rowcount)
        return forgotten

    # --- outbox -------------------------------------------------------------------------------
    async def claim(self, *, now: float, lease: float, limit: int) -> list[OutboxEntry]:
        if limit <= 0:
            return []
        async with self._write("claim from the outbox") as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT id, data, attempts FROM outbox WHERE due <= ? ORDER BY due, id LIMIT ?",
                    (now, limit),
                )
            )
            await db.executemany(
                "UPDATE outbox SET due = ?, last_error = ? WHERE id = ?",
                [(now + lease, SENDING, row[0]) for row in rows],
            )
        return [
            OutboxEntry(
                id=str(row[0]),
                alert=codec.decode_alert(row[1]),
                attempts=int(row[2]),
                lease_until=now + lease,
            )
            for row in rows
        ]

    async def extend(self, leases: Mapping[str, float], *, until: float) -> set[str]:
        if not leases:
            return set()
        renewed: set[str] = set()
        async with self._write("renew outbox leases") as db:
            for entry_id, held_until in leases.items():
                async with db.execute(
                    "UPDATE outbox SET due = ? WHERE id = ? AND due = ?",
                    (until, entry_id, held_until),
                ) as cursor:
                    if cursor.rowcount == 1:
                        renewed.add(entry_id)
        return renewed

    async def ack(self, entry_id: str) -> None:
        await self._change("ack an outbox entry", "DELETE FROM outbox WHERE id = ?", (entry_id,))

    async def retry(
        self, entry_id: str, *, not_before: float, error: str, failed: bool = True
    ) -> None:
        await self._change(
            "reschedule an outbox entry",
            "UPDATE outbox SET due = ?, attempts = attempts + ?, last_error = ? WHERE id = ?",
            (not_before, int(failed), error, entry_id),
        )

    async def release(self, to: str, reasons: Sequence[str], *, now: float) -> int:
        if not reasons:
            return 0
        marks = ", ".join("?" for _ in reasons)
        return await self._change(
            "release held alerts",
            f"UPDATE outbox SET due = ? WHERE instr(data, ?) > 0 AND last_error IN ({marks})"  # noqa: S608 - placeholders only
            " AND due > ?",
            (now, codec.field_text("to", to), *reasons, now),
        )

    async def outbox_depth(self) -> int:
        rows = await self._fetch("count the outbox", "SELECT count(*) FROM outbox")
        return int(rows[0][0])

    async def outbox_for(self, to: str) -> int:
        rows = await self._fetch(
            "count a destination's outbox",
            "SELECT count(*) FROM outbox WHERE instr(data, ?) > 0",
            (codec.field_text("to", to),),
        )
        return int(rows[0][0])

    # --- digest buffer --------------------------------------------------------------------
    async def digest_alerts(self, to: str, topic: str) -> list[Alert]:
        rows = await self._fetch(
            "read a digest buffer",
            "SELECT data FROM digest WHERE dest = ? AND topic = ? ORDER BY id",
            (to, topic),
        )
        return [codec.decode_alert(row[0]) for row in rows]

    async def drop_digest(self, to: str, topic: str, count: int) -> None:
        if count <= 0:
            return
        await self._change(
            "trim a digest buffer",
            "DELETE FROM digest WHERE id IN"
            " (SELECT id FROM digest WHERE dest = ? AND topic = ? ORDER BY id LIMIT ?)",
            (to, topic, count),
        )

    # --- topics and subscriptions ---------------------------------------------------------
    async def save_topic(self, topic: Topic) -> None:
        row = (codec.topic_id(topic.owner, topic.name), codec.encode_topic(topic))
        await self._change("save a topic", _UPSERT.format(table="topics"), row)

    async def delete_topic(self, owner: str | None, name: str) -> bool:
        sql = "DELETE FROM topics WHERE id = ?"
        return await self._change("delete a topic", sql, (codec.topic_id(owner, name),)) > 0

    async def topics(self) -> list[Topic]:
        rows = await self._fetch("read topics", "SELECT data FROM topics")
        return codec.sorted_topics(codec.decode_topic(row[0]) for row in rows)

    async def save_subscription(self, sub: Subscription) -> None:
        row = (codec.subscription_id(sub.to, sub.topic), codec.encode_subscription(sub))
        await self._change("save a subscription", _UPSERT.format(table="subscriptions"), row)

    async def delete_subscription(self, to: str, topic: str) -> bool:
        sql = "DELETE FROM subscriptions WHERE id = ?"
        key = codec.subscription_id(to, topic)
        return await self._change("delete a subscription", sql, (key,)) > 0

    async def subscriptions(self) -> list[Subscription]:
        rows = await self._fetch("read subscriptions", "SELECT data FROM subscriptions")
        return codec.sorted_subscriptions(codec.decode_subscription(row[0]) for row in rows)

    # --- chats' private feeds and settings ------------------------------------------------
    async def save_feed(self, feed: Feed) -> None:
        row = (codec.private_feed_id(feed), codec.encode_feed(feed))
        await self._change("save a feed", _UPSERT.format(table="feeds"), row)

    async def delete_feed(self, owner: str, url: str) -> bool:
        sql = "DELETE FROM feeds WHERE id = ?"
        return await self._change("delete a feed", sql, (codec.feed_id(owner, url),)) > 0

    async def feeds(self) -> list[Feed]:
        rows = await self._fetch("read feeds", "SELECT data FROM feeds ORDER BY seq")
        return [codec.decode_feed(row[0]) for row in rows]

    async def chat(self, to: str) -> Chat:
        sql = "SELECT data FROM chats WHERE dest = ?"
        rows = await self._fetch("read a chat's settings", sql, (to,))
        return codec.decode_chat(rows[0][0]) if rows else Chat(to)

    async def save_chat(self, chat: Chat) -> None:
        await self._change(
            "save a chat's settings",
            "INSERT INTO chats (dest, data) VALUES (?, ?)"
            " ON CONFLICT DO UPDATE SET data = excluded.data",
            (chat.to, codec.encode_chat(chat)),
        )

    async def chats(self) -> list[Chat]:
        rows = await self._fetch("read chats' settings", "SELECT data FROM chats")
        return codec.sorted_chats(codec.decode_chat(row[0]) for row in rows)

    async def move_destination(self, old: str, new: str) -> int:
        if old == new:
            return 0
        async with self._write("move a destination") as db:
            return await move_destination(db, old, new)

    # --- coordination ---------------------------------------------------------------------
    async def get_record(self, name: str, *, now: float) -> str | None:
        rows = await self._fetch(
            "read a record",
            "SELECT value FROM records WHERE name = ? AND (expires IS NULL OR expires > ?)",
            (name, now),
        )
        return str(rows[0][0]) if rows else None

    async def put_record(self, name: str, value: str, *, expires: float | None = None) -> None:
        await self._change(
            "save a record",
            "INSERT INTO records (name, value, expires) VALUES (?, ?, ?) ON CONFLICT DO UPDATE"
            " SET value = excluded.value, expires = excluded.expires",
            (name, value, expires),
        )

    async def add_stories(self, rows: Sequence[tuple[float, str]]) -> None:
        if not rows:
            return
        async with self._write("save story fingerprints") as db:
            await db.executemany("INSERT INTO stories (at, row) VALUES (?, ?)", list(rows))

    async def stories_since(self, since: float) -> list[tuple[float, str]]:
        rows = await self._fetch(
            "read story fingerprints",
            "SELECT at, row FROM stories WHERE at >= ? ORDER BY at, id",
            (since,),
        )
        return [(float(at), str(row)) for at, row in rows]

    async def forget_stories(self, before: float) -> int:
        return await self._change(
            "forget old story fingerprints", "DELETE FROM stories WHERE at < ?", (before,)
        )

    async def try_lock(self, name: str, owner: str, *, ttl: float, now: float) -> bool:
        took = await self._change(
            "take a lock",
            "INSERT INTO locks (name, owner, expires) VALUES (?, ?, ?)"
            " ON CONFLICT DO UPDATE SET owner = excluded.owner, expires = excluded.expires"
            " WHERE locks.owner = excluded.owner OR locks.expires <= ?",
            (name, owner, now + ttl, now),
        )
        return took > 0

    async def unlock(self, name: str, owner: str) -> None:
        await self._change(
            "release a lock", "DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner)
        )


_UPSERT = (
    "INSERT INTO {table} (id, data) VALUES (?, ?)"
    " ON CONFLICT (id) DO UPDATE SET data = excluded.data"
)
_UPSERT_STATE = (
    "INSERT INTO feed_state (feed_id, data) VALUES (?, ?)"
    " ON CONFLICT DO UPDATE SET data = excluded.data"
)


async def _seen_among(
    db: aiosqlite.Connection, feed_id: str, keys: Sequence[str], now: float | None
) -> set[str]:
    """Which of `keys` the feed remembers at `now` (None: until purged)."""
    after = float("-inf") if now is None else now
    seen: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(keys))):
        # expiry is checked here, not in SQL, so the planner always walks the primary key
        marks = _marks(len(chunk))
        sql = f"SELECT key, expires FROM seen WHERE feed_id = ? AND key IN ({marks})"  # noqa: S608
        rows = await db.execute_fetchall(sql, (feed_id, *chunk))
        seen.update(row[0] for row in rows if row[1] > after)
    return seen


async def _linked_among(
    db: aiosqlite.Connection, alerts: Sequence[Alert], now: float
) -> set[tuple[str, str, str, str]]:
    """Which alerts' (to, topic, delivery, link) were enqueued before and not yet forgotten."""
    wanted = list(dict.fromkeys((a.to, a.topic, a.delivery, a.dedup_link) for a in alerts))
    linked: set[tuple[str, str, str, str]] = set()
    for chunk in _chunks(wanted, _CHUNK // 4):
        values = ",".join(["(?, ?, ?, ?)"] * len(chunk))
        # a join on the VALUES, not a row-value IN, so each mark is a primary-key lookup
        sql = (
            "SELECT l.dest, l.topic, l.delivery, l.link, l.expires"  # noqa: S608
            f" FROM (VALUES {values}) AS w JOIN links AS l ON l.dest = w.column1"
            " AND l.topic = w.column2 AND l.delivery = w.column3 AND l.link = w.column4"
        )
        rows = await db.execute_fetchall(sql, [part for mark in chunk for part in mark])
        linked.update((row[0], row[1], row[2], row[3]) for row in rows if row[4] > now)
    return linked
