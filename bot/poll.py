"""One poll of one feed: fetch -> parse -> seen? -> match -> outbox, in one atomic commit.

The decisions (backoff, backfill, what is new) are pure functions; `Poller.poll` is the thin
async edge that does the I/O in order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from bot.fetch import FetchError, FetchResult
from bot.known import Layout, digest, layout
from bot.models import Alert, Feed, FeedState
from bot.parse import ParsedFeed, parse_feed_async
from bot.routes import Routing, decide_alerts, newest
from bot.store.base import Store
from bot.stories import StoryClusters

log = logging.getLogger("dozor.poll")

MAX_BACKOFF = 6 * 3600.0
# The most items one poll reads from one feed: news feeds carry tens, the corpus's largest 200.
# A feed of 50,000 is an archive or an attack, and reading all of it would hold the event loop
# for seconds (matching, story clusters, the commit); its newest MAX_ITEMS are read.
MAX_ITEMS = 1000
Outcome = Literal["new", "unchanged", "not_modified", "failed", "backing_off"]


class FetchFn(Protocol):
    async def __call__(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


@dataclass(frozen=True, slots=True)
class PollReport:
    feed: Feed
    outcome: Outcome
    items: int = 0
    new_items: int = 0
    alerts: tuple[Alert, ...] = ()
    error: str | None = None
    warning: str | None = None
    error_kind: str | None = None  # FetchError's kind, or "parse"


def backoff_delay(failures: int, interval: float, retry_after: float | None = None) -> float:
    """Seconds to wait after the `failures`-th failure in a row: the interval doubled per
    failure up to six hours, and never less than a server's Retry-After."""
    delay: float = min(interval * 2.0 ** min(max(failures - 1, 0), 16), MAX_BACKOFF)
    return max(delay, retry_after or 0.0)


def after_failure(
    state: FeedState, error: str, *, now: float, interval: float, retry_after: float | None = None
) -> FeedState:
    failures = state.failures + 1
    return replace(
        state,
        last_poll=now,
        last_error=error,
        failures=failures,
        retry_at=now + backoff_delay(failures, interval, retry_after),
        polls=state.polls + 1,
    )


def after_success(
    state: FeedState, *, now: float, result: FetchResult | None, new_items: int
) -> FeedState:
    """State after a good answer; `result` None means 304 Not Modified (validators unchanged)."""
    etag, modified = state.etag, state.last_modified
    if result is not None:
        etag, modified = result.etag, result.last_modified
    return replace(
        state,
        etag=etag,
        last_modified=modified,
        last_poll=now,
        last_success=now,
        last_error=None,
        failures=0,
        retry_at=None,
        items_seen=state.items_seen + new_items,
        polls=state.polls + 1,
    )


def with_stories(alerts: list[Alert], stories: dict[str, tuple[str, bool]]) -> list[Alert]:
    """Each alert tagged with its story. An instant alert of a story seen before also gets an
    "also" twin: if the destination already got the story, the store drops the alert (same
    story) and the twin edits the first message to add this outlet; if not, the alert goes
    out and the twin finds nothing new to add."""
    tagged: list[Alert] = []
    for alert in alerts:
        story, new = stories.get(alert.id, ("", True))
        alert = replace(alert, story=story)
        tagged.append(alert)
        if story and not new and alert.delivery == "instant":
            tagged.append(replace(alert, kind="also"))
    return tagged


@dataclass(frozen=True, slots=True)
class Seen:
    """Fingerprints of a good body (bot.known): the whole, and its items when it could be cut."""

    body: str
    items: tuple[str, ...] | None


def at_most(parsed: ParsedFeed, limit: int) -> ParsedFeed:
    """The feed with only its `limit` newest items (by date, undated ones in document order
    after them), kept in document order, and a warning that says so."""
    if len(parsed.items) <= limit:
        return parsed
    kept = tuple(newest(parsed.items, limit, lambda item: item.published))
    said = f"{len(parsed.items):,} items in one feed: the newest {limit:,} were read"
    warning = f"{parsed.warning}; {said}" if parsed.warning else said
    return replace(parsed, items=kept, warning=warning)


def needs_whole_read(state: FeedState, feed: Feed, now: float) -> bool:
    """Whether this poll must fetch without validators and read every item: an item that stays
    in a feed is marked seen again only when the body is read whole, and a 304 or a body read
    only for its new items marks nothing. Every half dedup window is well before a mark could
    expire (and the item alert again)."""
    if state.last_success is None:
        return False  # a first poll reads everything anyway
    last = state.read_whole if state.read_whole is not None else 0.0
    return now - last >= feed.dedup_days * 86400.0 / 2


def is_backing_off(state: FeedState, now: float) -> bool:
    return state.retry_at is not None and now < state.retry_at


class Poller:
    """Polls feeds: everything it needs is passed in (fetch function, store, routing, clock)."""

    def __init__(
        self,
        *,
        fetch: FetchFn,
        store: Store,
        routing: Callable[[], Awaitable[Routing]],
        clock: Callable[[], float],
        stories: StoryClusters | None = None,
    ) -> None:
        self._fetch = fetch
        self._store = store
        self._routing = routing
        self._clock = clock
        self._stories = stories

    async def poll(self, feed: Feed, *, force: bool = False) -> PollReport:
        """Poll once; never raises for a feed's fault (network, HTTP, XML), only for the store's."""
        state = await self._store.feed_state(feed.id)
        now = self._clock()
        if not force and is_backing_off(state, now):
            return PollReport(feed, "backing_off", error=state.last_error)
        whole = needs_whole_read(state, feed, now)
        validators = (None, None) if whole else (state.etag, state.last_modified)
        try:
            result = await self._fetch(feed.url, etag=validators[0], last_modified=validators[1])
        except FetchError as exc:
            return await self._failed(feed, state, str(exc), exc.retry_after, kind=exc.kind)
        if result.status == 304:
            await self._store.save_feed_state(
                feed.id, after_success(state, now=self._clock(), result=None, new_items=0)
            )
            log.debug("not modified", extra={"feed": feed.url})
            return PollReport(feed, "not_modified")
        seen = Seen(digest(result.body), None)
        if not whole and state.last_success is not None and seen.body == state.body_digest:
            return await self._unchanged(feed, state, result, seen, len(state.item_digests))
        shape = layout(result.body)
        if shape is not None:
            seen = Seen(seen.body, shape.hashes)
        unknown = None if whole else self._unknown(state, shape)
        if unknown == []:  # every item read before: nothing to parse
            return await self._unchanged(feed, state, result, seen, len(seen.items or ()))
        parsed = None
        if unknown is not None and shape is not None:  # parse only what was not read
            parsed = await parse_feed_async(
                shape.only(unknown), url=result.url, content_type=result.content_type
            )
            if parsed.warning or not parsed.items:
                parsed = None  # the cut-down body reads differently: read it all
        read_whole = state.read_whole
        if parsed is None:
            parsed = await parse_feed_async(
                result.body, url=result.url, content_type=result.content_type
            )
            read_whole = now
        if not parsed.items and parsed.warning:
            return await self._failed(feed, state, parsed.warning, None, kind="parse")
        return await self._commit(feed, state, result, at_most(parsed, MAX_ITEMS), seen, read_whole)

    @staticmethod
    def _unknown(state: FeedState, shape: Layout | None) -> list[int] | None:
        """Which of the body's items were not in the last good poll, when only those need
        reading; None to read everything (a first poll, no safe cut, or an item whose key
        would depend on the others: only items with their own guid or id are read alone)."""
        if shape is None or state.last_success is None or not state.item_digests:
            return None
        known = set(state.item_digests)
        unknown = [i for i, h in enumerate(shape.hashes) if h not in known]
        return unknown if all(shape.stands_alone(i) for i in unknown) else None

    async def _unchanged(
        self, feed: Feed, state: FeedState, result: FetchResult, seen: Seen, items: int
    ) -> PollReport:
        new_state = replace(
            after_success(state, now=self._clock(), result=result, new_items=0),
            body_digest=seen.body,
            item_digests=seen.items if seen.items is not None else state.item_digests,
        )
        await self._store.save_feed_state(feed.id, new_state)
        log.debug("nothing new in the body", extra={"feed": feed.url})
        return PollReport(feed, "unchanged", items)

    async def _commit(
        self,
        feed: Feed,
        state: FeedState,
        result: FetchResult,
        parsed: ParsedFeed,
        seen: Seen,
        read_whole: float | None,
    ) -> PollReport:
        keys = [item.key for item in parsed.items]
        now = self._clock()
        unseen = await self._store.unseen(feed.id, keys, now=now)
        new = [item for item in parsed.items if item.key in unseen]
        first_poll = state.last_success is None
        alerts = decide_alerts(
            feed,
            new,
            await self._routing(),
            now=now,
            limit_items=feed.backfill if first_poll else None,
        )
        if self._stories is not None:
            alerts = with_stories(alerts, await self._stories.assign(feed, new, now))
        new_state = replace(
            after_success(state, now=now, result=result, new_items=len(new)),
            body_digest=seen.body,
            item_digests=seen.items or (),
            read_whole=read_whole,
        )
        queued = await self._store.commit_poll(
            feed.id, keys, alerts, new_state, now=now, keep_seconds=feed.dedup_days * 86400.0
        )
        if parsed.warning:
            log.warning("feed recovered: %s", parsed.warning, extra={"feed": feed.url})
        outcome: Outcome = "new" if new else "unchanged"
        return PollReport(
            feed, outcome, len(parsed.items), len(new), tuple(queued), warning=parsed.warning
        )

    async def _failed(
        self, feed: Feed, state: FeedState, error: str, retry_after: float | None, *, kind: str
    ) -> PollReport:
        new_state = after_failure(
            state, error, now=self._clock(), interval=feed.interval, retry_after=retry_after
        )
        await self._store.save_feed_state(feed.id, new_state)
        log.warning(
            "poll failed: %s (failure %d, next try in %.0fs)",
            error,
            new_state.failures,
            (new_state.retry_at or 0) - (new_state.last_poll or 0),
            extra={"feed": feed.url},
        )
        return PollReport(feed, "failed", error=error, error_kind=kind)
