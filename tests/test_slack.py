"""Slack end to end: the real `dozor run` against the fake Slack (Web API, Socket Mode,
response_urls) and a feed server, in both transports. What the channel sees is what counts."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack, Response
from tests.feeds import MATCHING, OTHER, Entry, feeds_yaml, rss
from tests.service import Service, free_port, polls_later, stored_subscriptions, wait_until

NEWS, ANNA, BORIS, ADMIN = "C0NEWS", "U0ANNA", "U0BORIS", "U0ADMIN"


@pytest.fixture
def workdir(tmp_path: Path, feed_server: FeedServer, slack_api: FakeSlack) -> Path:
    feed_server.set("/f.xml", rss(*OTHER))
    (tmp_path / "feeds.yaml").write_text(
        feeds_yaml((feed_server.url("/f.xml"), "Local News")), encoding="utf-8"
    )
    slack_api.add_channel(NEWS, name="news")
    slack_api.add_user(ANNA, name="anna")
    slack_api.add_user(BORIS, name="boris")
    slack_api.add_user(ADMIN, name="admin", is_admin=True)
    return tmp_path


class Transport:
    """Sends /dozor commands the way the running transport receives them."""

    def __init__(self, slack: FakeSlack, events_url: str | None) -> None:
        self.slack = slack
        self.events_url = events_url

    def command(self, user: str, text: str, channel: str = NEWS) -> Response:
        before = len(self.slack.responses())
        self.send(user, text, channel)
        return self.slack.wait_for_responses(before + 1)[before]

    def send(self, user: str, text: str, channel: str = NEWS) -> float:
        """Deliver the command; returns how long the bot took to ack it."""
        if self.events_url is None:
            self.slack.send_slash_command(channel, user, text)
            return float(self.slack.wait_for_acks(len(self.slack.acks) + 1)[-1].elapsed or 99)
        started = time.monotonic()
        status, _ = self.slack.post_slash_command(self.events_url, channel, user, text)
        assert status == 200
        return time.monotonic() - started


@pytest.fixture(params=["socket", "http"])
def transport(
    request: pytest.FixtureRequest, workdir: Path, slack_api: FakeSlack, feed_server: FeedServer
) -> Iterator[Transport]:
    socket_mode = request.param == "socket"
    env = slack_api.env(socket_mode=socket_mode)
    events_url = None
    if not socket_mode:
        port = free_port()
        env["DOZOR_HTTP_PORT"] = str(port)
        events_url = f"http://127.0.0.1:{port}/slack/events"
    with Service(workdir, env) as running:
        if socket_mode:
            slack_api.wait_for_socket()
        else:
            wait_until(lambda: _listening(port), what="the HTTP server")
        wait_until(lambda: feed_server.hits("/f.xml") >= 1, what="first poll")
        yield Transport(slack_api, events_url)
        running.stop()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def publish(server: FeedServer, *entries: Entry) -> None:
    server.set("/f.xml", rss(*entries, *OTHER))


def test_subscribe_then_one_block_kit_alert(
    transport: Transport, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    reply = transport.command(ANNA, "subscribe belarus")
    assert reply.response_type == "in_channel"  # a change: the channel sees it
    assert reply.plain.startswith("Subscribed to belarus: 3 keyword lines, 1 feed.")
    story = Entry(
        "Лукашенко провёл совещание в Минске",
        "https://news.example/a/1?utm_source=rss",
        "a1",
        description="<p>Совещание прошло <b>во вторник</b> &amp; закончилось.</p>",
    )
    publish(feed_server, story)
    (alert,) = slack_api.wait_for_posted(1, channel=NEWS)
    assert alert.unfurl_links is False and alert.unfurl_media is False
    assert alert.blocks is not None
    assert [b["type"] for b in alert.blocks] == ["section", "context", "section"]
    assert alert.blocks[0]["text"]["text"] == (
        "*<https://news.example/a/1|Лукашенко провёл совещание в Минске>*"
    )
    assert alert.plain.splitlines() == [
        story.title,
        "Local News · 2025-09-12 08:00 UTC · 🔎 Lukashenko, Minsk",
        "Совещание прошло во вторник & закончилось.",
    ]
    assert alert.text == f"{story.title} — Local News" and alert.mentions == []
    polls_later(feed_server)
    assert len(slack_api.posted(NEWS)) == 1  # once, not again
    if transport.events_url is None:
        assert slack_api.acks and not any(ack.late for ack in slack_api.acks)
    else:
        assert all(r.elapsed < 3.0 for r in slack_api.slash_requests)


def test_reads_are_ephemeral_and_changes_follow_the_channel_owner(
    transport: Transport, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    help_reply = transport.command(BORIS, "")
    assert help_reply.response_type in (None, "ephemeral") and "/subscribe" in help_reply.plain
    transport.command(ANNA, "subscribe belarus")  # Anna set the channel up
    refused = transport.command(BORIS, "add belarus Tsikhanouskaya | Ціханоўская")
    assert refused.response_type in (None, "ephemeral")
    assert refused.plain.startswith("Only this chat's administrators")
    added = transport.command(ADMIN, "add belarus Tsikhanouskaya | Ціханоўская")
    assert added.plain.startswith("Added") and added.response_type == "in_channel"
    own = transport.command(ANNA, "exclude belarus hockey")
    assert own.plain.startswith("Excluded")
    listed = transport.command(BORIS, "list")
    assert "Tsikhanouskaya" in listed.plain and listed.response_type in (None, "ephemeral")
    publish(feed_server, Entry("Ціханоўская выступіла ў Сейме", "https://news.example/t", "t1"))
    (alert,) = slack_api.wait_for_posted(1, channel=NEWS)
    assert alert.plain.startswith("Ціханоўская выступіла ў Сейме")


def test_a_slow_command_is_acked_at_once_and_answered_later(
    transport: Transport, slack_api: FakeSlack
) -> None:
    transport.command(ANNA, "subscribe belarus")
    slack_api.fail("users.info", delay=4.0)  # is Boris an admin? Slack takes its time
    before = len(slack_api.responses())
    started = time.monotonic()
    assert transport.send(BORIS, "unsubscribe belarus") < 3.0
    answer = slack_api.wait_for_responses(before + 1, timeout=15)[before]
    assert answer.time - started >= 4.0
    assert answer.plain.startswith("Only this chat's administrators")


def test_a_headline_with_mentions_arrives_inert(
    transport: Transport, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    transport.command(ANNA, "subscribe belarus")
    title = "<!channel> Lukashenko <@U123> @here & <!everyone> <https://evil.example|x>"
    publish(feed_server, Entry(title, "https://news.example/m", "m1", description="@channel <@U9>"))
    (alert,) = slack_api.wait_for_posted(1, channel=NEWS)
    assert alert.mentions == []
    assert alert.plain.splitlines()[0] == title
    assert "<!channel>" not in str(alert.blocks) and "<@U123>" not in (alert.text or "")


def test_rate_limit_is_honoured_and_the_alert_arrives_once(
    transport: Transport, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    transport.command(ANNA, "subscribe belarus")
    slack_api.fail("chat.postMessage", status=429, retry_after=1)
    publish(feed_server, MATCHING[0])
    (alert,) = slack_api.wait_for_posted(1, channel=NEWS, timeout=20)
    refused = [c for c in slack_api.calls("chat.postMessage") if c.status == 429]
    assert len(refused) == 1 and alert.time - refused[0].time >= 1.0
    polls_later(feed_server)
    assert [p.plain.splitlines()[0] for p in slack_api.posted(NEWS)] == [MATCHING[0].title]


def test_a_gone_channel_is_deactivated_with_the_reason(
    workdir: Path, transport: Transport, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    transport.command(ANNA, "subscribe belarus")
    slack_api.delete_channel(NEWS)
    publish(feed_server, MATCHING[0])
    slack_api.wait_for_call("chat.postMessage")
    polls_later(feed_server)

    (sub,) = stored_subscriptions(workdir)
    assert sub.active is False
    assert len(slack_api.calls("chat.postMessage")) == 1  # no retries into the void


def test_http_mode_refuses_bad_signatures_and_old_timestamps(
    workdir: Path, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    port = free_port()
    env = {**slack_api.env(socket_mode=False), "DOZOR_HTTP_PORT": str(port)}
    url = f"http://127.0.0.1:{port}/slack/events"
    with Service(workdir, env) as running:
        wait_until(lambda: _listening(port), what="the HTTP server")
        forged = slack_api.post_slash_command(url, NEWS, ANNA, "subscribe belarus", secret="nope")
        stale = slack_api.post_slash_command(
            url, NEWS, ANNA, "subscribe belarus", timestamp=int(time.time()) - 6 * 60
        )
        assert (forged[0], stale[0]) == (401, 401)
        status, _ = slack_api.post_slash_command(url, NEWS, BORIS, "list")
        assert status == 200
        (listed,) = slack_api.wait_for_responses(1)
        assert "belarus" not in listed.plain.splitlines()[0]  # nothing was subscribed
        assert not slack_api.posted()
        running.stop()


def test_a_refused_token_is_said_plainly_and_the_rest_keeps_running(
    workdir: Path, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    slack_api.revoke_token()
    with Service(workdir, slack_api.env(socket_mode=True)) as running:
        slack_api.wait_for_call("auth.test")
        polls_later(feed_server)  # polling goes on
        code, log = running.stop()
    assert code == 0 and "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in log
    assert "Traceback" not in log and not slack_api.calls("apps.connections.open")


@pytest.fixture
def two_feed_socket(
    tmp_path: Path, slack_api: FakeSlack, feed_server: FeedServer
) -> Iterator[Transport]:
    for path in ("/f.xml", "/g.xml"):
        feed_server.set(path, rss(*OTHER))
    config = feeds_yaml(
        (feed_server.url("/f.xml"), "Local News"), (feed_server.url("/g.xml"), "Wire Service")
    )
    (tmp_path / "feeds.yaml").write_text(config, encoding="utf-8")
    slack_api.add_channel(NEWS, name="news")
    slack_api.add_user(ANNA, name="anna")
    with Service(tmp_path, slack_api.env(socket_mode=True)) as running:
        slack_api.wait_for_socket()
        wait_until(
            lambda: feed_server.hits("/f.xml") >= 1 and feed_server.hits("/g.xml") >= 1,
            what="first polls",
        )
        yield Transport(slack_api, None)
        running.stop()


def test_digest_now_is_one_block_kit_message_with_stories_and_sources(
    two_feed_socket: Transport, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    two_feed_socket.command(ANNA, "subscribe belarus digest")
    shared = Entry("Lukashenko meets envoy in Minsk", "https://news.example/s", "s1")
    feed_server.set("/f.xml", rss(shared, MATCHING[1], *OTHER))
    feed_server.set("/g.xml", rss(Entry(shared.title, shared.link, "g-s1"), *OTHER))
    polls_later(feed_server)
    polls_later(feed_server, path="/g.xml")
    assert slack_api.posted(NEWS) == []  # digest mode: nothing instant
    answer = two_feed_socket.command(ANNA, "digest now")
    assert answer.plain == "Digest on its way (belarus: 2 stories)."
    (digest,) = slack_api.wait_for_posted(1, channel=NEWS)
    assert "2 stories from 2 sources" in digest.plain and digest.mentions == []
    assert shared.title in digest.plain and MATCHING[1].title in digest.plain
    assert "Local News" in digest.plain and "Wire Service" in digest.plain
    assert digest.blocks is not None and all(
        b["text"].get("verbatim") for b in digest.blocks if isinstance(b.get("text"), dict)
    )


def test_a_second_outlet_updates_the_first_message(
    two_feed_socket: Transport, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    two_feed_socket.command(ANNA, "subscribe belarus")
    first = Entry(
        "Lukashenko meets Chinese envoy in Minsk to discuss trade and grain deliveries",
        "https://local.example/1",
        "l1",
    )
    feed_server.set("/f.xml", rss(first, *OTHER))
    (alert,) = slack_api.wait_for_posted(1, channel=NEWS)
    retold = Entry(
        "Lukashenko meets Chinese envoy in Minsk, discusses trade and grain deliveries",
        "https://wire.example/9",
        "w9",
    )
    feed_server.set("/g.xml", rss(retold, *OTHER))
    wait_until(lambda: len(slack_api.updates(NEWS)) >= 1, what="chat.update")
    (update,) = slack_api.updates(NEWS)
    assert update.ts == alert.ts and "📰 also: Wire Service" in update.plain
    polls_later(feed_server, path="/g.xml")
    assert len(slack_api.posted(NEWS)) == 1 and len(slack_api.updates(NEWS)) == 1


def test_trend_uploads_a_chart_to_the_channel(
    two_feed_socket: Transport, slack_api: FakeSlack, feed_server: FeedServer
) -> None:
    two_feed_socket.command(ANNA, "subscribe belarus")
    feed_server.set("/f.xml", rss(MATCHING[0], MATCHING[2], *OTHER))
    slack_api.wait_for_posted(2, channel=NEWS)
    answer = two_feed_socket.command(ANNA, "trend belarus 7")
    assert answer.plain == "Mentions per day for belarus, last 7 days."
    wait_until(lambda: len(slack_api.uploads()) >= 1, what="the chart upload")
    (chart,) = slack_api.uploads()
    assert chart.channel == NEWS and chart.filename == "belarus-trend.png"
    assert chart.content is not None and chart.content.startswith(b"\x89PNG")
