"""What only the Redis store promises: key names in one namespace, no password in messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from bot.models import Alert, Chat, Feed, FeedState, KeywordLine, Subscription, Topic
from bot.store.keys import Keys
from bot.store.redis import RedisStore, redact


def alert(item: str, *, delivery: str = "instant") -> Alert:
    return Alert(
        topic="t/1",
        to="telegram:1",
        feed="F",
        feed_id="f1",
        id=item,
        url="",
        canonical_url=f"https://x/{item}",
        title=item,
        summary="",
        published=datetime(2025, 1, 1, tzinfo=UTC),
        matched=("x",),
        delivery="digest" if delivery == "digest" else "instant",
    )


async def test_every_key_lives_under_the_prefix(redis_url: str) -> None:
    store = await RedisStore.open(redis_url, prefix="ns:test:")
    try:
        await store.commit_poll(
            "f1",
            ["a", "b"],
            [alert("a"), alert("b", delivery="digest")],
            FeedState(polls=1),
            now=0.0,
            keep_seconds=100.0,
        )
        await store.claim(now=0.0, lease=10, limit=10)
        await store.retry("0000000000000001", not_before=5.0, error="x")
        await store.save_topic(Topic(name="t", keywords=(KeywordLine(("x",)),)))
        await store.save_subscription(Subscription(topic="t", to="console", keywords=()))
        await store.try_lock("poll:f1", "p1", ttl=60, now=0.0)
        await store.save_feed(Feed(url="https://x/rss", name="X", owner="telegram:1"))
        await store.save_chat(Chat("telegram:1"))
        await store.move_destination("telegram:1", "telegram:2")
        client = aioredis.from_url(redis_url, decode_responses=True)
        try:
            names = set(await client.keys("*"))
        finally:
            await client.aclose()
    finally:
        await store.close()
    keys = Keys("ns:test:")
    assert names == {
        keys.feed_state("f1"),
        keys.seen("f1"),
        keys.seen_index(),
        keys.links("telegram:2", "t/1", "instant"),
        keys.links("telegram:2", "t/1", "digest"),
        keys.links_index(),
        keys.outbox_due(),
        keys.outbox_data(),
        keys.outbox_attempts(),
        keys.outbox_errors(),
        keys.outbox_seq(),
        keys.digest("telegram:2", "t/1"),
        keys.digest_index(),
        keys.topics(),
        keys.subscriptions(),
        keys.feeds(),
        keys.feeds_order(),
        keys.feeds_seq(),
        keys.chats(),
        keys.lock("poll:f1"),
    }


async def test_purge_leaves_no_empty_index_entries(redis_url: str) -> None:
    store = await RedisStore.open(redis_url)
    try:
        await store.commit_poll("f1", ["a"], [alert("a")], FeedState(), now=0.0, keep_seconds=10.0)
        assert await store.purge(10.0) == 2
        client = aioredis.from_url(redis_url, decode_responses=True)
        try:
            assert await client.exists(Keys().seen_index(), Keys().links_index()) == 0
        finally:
            await client.aclose()
    finally:
        await store.close()


async def test_indexes_follow_moves_and_emptied_digests(redis_url: str) -> None:
    store = await RedisStore.open(redis_url)
    client = aioredis.from_url(redis_url, decode_responses=True)
    keys = Keys()
    try:
        digest = [alert("a", delivery="digest"), alert("b", delivery="digest")]
        await store.commit_poll("f1", [], digest, FeedState(), now=0.0, keep_seconds=10.0)
        await store.move_destination("telegram:1", "telegram:2")
        assert await client.smembers(keys.digest_index()) == {keys.digest("telegram:2", "t/1")}
        assert await client.smembers(keys.links_index()) == {
            keys.links("telegram:2", "t/1", "digest")
        }
        await store.drop_digest("telegram:2", "t/1", 1)
        assert await client.scard(keys.digest_index()) == 1
        await store.drop_digest("telegram:2", "t/1", 1)
        assert await client.exists(keys.digest_index()) == 0
    finally:
        await client.aclose()
        await store.close()


async def test_a_forgotten_lock_also_expires_in_redis(redis_url: str) -> None:
    store = await RedisStore.open(redis_url)
    try:
        assert await store.try_lock("poll:f1", "p1", ttl=30, now=0.0)
        client = aioredis.from_url(redis_url)
        try:
            assert 0 < await client.pttl(Keys().lock("poll:f1")) <= 30_000
        finally:
            await client.aclose()
    finally:
        await store.close()


def test_keys_never_collide_on_user_text() -> None:
    keys = Keys()
    assert keys.links("a/b", "c", "instant") != keys.links("a", "b/c", "instant")
    assert keys.digest("a%2Fb", "c") != keys.digest("a/b", "c")
    assert keys.digest("telegram:-100", "belarus") == "dozor:digest:telegram:-100/belarus"
    assert Keys("x:").seen("f") == "x:seen:f"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://user:p%40ss@[::1]:6380/2", "rediss://user:***@[::1]:6380/2"),
        ("redis://127.0.0.1/0?password=pw&db=1", "redis://127.0.0.1/0?password=***&db=1"),
    ],
)
def test_redact_hides_passwords(url: str, shown: str) -> None:
    assert redact(url) == shown


async def test_send_budgets_are_shared_by_every_pacer_on_one_redis(redis_url: str) -> None:
    """Two replicas' pacers on one Redis: together they keep 1 send/s for a chat."""
    from bot.ratelimit import TELEGRAM_OVERALL_PACE, TELEGRAM_PER_CHAT, Pacer, telegram_rules

    store = await RedisStore.open(redis_url)
    clock = [1_000.0]
    sends: list[float] = []

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    def pacer() -> Pacer:
        return Pacer(clock=lambda: clock[0], sleep=sleep, take=store.take_budget)

    one, two = pacer(), pacer()
    try:
        for replica in (one, two, one, two, two):
            await replica.wait(telegram_rules(42))
            sends.append(clock[0])
        gap = TELEGRAM_PER_CHAT.window  # one second and a margin
        assert sends == pytest.approx([1000.0 + n * gap for n in range(5)])
        # another chat has its own budget: it waits only for the even overall pace (1/30 s)
        await one.wait(telegram_rules(43))
        assert clock[0] == pytest.approx(1000.0 + 4 * gap + TELEGRAM_OVERALL_PACE.window)
    finally:
        await store.close()
