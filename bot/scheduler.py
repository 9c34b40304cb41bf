"""APScheduler 3 jobs: one poll job per feed (interval with jitter, never overlapping itself,
misfires coalesced) and an upkeep job. Stopping waits for the polls in flight, so nothing a poll
fetched is half-written."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.models import Feed
from bot.poll import Poller, PollReport
from bot.store.base import Store, StoreError

log = logging.getLogger("dozor.scheduler")

UPKEEP_EVERY = 3600.0
DIGEST_CHECK_EVERY = 20.0  # digests go out within this many seconds of their time
FIRST_POLL_SPREAD = 10.0
STARTUP_RATE = 50.0  # first polls a second when many feeds start together


def jitter_for(interval: float) -> float:
    """Spread polls of feeds with the same interval: up to a tenth of it, at most two minutes."""
    return min(interval * 0.1, 120.0)


class PollScheduler:
    def __init__(
        self,
        *,
        poller: Poller,
        store: Store,
        instance: str,
        clock: Callable[[], float],
        on_report: Callable[[PollReport], None],
        digests: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._poller = poller
        self._store = store
        self._instance = instance
        self._clock = clock
        self._on_report = on_report
        self._digests = digests
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._feeds: dict[str, Feed] = {}
        self._stopping = False

    def start(self, feeds: Sequence[Feed]) -> None:
        """Schedule every feed and the upkeep job, and start the scheduler."""
        self._scheduler.add_job(
            self._upkeep,
            IntervalTrigger(seconds=UPKEEP_EVERY, jitter=60),
            id="upkeep",
            max_instances=1,
            coalesce=True,
        )
        if self._digests is not None:
            self._scheduler.add_job(
                self._run_digests,
                IntervalTrigger(seconds=DIGEST_CHECK_EVERY),
                id="digests",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC) + timedelta(seconds=1),
            )
        self._scheduler.start()
        self.sync(feeds)

    def sync(self, feeds: Sequence[Feed]) -> None:
        """Make the jobs match `feeds`: new feeds get a job (first poll within a few seconds),
        removed or changed ones lose theirs. Unchanged jobs keep their timing."""
        wanted = {feed.id: feed for feed in feeds}
        for feed_id, feed in list(self._feeds.items()):
            if wanted.get(feed_id) != feed:
                self._scheduler.remove_job(f"poll:{feed_id}")
                del self._feeds[feed_id]
        now = datetime.now(UTC)
        new = [feed_id for feed_id in wanted if feed_id not in self._feeds]
        # A feed's first poll sets its phase for good (each next poll is the last one plus its
        # interval, plus jitter): many feeds at once are spread over a window that grows with
        # their number, so 10,000 feeds start at STARTUP_RATE a second, not all in a burst.
        window = max(FIRST_POLL_SPREAD, len(new) / STARTUP_RATE)
        for feed_id in new:
            feed = wanted[feed_id]
            spread = random.uniform(0, min(window, feed.interval))  # noqa: S311
            self._scheduler.add_job(
                self._poll_job,
                IntervalTrigger(seconds=feed.interval, jitter=jitter_for(feed.interval)),
                args=[feed],
                id=f"poll:{feed_id}",
                name=f"poll {feed.name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(int(feed.interval), 1),
                next_run_time=now + timedelta(seconds=spread),
            )
            self._feeds[feed_id] = feed

    async def stop(self, grace: float = 30.0) -> None:
        """Stop scheduling and wait (bounded) for polls in flight to finish their commit."""
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.pause()  # no new polls; shutdown() would cancel the running ones
        if self._in_flight:
            log.info("waiting for %d polls in flight", len(self._in_flight))
            _, pending = await asyncio.wait(self._in_flight, timeout=grace)
            for task in pending:
                task.cancel()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def _poll_job(self, feed: Feed) -> None:
        if self._stopping:
            return
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            await self._poll_locked(feed)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # cut short by shutdown: nothing was committed, the next start polls it again
            log.info("poll cut short by shutdown", extra={"feed": feed.url})
        finally:
            self._in_flight.discard(task)

    async def _poll_locked(self, feed: Feed) -> None:
        """Poll if no other replica polled this feed within its interval (a lock with expiry)."""
        lock = f"poll:{feed.id}"
        try:
            if not await self._store.try_lock(
                lock, self._instance, ttl=feed.interval * 0.9, now=self._clock()
            ):
                return
        except StoreError as exc:  # the store is down: this poll waits for the next turn
            log.warning("poll skipped: %s", exc, extra={"feed": feed.url})
            return
        try:
            report = await self._poller.poll(feed)
        except Exception:
            log.exception("poll crashed", extra={"feed": feed.url})
            with contextlib.suppress(StoreError):  # else the lock's expiry frees it
                await self._store.unlock(lock, self._instance)
            return
        self._on_report(report)

    async def _run_digests(self) -> None:
        if self._digests is None or self._stopping:
            return
        try:
            await self._digests()
        except Exception:
            log.exception("digest round failed; retrying")

    async def _upkeep(self) -> None:
        try:
            forgotten = await self._store.purge(self._clock())
            log.info("upkeep: forgot %d expired keys", forgotten)
        except Exception:
            log.exception("upkeep failed")
