"""/feeds, /addfeed, /removefeed and /status against a real feed server, on both stores."""

from __future__ import annotations

from bot.commands import Limits
from bot.fetch import Fetcher
from bot.models import Alert, Chat, FeedState
from bot.store import Store
from tests import test_commands_support as kit
from tests.fakes.feed_server import FeedServer
from tests.feeds import Entry, rss
from tests.test_commands_support import (
    NOW,
    Bot,
    build,
    loader,
    private,
)

bot, fetcher, store = kit.bot, kit.fetcher, kit.store  # fixtures, on both stores

CHAT = "telegram:1"
ITEMS = (
    Entry("Minsk metro extends", "https://minsk.example/1", "m1", minutes=1),
    Entry("Brest market", "https://minsk.example/2", "m2", minutes=2),
)


async def test_addfeed_fetches_parses_and_keeps_the_feed(bot: Bot, feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss(*ITEMS, title="Minsk Daily"))
    url = feed_server.url("/f.xml")
    reply = await bot.say(f"/addfeed {url}")
    assert reply.text == (
        f"Added feed Minsk Daily ({url}), 2 items in it now. Dozor reads it every 5m; its new "
        "items that match this chat's subscriptions come here, and only here."
    )
    assert reply.changed and reply.public and feed_server.hits("/f.xml") == 1
    [feed] = await bot.store.feeds()
    assert (feed.url, feed.name, feed.owner) == (url, "Minsk Daily", CHAT)
    text = (await bot.say("/feeds")).text
    assert text.startswith("Dozor reads 2 global feeds")
    assert f"This chat's own feeds (1 of 50):\n1. Minsk Daily: {url}" in text
    assert "no feeds of its own" in (await bot.say("/feeds", private("telegram:2"))).text


async def test_addfeed_names_an_untitled_feed_by_its_host(
    bot: Bot, feed_server: FeedServer
) -> None:
    feed_server.set("/untitled.xml", rss(*ITEMS, title=""))
    reply = await bot.say(f"/addfeed <{feed_server.url('/untitled.xml')}|link>")  # Slack's form
    assert reply.text.startswith("Added feed 127.0.0.1 (")


async def test_addfeed_refusals_say_why(bot: Bot, feed_server: FeedServer) -> None:
    feed_server.set("/page.html", b"<html><body>Hello</body></html>", content_type="text/html")
    feed_server.set("/empty.xml", rss(title="Nothing yet"))
    feed_server.set("/gone.xml", b"", status=404)
    feed_server.set("/f.xml", rss(*ITEMS))
    cases = {
        "/page.html": "Cannot add {url}: not a feed: ",
        "/empty.xml": "Cannot add {url}: the feed has no items",
        "/gone.xml": "Cannot add {url}: ",
    }
    for path, expected in cases.items():
        url = feed_server.url(path)
        reply = await bot.say(f"/addfeed {url}")
        assert reply.text.startswith(expected.format(url=url)), reply.text
        assert not reply.changed
    gone = (await bot.say(f"/addfeed {feed_server.url('/gone.xml')}")).text
    assert "404" in gone
    assert "only http and https" in (await bot.say("/addfeed ftp://example.org/f.xml")).text
    assert "add https://" in (await bot.say("/addfeed example.org/rss")).text
    assert (
        "Dozor already reads that feed for everyone (Example World)"
        in (await bot.say("/addfeed https://EXAMPLE.org/world/rss.xml")).text
    )
    await bot.say(f"/addfeed {feed_server.url('/f.xml')}")
    again = await bot.say(f"/addfeed {feed_server.url('/f.xml')}")
    assert again.text == "This chat already has that feed: Test feed."
    assert "Usage: /addfeed <url>" in (await bot.say("/addfeed")).text
    assert (
        "One feed URL at a time"
        in (await bot.say("/addfeed http://a.example http://b.example")).text
    )
    assert len(await bot.store.feeds()) == 1


async def test_the_guarded_fetcher_refuses_loopback(store: Store, feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss(*ITEMS))
    async with Fetcher(allow_private=False) as guarded:
        bot = build(store, loader(guarded))
        url = feed_server.url("/f.xml")
        reply = await bot.say(f"/addfeed {url}")
    assert reply.text.startswith(f"Cannot add {url}: ")
    assert "127.0.0.1" in reply.text and "loopback" in reply.text
    assert feed_server.hits("/f.xml") == 0 and await store.feeds() == []


async def test_feed_limit(store: Store, fetcher: Fetcher, feed_server: FeedServer) -> None:
    bot = build(store, loader(fetcher), Limits(feeds=1))
    feed_server.set("/a.xml", rss(*ITEMS))
    feed_server.set("/b.xml", rss(*ITEMS))
    await bot.say(f"/addfeed {feed_server.url('/a.xml')}")
    reply = await bot.say(f"/addfeed {feed_server.url('/b.xml')}")
    assert reply.text == (
        "This chat already has 1 feeds of its own, the limit is 1. /removefeed one first."
    )
    assert feed_server.hits("/b.xml") == 0


async def test_removefeed_by_number_or_url(bot: Bot, feed_server: FeedServer) -> None:
    for path in ("/a.xml", "/b.xml"):
        feed_server.set(path, rss(*ITEMS, title=path[1]))
        await bot.say(f"/addfeed {feed_server.url(path)}")
    reply = await bot.say("/removefeed 1")
    assert reply.text == f"Removed feed a ({feed_server.url('/a.xml')})."
    assert reply.changed and reply.public
    assert "There is no feed number 5" in (await bot.say("/removefeed 5")).text
    reply = await bot.say(f"/removefeed {feed_server.url('/b.xml')}")
    assert reply.text.startswith("Removed feed b")
    assert await bot.store.feeds() == []
    refused = await bot.say("/removefeed https://example.org/world/rss.xml")
    assert refused.text == "That is a global feed: only Dozor's operators can remove it."
    assert "has no feed" in (await bot.say("/removefeed https://else.example/x")).text
    assert "Usage: /removefeed" in (await bot.say("/removefeed")).text


def _alert(to: str, key: str) -> Alert:
    return Alert(
        topic="belarus",
        to=to,
        feed="Example World",
        feed_id="f",
        id=key,
        url=f"https://x/{key}",
        canonical_url=f"https://x/{key}",
        title="Minsk",
        summary="",
        published=None,
        matched=("Minsk",),
        created=NOW,
    )


async def test_status_reports_health_waiting_alerts_mute_and_digests(
    bot: Bot, feed_server: FeedServer
) -> None:
    feed_server.set("/own.xml", rss(*ITEMS, title="Own News"))
    await bot.say(f"/addfeed {feed_server.url('/own.xml')}")
    await bot.say("/timezone Europe/Minsk")
    await bot.say("/subscribe belarus digest")
    await bot.say("/mute 2h")
    world, europe = bot.config.feeds
    [own] = await bot.store.feeds()
    await bot.store.save_feed_state(
        world.id, FeedState(last_poll=NOW - 120, failures=0, last_success=NOW - 120, items_seen=40)
    )
    await bot.store.save_feed_state(
        europe.id,
        FeedState(
            last_poll=NOW - 60,
            failures=3,
            last_error="HTTP 503 from example.org",
            retry_at=NOW + 1800,
        ),
    )
    await bot.store.save_feed_state(own.id, FeedState(last_poll=NOW - 180, items_seen=2))
    alerts = [_alert(CHAT, "a1"), _alert(CHAT, "a2"), _alert("telegram:2", "a3")]
    await bot.store.commit_poll(
        "f", ["a1", "a2", "a3"], alerts, FeedState(), now=NOW, keep_seconds=86400
    )
    text = (await bot.say("/status")).text
    assert text.splitlines() == [
        "Feeds: 3 (2 ok, 1 failing, 0 not read yet).",
        "Failing:",
        "• Example Europe: HTTP 503 from example.org (3 failures in a row; next try in 30m, at "
        "11:30 Europe/Minsk)",
        "This chat's own feeds:",
        "• Own News: ok, last read 3m ago, 2 items seen",
        "Alerts waiting to be sent here: 2.",
        "Muted until 13:00 Europe/Minsk; alerts wait.",
        "Next digests:",
        "• belarus: Sat 13 Sep 09:00 Europe/Minsk",
    ]
    reply = await bot.say("/mute off")
    assert reply.text == "Unmuted: 2 alerts waiting, on their way now."
    assert (await bot.store.chat(CHAT)) == Chat(CHAT, zone="Europe/Minsk", owner=CHAT)


async def test_status_of_a_fresh_chat(bot: Bot) -> None:
    assert (await bot.say("/status")).text.splitlines() == [
        "Feeds: 2 (0 ok, 0 failing, 2 not read yet).",
        "Alerts waiting to be sent here: 0.",
        "Not muted.",
    ]
