"""Everything Dozor remembers: `open_store` picks Redis when a URL is set, else SQLite."""

from __future__ import annotations

from bot.store.base import Store, StoreError

__all__ = ["Store", "StoreError", "open_store"]


async def open_store(redis_url: str | None, sqlite_path: str) -> Store:
    """Open and check the configured store; StoreError says plainly why it cannot be used."""
    if redis_url:
        from bot.store.redis import RedisStore

        return await RedisStore.open(redis_url)
    from bot.store.sqlite import SqliteStore

    return await SqliteStore.open(sqlite_path)
