"""One suite, both stores: RedisStore and SqliteStore must behave the same.

Time is passed in (`now=`), so expiry, leases and locks are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.models import Alert, Chat, Delivery, Feed, FeedState, KeywordLine, Subscription, Topic
from bot.store import Store, StoreError, open_store
from bot.store.keys import Keys
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore

Opener = Callable[[], Awaitable[Store]]
RawWriter = Callable[[str, str, str], Awaitable[None]]
DAY = 86_400.0


@pytest.fixture(params=["redis", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def opener(kind: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens a store of one kind on the same data as often as asked; closes them all."""
    opened: list[Store] = []

    async def opener() -> Store:
        store: Store
        if kind == "redis":
            store = await RedisStore.open(redis_url)
        else:
            store = await SqliteStore.open(tmp_path / "dozor.db")
        opened.append(store)
        return store

    yield opener
    for store in opened:
        await store.close()


@pytest.fixture
async def store(opener: Opener) -> Store:
    return await opener()


@pytest.fixture
def put_raw(kind: str, redis_url: str, tmp_path: Path) -> RawWriter:
    """Writes a record's text as some other Dozor version did: put(table, id, text), where
    table is "subscriptions" or "chats" (a chat's id is its destination)."""

    async def put(table: str, record_id: str, text: str) -> None:
        if kind == "redis":
            client = aioredis.from_url(redis_url)
            try:
                await client.hset(getattr(Keys(), table)(), record_id, text)
            finally:
                await client.aclose()
        else:
            with closing(sqlite3.connect(tmp_path / "dozor.db")) as db, db:
                db.execute(f"INSERT INTO {table} VALUES (?, ?)", (record_id, text))

    return put


def alert(
    item: str,
    *,
    link: str | None = None,
    to: str = "console",
    topic: str = "belarus",
    delivery: Delivery = "instant",
    feed_id: str = "feed1",
) -> Alert:
    return Alert(
        topic=topic,
        to=to,
        feed=f"Feed {feed_id}",
        feed_id=feed_id,
        id=item,
        url=f"https://example.org/{item}?utm_source=x",
        canonical_url=f"https://example.org/{item}" if link is None else link,
        title=f"Лукашенко: {item}",
        summary="A summary & <not markup>",
        published=datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
        matched=("Lukashenko", "Minsk"),
        delivery=delivery,
        created=1000.5,
    )


async def commit(
    store: Store,
    keys: list[str],
    alerts: list[Alert],
    *,
    feed_id: str = "feed1",
    now: float = 1000.0,
    keep: float = 30 * DAY,
) -> list[Alert]:
    state = FeedState(last_poll=now, polls=1)
    return await store.commit_poll(feed_id, keys, alerts, state, now=now, keep_seconds=keep)


# --- feed state ----------------------------------------------------------------------------
async def test_fresh_feed_state(store: Store) -> None:
    assert await store.feed_state("never") == FeedState()
    assert await store.feed_states(["a", "b"]) == {"a": FeedState(), "b": FeedState()}
    assert await store.feed_states([]) == {}


async def test_save_and_load_feed_state(store: Store) -> None:
    state = FeedState(
        etag='W/"abc"',
        last_modified="Sat, 01 Mar 2025 12:00:00 GMT",
        last_poll=1000.25,
        last_success=990.0,
        last_error="HTTP 503",
        failures=2,
        retry_at=1300.0,
        items_seen=42,
        polls=7,
    )
    await store.save_feed_state("f1", state)
    assert await store.feed_state("f1") == state
    assert await store.feed_states(["f1", "f2"]) == {"f1": state, "f2": FeedState()}
    await store.save_feed_state("f1", FeedState(polls=8))
    assert await store.feed_state("f1") == FeedState(polls=8)


# --- seen, commit ----------------------------------------------------------------------------
async def test_unseen(store: Store) -> None:
    assert await store.unseen("feed1", []) == set()
    assert await store.unseen("feed1", ["a", "b"]) == {"a", "b"}
    await commit(store, ["a"], [])
    assert await store.unseen("feed1", ["a", "b"], now=1000.0) == {"b"}
    assert await store.unseen("feed1", ["a", "b"]) == {"b"}
    assert await store.unseen("other", ["a"]) == {"a"}


async def test_commit_marks_seen_enqueues_and_saves_state(store: Store) -> None:
    alerts = [alert("a"), alert("c")]
    assert await commit(store, ["a", "b", "c"], alerts) == alerts
    assert await store.unseen("feed1", ["a", "b", "c", "d"], now=1000.0) == {"d"}
    assert await store.feed_state("feed1") == FeedState(last_poll=1000.0, polls=1)
    assert await store.outbox_depth() == 2
    claimed = await store.claim(now=1000.0, lease=60, limit=10)
    assert [e.alert for e in claimed] == alerts  # every field survives the trip
    assert [e.attempts for e in claimed] == [0, 0]


async def test_alert_ids_are_marked_seen_even_if_not_in_keys(store: Store) -> None:
    await commit(store, [], [alert("a")])
    assert await store.unseen("feed1", ["a"], now=1000.0) == set()


async def test_second_commit_of_the_same_keys_enqueues_nothing(store: Store) -> None:
    alerts = [alert("a"), alert("b", delivery="digest")]
    assert await commit(store, ["a", "b"], alerts) == alerts
    assert await commit(store, ["a", "b"], alerts, now=1060.0) == []
    assert await store.outbox_depth() == 1
    assert len(await store.digest_alerts("console", "belarus")) == 1


async def test_same_link_in_two_feeds_alerts_once_per_subscription(store: Store) -> None:
    link = "https://news.example/story"
    first = [
        alert("x1", link=link, to="telegram:1", feed_id="A"),
        alert("x1", link=link, to="slack:C1", feed_id="A"),
    ]
    assert await commit(store, ["x1"], first, feed_id="A") == first
    second = [
        alert("y9", link=link, to="telegram:1", feed_id="B"),
        alert("y9", link=link, to="slack:C1", feed_id="B"),
        alert("y9", link=link, to="telegram:1", topic="minsk", feed_id="B"),
        alert("y9", link=link, to="telegram:1", delivery="digest", feed_id="B"),
    ]
    assert await commit(store, ["y9"], second, feed_id="B") == second[2:]
    claimed = await store.claim(now=2000.0, lease=60, limit=10)
    assert sorted((e.alert.to, e.alert.topic) for e in claimed) == [
        ("slack:C1", "belarus"),
        ("telegram:1", "belarus"),
        ("telegram:1", "minsk"),
    ]


async def test_same_link_twice_in_one_commit_alerts_once(store: Store) -> None:
    alerts = [alert("a", link="https://x/1"), alert("b", link="https://x/1")]
    assert await commit(store, ["a", "b"], alerts) == alerts[:1]


async def test_without_canonical_url_the_item_key_dedups(store: Store) -> None:
    alerts = [alert("a", link=""), alert("b", link="")]
    assert await commit(store, ["a", "b"], alerts) == alerts
    again = [alert("a", link="", feed_id="feed1")]
    assert await commit(store, [], again, feed_id="other") == []


async def test_digest_alerts_go_to_the_digest_buffer(store: Store) -> None:
    alerts = [alert(f"d{i}", delivery="digest", to="slack:C1") for i in range(4)]
    assert await commit(store, [a.id for a in alerts], alerts) == alerts
    assert await store.outbox_depth() == 0
    assert await store.digest_alerts("slack:C1", "belarus") == alerts
    assert await store.digest_alerts("slack:C1", "other") == []
    await store.drop_digest("slack:C1", "belarus", 0)
    await store.drop_digest("slack:C1", "belarus", 3)
    assert await store.digest_alerts("slack:C1", "belarus") == alerts[3:]
    await store.drop_digest("slack:C1", "belarus", 5)
    assert await store.digest_alerts("slack:C1", "belarus") == []


async def test_keys_and_links_expire(store: Store) -> None:
    assert await commit(store, ["a"], [alert("a")], now=0.0, keep=100.0)
    assert await store.unseen("feed1", ["a"], now=99.9) == set()
    assert await store.unseen("feed1", ["a"], now=100.0) == {"a"}
    assert await commit(store, ["a"], [alert("a")], now=99.0, keep=100.0) == []
    # the second commit refreshed the key: remembered until 199, the link still until 100
    assert await store.unseen("feed1", ["a"], now=150.0) == set()
    assert await commit(store, ["a"], [alert("a")], now=200.0, keep=100.0) == [alert("a")]


async def test_purge_forgets_expired_keys_and_links(store: Store) -> None:
    await commit(store, ["a", "b", "c"], [alert("a")], now=0.0, keep=10.0)
    await commit(store, ["z"], [], feed_id="feed2", now=0.0, keep=50.0)
    assert await store.purge(5.0) == 0
    assert await store.purge(10.0) == 4  # three keys and one link
    assert await store.unseen("feed1", ["a", "b", "c"]) == {"a", "b", "c"}
    assert await store.unseen("feed2", ["z"]) == set()
    assert await store.purge(50.0) == 1
    assert await store.purge(50.0) == 0


async def test_many_keys_in_one_commit(store: Store) -> None:
    keys = [f"item-{i}" for i in range(2500)]
    alerts = [alert(k) for k in keys[::100]]
    assert await commit(store, keys, alerts) == alerts
    probe = [*keys, "new-1", "new-2"]
    assert await store.unseen("feed1", probe, now=1000.0) == {"new-1", "new-2"}


# --- outbox ---------------------------------------------------------------------------------
async def test_claim_order_limit_and_lease(store: Store) -> None:
    x, y, z = alert("x"), alert("y"), alert("z")
    await commit(store, ["x", "y"], [x, y], now=5.0)
    await commit(store, ["z"], [z], now=3.0)
    assert await store.claim(now=2.0, lease=30, limit=10) == []  # nothing due yet
    first = await store.claim(now=10.0, lease=30, limit=2)
    assert [e.alert for e in first] == [z, x]  # by due time, then insertion order
    assert [e.alert for e in await store.claim(now=20.0, lease=30, limit=10)] == [y]
    assert await store.claim(now=39.9, lease=30, limit=10) == []
    again = await store.claim(now=40.0, lease=30, limit=10)  # z and x's lease ran out
    assert [e.alert for e in again] == [x, z]  # due at the same time: insertion order
    assert [e.alert for e in await store.claim(now=50.0, lease=30, limit=10)] == [y]
    assert await store.claim(now=40.0, lease=30, limit=0) == []
    assert await store.outbox_depth() == 3


async def test_ack_removes_the_entry(store: Store) -> None:
    await commit(store, ["a", "b"], [alert("a"), alert("b")])
    entries = await store.claim(now=1000.0, lease=30, limit=10)
    await store.ack(entries[0].id)
    await store.ack(entries[0].id)
    await store.ack("no-such-entry")
    assert await store.outbox_depth() == 1
    assert [e.alert.id for e in await store.claim(now=5000.0, lease=30, limit=10)] == ["b"]


async def test_retry_reschedules_and_counts_attempts(store: Store) -> None:
    await commit(store, ["a"], [alert("a")])
    [entry] = await store.claim(now=1000.0, lease=30, limit=10)
    await store.retry(entry.id, not_before=2000.0, error="HTTP 429")
    assert await store.claim(now=1999.0, lease=30, limit=10) == []
    [again] = await store.claim(now=2000.0, lease=30, limit=10)
    assert (again.id, again.attempts, again.alert) == (entry.id, 1, entry.alert)
    await store.retry(again.id, not_before=2100.0, error="timeout")
    [third] = await store.claim(now=2100.0, lease=30, limit=10)
    assert third.attempts == 2
    await store.ack(third.id)
    await store.retry(third.id, not_before=2200.0, error="late")  # acked stays gone
    assert await store.outbox_depth() == 0
    assert await store.claim(now=9999.0, lease=30, limit=10) == []


async def test_a_hold_reschedules_without_counting_an_attempt(store: Store) -> None:
    await commit(store, ["a"], [alert("a")])
    [entry] = await store.claim(now=1000.0, lease=30, limit=10)
    await store.retry(entry.id, not_before=1500.0, error="muted", failed=False)
    assert await store.claim(now=1499.0, lease=30, limit=10) == []
    [again] = await store.claim(now=1500.0, lease=30, limit=10)
    assert (again.id, again.attempts) == (entry.id, 0)


async def test_a_lease_is_renewed_only_by_the_claimer_that_still_holds_it(store: Store) -> None:
    await commit(store, ["a", "b"], [alert("a"), alert("b")])
    a, b = await store.claim(now=1000.0, lease=30, limit=10)
    assert a.lease_until == b.lease_until == 1030.0
    # renewed: hidden past its first lease end
    assert await store.extend({a.id: a.lease_until}, until=1100.0) == {a.id}
    assert [e.id for e in await store.claim(now=1050.0, lease=30, limit=10)] == [b.id]
    # b's first claim lapsed and another claimer took it: its old proof no longer holds
    assert await store.extend({b.id: b.lease_until, a.id: 1100.0}, until=1200.0) == {a.id}
    await store.ack(a.id)
    assert await store.extend({a.id: 1200.0}, until=1300.0) == set()  # acked stays gone
    [late] = await store.claim(now=1081.0, lease=30, limit=10)  # the second claim of b lapsed
    assert late.id == b.id and late.lease_until == 1111.0
    assert await store.extend({}, until=2000.0) == set()
    assert await store.outbox_depth() == 1


async def test_release_makes_held_entries_due_but_never_a_claimed_one(store: Store) -> None:
    one, two, other = alert("a", to="telegram:1"), alert("b", to="telegram:1"), alert("c")
    await commit(store, ["a", "b", "c"], [one, two, other], now=1000.0)
    entries = {e.alert.id: e for e in await store.claim(now=1000.0, lease=30, limit=10)}
    for entry in entries.values():  # all three held for a day
        await store.retry(entry.id, not_before=90_000.0, error="muted", failed=False)
    # "a" is claimed (by some replica, when its hold ran out): it is being sent, not held
    [claimed] = await store.claim(now=90_000.0, lease=30, limit=1)
    assert claimed.alert == one
    assert await store.release("telegram:1", ("quiet hours",), now=1100.0) == 0
    assert await store.release("telegram:1", ("muted",), now=1100.0) == 1  # "b" only
    assert [e.alert for e in await store.claim(now=1100.0, lease=30, limit=10)] == [two]
    assert await store.release("telegram:9", ("muted",), now=1100.0) == 0


# --- concurrency ----------------------------------------------------------------------------
async def test_concurrent_commits_enqueue_once(store: Store) -> None:
    alerts = [alert(f"a{i}") for i in range(20)]
    keys = [a.id for a in alerts]
    results = await asyncio.gather(commit(store, keys, alerts), commit(store, keys, alerts))
    assert sorted(len(r) for r in results) == [0, 20]
    assert await store.outbox_depth() == 20


async def test_concurrent_commits_from_two_stores_enqueue_once(opener: Opener) -> None:
    one, two = await opener(), await opener()
    alerts = [alert(f"a{i}") for i in range(20)]
    keys = [a.id for a in alerts]
    results = await asyncio.gather(
        *(commit(s, keys, alerts, now=1000.0 + i) for i, s in enumerate([one, two, one, two]))
    )
    assert sorted(len(r) for r in results) == [0, 0, 0, 20]
    assert await two.outbox_depth() == 20


async def test_concurrent_claims_never_share_an_entry(opener: Opener) -> None:
    one, two = await opener(), await opener()
    alerts = [alert(f"a{i}") for i in range(30)]
    await commit(one, [a.id for a in alerts], alerts)
    claims = await asyncio.gather(
        *(s.claim(now=2000.0, lease=60, limit=7) for s in [one, two, one, two, one])
    )
    ids = [e.id for batch in claims for e in batch]
    assert len(ids) == len(set(ids)) == 30


# --- topics and subscriptions ---------------------------------------------------------------
async def test_topics_round_trip(store: Store) -> None:
    assert await store.topics() == []
    global_topic = Topic(
        name="belarus",
        keywords=(KeywordLine(("Lukashenko", "Лукашэнк*")), KeywordLine(("Minsk",))),
        exclude=(KeywordLine(("Minsky",)),),
    )
    private = Topic(name="belarus", keywords=(KeywordLine(("Belavia",)),), owner="telegram:1")
    other = Topic(name="aviation", keywords=(KeywordLine(("Boeing", "Airbus")),), owner="slack:C1")
    for topic in (private, other, global_topic):
        await store.save_topic(topic)
    assert await store.topics() == [global_topic, other, private]
    changed = Topic(name="belarus", keywords=(KeywordLine(("Belarus*",)),), owner="telegram:1")
    await store.save_topic(changed)
    assert await store.topics() == [global_topic, other, changed]
    assert await store.delete_topic(None, "belarus") is True
    assert await store.delete_topic(None, "belarus") is False
    assert await store.delete_topic("telegram:2", "belarus") is False
    assert await store.topics() == [other, changed]


async def test_subscriptions_round_trip(store: Store) -> None:
    instant = Subscription(topic="belarus", to="telegram:-100123", keywords=(KeywordLine(("a",)),))
    digest = Subscription(
        topic="belarus",
        to="slack:C1",
        keywords=(KeywordLine(("Zapad 2025", "Захад-2025")), KeywordLine(("Minsk",))),
        exclude=(KeywordLine(("Minsky", "minska")),),
        mode="both",
        digest="daily 09:00 Europe/Minsk",
        created=1234.5,
        active=False,
    )
    await store.save_subscription(instant)
    await store.save_subscription(digest)
    assert await store.subscriptions() == [digest, instant]
    replaced = Subscription(topic="belarus", to="slack:C1", keywords=(), mode="digest")
    await store.save_subscription(replaced)
    assert await store.subscriptions() == [replaced, instant]
    assert await store.delete_subscription("slack:C1", "belarus") is True
    assert await store.delete_subscription("slack:C1", "belarus") is False
    assert await store.subscriptions() == [instant]


async def test_previews_round_trip(store: Store) -> None:
    sub = Subscription(topic="t", to="telegram:1", keywords=(KeywordLine(("x",)),), previews=True)
    await store.save_subscription(sub)
    assert await store.subscriptions() == [sub]
    await store.save_subscription(dataclasses.replace(sub, previews=False))
    assert [s.previews for s in await store.subscriptions()] == [False]


async def test_records_written_by_other_versions_load(store: Store, put_raw: RawWriter) -> None:
    # written before `previews` existed, and by a newer Dozor with a field this one lacks
    old = (
        '{"topic":"belarus","to":"telegram:1","keywords":[["Minsk"]],"exclude":[],'
        '"mode":"digest","digest":"daily 09:00","created":5.0,"active":true}'
    )
    await put_raw("subscriptions", '["telegram:1","belarus"]', old)
    await put_raw("chats", "telegram:1", '{"to":"telegram:1","zone":"Europe/Minsk","future":1}')
    assert await store.subscriptions() == [
        Subscription(
            topic="belarus",
            to="telegram:1",
            keywords=(KeywordLine(("Minsk",)),),
            mode="digest",
            digest="daily 09:00",
            created=5.0,
        )
    ]
    assert await store.chat("telegram:1") == Chat("telegram:1", zone="Europe/Minsk")


# --- chats' private feeds and settings ------------------------------------------------------
FULL_FEED = Feed(
    url="https://news.example/rss",
    name="Новости",
    lang="be",
    tags=("belarus", "politics"),
    interval=600.5,
    backfill=3,
    dedup_days=7,
    owner="telegram:1",
)


async def test_feeds_round_trip_in_insertion_order(store: Store) -> None:
    assert await store.feeds() == []
    bare = Feed(url="https://b.example/feed", name="B", owner="slack:C1")
    same_url = dataclasses.replace(FULL_FEED, owner="slack:C1", name="Other chat's copy")
    third = Feed(url="https://c.example/atom", name="C", owner="telegram:1")
    for feed in (FULL_FEED, bare, same_url, third):
        await store.save_feed(feed)
    assert await store.feeds() == [FULL_FEED, bare, same_url, third]
    renamed = dataclasses.replace(FULL_FEED, name="Renamed", tags=())
    await store.save_feed(renamed)  # replaced in place, its owner's copy only
    assert await store.feeds() == [renamed, bare, same_url, third]
    assert await store.delete_feed("telegram:2", FULL_FEED.url) is False
    assert await store.delete_feed("telegram:1", FULL_FEED.url) is True
    assert await store.delete_feed("telegram:1", FULL_FEED.url) is False
    assert await store.feeds() == [bare, same_url, third]
    await store.save_feed(FULL_FEED)  # saved anew: last
    assert await store.feeds() == [bare, same_url, third, FULL_FEED]


async def test_a_feed_without_owner_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="no owner"):
        await store.save_feed(Feed(url="https://x.example/rss", name="X"))
    assert await store.feeds() == []


async def test_chat_settings(store: Store) -> None:
    assert await store.chat("telegram:1") == Chat("telegram:1")
    assert await store.chats() == []
    minsk = Chat("telegram:1", zone="Europe/Minsk", mute_until=5000.5, anyone_can_edit=True)
    slack = Chat("slack:C1", owner="slack:U123")
    await store.save_chat(minsk)
    await store.save_chat(slack)
    assert await store.chat("telegram:1") == minsk
    assert await store.chat("telegram:2") == Chat("telegram:2")
    assert await store.chats() == [slack, minsk]
    unmuted = dataclasses.replace(minsk, mute_until=None)
    await store.save_chat(unmuted)
    assert await store.chats() == [slack, unmuted]


# --- outbox per destination, moving a destination ---------------------------------------------
OLD, NEW, NEIGHBOUR = "telegram:-123", "telegram:-100123", "telegram:-1234"


async def test_outbox_for_counts_due_and_leased_entries(store: Store) -> None:
    assert await store.outbox_for(OLD) == 0
    alerts = [alert("a", to=OLD), alert("b", to=OLD), alert("c", to=NEIGHBOUR)]
    await commit(store, ["a", "b", "c"], [*alerts, alert("d", to=OLD, delivery="digest")])
    [leased] = await store.claim(now=1000.0, lease=60, limit=1)
    assert (await store.outbox_for(OLD), await store.outbox_for(NEIGHBOUR)) == (2, 1)
    await store.ack(leased.id)
    assert (await store.outbox_for(OLD), await store.outbox_for(NEIGHBOUR)) == (1, 1)
    assert await store.outbox_for("telegram:-12") == 0


async def snapshot(store: Store) -> tuple[object, ...]:
    """Everything a move may touch, except the outbox (claiming it would lease it)."""
    return (
        await store.subscriptions(),
        await store.topics(),
        await store.feeds(),
        await store.chats(),
        [await store.digest_alerts(to, "belarus") for to in (OLD, NEW, NEIGHBOUR)],
        await store.outbox_for(OLD),
        await store.outbox_for(NEW),
        await store.outbox_for(NEIGHBOUR),
    )


async def test_move_destination_moves_everything(store: Store) -> None:
    words = (KeywordLine(("Minsk",)),)
    subs = [
        Subscription(topic="belarus", to=OLD, keywords=words, mode="both", previews=True),
        Subscription(topic="mine", to=OLD, keywords=words, created=7.0),
        Subscription(topic="belarus", to=NEIGHBOUR, keywords=words),
    ]
    topics = [
        Topic(name="belarus", keywords=words),
        Topic(name="mine", keywords=words, owner=OLD),
        Topic(name="mine", keywords=words, owner=NEIGHBOUR),
    ]
    feeds = [
        dataclasses.replace(FULL_FEED, owner=NEIGHBOUR),
        dataclasses.replace(FULL_FEED, owner=OLD),
        Feed(url="https://b.example/feed", name="B", owner=OLD),
        Feed(url="https://c.example/feed", name="C", owner=NEIGHBOUR),
    ]
    chat = Chat(OLD, zone="Europe/Minsk", mute_until=5000.0, anyone_can_edit=True, owner="u:1")
    for sub in subs:
        await store.save_subscription(sub)
    for topic in topics:
        await store.save_topic(topic)
    for feed in feeds:
        await store.save_feed(feed)
    await store.save_chat(chat)
    await store.save_chat(Chat(NEIGHBOUR))
    a1, a2, d1 = alert("a1", to=OLD), alert("a2", to=OLD), alert("d1", to=OLD, delivery="digest")
    b1 = alert("b1", to=NEIGHBOUR)
    await commit(store, [], [a1, a2, d1, b1])
    [first, *_] = await store.claim(now=1000.0, lease=60, limit=10)
    assert first.alert == a1
    await store.retry(first.id, not_before=2000.0, error="HTTP 500")

    assert await store.move_destination(OLD, NEW) == 2

    moved = [dataclasses.replace(s, to=NEW) for s in subs[:2]]
    assert await store.subscriptions() == [moved[0], moved[1], subs[2]]
    assert await store.topics() == [topics[0], dataclasses.replace(topics[1], owner=NEW), topics[2]]
    assert await store.feeds() == [
        feeds[0],
        dataclasses.replace(feeds[1], owner=NEW),
        dataclasses.replace(feeds[2], owner=NEW),
        feeds[3],
    ]
    assert await store.chat(NEW) == dataclasses.replace(chat, to=NEW)
    assert await store.chat(OLD) == Chat(OLD)
    assert await store.chats() == [dataclasses.replace(chat, to=NEW), Chat(NEIGHBOUR)]
    assert await store.digest_alerts(NEW, "belarus") == [dataclasses.replace(d1, to=NEW)]
    assert await store.digest_alerts(OLD, "belarus") == []
    assert (await store.outbox_for(OLD), await store.outbox_for(NEW)) == (0, 2)
    assert await store.outbox_for(NEIGHBOUR) == 1

    # the outbox: re-addressed, due time and attempts kept
    due = await store.claim(now=1500.0, lease=1000, limit=10)
    assert [(e.alert, e.attempts) for e in due] == [(dataclasses.replace(a2, to=NEW), 0), (b1, 0)]
    [again] = await store.claim(now=2000.0, lease=60, limit=10)
    assert (again.id, again.attempts, again.alert) == (first.id, 1, dataclasses.replace(a1, to=NEW))

    # the link memory: the same stories from another feed are not sent again under the new id
    deliveries: tuple[tuple[str, Delivery], ...] = (("a1", "instant"), ("d1", "digest"))
    for item, delivery in deliveries:
        link = f"https://example.org/{item}"
        repeat = alert(f"{item}-elsewhere", link=link, to=NEW, delivery=delivery)
        assert await commit(store, [], [repeat], feed_id="feed2", now=3000.0) == []
    assert await commit(store, [], [alert("fresh", to=NEW)], feed_id="feed2", now=3000.0)

    before = await snapshot(store)
    assert await store.move_destination(OLD, NEW) == 0  # idempotent
    assert await snapshot(store) == before


async def test_move_destination_keeps_what_new_already_has(store: Store) -> None:
    old_words, new_words = (KeywordLine(("old",)),), (KeywordLine(("new",)),)
    await store.save_subscription(Subscription(topic="belarus", to=OLD, keywords=old_words))
    await store.save_subscription(Subscription(topic="minsk", to=OLD, keywords=old_words))
    kept_sub = Subscription(topic="belarus", to=NEW, keywords=new_words, mode="digest")
    await store.save_subscription(kept_sub)
    await store.save_topic(Topic(name="mine", keywords=old_words, owner=OLD))
    kept_topic = Topic(name="mine", keywords=new_words, owner=NEW)
    await store.save_topic(kept_topic)
    await store.save_feed(dataclasses.replace(FULL_FEED, owner=OLD, name="old"))
    kept_feed = dataclasses.replace(FULL_FEED, owner=NEW, name="new")
    await store.save_feed(kept_feed)
    await store.save_chat(Chat(OLD, zone="Europe/Minsk"))
    await store.save_chat(Chat(NEW, zone="Europe/Warsaw"))
    # link memory: old remembers L1 long and L2; new remembers L1 briefly
    l1, l2 = "https://example.org/1", "https://example.org/2"
    await commit(store, [], [alert("x", link=l1, to=OLD)], now=0.0, keep=100.0)
    await commit(store, [], [alert("y", link=l2, to=OLD)], now=0.0, keep=100.0)
    await commit(store, [], [alert("z", link=l1, to=NEW)], feed_id="f3", now=0.0, keep=10.0)
    old_digest = alert("od", to=OLD, delivery="digest")
    new_digest = alert("nd", to=NEW, delivery="digest")
    await commit(store, [], [new_digest], now=0.0, keep=100.0)
    await commit(store, [], [old_digest], now=0.0, keep=100.0)

    assert await store.move_destination(OLD, NEW) == 2

    assert await store.subscriptions() == [
        kept_sub,
        Subscription(topic="minsk", to=NEW, keywords=old_words),
    ]
    assert await store.topics() == [kept_topic]
    assert await store.feeds() == [kept_feed]
    assert await store.chats() == [Chat(NEW, zone="Europe/Warsaw")]
    assert await store.digest_alerts(NEW, "belarus") == [
        new_digest,
        dataclasses.replace(old_digest, to=NEW),
    ]
    for item, link in (("l1", l1), ("l2", l2)):  # the longer memory of the two is kept
        again = alert(item, link=link, to=NEW)
        assert await commit(store, [], [again], feed_id="f4", now=50.0) == []
    assert await store.outbox_for(NEW) == 3
    assert await store.move_destination(OLD, NEW) == 0


async def test_moving_to_itself_or_from_nowhere_moves_nothing(store: Store) -> None:
    await store.save_subscription(Subscription(topic="t", to=OLD, keywords=()))
    await commit(store, [], [alert("a", to=OLD)])
    before = await snapshot(store)
    assert await store.move_destination(OLD, OLD) == 0
    assert await store.move_destination("telegram:-999", NEW) == 0
    assert await snapshot(store) == before


# --- locks ----------------------------------------------------------------------------------
async def test_locks(store: Store) -> None:
    assert await store.try_lock("poll:f1", "p1", ttl=10, now=0.0)
    assert not await store.try_lock("poll:f1", "p2", ttl=10, now=5.0)
    assert await store.try_lock("poll:f2", "p2", ttl=10, now=5.0)  # other locks are free
    assert await store.try_lock("poll:f1", "p1", ttl=10, now=8.0)  # renewed until 18
    assert not await store.try_lock("poll:f1", "p2", ttl=10, now=12.0)
    assert await store.try_lock("poll:f1", "p2", ttl=10, now=18.0)  # expired: p2 takes it
    assert not await store.try_lock("poll:f1", "p1", ttl=10, now=19.0)
    await store.unlock("poll:f1", "p1")  # not the holder: nothing happens
    assert not await store.try_lock("poll:f1", "p3", ttl=10, now=20.0)
    await store.unlock("poll:f1", "p2")
    assert await store.try_lock("poll:f1", "p3", ttl=10, now=20.0)


# --- restart ------------------------------------------------------------------------------
async def test_data_survives_a_restart(opener: Opener) -> None:
    store = await opener()
    topic = Topic(name="t", keywords=(KeywordLine(("x",)),), owner="telegram:1")
    sub = Subscription(topic="t", to="telegram:1", keywords=topic.keywords, mode="digest")
    await store.save_topic(topic)
    await store.save_subscription(sub)
    await store.save_feed(FULL_FEED)
    await store.save_chat(Chat("telegram:1", zone="Europe/Minsk"))
    instant, digest = alert("a"), alert("b", delivery="digest")
    await commit(store, ["a", "b"], [instant, digest])
    [leased] = await store.claim(now=1000.0, lease=60, limit=10)
    assert await store.try_lock("poll:feed1", "p1", ttl=600, now=1000.0)
    await store.close()

    store = await opener()
    assert await store.topics() == [topic]
    assert await store.subscriptions() == [sub]
    assert await store.feeds() == [FULL_FEED]
    assert await store.chats() == [Chat("telegram:1", zone="Europe/Minsk")]
    assert await store.unseen("feed1", ["a", "b", "c"], now=1000.0) == {"c"}
    assert await store.feed_state("feed1") == FeedState(last_poll=1000.0, polls=1)
    assert await store.digest_alerts("console", "belarus") == [digest]
    assert await store.claim(now=1010.0, lease=60, limit=10) == []  # still leased
    [again] = await store.claim(now=1060.0, lease=60, limit=10)  # lease ran out: recovered
    assert (again.id, again.alert) == (leased.id, instant)
    assert not await store.try_lock("poll:feed1", "p2", ttl=600, now=1001.0)


async def test_a_failed_commit_changes_nothing(store: Store) -> None:
    broken = dataclasses.replace(alert("b"), published="not a datetime")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        await commit(store, ["a", "b"], [alert("a"), broken])
    assert await store.unseen("feed1", ["a", "b"], now=1000.0) == {"a", "b"}
    assert await store.feed_state("feed1") == FeedState()
    assert await store.outbox_depth() == 0
    assert await commit(store, ["a", "b"], [alert("a")]) == [alert("a")]


# --- opening and failing --------------------------------------------------------------------
def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_open_store_picks_redis_when_a_url_is_set(redis_url: str, tmp_path: Path) -> None:
    store = await open_store(redis_url, str(tmp_path / "unused.db"))
    assert isinstance(store, RedisStore)
    await store.close()
    store = await open_store(None, str(tmp_path / "dozor.db"))
    assert isinstance(store, SqliteStore)
    await store.close()
    assert not (tmp_path / "unused.db").exists()


async def test_unreachable_redis_is_a_clear_store_error(tmp_path: Path) -> None:
    port = dead_port()
    with pytest.raises(StoreError) as caught:
        await open_store(f"redis://:s3cret@127.0.0.1:{port}/0", str(tmp_path / "x.db"))
    message = str(caught.value)
    assert message == f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0: Connection refused"
    assert "s3cret" not in message


async def test_redis_lost_after_opening_is_a_store_error() -> None:
    port = dead_port()
    client = Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), retries=0))
    store = RedisStore(client, where=f"redis://127.0.0.1:{port}")
    try:
        with pytest.raises(StoreError, match="cannot reach Redis"):
            await commit(store, ["a"], [alert("a")])
        with pytest.raises(StoreError, match="cannot reach Redis"):
            await store.claim(now=0.0, lease=1, limit=1)
    finally:
        await store.close()


async def test_sqlite_path_that_is_a_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="it is a directory"):
        await open_store(None, str(tmp_path))


async def test_sqlite_path_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    path = tmp_path / "a-file" / "dozor.db"
    with pytest.raises(StoreError, match=f"cannot open SQLite database {path}: unable to open"):
        await open_store(None, str(path))


async def test_sqlite_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello " * 1000)
    with pytest.raises(StoreError, match="file is not a database"):
        await open_store(None, str(path))


# --- records and story fingerprints ---------------------------------------------------------
async def test_records_are_replaced_and_expire_by_the_callers_clock(store: Store) -> None:
    assert await store.get_record("digest:a", now=1000.0) is None
    await store.put_record("digest:a", '{"sent": 1}')
    await store.put_record("digest:a", '{"sent": 2}')
    await store.put_record("msg:b", "ref-1", expires=2000.0)
    assert await store.get_record("digest:a", now=1000.0) == '{"sent": 2}'
    assert await store.get_record("msg:b", now=1999.0) == "ref-1"
    assert await store.get_record("msg:b", now=2000.0) is None
    assert await store.purge(2000.0) == 1
    await store.put_record("msg:b", "ref-2")  # no expiry any more
    assert await store.purge(9999.0) == 0
    assert await store.get_record("msg:b", now=9999.0) == "ref-2"


async def test_story_fingerprints_are_listed_since_and_forgotten_before(store: Store) -> None:
    await store.add_stories([(100.0, '["a"]'), (200.0, '["b"]')])
    await store.add_stories([(300.0, '["c"]')])
    await store.add_stories([])
    assert await store.stories_since(200.0) == [(200.0, '["b"]'), (300.0, '["c"]')]
    assert await store.forget_stories(200.0) == 1
    assert [row for _, row in await store.stories_since(0.0)] == ['["b"]', '["c"]']
