"""Telegram end to end: the real `dozor run` against the fake Bot API and a feed server, and what
the chat receives. Every wait is on a condition (a message sent, a poll made)."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram, _plain_text
from tests.feeds import MATCHING, OTHER, Entry, atom, feeds_yaml, rss, subscribed
from tests.service import Service, free_port, polls_later, stored_subscriptions, wait_until

CONFIG = """\
defaults: {{interval: 1s, backfill: {backfill}}}
feeds:
  - {{url: "{url}", name: Local News}}
topics:
  belarus:
    keywords:
      - Lukashenko | Лукашэнк*
      - Minsk | Минск*
      - Belarus* | Białoru*
{subscriptions}"""

PRIVATE, GROUP = 42, -1001


def write_config(
    workdir: Path, server: FeedServer, *, backfill: int = 0, subscriptions: str = ""
) -> None:
    text = CONFIG.format(url=server.url("/f.xml"), backfill=backfill, subscriptions=subscriptions)
    (workdir / "feeds.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def workdir(tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.set("/f.xml", rss(*OTHER))
    write_config(tmp_path, feed_server)
    return tmp_path


@pytest.fixture
def service(
    workdir: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> Iterator[Service]:
    with Service(workdir, telegram_api.env()) as running:
        telegram_api.wait_for_call("getUpdates")  # the bot is listening
        wait_until(lambda: feed_server.hits("/f.xml") >= 1, what="first poll")
        yield running


def command(api: FakeTelegram, chat: int, text: str, **kwargs: object) -> str:
    """Send a command, wait for the bot's reply, return what the user reads."""
    before = len(api.sent(chat))
    api.send_text(chat, text, **kwargs)  # type: ignore[arg-type]
    return api.wait_for_sent(before + 1, chat_id=chat)[before].plain


def publish(server: FeedServer, *entries: Entry) -> None:
    server.set("/f.xml", rss(*entries, *OTHER))


def test_subscribe_then_one_well_formed_alert(
    service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    assert {c["command"] for c in telegram_api.commands} >= {"subscribe", "help", "add"}
    reply = command(telegram_api, PRIVATE, "/subscribe belarus")
    assert reply.startswith("Subscribed to belarus: 3 keyword lines")
    story = Entry(
        "Лукашенко провёл совещание в Минске",
        "https://news.example/a/1?utm_source=rss#top",
        "a1",
        description="<p>Совещание прошло <b>во вторник</b>.</p>",
    )
    publish(feed_server, story)
    alert = telegram_api.wait_for_sent(2, chat_id=PRIVATE)[1]
    assert alert.parse_mode == "HTML" and alert.disable_preview
    assert alert.text.startswith('<a href="https://news.example/a/1"><b>Лукашенко провёл')
    assert alert.plain.splitlines() == [
        story.title,
        "Local News · 2025-09-12 08:00 UTC",
        "🔎 Lukashenko, Minsk",
        "Совещание прошло во вторник.",
    ]
    hits = feed_server.hits("/f.xml")
    wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2, what="two more polls")
    assert len(telegram_api.sent(PRIVATE)) == 2  # once, not again


def test_group_needs_an_admin_to_subscribe(service: Service, telegram_api: FakeTelegram) -> None:
    telegram_api.set_admins(GROUP, [8])
    refused = command(
        telegram_api, GROUP, "/subscribe@dozor_test_bot belarus", user_id=7, chat_type="supergroup"
    )
    assert refused.startswith("Only this chat's administrators")
    shown = command(telegram_api, GROUP, "/list", user_id=7, chat_type="supergroup")
    assert "not subscribed" in shown.lower() or "no subscriptions" in shown.lower()
    accepted = command(telegram_api, GROUP, "/subscribe belarus", user_id=8, chat_type="supergroup")
    assert accepted.startswith("Subscribed to belarus")


def test_markup_in_a_headline_shows_literally(
    service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    command(telegram_api, PRIVATE, "/subscribe belarus")
    title = "Lukashenko <b>not bold</b> & </a> <script>x</script> @channel"
    feed_server.set("/f.xml", atom(Entry(title, "https://news.example/x", "x1"), *OTHER))
    alert = telegram_api.wait_for_sent(2, chat_id=PRIVATE)[1]
    assert alert.plain.splitlines()[0] == title
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;/a&gt;" in alert.text


def test_flood_control_is_honoured_and_the_alert_arrives_once(
    service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    command(telegram_api, PRIVATE, "/subscribe belarus")
    telegram_api.fail("sendMessage", error_code=429, retry_after=1, chat_id=PRIVATE)
    publish(feed_server, MATCHING[0])
    sent = telegram_api.wait_for_sent(2, chat_id=PRIVATE, timeout=20)
    refused = [c for c in telegram_api.calls("sendMessage") if c.status == 429]
    assert len(refused) == 1 and sent[1].time - refused[0].time >= 1.0
    hits = feed_server.hits("/f.xml")
    wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2)
    assert [m.plain.splitlines()[0] for m in telegram_api.sent(PRIVATE)[1:]] == [MATCHING[0].title]


def test_blocked_chat_is_deactivated(
    workdir: Path, service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    command(telegram_api, PRIVATE, "/subscribe belarus")
    telegram_api.blocked(PRIVATE)
    publish(feed_server, MATCHING[0])
    telegram_api.wait_for_call("sendMessage", count=2)
    code, log = service.stop()
    assert code == 0 and "deactivated telegram:42" in log

    (sub,) = stored_subscriptions(workdir)
    assert sub.active is False


def test_migrated_group_gets_its_alerts_under_the_new_id(
    service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    telegram_api.set_admins(GROUP, [8])
    command(telegram_api, GROUP, "/subscribe belarus", user_id=8, chat_type="group")
    telegram_api.migrate(GROUP, -1009)
    publish(feed_server, MATCHING[0])
    (alert,) = telegram_api.wait_for_sent(1, chat_id=-1009, timeout=20)
    assert alert.plain.startswith(MATCHING[0].title)
    listed = command(telegram_api, -1009, "/list", user_id=8, chat_type="supergroup")
    assert "belarus" in listed


def test_keyword_edits_touch_one_chat_only(
    service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    other = 43
    command(telegram_api, PRIVATE, "/subscribe belarus")
    command(telegram_api, other, "/subscribe belarus", user_id=other)
    assert command(telegram_api, PRIVATE, "/exclude belarus Minsk").startswith("Excluded")
    assert command(telegram_api, PRIVATE, "/add belarus Tsikhanouskaya | Ціханоўская").startswith(
        "Added"
    )
    removed = command(telegram_api, other, "/remove belarus Belarus*", user_id=other)
    assert removed.startswith("Removed")
    publish(
        feed_server,
        Entry("Lukashenko arrives in Minsk", "https://news.example/m", "m1"),
        Entry("Ціханоўская выступіла ў Сейме", "https://news.example/t", "t1"),
        Entry("Belarusian potash exports fall", "https://news.example/p", "p1"),
    )
    mine = telegram_api.wait_for_sent(5, chat_id=PRIVATE)[3:]  # 3 replies, then alerts
    theirs = telegram_api.wait_for_sent(3, chat_id=other)[2:]
    hits = feed_server.hits("/f.xml")
    wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2)
    mine = telegram_api.sent(PRIVATE)[3:]
    theirs = telegram_api.sent(other)[2:]
    assert sorted(m.plain.splitlines()[0] for m in mine) == [
        "Belarusian potash exports fall",
        "Ціханоўская выступіла ў Сейме",
    ]
    assert [m.plain.splitlines()[0] for m in theirs] == ["Lukashenko arrives in Minsk"]


def test_restart_in_a_burst_delivers_every_alert_once(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    chats = list(range(1000, 1025))
    subs = subscribed(*(f"telegram:{chat}" for chat in chats))
    write_config(tmp_path, feed_server, backfill=10, subscriptions=subs)
    feed_server.set("/f.xml", rss(MATCHING[0], MATCHING[1]))
    with Service(tmp_path, telegram_api.env()) as first:
        telegram_api.wait_for_sent(10, timeout=30)
        code, _ = first.stop()
        assert code == 0
    partial = len(telegram_api.sent())
    with Service(tmp_path, telegram_api.env()) as second:
        telegram_api.wait_for_sent(50, timeout=60)
        hits = feed_server.hits("/f.xml")
        wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2)
        second.stop()
    delivered = [(m.chat_id, m.plain.splitlines()[0]) for m in telegram_api.sent()]
    assert len(delivered) == 50 and len(set(delivered)) == 50, (partial, delivered)
    assert not telegram_api.violations


def test_a_command_for_another_bot_is_left_alone(
    service: Service, telegram_api: FakeTelegram
) -> None:
    telegram_api.set_admins(GROUP, [8])
    telegram_api.send_text(GROUP, "/subscribe@other_bot belarus", user_id=8, chat_type="group")
    mine = command(telegram_api, GROUP, "/list@Dozor_Test_Bot", user_id=8, chat_type="group")
    assert "belarus" not in mine.split("\n")[0]  # the other bot's /subscribe did nothing
    assert len(telegram_api.sent(GROUP)) == 1  # and got no answer from us


def test_mute_holds_alerts_until_mute_off(
    service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    command(telegram_api, PRIVATE, "/subscribe belarus")
    muted = command(telegram_api, PRIVATE, "/mute 8h")
    assert muted.startswith("Muted for 8h, until "), muted
    publish(feed_server, MATCHING[0])
    hits = feed_server.hits("/f.xml")
    wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2, what="polls while muted")
    assert len(telegram_api.sent(PRIVATE)) == 2  # replies only: the alert waits
    unmuted = command(telegram_api, PRIVATE, "/mute off")
    assert unmuted == "Unmuted: 1 alert waiting, on their way now."
    alert = telegram_api.wait_for_sent(4, chat_id=PRIVATE, timeout=10)[3]
    assert alert.plain.startswith(MATCHING[0].title)


def test_webhook_mode_takes_updates_with_the_secret_only(
    workdir: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram/hook"
    env = {**telegram_api.env(), "TELEGRAM_WEBHOOK_URL": hook, "DOZOR_HTTP_PORT": str(port)}
    with Service(workdir, env) as running:
        telegram_api.wait_for_call("setWebhook")
        wait_until(lambda: feed_server.hits("/f.xml") >= 1, what="first poll")
        registered = telegram_api.webhook
        assert registered is not None and registered["url"] == hook
        secret = str(registered["secret_token"])
        assert len(secret) >= 32 and telegram_api.token not in secret
        assert not telegram_api.calls("getUpdates")  # no long polling beside the webhook
        forged = {"update_id": 999, "message": {"message_id": 1, "date": 0, "text": "/subscribe"}}
        assert telegram_api.post_webhook(forged, secret="wrong") == 401
        reply = command(telegram_api, PRIVATE, "/subscribe belarus")
        assert reply.startswith("Subscribed to belarus")
        assert telegram_api.webhook_answers == [401, 200]
        publish(feed_server, MATCHING[0])
        alert = telegram_api.wait_for_sent(2, chat_id=PRIVATE)[1]
        assert alert.plain.startswith(MATCHING[0].title)
        code, log = running.stop()
    assert code == 0 and "wrong secret" in log


@contextlib.contextmanager
def two_feeds(workdir: Path, api: FakeTelegram, server: FeedServer) -> Iterator[Service]:
    """`dozor run` on two feeds (Local News, Wire Service) that have both been polled once."""
    server.set("/f.xml", rss(*OTHER))
    server.set("/g.xml", rss(*OTHER))
    config = feeds_yaml(
        (server.url("/f.xml"), "Local News"), (server.url("/g.xml"), "Wire Service")
    )
    (workdir / "feeds.yaml").write_text(config, encoding="utf-8")
    with Service(workdir, api.env()) as running:
        api.wait_for_call("getUpdates")
        wait_until(
            lambda: server.hits("/f.xml") >= 1 and server.hits("/g.xml") >= 1,
            what="first polls",
        )
        yield running


def test_digest_now_after_a_burst_is_one_message_with_stories_and_sources(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    with two_feeds(tmp_path, telegram_api, feed_server) as running:
        reply = command(telegram_api, PRIVATE, "/subscribe belarus digest")
        assert reply.startswith("Subscribed to belarus")
        shared = Entry("Lukashenko meets envoy in Minsk", "https://news.example/s", "s1")
        feed_server.set("/f.xml", rss(shared, MATCHING[1], *OTHER))
        feed_server.set("/g.xml", rss(Entry(shared.title, shared.link, "g-s1"), *OTHER))
        polls_f, polls_g = feed_server.hits("/f.xml"), feed_server.hits("/g.xml")
        wait_until(
            lambda: (
                feed_server.hits("/f.xml") > polls_f + 1
                and feed_server.hits("/g.xml") > polls_g + 1
            ),
            what="the burst polled",
        )
        assert len(telegram_api.sent(PRIVATE)) == 1  # digest mode: nothing instant
        answer = command(telegram_api, PRIVATE, "/digest now")
        digest = telegram_api.wait_for_sent(3, chat_id=PRIVATE)[2]
        assert answer == "Digest on its way (belarus: 2 stories).", digest.plain
        digest = telegram_api.wait_for_sent(3, chat_id=PRIVATE)[2]
        lines = digest.plain.splitlines()
        assert lines[0].startswith("belarus · ") and "2 stories from 2 sources" in digest.plain
        story_sources = lines[lines.index(f"1. {shared.title}") + 1].split(" · ")[0]
        assert sorted(story_sources.split(", ")) == ["Local News", "Wire Service"]
        assert MATCHING[1].title in digest.plain
        assert digest.parse_mode == "HTML" and '<a href="https://news.example/s">' in digest.text
        again = command(telegram_api, PRIVATE, "/digest now")
        assert again == "Nothing new was collected since the last digest."
        running.stop()
    assert len(telegram_api.sent(PRIVATE)) == 4  # subscribe, answer, digest, answer


def test_a_second_outlet_of_the_same_story_edits_the_first_message(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    with two_feeds(tmp_path, telegram_api, feed_server) as running:
        command(telegram_api, PRIVATE, "/subscribe belarus")
        first = Entry(
            "Lukashenko meets Chinese envoy in Minsk to discuss trade and grain deliveries",
            "https://local.example/1",
            "l1",
        )
        feed_server.set("/f.xml", rss(first, *OTHER))
        (alert,) = telegram_api.wait_for_sent(2, chat_id=PRIVATE)[1:]
        assert alert.plain.startswith(first.title)
        retold = Entry(
            "Lukashenko meets Chinese envoy in Minsk, discusses trade and grain deliveries",
            "https://wire.example/9",
            "w9",
        )
        other = Entry("Belarus opposition leader speaks at the Polish Sejm", "https://w/2", "w2")
        feed_server.set("/g.xml", rss(retold, other, *OTHER))
        wait_until(lambda: len(telegram_api.edits(PRIVATE)) >= 1, what="an edit")
        (edit,) = telegram_api.edits(PRIVATE)
        shown = _plain_text(edit.text, edit.parse_mode)
        assert edit.message_id == alert.message_id
        assert "📰 also: Wire Service" in shown and shown.startswith(first.title)
        separate = telegram_api.wait_for_sent(3, chat_id=PRIVATE)[2]
        assert separate.plain.startswith(other.title)  # a different story: its own message
        polls_later(feed_server, "/g.xml")
        assert len(telegram_api.sent(PRIVATE)) == 3 and len(telegram_api.edits(PRIVATE)) == 1
        running.stop()


def test_quiet_hours_hold_alerts_and_quiet_off_releases_them(
    service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    command(telegram_api, PRIVATE, "/subscribe belarus")
    now = datetime.now(UTC)
    window = f"{now - timedelta(minutes=1):%H:%M}-{now + timedelta(hours=2):%H:%M}"
    assert command(telegram_api, PRIVATE, f"/quiet {window}").startswith("Quiet hours set")
    publish(feed_server, MATCHING[0])
    polls_later(feed_server)
    assert len(telegram_api.sent(PRIVATE)) == 2  # the two replies: the alert waits
    quiet_off = command(telegram_api, PRIVATE, "/quiet off")
    assert quiet_off == (
        "Quiet hours are off: alerts come at any hour. 1 alert that waited, on their way now."
    )
    alert = telegram_api.wait_for_sent(4, chat_id=PRIVATE, timeout=10)[3]
    assert alert.plain.startswith(MATCHING[0].title)


def test_trend_sends_a_chart_of_what_was_sent(
    service: Service, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    command(telegram_api, PRIVATE, "/subscribe belarus")
    assert command(telegram_api, PRIVATE, "/trend belarus").startswith("No mentions for belarus")
    publish(feed_server, MATCHING[0], MATCHING[1])
    telegram_api.wait_for_sent(4, chat_id=PRIVATE)
    reply = command(telegram_api, PRIVATE, "/trend belarus 7")
    assert reply == "Mentions per day for belarus, last 7 days."
    photo = telegram_api.wait_for_sent(6, chat_id=PRIVATE)[5]
    assert photo.method == "sendPhoto" and photo.file is not None
    assert photo.file.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_metrics_and_health_tell_what_happened(
    workdir: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    port = free_port()
    env = {**telegram_api.env(), "DOZOR_HTTP_PORT": str(port)}
    with Service(workdir, env) as running:
        telegram_api.wait_for_call("getUpdates")
        wait_until(lambda: feed_server.hits("/f.xml") >= 1, what="first poll")
        command(telegram_api, PRIVATE, "/subscribe belarus")
        telegram_api.fail("sendMessage", error_code=500, chat_id=PRIVATE)
        publish(feed_server, MATCHING[0])
        telegram_api.wait_for_sent(2, chat_id=PRIVATE, timeout=30)
        base = f"http://127.0.0.1:{port}"

        def scrape() -> dict[str, float]:
            with urllib.request.urlopen(f"{base}/metrics", timeout=5) as answer:
                page = answer.read().decode()
            return {
                line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in page.splitlines()
                if line.startswith("dozor_") and " " in line
            }

        # the fake counts a message once it has answered; the service counts it once it has
        # read that answer (and acked the alert): wait for the service's count
        sent = 'dozor_alerts_sent_total{channel="telegram",kind="alert"}'
        wait_until(lambda: sent in scrape(), what="the sent alert in /metrics")
        values = scrape()
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
            health = json.loads(answer.read())
        _, log = running.stop()
    leaks = [line for line in log.splitlines() if telegram_api.token in line]
    assert not leaks
    assert values[sent] == 1
    assert values['dozor_alerts_failed_total{channel="telegram",outcome="retry"}'] == 1
    assert values['dozor_delivery_latency_seconds_count{channel="telegram"}'] == 1
    assert values['dozor_polls_total{outcome="new"}'] >= 1
    assert values["dozor_items_parsed_total"] >= 3 and values["dozor_matches_total"] == 1
    assert values["dozor_outbox_depth"] == 0
    assert all(name.startswith("dozor_") for name in values)
    assert health["ok"] is True and health["store"] == "ok"
    assert health["last_successful_poll_age"] is not None
