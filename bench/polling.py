"""A polling cycle over 2,000 feeds served on loopback (10 hosts, 200 feeds each), 90% of which
answer 304 Not Modified: cycle time and the polling process's peak memory, beside a first
cycle where every feed is new (the baseline)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from bot.fetch import Fetcher
from bot.match import parse_keyword_line
from bot.models import Feed, Topic
from bot.poll import Poller, PollReport
from bot.routes import Routing, build_routing
from bot.store.sqlite import SqliteStore
from tests.feeds import Entry, rss

FEEDS = 2000
HOSTS = 10
ITEMS = 20
CHANGED = 0.10


def write_feed(directory: Path, index: int, generation: int) -> None:
    entries = [
        Entry(
            f"Feed {index} story {generation}-{n}: "
            + ("Lukashenko in Minsk" if n == 0 else "weather"),
            f"https://host{index % 97}.example/{index}/{generation}/{n}",
            f"{index}-{generation}-{n}",
            minutes=n,
        )
        for n in range(ITEMS)
    ]
    (directory / f"f{index}.xml").write_bytes(rss(*entries, title=f"Feed {index}"))


def serve(directory: str, host: str, conn: Connection) -> None:
    from tests.fakes.feed_server import FeedServer

    with FeedServer(directory, host=host) as server:
        conn.send(server.port)
        conn.recv()  # until the bench says stop


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def cycle(poller: Poller, feeds: list[Feed]) -> tuple[float, list[PollReport]]:
    start = time.perf_counter()
    reports = await asyncio.gather(*(poller.poll(feed, force=True) for feed in feeds))
    return time.perf_counter() - start, list(reports)


def row(label: str, seconds: float, reports: list[PollReport]) -> None:
    print(f"{label:34}{seconds:>10.2f}{FEEDS / seconds:>10.0f}   {summary(reports)}")


def summary(reports: list[PollReport]) -> str:
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.outcome] = counts.get(report.outcome, 0) + 1
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))


async def main() -> None:
    print(f"\n== polling: {FEEDS} feeds on {HOSTS} loopback hosts, {ITEMS} items each")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "feeds"
        directory.mkdir()
        for index in range(FEEDS):
            write_feed(directory, index, 0)
        ctx = mp.get_context("spawn")
        servers = []
        for h in range(HOSTS):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=serve, args=(str(directory), f"127.0.0.{h + 1}", theirs))
            proc.start()
            servers.append((proc, mine, f"127.0.0.{h + 1}:{mine.recv()}"))
        try:
            await run_cycles(directory, [address for _, _, address in servers], Path(tmp))
        finally:
            for proc, conn, _ in servers:
                conn.send("stop")
                proc.join(timeout=10)


async def run_cycles(directory: Path, hosts: list[str], tmp: Path) -> None:
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
        print(f"{'cycle':34}{'seconds':>10}{'feeds/s':>10}   outcomes")
        seconds, reports = await cycle(poller, feeds)
        row("first poll, all new (baseline)", seconds, reports)
        for index in range(0, FEEDS, round(1 / CHANGED)):
            write_feed(directory, index, 1)
        seconds, reports = await cycle(poller, feeds)
        row("90% 304, 10% one new story", seconds, reports)
        seconds, reports = await cycle(poller, feeds)
        row("all 304", seconds, reports)
    await store.close()
    print(f"peak RSS of the polling process: {rss_mb():.0f} MB ({start_mb:.0f} MB before polling)")
