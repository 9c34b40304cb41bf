"""The SQLite store's schema, as migrations: migration N brings version N to N+1.

Append a migration, never edit one: a database in the field has run the old ones already.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE feed_state (feed_id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE seen (feed_id TEXT NOT NULL, key TEXT NOT NULL, expires REAL NOT NULL,"
        " PRIMARY KEY (feed_id, key)) WITHOUT ROWID",
        "CREATE INDEX seen_expires ON seen (expires)",
        "CREATE TABLE links (dest TEXT NOT NULL, topic TEXT NOT NULL, delivery TEXT NOT NULL,"
        " link TEXT NOT NULL, expires REAL NOT NULL,"
        " PRIMARY KEY (dest, topic, delivery, link)) WITHOUT ROWID",
        "CREATE INDEX links_expires ON links (expires)",
        # AUTOINCREMENT: an id is never reused, so a late ack cannot hit a newer entry.
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, due REAL NOT NULL,"
        " data TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)",
        "CREATE INDEX outbox_due ON outbox (due, id)",
        "CREATE TABLE digest (id INTEGER PRIMARY KEY AUTOINCREMENT, dest TEXT NOT NULL,"
        " topic TEXT NOT NULL, data TEXT NOT NULL)",
        "CREATE INDEX digest_dest ON digest (dest, topic, id)",
        "CREATE TABLE topics (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE subscriptions (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL,"
        " expires REAL NOT NULL) WITHOUT ROWID",
    ),
    (
        # chats' private feeds: `seq` keeps insertion order across upserts and moves
        "CREATE TABLE feeds (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " data TEXT NOT NULL)",
        "CREATE TABLE chats (dest TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
    ),
    (
        "CREATE TABLE records (name TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL)"
        " WITHOUT ROWID",
        "CREATE INDEX records_expires ON records (expires)",
        "CREATE TABLE stories (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,"
        " row TEXT NOT NULL)",
        "CREATE INDEX stories_at ON stories (at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
