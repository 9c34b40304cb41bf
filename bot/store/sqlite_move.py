"""Moving a destination on SQLite: the body of one transaction, same outcome as Redis's script.

Records (subscriptions, own topics, private feeds, chat settings) move unless `new` has one with
the same identity, which wins; link memory merges, digest buffers are appended, outbox entries
are re-addressed. Every rewrite is `codec.readdress`, the same text swap the Lua script makes.
"""

from __future__ import annotations

import aiosqlite

from bot.store import codec

# table, the record field naming the destination
_RECORDS = (("subscriptions", "to"), ("topics", "owner"), ("feeds", "owner"))


async def move_destination(db: aiosqlite.Connection, old: str, new: str) -> int:
    """Re-address everything of `old` to `new` inside the caller's transaction; the number of
    outbox entries moved."""
    old_head, new_head = codec.owned_head(old), codec.owned_head(new)
    for table, field in _RECORDS:
        rows = await db.execute_fetchall(
            f"SELECT id, data FROM {table} WHERE substr(id, 1, ?) = ?",  # noqa: S608
            (len(old_head), old_head),
        )
        for row_id, data in rows:
            moved = new_head + row_id[len(old_head) :]
            # OR IGNORE: `new` already has this record, so it stays and old's goes
            await db.execute(
                f"UPDATE OR IGNORE {table} SET id = ?, data = ? WHERE id = ?",  # noqa: S608
                (moved, codec.readdress(data, field, old, new), row_id),
            )
            await db.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))  # noqa: S608

    for (data,) in await db.execute_fetchall("SELECT data FROM chats WHERE dest = ?", (old,)):
        await db.execute(
            "INSERT INTO chats (dest, data) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (new, codec.readdress(data, "to", old, new)),
        )
    await db.execute("DELETE FROM chats WHERE dest = ?", (old,))

    await db.execute(
        "INSERT INTO links (dest, topic, delivery, link, expires)"
        " SELECT ?, topic, delivery, link, expires FROM links WHERE dest = ?"
        " ON CONFLICT DO UPDATE SET expires = max(links.expires, excluded.expires)",
        (new, old),
    )
    await db.execute("DELETE FROM links WHERE dest = ?", (old,))

    digest = await db.execute_fetchall(
        "SELECT topic, data FROM digest WHERE dest = ? ORDER BY id", (old,)
    )
    await db.executemany(
        "INSERT INTO digest (dest, topic, data) VALUES (?, ?, ?)",
        [(new, topic, codec.readdress(data, "to", old, new)) for topic, data in digest],
    )
    await db.execute("DELETE FROM digest WHERE dest = ?", (old,))

    entries = list(
        await db.execute_fetchall(
            "SELECT id, data FROM outbox WHERE instr(data, ?) > 0",
            (codec.field_text("to", old),),
        )
    )
    await db.executemany(
        "UPDATE outbox SET data = ? WHERE id = ?",
        [(codec.readdress(data, "to", old, new), entry_id) for entry_id, data in entries],
    )
    return len(entries)
