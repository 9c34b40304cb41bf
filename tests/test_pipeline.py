"""The pipeline end to end in one process: a real feed server, the real fetcher, parser and
matcher, and both real stores. What a user would see is what the console channel printed."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.config import Config
from bot.dispatch import MUTE_RECHECK, MUTED, QUIET, DeliveryError, Dispatcher
from bot.fetch import Fetcher
from bot.match import parse_keyword_line
from bot.models import Alert, Chat, Feed, Subscription, Topic
from bot.parse import parse_feed
from bot.poll import MAX_ITEMS, Poller, at_most
from bot.routes import Routing, build_routing
from bot.store import Store, open_store
from bot.stories import StoryClusters
from bot.summaries import Summaries, chart_png
from handlers.console import ConsoleChannel
from tests.fakes.feed_server import FeedServer
from tests.feeds import MATCHING, OTHER, Entry, rss

BELARUS = Topic(
    "belarus",
    keywords=tuple(
        parse_keyword_line(line)
        for line in (
            "Lukashenko | Lukashenka | Лукашэнк* | Łukaszenk*",
            "Belarus* | Беларус* | Белорус* | Białoru*",
            "Minsk | Минск* | Мінск*",
        )
    ),
)


class Clock:
    def __init__(self, now: float = 1_757_664_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """A poller, a dispatcher and a console that records what it printed."""

    store: Store
    poller: Poller
    dispatcher: Dispatcher
    out: io.StringIO
    clock: Clock

    def printed(self) -> list[dict[str, object]]:
        lines = [json.loads(line) for line in self.out.getvalue().splitlines()]
        self.out.seek(0)
        self.out.truncate()
        return lines


@pytest.fixture(params=["sqlite", "redis"])
async def open_rig(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> AsyncIterator[Callable[..., object]]:
    """Builds rigs on one store (Redis or SQLite); calling it again is a restart."""
    url = redis_url if request.param == "redis" else None
    opened: list[tuple[Store, Fetcher]] = []

    async def make(
        subs: tuple[Subscription, ...] = (),
        channel: object | None = None,
        allow_private: bool = True,
    ) -> Rig:
        store = await open_store(url, str(tmp_path / "dozor.db"))
        fetcher = Fetcher(allow_private=allow_private, max_bytes=2_000_000)
        opened.append((store, fetcher))
        clock = Clock()
        routing = build_routing([BELARUS], list(subs))

        async def get_routing() -> Routing:
            return routing

        out = io.StringIO()
        channels = {"console": channel or ConsoleChannel(as_json=True, stream=out)}

        async def on_gone(to: str, reason: str) -> None:
            for sub in subs:
                if sub.to == to:
                    await store.save_subscription(replace(sub, active=False))

        poller = Poller(fetch=fetcher.fetch, store=store, routing=get_routing, clock=clock)
        dispatcher = Dispatcher(
            store,
            channels,  # type: ignore[arg-type]
            clock=clock,
            on_gone=on_gone,
            chat=store.chat,
        )
        return Rig(store, poller, dispatcher, out, clock)

    yield make
    for store, fetcher in opened:
        await fetcher.aclose()
        await store.close()


def feed_at(server: FeedServer, path: str, *, backfill: int = 10, name: str = "Test") -> Feed:
    return Feed(url=server.url(path), name=name, backfill=backfill, interval=300)


async def test_first_poll_alerts_backfill_then_only_new_items(
    open_rig, feed_server: FeedServer
) -> None:
    feed_server.set("/f.xml", rss(*MATCHING, *OTHER))
    rig = await open_rig()
    feed = feed_at(feed_server, "/f.xml", backfill=2)
    report = await rig.poller.poll(feed)
    assert (report.outcome, report.items, report.new_items) == ("new", 5, 5)
    await rig.dispatcher.drain()
    printed = rig.printed()
    # the two newest of the three matching items, nothing else
    assert [p["title"] for p in printed] == [MATCHING[1].title, MATCHING[2].title]
    assert all(p["topic"] == "belarus" and p["to"] == "console" for p in printed)

    fresh = Entry("Лукашэнка сустрэўся з паслом", "https://news.example/a/9", "a9", minutes=9)
    feed_server.set("/f.xml", rss(fresh, *MATCHING, *OTHER))
    rig.clock.now += 600
    report = await rig.poller.poll(feed)
    assert (report.new_items, len(report.alerts)) == (1, 1)
    await rig.dispatcher.drain()
    (line,) = rig.printed()
    assert line["title"] == fresh.title and line["matched"] == ["Lukashenko"]
    assert line["url"] == "https://news.example/a/9" and line["id"] == "a9"


async def test_only_unread_items_are_parsed_and_a_same_body_not_at_all(
    open_rig, feed_server: FeedServer
) -> None:
    """A server without ETag or Last-Modified: the same body again is not parsed; a body that
    gained one item parses that one item (report.items counts what was parsed)."""
    feed_server.set("/f.xml", rss(*MATCHING, *OTHER), etag=False, last_modified=False)
    rig = await open_rig()
    feed = feed_at(feed_server, "/f.xml", backfill=0)
    assert (await rig.poller.poll(feed)).items == 5
    rig.clock.now += 600
    again = await rig.poller.poll(feed)
    assert (again.outcome, again.items, again.new_items) == ("unchanged", 5, 0)

    fresh = Entry("Лукашэнка сустрэўся з паслом", "https://news.example/a/9", "a9", minutes=9)
    feed_server.set("/f.xml", rss(fresh, *MATCHING, *OTHER), etag=False, last_modified=False)
    rig.clock.now += 600
    report = await rig.poller.poll(feed)
    assert (report.outcome, report.items, report.new_items, len(report.alerts)) == (
        "new",
        1,
        1,
        1,
    )
    await rig.dispatcher.drain()
    assert [line["title"] for line in rig.printed()] == [fresh.title]

    # one item dropped, none added: nothing to read
    feed_server.set("/f.xml", rss(fresh, *MATCHING), etag=False, last_modified=False)
    rig.clock.now += 600
    assert (await rig.poller.poll(feed)).outcome == "unchanged"


async def test_an_unread_item_without_its_own_id_has_the_whole_feed_read(
    open_rig, feed_server: FeedServer
) -> None:
    """Keys of items without a guid depend on their neighbours (one link, several titles):
    such an item is never read alone."""
    feed_server.set("/f.xml", rss(*MATCHING, *OTHER), etag=False, last_modified=False)
    rig = await open_rig()
    feed = feed_at(feed_server, "/f.xml", backfill=0)
    await rig.poller.poll(feed)
    bare = Entry("Lukashenko opens a plant", "https://news.example/a/1", None, minutes=9)
    feed_server.set("/f.xml", rss(bare, *MATCHING, *OTHER), etag=False, last_modified=False)
    rig.clock.now += 600
    report = await rig.poller.poll(feed)
    assert (report.items, report.new_items, len(report.alerts)) == (6, 1, 1)


@pytest.mark.parametrize("validators", [True, False], ids=["304s", "no-validators"])
async def test_items_that_stay_in_a_feed_past_the_dedup_window_never_alert_again(
    open_rig, feed_server: FeedServer, validators: bool
) -> None:
    """A feed answered by 304s (or whose old items are skipped as known) for longer than its
    dedup window: its items are read whole again within each half window, so their seen marks
    never lapse while they stay in the feed, and nothing is sent twice."""
    headers = {"etag": validators, "last_modified": validators}
    feed_server.set("/f.xml", rss(*MATCHING, *OTHER), **headers)
    rig = await open_rig()
    feed = replace(feed_at(feed_server, "/f.xml"), dedup_days=30)
    assert len((await rig.poller.poll(feed)).alerts) == 3
    await rig.dispatcher.drain()
    assert len(rig.printed()) == 3
    day = 86400.0
    expected = "not_modified" if validators else "unchanged"
    rig.clock.now += 10 * day
    assert (await rig.poller.poll(feed)).outcome == expected
    rig.clock.now += 6 * day  # past half the window: fetched without validators, read whole
    report = await rig.poller.poll(feed)
    assert (report.items, report.new_items) == (5, 0)
    assert not feed_server.last_request("/f.xml").headers.get("if-none-match")
    rig.clock.now += 1 * day  # and then conditional and skipped again
    assert (await rig.poller.poll(feed)).outcome == expected
    # day 40: the first marks would have lapsed; a new item without a guid makes it a whole read
    rig.clock.now += 23 * day
    bare = Entry("Lukashenko opens a plant", "https://news.example/a/1", None, minutes=9)
    feed_server.set("/f.xml", rss(bare, *MATCHING, *OTHER), **headers)
    report = await rig.poller.poll(feed)
    assert (report.items, report.new_items, len(report.alerts)) == (6, 1, 1)
    await rig.dispatcher.drain()
    assert [line["title"] for line in rig.printed()] == [bare.title]


async def test_backfill_zero_remembers_without_alerting(open_rig, feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss(*MATCHING))
    rig = await open_rig()
    report = await rig.poller.poll(feed_at(feed_server, "/f.xml", backfill=0))
    assert report.new_items == 3 and report.alerts == ()
    await rig.dispatcher.drain()
    assert rig.printed() == []


async def test_nothing_sent_twice_across_a_restart(open_rig, feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss(*MATCHING))
    feed = feed_at(feed_server, "/f.xml")
    first = await open_rig()
    await first.poller.poll(feed)
    await first.dispatcher.drain()
    assert len(first.printed()) == 3

    # restart: a new process on the same store; the feed changed (no 304) but only by non-matches
    feed_server.set("/f.xml", rss(*MATCHING, *OTHER))
    second = await open_rig()
    report = await second.poller.poll(feed)
    assert report.outcome == "new" and report.new_items == 2
    await second.dispatcher.drain()
    assert second.printed() == []


async def test_not_modified_means_no_parse_and_no_alerts(open_rig, feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss(*MATCHING))
    rig = await open_rig()
    feed = feed_at(feed_server, "/f.xml")
    await rig.poller.poll(feed)
    rig.clock.now += 600
    report = await rig.poller.poll(feed)
    assert report.outcome == "not_modified" and report.alerts == ()
    assert feed_server.last_request("/f.xml").headers.get("if-none-match")
    state = await rig.store.feed_state(feed.id)
    assert state.polls == 2 and state.failures == 0 and state.items_seen == 3


async def test_same_link_in_two_feeds_alerts_once_per_subscription(
    open_rig, feed_server: FeedServer
) -> None:
    story = Entry("Lukashenko pardons prisoners", "https://news.example/story?utm_source=rss", "x1")
    again = Entry("Lukashenko pardons prisoners", "https://NEWS.example/story#top", "y1")
    feed_server.set("/one.xml", rss(story))
    feed_server.set("/two.xml", rss(again))
    rig = await open_rig()
    await rig.poller.poll(feed_at(feed_server, "/one.xml", name="One"))
    await rig.poller.poll(feed_at(feed_server, "/two.xml", name="Two"))
    await rig.dispatcher.drain()
    printed = rig.printed()
    assert [p["feed"] for p in printed] == ["One"]


async def test_broken_feed_fails_with_backoff_and_recovers(
    open_rig, feed_server: FeedServer
) -> None:
    feed_server.set("/f.xml", b"<html><body>Service Unavailable</body></html>", status=503)
    rig = await open_rig()
    feed = feed_at(feed_server, "/f.xml")
    report = await rig.poller.poll(feed)
    assert report.outcome == "failed" and "503" in (report.error or "")
    state = await rig.store.feed_state(feed.id)
    assert state.failures == 1 and state.retry_at == rig.clock.now + feed.interval

    rig.clock.now += 60  # inside the backoff: not polled
    assert (await rig.poller.poll(feed)).outcome == "backing_off"
    assert feed_server.hits("/f.xml") == 1

    feed_server.set("/f.xml", b"this is not a feed at all")
    rig.clock.now += 600
    report = await rig.poller.poll(feed)
    assert report.outcome == "failed"
    state = await rig.store.feed_state(feed.id)
    assert state.failures == 2 and state.retry_at == rig.clock.now + 2 * feed.interval

    feed_server.set("/f.xml", rss(*MATCHING))
    rig.clock.now += 3600
    report = await rig.poller.poll(feed)
    assert report.outcome == "new" and len(report.alerts) == 3
    state = await rig.store.feed_state(feed.id)
    assert state.failures == 0 and state.last_error is None and state.retry_at is None


def test_a_feed_of_thousands_of_items_is_read_newest_first_up_to_the_cap() -> None:
    # oldest first in the document, as archives are
    dated = [Entry(f"Story {n}", f"https://a.example/{n}", f"g{n}", minutes=n) for n in range(1500)]
    feed = parse_feed(rss(*dated), url="https://a.example/")
    kept = at_most(feed, MAX_ITEMS)
    assert [item.title for item in kept.items] == [f"Story {n}" for n in range(500, 1500)]
    assert kept.warning == "1,500 items in one feed: the newest 1,000 were read"
    assert at_most(kept, MAX_ITEMS) is kept


async def test_body_over_the_cap_is_refused(open_rig, feed_server: FeedServer) -> None:
    feed_server.huge("/huge.xml", 50_000_000)
    rig = await open_rig()
    report = await rig.poller.poll(feed_at(feed_server, "/huge.xml"))
    assert report.outcome == "failed" and "MB" in (report.error or "")


async def test_loopback_feed_refused_unless_allowed(open_rig, feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss(*MATCHING))
    rig = await open_rig(allow_private=False)
    report = await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    assert report.outcome == "failed" and "loopback" in (report.error or "")
    assert feed_server.hits("/f.xml") == 0


async def test_subscribed_topic_goes_to_its_destination_not_the_console(
    open_rig, feed_server: FeedServer
) -> None:
    sub = Subscription("belarus", "telegram:-100123", BELARUS.keywords)
    feed_server.set("/f.xml", rss(*MATCHING))
    rig = await open_rig(subs=(sub,))
    report = await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    assert {a.to for a in report.alerts} == {"telegram:-100123"}
    delivery = await rig.dispatcher.drain()
    # no Telegram front end here: the alerts wait in the outbox, none lost
    assert delivery.waiting["telegram"] == 3 and rig.printed() == []
    assert await rig.store.outbox_depth() == 3


class Flaky:
    """A channel that refuses its first `failures` sends, then accepts and records."""

    def __init__(self, failures: int, *, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.accepted: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("busy", retry_after=5, permanent=self.permanent)
        self.accepted.append(alert)


async def test_alert_leaves_outbox_only_when_accepted(open_rig, feed_server: FeedServer) -> None:
    channel = Flaky(failures=1)
    feed_server.set("/f.xml", rss(MATCHING[0], MATCHING[1]))
    rig = await open_rig(channel=channel)
    await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    report = await rig.dispatcher.drain()
    assert report.retried == 2 and channel.accepted == []
    assert await rig.store.outbox_depth() == 2
    rig.clock.now += 5  # the retry-after, and no more
    await rig.dispatcher.drain()
    assert [a.title for a in channel.accepted] == [MATCHING[0].title, MATCHING[1].title]
    assert await rig.store.outbox_depth() == 0
    rig.clock.now += 3600
    await rig.dispatcher.drain()
    assert len(channel.accepted) == 2  # nothing sent twice


async def test_gone_destination_is_deactivated(open_rig, feed_server: FeedServer) -> None:
    sub = Subscription("belarus", "console", BELARUS.keywords)
    channel = Flaky(failures=1, permanent=True)
    feed_server.set("/f.xml", rss(MATCHING[0]))
    rig = await open_rig(subs=(sub,), channel=channel)
    await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    report = await rig.dispatcher.drain()
    assert report.dropped == 1 and await rig.store.outbox_depth() == 0
    (stored,) = await rig.store.subscriptions()
    assert stored.active is False


def test_private_feed_feeds_its_owner_only() -> None:
    from bot.routes import decide_alerts

    mine = Subscription("belarus", "telegram:1", BELARUS.keywords)
    theirs = Subscription("belarus", "telegram:2", BELARUS.keywords)
    routing = build_routing([BELARUS], [mine, theirs])
    parsed = parse_feed(rss(MATCHING[0]), url="https://news.example/rss")
    feed = Feed(url="https://news.example/rss", name="Mine", owner="telegram:1")
    alerts = decide_alerts(feed, parsed.items, routing, now=0)
    assert [a.to for a in alerts] == ["telegram:1"]


async def test_a_muted_chat_gets_its_alerts_when_the_mute_ends(
    open_rig, feed_server: FeedServer
) -> None:
    feed_server.set("/f.xml", rss(*MATCHING))
    rig = await open_rig()
    await rig.store.save_chat(Chat("console", mute_until=rig.clock.now + 3600))
    await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    report = await rig.dispatcher.drain()
    assert (len(report.sent), report.held) == (0, 3)
    assert rig.printed() == []
    rig.clock.now += 1800  # still muted: held again, never dropped
    assert (await rig.dispatcher.drain()).held == 3
    rig.clock.now += 1800
    report = await rig.dispatcher.drain()
    assert len(report.sent) == 3
    assert sorted(p["title"] for p in rig.printed()) == sorted(e.title for e in MATCHING)
    assert await rig.store.outbox_depth() == 0


async def test_mute_off_releases_held_alerts_at_once(open_rig, feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss(*MATCHING))
    rig = await open_rig()
    await rig.store.save_chat(Chat("console", mute_until=rig.clock.now + 86_400))
    await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    assert (await rig.dispatcher.drain()).held == 3
    assert (await rig.dispatcher.drain()).held == 0  # held: not even looked at again yet
    await rig.store.save_chat(Chat("console"))  # what /mute off does
    assert await rig.store.release("console", (MUTED, QUIET), now=rig.clock.now) == 3
    assert len((await rig.dispatcher.drain()).sent) == 3


async def test_without_a_release_held_alerts_go_at_the_next_recheck(
    open_rig, feed_server: FeedServer
) -> None:
    feed_server.set("/f.xml", rss(*MATCHING))
    rig = await open_rig()
    await rig.store.save_chat(Chat("console", mute_until=rig.clock.now + 86_400))
    await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    assert (await rig.dispatcher.drain()).held == 3
    await rig.store.save_chat(Chat("console"))  # the mute ended some other way
    rig.clock.now += MUTE_RECHECK
    assert len((await rig.dispatcher.drain()).sent) == 3


async def test_quiet_hours_hold_alerts_and_release_them_when_they_end(
    open_rig, feed_server: FeedServer
) -> None:
    feed_server.set("/f.xml", rss(*MATCHING))
    rig = await open_rig()  # the clock reads 2025-09-12 08:00 UTC
    await rig.store.save_chat(Chat("console", quiet="07:00-09:00"))
    await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    assert (await rig.dispatcher.drain()).held == 3
    rig.clock.now += 3599  # 08:59:59: still quiet
    assert (await rig.dispatcher.drain()).held == 3
    rig.clock.now += 1
    assert len((await rig.dispatcher.drain()).sent) == 3
    assert len(rig.printed()) == 3


# --- digests ---------------------------------------------------------------------------------
DIGEST_SUB = Subscription(
    "belarus", "console", BELARUS.keywords, mode="digest", digest="daily 09:00 UTC"
)


def summaries_for(rig: Rig, instance: str = "a") -> Summaries:
    config = Config(Path("feeds.yaml"), feeds=(), topics=(BELARUS,), subscriptions=(DIGEST_SUB,))
    return Summaries(store=rig.store, config=config, clock=rig.clock, instance=instance)


async def test_a_daily_digest_goes_out_once_at_its_time_and_never_again(
    open_rig, feed_server: FeedServer
) -> None:
    feed_server.set("/f.xml", rss(*MATCHING, *OTHER))
    rig = await open_rig((DIGEST_SUB,))  # 2025-09-12 08:00 UTC
    first, second = summaries_for(rig, "a"), summaries_for(rig, "b")
    assert await first.run_due() == 0  # first sight: the period starts at yesterday's 09:00
    report = await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    assert len(report.alerts) == 3  # into the digest buffer, not the outbox
    assert (await rig.dispatcher.drain()).sent == []
    rig.clock.now += 3600 + 5  # 09:00:05
    assert sorted([await first.run_due(), await second.run_due()]) == [0, 1]  # two replicas
    await rig.dispatcher.drain()
    (line,) = rig.printed()
    assert (line["kind"], line["stories"]) == ("digest", 3)
    assert "belarus · 11 Sep 09:00 – 12 Sep 09:00 (UTC)" in line["text"]
    assert all(e.title in line["text"] for e in MATCHING)
    assert await rig.store.digest_alerts("console", "belarus") == []
    restarted = summaries_for(rig, "c")
    rig.clock.now += 600
    assert await restarted.run_due() == 0
    await rig.dispatcher.drain()
    assert rig.printed() == []


async def test_an_empty_period_sends_nothing_and_the_next_carries_the_trend(
    open_rig, feed_server: FeedServer
) -> None:
    rig = await open_rig((DIGEST_SUB,))
    summaries = summaries_for(rig)
    await summaries.run_due()
    rig.clock.now += 3600 + 5
    assert await summaries.run_due() == 0  # nothing collected: no message
    feed_server.set("/f.xml", rss(*MATCHING))
    await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    rig.clock.now += 86400
    assert await summaries.run_due() == 1
    await rig.dispatcher.drain()
    (line,) = rig.printed()
    assert "Keywords: Lukashenko 2 (new) · Belarus* 1 (new) · Minsk 1 (new)" in line["text"]


async def test_a_weekly_digest_carries_a_chart_of_the_week(
    open_rig, feed_server: FeedServer
) -> None:
    weekly = replace(DIGEST_SUB, digest="weekly fri 09:00 UTC")  # 2025-09-12 is a Friday
    rig = await open_rig((weekly,))
    config = Config(Path("feeds.yaml"), feeds=(), topics=(BELARUS,), subscriptions=(weekly,))
    summaries = Summaries(store=rig.store, config=config, clock=rig.clock, instance="a")
    await summaries.run_due()
    feed_server.set("/f.xml", rss(*MATCHING))
    await rig.poller.poll(feed_at(feed_server, "/f.xml"))
    rig.clock.now += 3600 + 5
    assert await summaries.run_due() == 1
    [entry] = await rig.store.claim(now=rig.clock.now, lease=60, limit=10)
    payload = json.loads(entry.alert.payload)
    assert entry.alert.kind == "digest" and len(payload["chart"]) == 7
    assert payload["chart"]["2025-09-12"] == {"Lukashenko": 2, "Belarus*": 1, "Minsk": 1}
    png = chart_png(payload, "belarus", "UTC")
    assert png is not None and png.startswith(b"\x89PNG")


# --- stories ---------------------------------------------------------------------------------
async def test_one_story_from_two_feeds_alerts_once_even_when_its_link_returns_days_later(
    open_rig, feed_server: FeedServer
) -> None:
    rig = await open_rig()
    routing = build_routing([BELARUS], [])

    async def get_routing() -> Routing:
        return routing

    fetcher = Fetcher(allow_private=True)
    poller = Poller(
        fetch=fetcher.fetch,
        store=rig.store,
        routing=get_routing,
        clock=rig.clock,
        stories=StoryClusters(rig.store),
    )
    try:
        told = "Lukashenko meets Chinese envoy in Minsk to discuss trade and grain deliveries"
        retold = "Lukashenko meets Chinese envoy in Minsk, discusses trade and grain deliveries"
        feed_server.set("/f.xml", rss(Entry(told, "https://local.example/1", "l1")))
        feed_server.set("/g.xml", rss(Entry(retold, "https://wire.example/9", "w9")))
        first = await poller.poll(feed_at(feed_server, "/f.xml", name="Local"))
        rig.clock.now += 600
        second = await poller.poll(feed_at(feed_server, "/g.xml", name="Wire"))
        assert [a.kind for a in first.alerts] == ["alert"]
        assert [a.kind for a in second.alerts] == ["also"]  # an edit, not a second alert
        assert second.alerts[0].story == first.alerts[0].story
        await rig.dispatcher.drain()
        assert [p["title"] for p in rig.printed()] == [told]  # the console cannot edit
        rig.clock.now += 3 * 86400  # past the story window, within dedup_days
        feed_server.set("/h.xml", rss(Entry(told, "https://local.example/1", "h1")))
        third = await poller.poll(feed_at(feed_server, "/h.xml", name="Later"))
        assert [a.kind for a in third.alerts if a.kind == "alert"] == []
    finally:
        await fetcher.aclose()


async def test_two_replicas_put_one_story_in_one_cluster(open_rig) -> None:
    rig = await open_rig()
    told = "Lukashenko meets Chinese envoy in Minsk to discuss trade and grain deliveries"
    retold = "Lukashenko meets Chinese envoy in Minsk, discusses trade and grain deliveries"
    one, two = StoryClusters(rig.store), StoryClusters(rig.store)
    local, wire = Feed("https://l.example/rss", "Local"), Feed("https://w.example/rss", "Wire")
    item = parse_feed(rss(Entry(told, "https://l.example/1", "l1")), url=local.url).items[0]
    again = parse_feed(rss(Entry(retold, "https://w.example/9", "w9")), url=wire.url).items[0]
    (story, new), *_ = (await one.assign(local, [item], 1000.0)).values()
    (same, joined), *_ = (await two.assign(wire, [again], 1010.0)).values()
    assert new and not joined and same == story
    other = parse_feed(rss(Entry(told, "https://l.example/1", "x")), url=local.url).items[0]
    (late, fresh), *_ = (await one.assign(local, [other], 1010.0 + 49 * 3600)).values()
    assert fresh and late == story  # past the window: a new story, yet the link's own id
