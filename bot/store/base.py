"""The Store protocol: everything Dozor remembers, behind one interface with two implementations.

`RedisStore` (production, several processes) and `SqliteStore` (embedded default, one process)
behave the same; `tests/test_store_contract.py` runs one suite against both. Times are Unix
seconds passed in by the caller: a store never reads the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from bot.logs import PlainError
from bot.models import Alert, Chat, Feed, FeedState, OutboxEntry, Subscription, Topic

SENDING = "sending"  # an outbox entry's reason while claimed: never "held", so never released


class StoreError(PlainError):
    """The store could not do what was asked (connection lost, database locked, disk full)."""


class Store(Protocol):
    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreError when the store does not answer."""

    # --- feed state -------------------------------------------------------------------------
    async def feed_state(self, feed_id: str) -> FeedState:
        """The feed's state; a fresh FeedState() for a feed never polled."""

    async def feed_states(self, feed_ids: Sequence[str]) -> dict[str, FeedState]:
        """Several feeds' states in one round trip."""

    async def save_feed_state(self, feed_id: str, state: FeedState) -> None: ...

    # --- seen items, outbox, digest buffer: the poll's commit ------------------------------
    async def unseen(
        self, feed_id: str, keys: Sequence[str], *, now: float | None = None
    ) -> set[str]:
        """The keys not yet seen in this feed, in one round trip (a hint: commit re-checks).

        A key past its expiry at `now` counts as unseen; without `now`, a key counts as seen
        until `purge` forgets it.
        """

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
        """One atomic step: mark `keys` seen in the feed (remembered for `keep_seconds`), save
        `state`, and enqueue each alert whose item key was not seen before this call and whose
        `dedup_link` has not yet been enqueued for the same (to, topic, delivery).

        Instant alerts go to the outbox (due at `now`), digest alerts to the digest buffer.
        Returns the alerts enqueued, in the order given. Alert ids are marked seen too. A key
        or link seen again is remembered for `keep_seconds` from this `now`. Two concurrent
        commits of the same keys enqueue each alert once; a commit that fails changes nothing.
        """

    async def purge(self, now: float) -> int:
        """Forget seen keys and alert links past their expiry; the number forgotten."""

    # --- outbox -------------------------------------------------------------------------------
    async def claim(self, *, now: float, lease: float, limit: int) -> list[OutboxEntry]:
        """Up to `limit` due alerts (due time <= now), oldest first (by due time, then
        insertion), hidden from other claimers for `lease` seconds. An entry neither acked nor
        retried within its lease becomes due again. `attempts` counts retries so far."""

    async def extend(self, leases: Mapping[str, float], *, until: float) -> set[str]:
        """Renew claims: each entry id in `leases` whose lease still ends at the time given
        (nobody claimed, retried or acked it since) is hidden until `until`. Returns the ids
        renewed; an id left out is no longer this claimer's and must not be sent."""

    async def ack(self, entry_id: str) -> None:
        """The channel accepted the alert: it leaves the outbox. An unknown id is a no-op."""

    async def retry(
        self, entry_id: str, *, not_before: float, error: str, failed: bool = True
    ) -> None:
        """Not delivered for now: due again at `not_before`, with the reason kept. `failed`
        counts an attempt (backoff grows); a hold (mute, shutdown, queued behind another
        alert) does not. An entry already acked stays gone."""

    async def release(self, to: str, reasons: Sequence[str], *, now: float) -> int:
        """Entries for `to` held back for one of `reasons` (the `error` of a `retry(...,
        failed=False)`), not claimed since, become due at `now`: /mute off and /quiet off
        act at once. O(outbox), for a command, not a hot path. Returns how many."""

    async def outbox_depth(self) -> int: ...

    async def outbox_for(self, to: str) -> int:
        """How many outbox entries (due or leased) are addressed to `to`. O(outbox): for
        `/status`, not for a hot path."""

    # --- digest buffer --------------------------------------------------------------------
    async def digest_alerts(self, to: str, topic: str) -> list[Alert]:
        """The digest alerts collected for (to, topic), oldest first."""

    async def drop_digest(self, to: str, topic: str, count: int) -> None:
        """Remove the oldest `count` digest alerts of (to, topic): those that were summarised."""

    # --- topics and subscriptions ---------------------------------------------------------
    async def save_topic(self, topic: Topic) -> None: ...

    async def delete_topic(self, owner: str | None, name: str) -> bool: ...

    async def topics(self) -> list[Topic]: ...

    async def save_subscription(self, sub: Subscription) -> None:
        """Insert or replace the subscription with the same (to, topic)."""

    async def delete_subscription(self, to: str, topic: str) -> bool: ...

    async def subscriptions(self) -> list[Subscription]: ...

    # --- chats' private feeds and settings ------------------------------------------------
    async def save_feed(self, feed: Feed) -> None:
        """Insert or replace the feed with the same (owner, url); a replaced feed keeps its
        place in the list. ValueError for a feed without an owner: feeds.yaml is not stored."""

    async def delete_feed(self, owner: str, url: str) -> bool: ...

    async def feeds(self) -> list[Feed]:
        """Every stored feed, in the order first saved."""

    async def chat(self, to: str) -> Chat:
        """The destination's saved settings, else the defaults `Chat(to)`."""

    async def save_chat(self, chat: Chat) -> None: ...

    async def chats(self) -> list[Chat]:
        """Every saved Chat, by destination."""

    async def move_destination(self, old: str, new: str) -> int:
        """One atomic step: everything addressed to `old` now belongs to `new` (a Telegram
        group that became a supergroup). Its subscriptions, own topics, private feeds and chat
        settings move, unless `new` already has one of the same identity: then `new`'s wins and
        `old`'s is dropped. Its link memory merges into `new`'s (nothing is sent twice), its
        digest buffers are appended to `new`'s, and its outbox entries are re-addressed,
        keeping due time and attempts. Returns the number of outbox entries moved; a second
        call moves nothing."""

    # --- small records and story fingerprints ---------------------------------------------
    async def get_record(self, name: str, *, now: float) -> str | None:
        """A small named record (JSON text: a digest's state, a sent message's reference),
        unless it expired by `now`."""

    async def put_record(self, name: str, value: str, *, expires: float | None = None) -> None:
        """Insert or replace a record; `expires` (Unix seconds) lets purge() forget it."""

    async def add_stories(self, rows: Sequence[tuple[float, str]]) -> None:
        """Story fingerprints as (time, JSON row), shared by every replica's clustering."""

    async def stories_since(self, since: float) -> list[tuple[float, str]]:
        """The fingerprints added at `since` or later, oldest first."""

    async def forget_stories(self, before: float) -> int:
        """Drop fingerprints older than `before`; how many."""

    # --- coordination ---------------------------------------------------------------------
    async def try_lock(self, name: str, owner: str, *, ttl: float, now: float) -> bool:
        """Take (or renew, for the same owner) a lock that expires after `ttl` seconds."""

    async def unlock(self, name: str, owner: str) -> None:
        """Release the lock if `owner` still holds it."""
