"""A polling cycle over 10,000 feeds served on loopback (10 hosts, 1,000 feeds each, 20 items
a feed): 90% answer 304 Not Modified and 10% have one new item. Cycle wall time, the polling
process's CPU seconds (and what share of one core that is at a 5-minute interval) and its peak
memory, beside a first cycle where every feed is new (the baseline)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import resource
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from bot.fetch import Fetcher
from bot.match import parse_keyword_line
from bot.models import Feed, Topic
from bot.poll import Poller, PollReport
from bot.routes import Routing, build_routing
from bot.store.sqlite import SqliteStore
from tests.feeds import Entry, rss

FEEDS = 10_000
HOSTS = 10
ITEMS = 20
CHANGED = 0.10
INTERVAL = 300.0  # the interval the CPU share is reckoned against
WORKERS = 200  # polls in flight at once


def write_feed(directory: Path, index: int, newest: int) -> None:
    """Feed `index` showing its items newest-ITEMS+1 .. newest, newest first: one more item
    than the feed at newest-1 had, the oldest gone, as real feeds change."""
    entries = [
        Entry(
            f"Feed {index} story {n}: " + ("Lukashenko in Minsk" if n % 7 == 0 else "weather"),
            f"https://host{index % 97}.example/{index}/{n}",
            f"{index}-{n}",
            minutes=n,
        )
        for n in range(newest, newest - ITEMS, -1)
    ]
    (directory / f"f{index}.xml").write_bytes(rss(*entries, title=f"Feed {index}"))


def serve(directory: str, host: str, conn: Connection) -> None:
    from tests.fakes.feed_server import FeedServer

    with FeedServer(directory, host=host, keep_alive=True) as server:
        conn.send(server.port)
        while (said := conn.recv()) != "stop":  # until the bench says stop
            server.validators = said != "no validators"
            conn.send("done")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this process: the servers are others
    return usage.ru_utime + usage.ru_stime


async def cycle(poller: Poller, feeds: list[Feed]) -> tuple[float, float, list[PollReport]]:
    """Every feed once, as fast as WORKERS polls at a time go (the scheduler spreads them over
    the interval; this is the cycle squeezed together, its worst case for memory)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    queue = iter(feeds)
    reports: list[PollReport] = []

    async def worker() -> None:
        for feed in queue:
            reports.append(await poller.poll(feed, force=True))

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return time.perf_counter() - start, cpu_seconds() - cpu, reports


def row(label: str, seconds: float, cpu: float, reports: list[PollReport]) -> None:
    share = cpu / INTERVAL * 100
    print(
        f"{label:32}{seconds:>9.1f}{FEEDS / seconds:>9.0f}{cpu:>9.1f}{share:>8.1f}%"
        f"   {summary(reports)}"
    )


def summary(reports: list[PollReport]) -> str:
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.outcome] = counts.get(report.outcome, 0) + 1
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))


async def main() -> None:
    print(f"\n== polling: {FEEDS:,} feeds on {HOSTS} loopback hosts, {ITEMS} items each")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "feeds"
        directory.mkdir()
        for index in range(FEEDS):
            write_feed(directory, index, ITEMS)
        ctx = mp.get_context("spawn")
        servers = []
        for h in range(HOSTS):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=serve, args=(str(directory), f"127.0.0.{h + 1}", theirs))
            proc.start()
            servers.append((proc, mine, f"127.0.0.{h + 1}:{mine.recv()}"))

        def say(what: str) -> None:
            for _, conn, _ in servers:
                conn.send(what)
                conn.recv()

        try:
            await run_cycles(directory, [address for _, _, address in servers], Path(tmp), say)
        finally:
            for proc, conn, _ in servers:
                conn.send("stop")
                proc.join(timeout=10)


async def run_cycles(
    directory: Path, hosts: list[str], tmp: Path, say: Callable[[str], None]
) -> None:
    feeds = [
        Feed(url=f"http://{hosts[i % len(hosts)]}/f{i}.xml", name=f"f{i}", backfill=1)
        for i in range(FEEDS)
    ]
    topic = Topic("belarus", (parse_keyword_line("Lukashenko"), parse_keyword_line("Minsk")))
    routing = build_routing([topic], [])

    async def get_routing() -> Routing:
        return routing

    store = await SqliteStore.open(str(tmp / "bench.db"))
    start_mb = rss_mb()
    async with Fetcher(allow_private=True) as fetcher:
        poller = Poller(fetch=fetcher.fetch, store=store, routing=get_routing, clock=time.time)
        print(f"{'cycle':32}{'seconds':>9}{'feeds/s':>9}{'CPU s':>9}{'of 5 min':>9}   outcomes")
        row("first poll, all new (baseline)", *await cycle(poller, feeds))
        for index in range(0, FEEDS, round(1 / CHANGED)):
            write_feed(directory, index, ITEMS + 1)
        row("90% 304, 10% one new item", *await cycle(poller, feeds))
        row("all 304", *await cycle(poller, feeds))
        # servers without ETag or Last-Modified: every answer is a whole body, and what the
        # poller already read (bot.known) is skipped by its bytes
        say("no validators")
        for index in range(0, FEEDS, round(1 / CHANGED)):
            write_feed(directory, index, ITEMS + 2)
        row("no validators: 10% one new item", *await cycle(poller, feeds))
        row("no validators: no change", *await cycle(poller, feeds))
    await store.close()
    print(f"peak RSS of the polling process: {rss_mb():.0f} MB ({start_mb:.0f} MB before polling)")
    print("targets: a cycle within the 5-minute interval, < 15% of one core, < 250 MB RSS")
