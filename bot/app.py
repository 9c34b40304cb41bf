"""The composition root: builds store, fetcher, poller, dispatcher and channels from Settings.

The only module of `bot` that imports `handlers`. Each command of the CLI is one function here:
`run_service` (dozor run), `run_once` (dozor once) and `run_scan` (dozor scan).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from bot.config import Config
from bot.dispatch import Channel, Dispatcher, DispatchReport
from bot.fetch import Fetcher, FetchError
from bot.models import Feed, FeedState, Item, iso_utc
from bot.parse import parse_feed_async
from bot.poll import Poller, PollReport
from bot.routes import Routing, build_routing, decide_alerts, merge_subscriptions, merge_topics
from bot.scheduler import PollScheduler
from bot.settings import Settings
from bot.store import Store, open_store
from bot.store.redis import redact
from handlers.console import ConsoleChannel

log = logging.getLogger("dozor.app")

Progress = Callable[[Feed], None]


class RoutingCache:
    """The compiled routing, reloaded from the store at most every `ttl` seconds and
    recompiled only when topics or subscriptions changed."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], float], ttl: float = 10.0):
        self._config = config
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._loaded_at = float("-inf")
        self._key: object = None
        self._routing: Routing | None = None

    async def get(self) -> Routing:
        if self._routing is not None and self._clock() - self._loaded_at < self._ttl:
            return self._routing
        topics = merge_topics(self._config.topics, await self._store.topics())
        subs = merge_subscriptions(self._config.subscriptions, await self._store.subscriptions())
        key = (tuple(topics), tuple(subs))
        if self._routing is None or key != self._key:
            self._routing = build_routing(topics, subs)
            self._key = key
        self._loaded_at = self._clock()
        return self._routing


@dataclass
class Services:
    settings: Settings
    config: Config
    store: Store
    fetcher: Fetcher
    routing: RoutingCache
    poller: Poller
    dispatcher: Dispatcher
    channels: dict[str, Channel]

    async def deactivate(self, to: str, reason: str) -> None:
        """A destination is gone (blocked, deleted): its subscriptions stop, and say why in logs."""
        subs = merge_subscriptions(self.config.subscriptions, await self.store.subscriptions())
        for sub in subs:
            if sub.to == to and sub.active:
                await self.store.save_subscription(replace(sub, active=False))
        log.warning("deactivated %s: %s", to, reason, extra={"to": to})


def make_fetcher(settings: Settings) -> Fetcher:
    return Fetcher(allow_private=settings.allow_private_networks)


@asynccontextmanager
async def services(settings: Settings, config: Config, *, as_json: bool) -> AsyncIterator[Services]:
    """Everything `run` and `once` need, opened in order and closed in reverse."""
    store = await open_store(settings.redis_url, str(settings.db_path))
    fetcher = make_fetcher(settings)
    try:
        clock = time.time
        routing = RoutingCache(config, store, clock)
        channels: dict[str, Channel] = {"console": ConsoleChannel(as_json=as_json)}
        poller = Poller(fetch=fetcher.fetch, store=store, routing=routing.get, clock=clock)
        holder: list[Services] = []

        async def on_gone(to: str, reason: str) -> None:
            await holder[0].deactivate(to, reason)

        dispatcher = Dispatcher(store, channels, clock=clock, on_gone=on_gone)
        svc = Services(settings, config, store, fetcher, routing, poller, dispatcher, channels)
        holder.append(svc)
        yield svc
    finally:
        await fetcher.aclose()
        await store.close()


async def poll_all(
    svc: Services, feeds: Sequence[Feed], progress: Progress | None = None
) -> list[PollReport]:
    """Poll every feed once, concurrently (the fetcher bounds connections overall and per host)."""

    async def one(feed: Feed) -> PollReport:
        report = await svc.poller.poll(feed, force=True)
        if progress:
            progress(feed)
        return report

    return list(await asyncio.gather(*(one(feed) for feed in feeds)))


@dataclass(frozen=True, slots=True)
class OnceResult:
    reports: list[PollReport]
    delivery: DispatchReport


@dataclass(frozen=True, slots=True)
class Status:
    feeds: list[tuple[Feed, FeedState]]
    outbox: int


async def read_status(settings: Settings, config: Config) -> Status:
    """Each feed's health as the store remembers it, and the outbox depth; changes nothing."""
    store = await open_store(settings.redis_url, str(settings.db_path))
    try:
        states = await store.feed_states([feed.id for feed in config.feeds])
        return Status(
            [(feed, states.get(feed.id, FeedState())) for feed in config.feeds],
            await store.outbox_depth(),
        )
    finally:
        await store.close()


async def run_once(
    settings: Settings, config: Config, *, as_json: bool, progress: Progress | None = None
) -> OnceResult:
    """One cycle of `run`: poll every feed, then deliver everything due."""
    async with services(settings, config, as_json=as_json) as svc:
        reports = await poll_all(svc, config.feeds, progress)
        delivery = await svc.dispatcher.drain()
        return OnceResult(reports, delivery)


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
    async with make_fetcher(settings) as fetcher:

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


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


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


async def run_service(settings: Settings, config: Config, *, as_json: bool) -> None:
    """`dozor run`: scheduler and dispatcher until SIGINT/SIGTERM; in-flight work finishes."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with services(settings, config, as_json=as_json) as svc:
        wake = asyncio.Event()
        instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

        def on_report(report: PollReport) -> None:
            if report.alerts:
                wake.set()

        scheduler = PollScheduler(
            poller=svc.poller,
            store=svc.store,
            instance=instance,
            clock=time.time,
            on_report=on_report,
        )
        scheduler.start(config.feeds)
        log.info(
            "watching %s for %s (%s); %s",
            plural(len(config.feeds), "feed"),
            plural(len(config.topics), "topic"),
            ", ".join(t.name for t in config.topics),
            f"Redis store at {redact(settings.redis_url)}"
            if settings.redis_url
            else f"SQLite store at {settings.db_path}",
        )
        dispatcher_task = asyncio.create_task(svc.dispatcher.run(stop, wake))
        await stop.wait()
        log.info("stopping: finishing polls and deliveries in flight")
        await scheduler.stop()
        await dispatcher_task
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
