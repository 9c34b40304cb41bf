"""What scheduling 10,000 feeds costs when they are idle and when they fire: `PollScheduler`
(one APScheduler job per feed, the store's poll lock taken for every poll) with a poller that
does no fetching, so the figures are the scheduler's own. Memory held by the jobs (RSS before
and after scheduling), then the scheduler's CPU per poll it starts, at an interval squeezed to
20 seconds so that a few seconds show thousands of polls; the baseline is the same poller
driven by a plain loop, without APScheduler or locks."""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
from pathlib import Path

from bot.models import Feed
from bot.poll import PollReport
from bot.scheduler import PollScheduler
from bot.store.sqlite import SqliteStore

FEEDS = 10_000
INTERVAL = 20.0  # squeezed: a real 5-minute interval fires 15 times less often
WATCH = 8.0  # seconds of firing watched (after the first polls have set their phases)
REAL_INTERVAL = 300.0


class CountingPoller:
    """Counts polls and answers at once: what is left is the scheduler's work."""

    def __init__(self) -> None:
        self.polls = 0
        self.all_polled = asyncio.Event()  # every feed has had its first poll

    async def poll(self, feed: Feed, *, force: bool = False) -> PollReport:
        self.polls += 1
        if self.polls == FEEDS:
            self.all_polled.set()
        return PollReport(feed, "not_modified")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def baseline(feeds: list[Feed]) -> float:
    """CPU seconds per poll when a loop calls the poller directly, nothing scheduled."""
    poller = CountingPoller()
    start = cpu_seconds()
    for feed in feeds:
        await poller.poll(feed)
    return (cpu_seconds() - start) / len(feeds)


async def scheduled(feeds: list[Feed], tmp: Path) -> None:
    store = await SqliteStore.open(str(tmp / "bench.db"))
    poller = CountingPoller()
    scheduler = PollScheduler(
        poller=poller,  # type: ignore[arg-type]  # the poller's one method is all it calls
        store=store,
        instance="bench",
        clock=time.time,
        on_report=lambda report: None,
    )
    before = rss_mb()
    scheduler.start(feeds)
    held = rss_mb() - before
    print(
        f"jobs for {FEEDS:,} feeds: RSS {before:.0f} MB before, +{held:.1f} MB after "
        f"({held * 2**20 / FEEDS:,.0f} bytes a feed)"
    )
    await poller.all_polled.wait()  # the first polls, spread over the first interval
    polls, cpu, wall = poller.polls, cpu_seconds(), time.perf_counter()
    await asyncio.sleep(WATCH)
    polls, cpu = poller.polls - polls, cpu_seconds() - cpu
    wall = time.perf_counter() - wall
    await scheduler.stop()
    await store.close()
    per_poll = cpu / max(polls, 1)
    print(
        f"steady firing: {polls:,} polls in {wall:.1f} s ({polls / wall:,.0f}/s), "
        f"{per_poll * 1e6:,.0f} µs CPU a poll (scheduler + poll lock)"
    )
    share = per_poll * FEEDS / REAL_INTERVAL * 100
    print(f"  at a 5-minute interval that is {share:.2f}% of one core for {FEEDS:,} feeds")
    print(f"  RSS after firing: {rss_mb():.0f} MB")


async def main() -> None:
    print(f"\n== scheduling: {FEEDS:,} feeds, one APScheduler job each")
    feeds = [
        Feed(url=f"http://127.0.0.1:9/f{i}.xml", name=f"f{i}", interval=INTERVAL)
        for i in range(FEEDS)
    ]
    per_call = await baseline(feeds)
    print(f"baseline, the poller called in a loop: {per_call * 1e6:.1f} µs CPU a poll")
    with tempfile.TemporaryDirectory() as tmp:
        await scheduled(feeds, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
