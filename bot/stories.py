"""Story clusters across polls, feeds and replicas: `bot.cluster`'s index kept in step with the
store, so every process assigns an item to the story the others already know.

Each process holds the index in memory and, before assigning, reads what other processes
added since its last look (`Store.stories_since`): one read per poll, not per item.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence

from bot.cluster import (
    DEFAULT_SETTINGS,
    ClusterSettings,
    StoryIndex,
    item_fingerprint,
    item_link,
)
from bot.models import Feed, Item
from bot.store.base import Store

FORGET_EVERY = 600.0  # seconds between trimming old fingerprints from the store


def story_of_link(link: str) -> str:
    """A new story's id, from its first item's link alone: the same link opens the same story
    even after the window, so the store's memory of sent stories (kept for the feed's
    `dedup_days`) still recognises a link that comes back weeks later."""
    return hashlib.blake2b(link.encode(), digest_size=8).hexdigest()


class StoryClusters:
    def __init__(self, store: Store, settings: ClusterSettings = DEFAULT_SETTINGS) -> None:
        self._store = store
        self._index = StoryIndex(settings)
        self._window = settings.window
        self._read_until: float | None = None
        # rows this process added that a read of the store may still return (at >= last read)
        self._own: dict[str, float] = {}
        self._forgot_at = float("-inf")
        self._lock = asyncio.Lock()

    async def assign(
        self, feed: Feed, items: Sequence[Item], now: float
    ) -> dict[str, tuple[str, bool]]:
        """item key -> (story id, whether the item starts the story), for `items` of `feed`,
        each remembered so that later copies (from any feed, any replica) join it."""
        if not items:
            return {}
        async with self._lock:
            await self._catch_up(now)
            found: dict[str, tuple[str, bool]] = {}
            rows: list[tuple[float, str]] = []
            for item in items:
                fingerprint = item_fingerprint(item, self._index.settings)
                link = item_link(item, feed.id)
                known = self._index.find(
                    fingerprint, canonical_url=item.canonical_url or None, now=now
                )
                story = known if known is not None else story_of_link(link)
                self._index.add(link, fingerprint, story, now)
                found[item.key] = (story, known is None)
                rows.append((now, json.dumps([fingerprint, story, now, link])))
            await self._store.add_stories(rows)
            self._own.update((row, at) for at, row in rows)
            return found

    async def _catch_up(self, now: float) -> None:
        since = self._read_until if self._read_until is not None else now - self._window
        for _, row in await self._store.stories_since(since):
            if row in self._own:
                continue  # already in the index: this process added it
            fingerprint, story, at, link = json.loads(row)
            self._index.add(link, fingerprint, story, float(at))
        self._own = {row: at for row, at in self._own.items() if at >= now}
        self._read_until = now
        self._index.expire(now)
        if now - self._forgot_at >= FORGET_EVERY:
            await self._store.forget_stories(now - self._window)
            self._forgot_at = now
