"""Several `dozor run` processes on one Redis: exactly one reads Telegram updates, the other
stands by and takes over when the first dies; together they send each alert once."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import MATCHING, OTHER, Entry, feeds_yaml, rss, subscribed
from tests.service import Service, polls_later, wait_until

CHAT = 42


async def test_one_replica_reads_updates_and_the_other_takes_over(
    tmp_path: Path, redis_url: str, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    feed_server.set("/f.xml", rss(*OTHER))
    (tmp_path / "feeds.yaml").write_text(
        feeds_yaml((feed_server.url("/f.xml"), "Local News")), encoding="utf-8"
    )
    env = {**telegram_api.env(), "REDIS_URL": redis_url}
    first = Service(tmp_path, env)
    second = Service(tmp_path, env)
    try:
        telegram_api.wait_for_call("getUpdates")
        wait_until(lambda: "standing by" in "".join(first.log + second.log), what="a standby")
        conflicts = [c for c in telegram_api.calls("getUpdates") if c.status == 409]
        assert conflicts == []  # never two long polls at once
        leader, standby = (
            (first, second)
            if "this replica reads Telegram updates" in "".join(first.log)
            else (second, first)
        )
        wait_until(lambda: feed_server.hits("/f.xml") >= 1, what="first poll")
        telegram_api.send_text(CHAT, "/subscribe belarus")
        (reply,) = telegram_api.wait_for_sent(1, chat_id=CHAT)
        assert reply.plain.startswith("Subscribed to belarus")
        feed_server.set("/f.xml", rss(*MATCHING, *OTHER))
        alerts = telegram_api.wait_for_sent(4, chat_id=CHAT)[1:]
        assert sorted(m.plain.splitlines()[0] for m in alerts) == sorted(e.title for e in MATCHING)
        leader.kill()  # kill -9: no hand-over, the lease must lapse
        wait_until(
            lambda: "this replica reads Telegram updates" in "".join(standby.log),
            timeout=40,
            what="takeover",
        )
        telegram_api.send_text(CHAT, "/list")
        listed = telegram_api.wait_for_sent(5, chat_id=CHAT, timeout=30)[4]
        assert "belarus" in listed.plain
        hits = feed_server.hits("/f.xml")
        wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2, what="polling goes on")
        assert len(telegram_api.sent(CHAT)) == 5  # nothing twice
        assert [c for c in telegram_api.calls("getUpdates") if c.status == 409] == []
    finally:
        for service in (first, second):
            if service.proc.poll() is None:
                service.stop()


async def test_dropped_redis_connections_lose_nothing(
    tmp_path: Path, redis_url: str, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    """Redis drops every client connection mid-run: the service reconnects and delivers."""
    feed_server.set("/f.xml", rss(*OTHER))
    (tmp_path / "feeds.yaml").write_text(
        feeds_yaml((feed_server.url("/f.xml"), "Local News")), encoding="utf-8"
    )
    admin = aioredis.from_url(redis_url)
    with Service(tmp_path, {**telegram_api.env(), "REDIS_URL": redis_url}) as running:
        try:
            telegram_api.wait_for_call("getUpdates")
            wait_until(lambda: feed_server.hits("/f.xml") >= 1, what="first poll")
            telegram_api.send_text(CHAT, "/subscribe belarus")
            telegram_api.wait_for_sent(1, chat_id=CHAT)
            dropped = await admin.client_kill_filter(_type="normal", skipme=True)
            assert dropped >= 1
            feed_server.set("/f.xml", rss(*MATCHING, *OTHER))
            await admin.client_kill_filter(_type="normal", skipme=True)  # and again, mid-poll
            alerts = telegram_api.wait_for_sent(4, chat_id=CHAT, timeout=30)[1:]
            assert sorted(m.plain.splitlines()[0] for m in alerts) == sorted(
                e.title for e in MATCHING
            )
            code, log = running.stop()
        finally:
            await admin.aclose()
    assert code == 0 and "Traceback" not in log


def test_three_replicas_share_feeds_and_send_budgets(
    tmp_path: Path, redis_url: str, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    """Three processes, one killed: every feed still polled, every alert sent once, and
    Telegram's per-chat and overall limits kept by all of them together."""
    chats = list(range(2001, 2011))
    paths = ["/a.xml", "/b.xml", "/c.xml"]
    for path in paths:
        feed_server.set(path, rss(*OTHER))
    subs = subscribed(*(f"telegram:{chat}" for chat in chats))
    config = feeds_yaml(*((feed_server.url(p), p[1]) for p in paths), extra=subs)
    (tmp_path / "feeds.yaml").write_text(config, encoding="utf-8")
    telegram_api.enforce_limits()
    env = {**telegram_api.env(), "REDIS_URL": redis_url}
    replicas = [Service(tmp_path, env) for _ in range(3)]
    try:
        # a feed's first poll must have been committed (else the next one is a first poll
        # again, and a first poll alerts nothing with backfill 0)
        wait_until(lambda: all(feed_server.hits(p) >= 3 for p in paths), what="first polls")
        replicas[0].kill()
        stories = {
            path: [
                Entry(f"Lukashenko in {path[1]} {n}", f"https://x.example{path}/{n}", f"{path}{n}")
                for n in range(2)
            ]
            for path in paths
        }
        for path, entries in stories.items():
            feed_server.set(path, rss(*entries, *OTHER))
        expected = 6 * len(chats)
        sent = telegram_api.wait_for_sent(expected, timeout=60)
        for path in paths:  # every feed is still polled by the survivors
            polls_later(feed_server, path)
        sent = telegram_api.sent()
        delivered = [(m.chat_id, m.plain.splitlines()[0]) for m in sent]
        assert len(delivered) == expected and len(set(delivered)) == expected
        assert {chat for chat, _ in delivered} == set(chats)
        # Budgets are shared, so replicas never plan two sends to a chat within its window;
        # but a send planned on time can reach the server late when a process is starved of
        # CPU (three processes and the fakes on two cores), and the next one then looks early.
        # That costs a 429 and a retry, never a lost or doubled alert: allow one or two.
        assert len(telegram_api.violations) <= 2, telegram_api.violations
    finally:
        for replica in replicas:
            if replica.proc.poll() is None:
                replica.stop()
