"""`dozor scan`: fetch and parse every feed once and print what matches; touches no store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.config import Config
from bot.fetch import Fetcher, FetchError
from bot.models import Feed, Item, iso_utc
from bot.parse import parse_feed_async
from bot.routes import Routing, build_routing, decide_alerts
from bot.settings import Settings

Progress = Callable[[Feed], None]


@dataclass(frozen=True, slots=True)
class ScanFailure:
    feed: Feed
    error: str


async def run_scan(
    settings: Settings,
    config: Config,
    *,
    show_all: bool,
    emit: Callable[[dict[str, object]], None],
    progress: Progress | None = None,
) -> list[ScanFailure]:
    """Fetch and parse every feed once, print what matches (or everything); touches no store.

    Feeds are fetched concurrently; lines come out in the config's feed order, each feed's as
    soon as it and the feeds before it are done."""
    routing = build_routing(list(config.topics), list(config.subscriptions))
    failures: list[ScanFailure] = []
    async with Fetcher(allow_private=settings.allow_private_networks) as fetcher:

        async def one(feed: Feed) -> list[dict[str, object]]:
            try:
                result = await fetcher.fetch(feed.url)
            except FetchError as exc:
                failures.append(ScanFailure(feed, str(exc)))
                return []
            finally:
                if progress:
                    progress(feed)
            parsed = await parse_feed_async(
                result.body, url=result.url, content_type=result.content_type
            )
            if not parsed.items and parsed.warning:
                failures.append(ScanFailure(feed, parsed.warning))
            return scan_lines(feed, parsed.items, routing, show_all=show_all)

        tasks = [asyncio.create_task(one(feed)) for feed in config.feeds]
        for task in tasks:
            for line in await task:
                emit(line)
    return failures


def scan_lines(
    feed: Feed, items: Sequence[Item], routing: Routing, *, show_all: bool
) -> list[dict[str, object]]:
    """One line per item and (topic, destination) it matched; unmatched items with --all."""
    lines: list[dict[str, object]] = []
    for item in items:
        printed: set[tuple[str, str]] = set()
        for alert in decide_alerts(feed, [item], routing, now=time.time()):
            if (alert.topic, alert.to) not in printed:  # "both" mode: one line, not two
                printed.add((alert.topic, alert.to))
                lines.append(alert.contract())
        if not printed and show_all:
            lines.append(unmatched_line(feed, item))
    return lines


def unmatched_line(feed: Feed, item: Item) -> dict[str, object]:
    """`scan --all`'s line for an item no topic matched: the contract's keys, topic and to null."""
    return {
        "topic": None,
        "to": None,
        "feed": feed.name,
        "id": item.key,
        "url": item.url,
        "title": item.title,
        "summary": item.summary,
        "published": iso_utc(item.published),
        "matched": [],
    }
