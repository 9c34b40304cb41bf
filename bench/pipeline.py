"""Items/second of Dozor's parse + match + dedup over the corpus, beside feedparser alone on the
same bytes (the baseline every feedparser-based bot starts from), and of Dozor's parse alone
(`parse_feed`: the fast lxml road for well-formed feeds, feedparser for the rest, normalised)."""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from pathlib import Path

import feedparser

from bot.config import load_config
from bot.models import Feed
from bot.parse import _read_fast, _xml_headers, parse_feed
from bot.poll import with_stories
from bot.routes import build_routing, decide_alerts
from bot.store.sqlite import SqliteStore
from bot.stories import StoryClusters
from bot.xmlsafe import trim_leading_whitespace

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "feeds"
ROUNDS = 3
START = 1_764_000_000.0  # the bench's clock: a fresh store each round, so every round starts here


def corpus() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("*.xml"))]


def feedparser_alone(files: list[tuple[str, bytes]]) -> tuple[int, float]:
    items, start = 0, time.perf_counter()
    for _ in range(ROUNDS):
        for _, body in files:
            items += len(feedparser.parse(io.BytesIO(body)).entries)
    return items, time.perf_counter() - start


def parse_alone(files: list[tuple[str, bytes]]) -> tuple[int, float]:
    """`parse_feed` over the files: bytes to normalised Items, nothing else."""
    items, start = 0, time.perf_counter()
    for _ in range(ROUNDS):
        for name, body in files:
            items += len(parse_feed(body, url=f"https://bench.example/{name}").items)
    return items, time.perf_counter() - start


def takes_fast_road(body: bytes) -> bool:
    """Whether `parse_feed` reads `body` on the fast road (a peek at its internals, so that the
    bench can say where the time goes)."""
    data, _ = trim_leading_whitespace(body)
    return _read_fast(data, _xml_headers(data, None)) is not None


async def dozor_pipeline(
    files: list[tuple[str, bytes]], *, stories: bool = False
) -> tuple[int, int, float]:
    """parse -> match -> (story clusters) -> dedup (unseen + atomic commit) on the embedded
    store, every round against a fresh store so that every item is new work."""
    routing = build_routing(load_config(REPO / "feeds.yaml").topics, ())
    items = alerts = 0
    elapsed = 0.0
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            store = await SqliteStore.open(str(Path(tmp) / "bench.db"))
            clusters = StoryClusters(store) if stories else None
            start = time.perf_counter()
            for number, (name, body) in enumerate(files):
                now = START + number * 10.0  # polls some seconds apart, as a service makes them
                feed = Feed(url=f"https://bench.example/{name}", name=name)
                parsed = parse_feed(body, url=feed.url)
                keys = [item.key for item in parsed.items]
                new = await store.unseen(feed.id, keys, now=now)
                fresh = [item for item in parsed.items if item.key in new]
                found = decide_alerts(feed, fresh, routing, now=now)
                if clusters is not None:
                    found = with_stories(found, await clusters.assign(feed, fresh, now))
                state = await store.feed_state(feed.id)
                await store.commit_poll(feed.id, keys, found, state, now=now, keep_seconds=86400)
                items += len(parsed.items)
                alerts += len(found)
            elapsed += time.perf_counter() - start
            await store.close()
    return items, alerts, elapsed


def main() -> None:
    files = corpus()
    size = sum(len(body) for _, body in files)
    print(f"\n== pipeline: {len(files)} corpus feeds, {size / 1e6:.1f} MB, {ROUNDS} rounds")
    fp_items, fp_time = feedparser_alone(files)
    parse_items, parse_time = parse_alone(files)
    fast_files = [(name, body) for name, body in files if takes_fast_road(body)]
    slow_files = [(name, body) for name, body in files if not takes_fast_road(body)]
    fast_items, fast_time = parse_alone(fast_files)
    slow_items, slow_time = parse_alone(slow_files)
    items, alerts, dz_time = asyncio.run(dozor_pipeline(files))
    st_items, _, st_time = asyncio.run(dozor_pipeline(files, stories=True))
    fp_rate = fp_items / fp_time

    def row(label: str, count: int, seconds: float) -> None:
        rate = count / seconds
        print(f"{label:34}{count:>10}{seconds:>10.2f}{rate:>10.0f}{rate / fp_rate:>9.1f}x")

    print(f"{'':34}{'items':>10}{'seconds':>10}{'items/s':>10}{'ratio':>10}")
    row("feedparser alone (baseline)", fp_items, fp_time)
    row("fast parse alone (parse_feed)", parse_items, parse_time)
    row(f"  {len(fast_files)} files on the fast road", fast_items, fast_time)
    row(f"  {len(slow_files)} files left to feedparser", slow_items, slow_time)
    row("dozor parse+match+dedup", items, dz_time)
    row("  + story clusters", st_items, st_time)
    print(
        f"ratio dozor/feedparser: {items / dz_time / fp_rate:.2f}x  "
        f"({alerts} alerts for the belarus topic)"
    )
