"""Items/second of Dozor's parse + match + dedup over the corpus, beside feedparser alone on the
same bytes (the baseline every feedparser-based bot starts from)."""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from pathlib import Path

import feedparser

from bot.config import load_config
from bot.models import Feed
from bot.parse import parse_feed
from bot.poll import with_stories
from bot.routes import build_routing, decide_alerts
from bot.store.sqlite import SqliteStore
from bot.stories import StoryClusters

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "feeds"
ROUNDS = 3


def corpus() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("*.xml"))]


def feedparser_alone(files: list[tuple[str, bytes]]) -> tuple[int, float]:
    items, start = 0, time.perf_counter()
    for _ in range(ROUNDS):
        for _, body in files:
            items += len(feedparser.parse(io.BytesIO(body)).entries)
    return items, time.perf_counter() - start


async def dozor_pipeline(
    files: list[tuple[str, bytes]], *, stories: bool = False
) -> tuple[int, int, float]:
    """parse -> match -> (story clusters) -> dedup (unseen + atomic commit) on the embedded
    store, every round against a fresh store so that every item is new work."""
    routing = build_routing(load_config(REPO / "feeds.yaml").topics, ())
    items = alerts = 0
    elapsed = 0.0
    for round_ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            store = await SqliteStore.open(str(Path(tmp) / "bench.db"))
            clusters = StoryClusters(store) if stories else None
            start = time.perf_counter()
            for name, body in files:
                feed = Feed(url=f"https://bench.example/{name}", name=name)
                parsed = parse_feed(body, url=feed.url)
                keys = [item.key for item in parsed.items]
                new = await store.unseen(feed.id, keys, now=round_)
                fresh = [item for item in parsed.items if item.key in new]
                found = decide_alerts(feed, fresh, routing, now=0)
                if clusters is not None:
                    found = with_stories(found, await clusters.assign(feed, fresh, float(round_)))
                state = await store.feed_state(feed.id)
                await store.commit_poll(feed.id, keys, found, state, now=0, keep_seconds=86400)
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
    items, alerts, dz_time = asyncio.run(dozor_pipeline(files))
    st_items, _, st_time = asyncio.run(dozor_pipeline(files, stories=True))
    fp_rate, dz_rate = fp_items / fp_time, items / dz_time
    print(f"{'':34}{'items':>10}{'seconds':>10}{'items/s':>10}")
    print(f"{'feedparser alone (baseline)':34}{fp_items:>10}{fp_time:>10.2f}{fp_rate:>10.0f}")
    print(f"{'dozor parse+match+dedup':34}{items:>10}{dz_time:>10.2f}{dz_rate:>10.0f}")
    st_rate = st_items / st_time
    print(f"{'  + story clusters':34}{st_items:>10}{st_time:>10.2f}{st_rate:>10.0f}")
    print(
        f"ratio dozor/feedparser: {dz_rate / fp_rate:.2f}x  ({alerts} alerts for the belarus topic)"
    )
