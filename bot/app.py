"""The composition root: builds store, fetcher, poller, dispatcher, channels and front ends
from Settings, and runs them on one event loop.

The only module of `bot` that imports `handlers`. `run_service` is `dozor run`, `run_once` is
`dozor once`; `dozor scan` needs none of this and lives in `bot.scan`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from telegram.error import InvalidToken, NetworkError

from bot.cluster import ClusterSettings
from bot.commands import Commands
from bot.config import Config
from bot.dispatch import Channel, Dispatcher, DispatchReport
from bot.fetch import Fetcher, validate_feed_url
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.metrics import Metrics
from bot.models import Alert, Feed, FeedState
from bot.parse import ParsedFeed, parse_feed_async
from bot.poll import Poller, PollReport
from bot.ratelimit import Pacer
from bot.render import plural
from bot.routes import Routing, build_routing, merge_subscriptions, merge_topics
from bot.scheduler import PollScheduler
from bot.settings import Settings
from bot.store import Store, open_store
from bot.store.redis import RedisStore, redact
from bot.stories import StoryClusters
from bot.summaries import Summaries
from handlers.console import ConsoleChannel
from handlers.slack import EVENTS_PATH, SlackChannel, SlackFrontEnd, build_slack_app
from handlers.telegram import TelegramChannel, TelegramFrontEnd, build_application, webhook_secret
from handlers.web import HttpServer

log = logging.getLogger("dozor.app")

Progress = Callable[[Feed], None]
FRONT_END_RETRY = 60.0
ROUTING_VERSION = "routing:version"
UPDATES_LEASE = "telegram:updates"  # held by the one replica that long-polls getUpdates
LEASE_TTL = 15.0
# SIGTERM to exit: polls and sends in flight get this long (under Docker's 10 s before SIGKILL)
STOP_GRACE = 8.0
LEASE_RENEW = 5.0


class RoutingCache:
    """The compiled routing, reloaded from the store at most every `ttl` seconds and
    recompiled only when topics or subscriptions changed. A recompile runs in a worker thread,
    one at a time: at a thousand chats it takes a tenth of a second or more, and sends, commands
    and fetches go on meanwhile (polls that need the routing wait for it)."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], float], ttl: float = 10.0):
        self._config = config
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._loaded_at = float("-inf")
        self._key: object = None
        self._routing: Routing | None = None
        self._seen_version: str | None = None
        self._compiling = asyncio.Lock()

    async def _version(self) -> str | None:
        """Bumped by any replica whose chats changed subscriptions: one small read per poll
        so that a change made through another replica counts at once, not after `ttl`."""
        try:
            return await self._store.get_record(ROUTING_VERSION, now=self._clock())
        except Exception:
            return self._seen_version

    async def bump(self) -> None:
        """Subscriptions changed: this process reloads at once, the others at their next poll
        (if the store cannot be written now, they catch up within `ttl`)."""
        self.invalidate()
        try:
            await self._store.put_record(ROUTING_VERSION, uuid.uuid4().hex)
        except Exception:
            log.exception("could not tell other replicas that subscriptions changed")

    def invalidate(self) -> None:
        """A chat changed its subscriptions: reload on the next poll, not in `ttl` seconds."""
        self._loaded_at = float("-inf")

    async def get(self) -> Routing:
        version = await self._version()
        fresh = self._clock() - self._loaded_at < self._ttl
        if self._routing is not None and fresh and version == self._seen_version:
            return self._routing
        self._seen_version = version
        topics = merge_topics(self._config.topics, await self._store.topics())
        subs = merge_subscriptions(self._config.subscriptions, await self._store.subscriptions())
        key = (tuple(topics), tuple(subs))
        async with self._compiling:
            if self._routing is None or key != self._key:
                self._routing = await asyncio.to_thread(build_routing, topics, subs)
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
    commands: Commands
    telegram: TelegramFrontEnd | None = None
    slack: SlackFrontEnd | None = None
    summaries: Summaries | None = None
    metrics: Metrics = field(default_factory=Metrics)
    last_success: float | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # the outbox has new work
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    instance: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    async def feeds(self) -> list[Feed]:
        """feeds.yaml's feeds and every chat's own."""
        return [*self.config.feeds, *await self.store.feeds()]

    async def deactivate(self, to: str, reason: str) -> None:
        """A destination is gone (blocked, deleted): its subscriptions stop, and say why in logs."""
        subs = merge_subscriptions(self.config.subscriptions, await self.store.subscriptions())
        for sub in subs:
            if sub.to == to and sub.active:
                await self.store.save_subscription(replace(sub, active=False))
        await self.routing.bump()
        log.warning("deactivated %s: %s", to, reason, extra={"to": to})

    async def move(self, old: str, new: str) -> int:
        """A Telegram group became a supergroup: everything of `old` continues under `new`."""
        moved = await self.store.move_destination(old, new)
        await self.routing.bump()
        return moved

    def on_change(self) -> None:
        self.routing.invalidate()
        self.changed.set()
        task = asyncio.get_running_loop().create_task(self.routing.bump())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def metrics_page(self) -> tuple[bytes, str]:
        """/metrics: Prometheus text; the outbox depth is read now (0 if the store is down)."""
        try:
            depth = await self.store.outbox_depth()
        except Exception:  # a scrape must answer; /healthz says what is wrong
            depth = 0
        return self.metrics.render(depth), METRICS_CONTENT_TYPE

    async def health(self) -> dict[str, object]:
        """/healthz: alive, store reachable, age of the last successful poll."""
        report: dict[str, object] = {"ok": True, "store": "ok"}
        try:
            await self.store.ping()
        except Exception as exc:  # any failure means unhealthy, and says why
            report.update(ok=False, store=str(exc))
        age = None if self.last_success is None else round(time.time() - self.last_success, 1)
        report["last_successful_poll_age"] = age
        return report


def shared_pacer(store: Store, observe: Callable[[float], None]) -> Pacer:
    """Send budgets in Redis when the store is Redis (replicas together keep Telegram's and
    Slack's limits), else in this process (the embedded store means one process)."""
    if isinstance(store, RedisStore):
        return Pacer(clock=time.time, observe=observe, take=store.take_budget)
    return Pacer(observe=observe)


def make_fetcher(settings: Settings) -> Fetcher:
    return Fetcher(
        allow_private=settings.allow_private_networks,
        total_timeout=settings.fetch_timeout,
        read_timeout=min(20.0, settings.fetch_timeout),
        connect_timeout=min(10.0, settings.fetch_timeout),
    )


@asynccontextmanager
async def services(settings: Settings, config: Config, *, as_json: bool) -> AsyncIterator[Services]:
    """Everything `run` and `once` need, opened in order and closed in reverse. Telegram is
    wired when its token is set; if Telegram cannot be reached its alerts wait in the outbox."""
    store = await open_store(settings.redis_url, str(settings.db_path))
    fetcher = make_fetcher(settings)
    telegram: TelegramFrontEnd | None = None
    slack: SlackFrontEnd | None = None
    try:
        clock = time.time
        routing = RoutingCache(config, store, clock)
        channels: dict[str, Channel] = {"console": ConsoleChannel(as_json=as_json)}
        stories = StoryClusters(
            store,
            ClusterSettings(max_distance=settings.story_distance, window=settings.story_window),
        )
        poller = Poller(
            fetch=fetcher.fetch, store=store, routing=routing.get, clock=clock, stories=stories
        )
        holder: list[Services] = []

        async def on_gone(to: str, reason: str) -> None:
            await holder[0].deactivate(to, reason)

        async def load_feed(url: str) -> ParsedFeed:
            await validate_feed_url(url, allow_private=settings.allow_private_networks)
            result = await fetcher.fetch(url)
            return await parse_feed_async(
                result.body, url=result.url, content_type=result.content_type
            )

        def on_change() -> None:
            holder[0].on_change()

        commands = Commands(
            store=store,
            config=config,
            admins=settings.admins,
            load_feed=load_feed,
            clock=clock,
            on_change=on_change,
        )

        async def on_sent(alert: Alert) -> None:
            if holder[0].summaries is not None:
                await holder[0].summaries.note_sent(alert)

        metrics = Metrics()
        dispatcher = Dispatcher(
            store,
            channels,
            clock=clock,
            on_gone=on_gone,
            chat=store.chat,
            on_sent=on_sent,
            metrics=metrics,
            lease=settings.outbox_lease,
        )
        svc = Services(
            settings,
            config,
            store,
            fetcher,
            routing,
            poller,
            dispatcher,
            channels,
            commands,
            metrics=metrics,
        )
        holder.append(svc)
        svc.summaries = Summaries(
            store=store, config=config, clock=clock, instance=svc.instance, wake=svc.wake.set
        )
        commands.summaries = svc.summaries
        if settings.telegram_token:
            telegram = TelegramFrontEnd(
                build_application(settings.telegram_token, settings.telegram_api_url), commands
            )
            svc.telegram = telegram
            channels["telegram"] = TelegramChannel(
                telegram.application.bot,
                chat_settings=store.chat,
                move=svc.move,
                pacer=shared_pacer(store, lambda waited: metrics.waited("telegram", waited)),
            )
        if settings.slack_bot_token:
            app = build_slack_app(
                token=settings.slack_bot_token,
                signing_secret=settings.slack_signing_secret,
                api_url=settings.slack_api_url,
            )
            slack = SlackFrontEnd(
                app,
                commands,
                chat_settings=store.chat,
                app_token=settings.slack_app_token,
                api_url=settings.slack_api_url,
            )
            svc.slack = slack
            channels["slack"] = SlackChannel(
                app.client,
                chat_settings=store.chat,
                pacer=shared_pacer(store, lambda waited: metrics.waited("slack", waited)),
            )
        yield svc
    finally:
        if slack is not None:
            await slack.stop()
        if telegram is not None:
            await telegram.stop()
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
        if svc.telegram is not None and not await connect_telegram(svc.telegram):
            del svc.channels["telegram"]  # its alerts wait in the outbox for the next run
        reports = await poll_all(svc, await svc.feeds(), progress)
        if svc.summaries is not None:
            await svc.summaries.run_due()  # digests whose time has come go out in this cycle
        delivery = await svc.dispatcher.drain()
        return OnceResult(reports, delivery)


async def connect_telegram(front: TelegramFrontEnd) -> bool:
    """Initialise the bot (getMe): False, with a clear log line, if Telegram says no."""
    try:
        await front.application.initialize()
    except InvalidToken:
        log.error("TELEGRAM_BOT_TOKEN was refused by Telegram: check the token (alerts wait)")
        return False
    except NetworkError as exc:
        log.error("Telegram cannot be reached (%s); its alerts wait in the outbox", exc)
        return False
    return True


async def run_service(settings: Settings, config: Config, *, as_json: bool) -> None:
    """`dozor run`: scheduler, dispatcher, HTTP server and chat front ends on one loop until
    SIGINT/SIGTERM; then in-flight polls and deliveries finish and nothing is lost."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with services(settings, config, as_json=as_json) as svc:
            await _serve(svc, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _serve(svc: Services, stop: asyncio.Event) -> None:
    settings, config = svc.settings, svc.config
    wake = svc.wake

    def on_report(report: PollReport) -> None:
        svc.metrics.poll(report)
        if report.outcome in ("new", "unchanged", "not_modified"):
            svc.last_success = time.time()
        if report.alerts:
            wake.set()

    scheduler = PollScheduler(
        poller=svc.poller,
        store=svc.store,
        instance=svc.instance,
        clock=time.time,
        on_report=on_report,
        digests=svc.summaries.run_due if svc.summaries else None,
    )
    scheduler.start(await svc.feeds())
    http = HttpServer(port=settings.http_port, health=svc.health, metrics=svc.metrics_page)
    tasks = [
        asyncio.create_task(svc.dispatcher.run(stop, wake), name="delivery"),
        asyncio.create_task(_resync(svc, scheduler, stop), name="feed resync"),
    ]
    if svc.telegram is not None:
        webhook = settings.telegram_webhook_url
        if webhook and settings.telegram_token:
            secret = webhook_secret(settings.telegram_token)
            http.add_telegram_webhook(
                urlsplit(webhook).path or "/", secret, svc.telegram.feed_update
            )
        tasks.append(asyncio.create_task(_keep_telegram(svc, webhook, stop), name="telegram"))
    if svc.slack is not None:
        if settings.slack_signing_secret:
            http.add_slack_events(EVENTS_PATH, svc.slack.handle_http)
        tasks.append(asyncio.create_task(_keep_slack(svc.slack, stop), name="slack"))
    await http.start()
    log.info(
        "watching %s for %s (%s); %s",
        plural(len(config.feeds), "feed"),
        plural(len(config.topics), "topic"),
        ", ".join(t.name for t in config.topics),
        f"Redis store at {redact(settings.redis_url)}"
        if settings.redis_url
        else f"SQLite store at {settings.db_path}",
    )
    await stop.wait()
    log.info("stopping: finishing polls and deliveries in flight (at most %gs)", STOP_GRACE)
    await asyncio.gather(scheduler.stop(grace=STOP_GRACE), _finish(tasks, STOP_GRACE))
    await http.stop()


async def _finish(tasks: list[asyncio.Task[None]], grace: float) -> None:
    """Let the loops finish what they hold, within `grace` seconds; then cancel them. What a
    cancelled send held goes back to the outbox when its lease ends."""
    _, late = await asyncio.wait(tasks, timeout=grace)
    for task in late:
        log.warning("did not finish within %gs; cancelled: %s", grace, task.get_name())
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _resync(svc: Services, scheduler: PollScheduler, stop: asyncio.Event) -> None:
    """Chats add and remove feeds: follow them, at once after a change, else every 30 s."""
    while not stop.is_set():
        svc.changed.clear()
        try:
            scheduler.sync(await svc.feeds())
        except Exception:
            log.exception("could not read chats' feeds; retrying")
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(svc.changed.wait())]
        _, pending = await asyncio.wait(waiters, timeout=30, return_when="FIRST_COMPLETED")
        for waiter in pending:
            waiter.cancel()


async def _keep_telegram(svc: Services, webhook: str | None, stop: asyncio.Event) -> None:
    """Connect to Telegram, retrying while it is unreachable (a refused token is said once,
    plainly, and the rest of Dozor keeps running). Then receive updates: by webhook on every
    replica (Telegram picks one per update), or by long polling on exactly one replica, the
    holder of a lease in the store; the others stand by and take over when it lapses."""
    front = svc.telegram
    assert front is not None
    secret = webhook_secret(front.application.bot.token)
    while not stop.is_set():
        try:
            await front.connect()
            break
        except InvalidToken:
            log.error("TELEGRAM_BOT_TOKEN was refused by Telegram: check the token")
            return
        except NetworkError as exc:
            log.warning("Telegram cannot be reached (%s); retrying in %.0fs", exc, FRONT_END_RETRY)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FRONT_END_RETRY)
    if stop.is_set():
        return
    if webhook:
        await front.listen(webhook_url=webhook, secret=secret)
        return
    try:
        await _lead_updates(svc, front, stop)
    finally:
        with contextlib.suppress(Exception):  # hand over at once rather than at expiry
            await svc.store.unlock(UPDATES_LEASE, svc.instance)


async def _lead_updates(svc: Services, front: TelegramFrontEnd, stop: asyncio.Event) -> None:
    was_leader: bool | None = None
    while not stop.is_set():
        try:
            leader = await svc.store.try_lock(
                UPDATES_LEASE, svc.instance, ttl=LEASE_TTL, now=time.time()
            )
        except Exception as exc:  # store down: keep doing what we did, say so
            log.warning("could not renew the Telegram updates lease: %s", exc)
            leader = bool(was_leader)
        try:
            if leader and not front.listening:
                await front.listen()
                log.info("this replica reads Telegram updates")
            elif not leader and front.listening:
                await front.stop_listening()
                log.warning("another replica reads Telegram updates now; standing by")
            elif not leader and was_leader is None:
                log.info("another replica reads Telegram updates; standing by")
        except NetworkError as exc:
            log.warning("Telegram cannot be reached (%s); retrying", exc)
        was_leader = leader
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LEASE_RENEW)


async def _keep_slack(front: SlackFrontEnd, stop: asyncio.Event) -> None:
    """Connect to Slack, retrying while it is unreachable; a refused token is said plainly
    (alerts wait in the outbox) and retried rarely, in case the app is reinstalled."""
    while not stop.is_set():
        try:
            await front.start()
            return
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            log.error(
                "Slack refused SLACK_BOT_TOKEN (%s): check the token and the app's install", error
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("Slack cannot be reached (%r); retrying in %.0fs", exc, FRONT_END_RETRY)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FRONT_END_RETRY)
