"""Faults, end to end through `dozor run`: the process killed mid-delivery, Redis restarted under
it, the SQLite file locked or its disk full, and Telegram failing in bursts. Each test counts
what reached the fake Bot API: every alert once, none lost."""

from __future__ import annotations

import resource
import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.feeds import OTHER, Entry, feeds_yaml, rss, subscribed
from tests.service import Service, free_port, polls_later, read_store, wait_until

SUBJECTS = [
    "Lukashenko meets Chinese trade envoy in Minsk",
    "Belarus opposition leader sentenced in absentia",
    "Minsk metro extends its third line to the airport",
    "Białoruś zamyka przejście graniczne w Kuźnicy",
    "Лукашенко подписал указ о налогах",
    "Belarusian potash exports rerouted through Russian ports",
    "Zapad drills: Belarus hosts Russian troops near Grodno",
    "Minsk court fines journalists for covering protests",
    "Belarus frees political prisoners after US talks",
    "Lukashenko warns Poland over border fence",
]
STORIES = [
    Entry(title, f"https://news.example/s/{n}", f"s{n}", minutes=10 + n)
    for n, title in enumerate(SUBJECTS)
]


def headline(message: SentMessage) -> tuple[int | str, str]:
    return message.chat_id, message.plain.splitlines()[0]


def chats_config(feed_server: FeedServer, chats: list[int]) -> str:
    subs = subscribed(*(f"telegram:{chat}" for chat in chats))
    return feeds_yaml((feed_server.url("/f.xml"), "Wire"), extra=subs)


def outbox_depth(workdir: Path) -> int:
    return read_store(workdir, lambda store: store.outbox_depth())


def start_feed(tmp_path: Path, feed_server: FeedServer, chats: list[int]) -> None:
    feed_server.set("/f.xml", rss(*OTHER))
    (tmp_path / "feeds.yaml").write_text(chats_config(feed_server, chats), encoding="utf-8")


def test_kill_9_mid_delivery_then_restart_delivers_every_alert_once(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    """500 alerts to 50 chats at Telegram's pace; `kill -9` a third of the way in; restart.
    Every alert arrives; the only repeats allowed are messages the killed process had sent and
    not yet acked (no API can tell a sender that), and there are none outside that moment."""
    chats = list(range(3001, 3051))
    start_feed(tmp_path, feed_server, chats)
    telegram_api.enforce_limits()
    env = {**telegram_api.env(), "DOZOR_OUTBOX_LEASE": "5s"}
    first = Service(tmp_path, env)
    try:
        # the first poll is committed (backfill 0 alerts nothing) before the news comes
        wait_until(lambda: feed_server.hits("/f.xml") >= 2, what="first polls")
        feed_server.set("/f.xml", rss(*STORIES, *OTHER))
        telegram_api.wait_for_sent(150, timeout=60)
        first.proc.kill()
        killed_at = time.monotonic()
        first.proc.wait(timeout=10)
    finally:
        if first.proc.poll() is None:
            first.kill()
    before = len(telegram_api.sent())
    assert before < 500, "the kill came too late to test anything"

    expected = {(chat, title) for chat in chats for title in SUBJECTS}
    with Service(tmp_path, env) as second:
        wait_until(
            lambda: {headline(m) for m in telegram_api.sent()} >= expected,
            timeout=120,
            what="every alert delivered after the restart",
        )
        code, log = second.stop()
    assert code == 0 and "Traceback" not in log
    assert outbox_depth(tmp_path) == 0

    sent = telegram_api.sent()
    counts = Counter(headline(m) for m in sent)
    assert set(counts) == expected
    repeated = {key for key, n in counts.items() if n > 1}
    assert all(counts[key] == 2 for key in repeated)
    for key in repeated:
        first_copy = next(m for m in sent if headline(m) == key)
        # accepted by Telegram in the moment before the kill, so never acked
        assert killed_at - 2.0 <= first_copy.time <= killed_at, (key, killed_at - first_copy.time)
    assert len(repeated) <= 32, f"{len(repeated)} repeats: more than the sends in flight"
    print(f"sent before kill: {before}; repeated after restart: {len(repeated)}")


class OwnRedis:
    """A redis-server of the test's own on a free loopback port, with an append-only file in
    `directory` (fsync on every write), so it can be killed and started again with its data."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed here")
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(self.binary, "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--dir", str(self.directory), "--appendonly", "yes"),
                *("--appendfsync", "always", "--save", ""),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, timeout=10, what="redis-server up")

    def answers(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def test_redis_killed_and_restarted_mid_delivery_loses_nothing(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    """Redis dies (kill -9) while 50 alerts are going out and comes back a few seconds later
    from its append-only file: the service stays up, reconnects, and every alert arrives once."""
    chats = list(range(4001, 4011))
    start_feed(tmp_path, feed_server, chats)
    telegram_api.enforce_limits()
    server = OwnRedis(tmp_path)
    server.start()
    try:
        with Service(tmp_path, {**telegram_api.env(), "REDIS_URL": server.url}) as running:
            wait_until(lambda: feed_server.hits("/f.xml") >= 2, what="first polls")
            feed_server.set("/f.xml", rss(*STORIES[:5], *OTHER))
            telegram_api.wait_for_sent(10, timeout=30)
            server.kill()
            wait_until(
                lambda: "cannot reach Redis" in "".join(running.log),
                what="the outage noticed and logged",
            )
            assert running.proc.poll() is None
            server.start()
            expected = {(chat, title) for chat in chats for title in SUBJECTS[:5]}
            wait_until(
                lambda: {headline(m) for m in telegram_api.sent()} >= expected,
                timeout=90,
                what="every alert delivered after Redis came back",
            )
            polls_later(feed_server)
            code, log = running.stop()
    finally:
        server.stop()
    tracebacks = [block for block in log.split("\n") if block.startswith(("error", "Trace"))]
    assert code == 0 and "Traceback" not in log, "\n".join(tracebacks[:10]) + log[-3000:]
    counts = Counter(headline(m) for m in telegram_api.sent())
    assert set(counts) == expected
    assert [key for key, n in counts.items() if n > 1] == []


def delivered_once(
    telegram_api: FakeTelegram, chats: list[int], stories: int, timeout: float = 60
) -> None:
    """Wait for the first `stories` stories in every chat, then check none came twice."""
    expected = {(chat, title) for chat in chats for title in SUBJECTS[:stories]}
    wait_until(
        lambda: {headline(m) for m in telegram_api.sent()} >= expected,
        timeout=timeout,
        what="every alert delivered",
    )
    counts = Counter(headline(m) for m in telegram_api.sent())
    assert set(counts) == expected
    assert [key for key, n in counts.items() if n > 1] == []


def test_a_locked_sqlite_database_is_waited_out_not_a_crash(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    """Another program holds the database's write lock for longer than the busy timeout while
    news arrives: the poll fails with a clear message, the service stays up, and when the lock
    goes the news is delivered, once."""
    chats = [5001, 5002]
    start_feed(tmp_path, feed_server, chats)
    with Service(tmp_path, telegram_api.env()) as running:
        wait_until(lambda: feed_server.hits("/f.xml") >= 2, what="first polls")
        intruder = sqlite3.connect(tmp_path / "dozor.db", isolation_level=None)
        intruder.execute("BEGIN EXCLUSIVE")
        try:
            feed_server.set("/f.xml", rss(*STORIES[:3], *OTHER))
            wait_until(
                lambda: "database is locked" in "".join(running.log),
                what="the lock reported",
            )
            assert running.proc.poll() is None
            assert telegram_api.sent() == []
        finally:
            intruder.execute("ROLLBACK")
            intruder.close()
        delivered_once(telegram_api, chats, 3)
        code, log = running.stop()
    assert code == 0 and "Traceback" not in log
    assert "is another process using it?" in log


def test_a_full_disk_is_reported_and_retried_not_a_crash(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    """The process may write no more bytes to any file (RLIMIT_FSIZE, as a full disk does to
    SQLite) while news arrives: polls fail with a clear error, nothing is half-written; when
    space is back the news is delivered, once."""
    chats = [5101, 5102]
    start_feed(tmp_path, feed_server, chats)
    with Service(tmp_path, telegram_api.env()) as running:
        wait_until(lambda: feed_server.hits("/f.xml") >= 2, what="first polls")
        pid = running.proc.pid
        unlimited = resource.RLIM_INFINITY
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, unlimited))
        try:
            feed_server.set("/f.xml", rss(*STORIES[:3], *OTHER))
            wait_until(
                lambda: "is the disk full" in "".join(running.log),
                what="the full disk reported",
            )
            reported = "".join(running.log).count("is the disk full")
            wait_until(  # still polling, still failing, still saying why
                lambda: "".join(running.log).count("is the disk full") >= reported + 2,
                what="later polls fail the same way",
            )
            assert running.proc.poll() is None
            assert telegram_api.sent() == []
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (unlimited, unlimited))
        delivered_once(telegram_api, chats, 3)
        code, log = running.stop()
    assert code == 0 and "Traceback" not in log


def retry_after_kept(sends: list[tuple[object, float, int | None]], wait: float) -> list[str]:
    """(chat, arrival, status) of one platform's sends, in arrival order, where every 429 said
    to wait `wait` seconds: each send to a chat that was told to wait came after the wait.
    Returns the breaches."""
    told: dict[object, float] = {}
    breaches = []
    for chat, arrived, status in sends:
        if arrived < told.get(chat, 0.0) - 0.05:
            breaches.append(f"{chat}: sent {told[chat] - arrived:.2f}s early")
        if status == 429:
            told[chat] = arrived + wait
    return breaches


def test_telegram_failing_in_bursts_still_gets_every_alert_once(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    """50 alerts while Telegram answers 429s, 500s and 502s, hangs up, and answers too late
    for the client's timeout: every alert arrives once, and no chat is sent to before the
    retry_after it was given."""
    chats = list(range(6001, 6011))
    start_feed(tmp_path, feed_server, chats)
    with Service(tmp_path, telegram_api.env()) as running:
        wait_until(lambda: feed_server.hits("/f.xml") >= 2, what="first polls")
        for burst in (
            {"error_code": 429, "retry_after": 2, "times": 3},
            {"error_code": 500, "description": "Internal Server Error", "times": 2},
            {"drop": True, "times": 2},
            {"error_code": 502, "description": "Bad Gateway", "times": 1},
            {"delay": 6.0, "error_code": 504, "description": "Gateway Timeout", "times": 1},
            {"error_code": 429, "retry_after": 2, "times": 1},
        ):
            telegram_api.fail("sendMessage", **burst)
        feed_server.set("/f.xml", rss(*STORIES[:5], *OTHER))
        delivered_once(telegram_api, chats, 5, timeout=120)
        code, log = running.stop()
    assert code == 0 and "Traceback" not in log
    sends = telegram_api.calls("sendMessage")
    statuses = Counter(c.status for c in sends)
    expected = {429: 4, 500: 2, 0: 2, 502: 1, 504: 1, 200: 50}
    assert statuses == expected, statuses
    told = [(c.params.get("chat_id"), c.time, c.status) for c in sends]
    assert retry_after_kept(told, 2.0) == []


def test_slack_failing_in_bursts_still_gets_every_alert_once(
    tmp_path: Path, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    """The same for Slack: ratelimited with Retry-After, HTML 500/503 pages, hang-ups."""
    channels = [f"C0FAULT{n}" for n in range(5)]
    for channel in channels:
        slack_api.add_channel(channel, name=channel.lower())
    feed_server.set("/f.xml", rss(*OTHER))
    subs = subscribed(*(f"slack:{channel}" for channel in channels))
    config = feeds_yaml((feed_server.url("/f.xml"), "Wire"), extra=subs)
    (tmp_path / "feeds.yaml").write_text(config, encoding="utf-8")
    with Service(tmp_path, slack_api.env(socket_mode=True)) as running:
        wait_until(lambda: feed_server.hits("/f.xml") >= 2, what="first polls")
        for burst in (
            {"status": 429, "retry_after": 2, "times": 2},
            {"status": 500, "times": 1},
            {"status": 0, "times": 2},
            {"status": 503, "times": 1},
            {"status": 429, "retry_after": 2, "times": 1},
        ):
            slack_api.fail("chat.postMessage", **burst)
        feed_server.set("/f.xml", rss(*STORIES[:5], *OTHER))
        expected = {(channel, title) for channel in channels for title in SUBJECTS[:5]}

        def posted() -> list[tuple[str, str]]:
            return [(p.channel, p.plain.splitlines()[0]) for p in slack_api.posted()]

        wait_until(lambda: set(posted()) >= expected, timeout=120, what="every alert posted")
        code, log = running.stop()
    assert code == 0 and "Traceback" not in log
    counts = Counter(posted())
    assert set(counts) == expected and max(counts.values()) == 1
    sends = slack_api.calls("chat.postMessage")
    statuses = Counter(c.status for c in sends)
    assert statuses == {429: 3, 500: 1, 0: 2, 503: 1, 200: 25}, statuses
    told = [(c.params.get("channel"), c.time, c.status) for c in sends]
    assert retry_after_kept(told, 2.0) == []


def test_sigterm_returns_in_flight_work_within_a_bounded_time(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    """SIGTERM while a feed dribbles its bytes and Telegram sits on a send: the process exits
    cleanly within its grace (8 s) plus start-up slack, not after the slow work; after a
    restart the alert that was in flight arrives, once."""
    chats = [8001]
    start_feed(tmp_path, feed_server, chats)
    feed_server.dribble("/slow.xml", rss(*OTHER), chunk=1, interval=0.2)
    subs = subscribed("telegram:8001")
    config = feeds_yaml(
        (feed_server.url("/f.xml"), "Wire"), (feed_server.url("/slow.xml"), "Slow"), extra=subs
    )
    (tmp_path / "feeds.yaml").write_text(config, encoding="utf-8")
    env = {**telegram_api.env(), "DOZOR_OUTBOX_LEASE": "3s"}
    with Service(tmp_path, env) as running:
        wait_until(lambda: feed_server.hits("/f.xml") >= 2, what="first polls")
        # Telegram holds the first send 30 s, then fails it
        telegram_api.fail("sendMessage", delay=30.0, error_code=502, description="Bad Gateway")
        feed_server.set("/f.xml", rss(STORIES[0], *OTHER))
        telegram_api.wait_for_call("sendMessage")
        assert feed_server.hits("/slow.xml") >= 1
        started = time.monotonic()
        code, log = running.stop(timeout=30)
        took = time.monotonic() - started
    assert code == 0 and "Traceback" not in log, log[-3000:]
    assert took < 15, f"SIGTERM took {took:.1f}s"
    assert telegram_api.sent() == []
    with Service(tmp_path, env) as again:
        (alert,) = telegram_api.wait_for_sent(1, chat_id=8001, timeout=30)
        assert alert.plain.startswith(SUBJECTS[0])
        polls_later(feed_server)
        code, _ = again.stop()
    assert code == 0 and len(telegram_api.sent()) == 1
