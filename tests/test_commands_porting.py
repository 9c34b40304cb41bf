"""/export and /import: YAML settings and OPML feeds, round trips and refusals, on both stores."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import yaml

from bot.commands import Attachment
from bot.models import Feed
from tests import test_commands_support as kit
from tests.fakes.feed_server import FeedServer
from tests.feeds import Entry, rss
from tests.test_commands_support import (
    Bot,
    private,
)

bot, fetcher, store = kit.bot, kit.fetcher, kit.store  # fixtures, on both stores

CHAT = "telegram:1"
OTHER = private("telegram:2")
ITEMS = (Entry("Minsk metro extends", "https://minsk.example/1", "m1", minutes=1),)


def opml(*urls: str) -> bytes:
    outlines = "".join(
        f'<outline type="rss" text="Feed {i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)
    )
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'.encode()


async def test_export_then_import_copies_a_chats_settings(
    bot: Bot, feed_server: FeedServer
) -> None:
    feed_server.set("/a.xml", rss(*ITEMS, title='Tom & "Jerry" <News>'))
    await bot.say("/timezone Europe/Minsk")
    await bot.say("/subscribe belarus digest")
    await bot.say("/add belarus Tsikhanouskaya | Ціханоўская, No, 2025")
    await bot.say("/remove belarus Zapad 2025")
    await bot.say("/exclude belarus tennis")
    await bot.say("/previews belarus on")
    await bot.say("/new coffee coffee | кофе*, espresso")
    await bot.say(f"/addfeed {feed_server.url('/a.xml')}")
    export = await bot.say("/export")
    assert not export.changed
    assert export.text.startswith(
        "This chat's settings: 2 subscriptions and 1 own topic in dozor-telegram_1.yaml, "
        "1 own feed in dozor-telegram_1.opml."
    )
    settings, feeds = export.attachments
    assert settings.filename == "dozor-telegram_1.yaml"
    assert feeds.filename == "dozor-telegram_1.opml"
    data = yaml.safe_load(settings.content)
    assert data["topics"] == {"coffee": {"keywords": ["coffee | кофе*", "espresso"]}}
    belarus = data["subscriptions"][0]
    assert belarus["mode"] == "digest" and belarus["digest"] == "daily 09:00 Europe/Minsk"
    assert belarus["previews"] is True and belarus["exclude"] == ["hockey", "tennis"]
    assert belarus["keywords"][-2:] == ["No", "2025"]  # quoted: they stay words
    outline = ET.fromstring(feeds.content).find("body/outline")
    assert outline is not None and outline.get("text") == 'Tom & "Jerry" <News>'
    assert b"&amp;" in feeds.content and b"&lt;News&gt;" in feeds.content

    mine = {s.topic: s for s in await bot.store.subscriptions() if s.to == CHAT}
    reply = await bot.say("/import", OTHER, settings)
    assert reply.text == ("Imported 1 own topic (coffee); 2 new subscriptions (belarus, coffee).")
    assert reply.changed and reply.public
    theirs = {s.topic: s for s in await bot.store.subscriptions() if s.to == "telegram:2"}
    for name in ("belarus", "coffee"):
        expected = mine[name]
        got = theirs[name]
        assert (got.keywords, got.exclude, got.mode, got.digest, got.previews) == (
            expected.keywords,
            expected.exclude,
            expected.mode,
            expected.digest,
            expected.previews,
        )
    assert {(t.owner, t.name) for t in await bot.store.topics()} == {
        (CHAT, "coffee"),
        ("telegram:2", "coffee"),
    }
    reply = await bot.say("/import", OTHER, feeds)
    assert reply.text == 'Imported 1 feed: Tom & "Jerry" <News>.'
    copied = [f for f in await bot.store.feeds() if f.owner == "telegram:2"]
    assert [(f.url, f.name) for f in copied] == [
        (feed_server.url("/a.xml"), 'Tom & "Jerry" <News>')
    ]
    again = await bot.say("/import", OTHER, settings)
    assert again.text == "Imported 1 own topic (coffee); 2 subscriptions updated (belarus, coffee)."


async def test_import_pasted_after_the_command(bot: Bot) -> None:
    reply = await bot.say(
        "/import\nsubscriptions:\n  - topic: ukraine\n    mode: both\n"
        "    digest: weekly fri 17:00\n"
    )
    assert reply.text == "Imported 1 new subscription (ukraine)."
    [sub] = await bot.store.subscriptions()
    assert (sub.mode, sub.digest, len(sub.keywords)) == ("both", "weekly fri 17:00 UTC", 2)


async def test_import_is_all_or_nothing_with_line_numbers(bot: Bot) -> None:
    text = (
        "topics:\n"
        "  tea:\n"
        "    keywords: [tea]\n"
        "subscriptions:\n"
        "  - topic: belarus\n"
        "    mode: sometimes\n"
        "  - topic: ukraine\n"
        "    keywords: [Kyiv, 'a | | b']\n"
        "    previews: perhaps\n"
        "  - topic: tea\n"
        "    digest: daily 25:00\n"
        "    colour: red\n"
    )
    reply = await bot.say(
        "/import", attachment=Attachment("x.yaml", text.encode(), "application/yaml")
    )
    assert reply.text.splitlines() == [
        "Nothing was imported; the file has problems:",
        "line 6: subscriptions[0].mode: 'sometimes' is not a mode: instant, digest or both",
        "line 8: subscriptions[1].keywords[1]: keyword line 'a | | b' has an empty alias: "
        "check its '|'",
        "line 9: subscriptions[1].previews: 'perhaps' is not true or false",
        "line 11: subscriptions[2].digest: '25:00' is not a time of day (HH:MM): write hourly, "
        "daily 09:00 Europe/Minsk or weekly mon 09:00 Europe/Minsk",
        "line 12: subscriptions[2]: unknown key 'colour' "
        "(expected: topic, mode, digest, previews, keywords, exclude)",
    ]
    assert not reply.changed
    assert await bot.store.subscriptions() == [] and await bot.store.topics() == []


async def test_import_refuses_unknown_topics_global_names_and_limits(bot: Bot) -> None:
    reply = await bot.say(
        "/import subscriptions: [{topic: mars}]\ntopics: {belarus: {keywords: [x]}}"
    )
    assert reply.text.splitlines() == [
        "Nothing was imported:",
        "line 2: belarus is the name of a global topic; subscribe to it instead",
        "line 1: there is no topic 'mars' (topics: global: belarus, ukraine)",
    ]
    many = "topics:\n" + "".join(f"  t{i}: {{keywords: [word{i}]}}\n" for i in range(21))
    reply = await bot.say(f"/import {many}")
    assert "this chat would have 21 topics, and the limit is 20" in reply.text
    lines = "subscriptions:\n  - topic: belarus\n    keywords:\n" + "".join(
        f"      - w{i}\n" for i in range(101)
    )
    reply = await bot.say(f"/import {lines}")
    assert "line 4: subscriptions[0].keywords: 101 keyword lines, the limit is 100" in reply.text
    both = "topics:\n  tea:\n    keywords: [" + ", ".join(f"k{i}" for i in range(60))
    both += "]\n    exclude: [" + ", ".join(f"x{i}" for i in range(60)) + "]\n"
    reply = await bot.say(f"/import {both}")
    assert "line 3: topics.tea: 120 keyword lines, the limit is 100" in reply.text
    assert await bot.store.subscriptions() == [] and await bot.store.topics() == []


async def test_import_refuses_broken_and_hostile_files(bot: Bot) -> None:
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    cases = {
        "subscriptions: [": "not valid YAML",
        "- just\n- a list\n": "file: expected a mapping",
        bomb: "unknown key 'a'",
        "subscriptions:\n  - &s {topic: belarus}\n  - *s\n": "anchors and aliases",
        "[" * 5000: "",
        "topics: {}\n": "nothing to import",
        "---\na: 1\n---\nb: 2\n": "not valid YAML",
        "!!python/object/apply:os.system ['echo hi']": "expected a mapping",
    }
    for text, expected in cases.items():
        reply = await bot.say("/import", attachment=Attachment("f.yaml", text.encode(), ""))
        assert reply.text.startswith("Nothing was imported"), reply.text
        assert expected in reply.text
    binary = await bot.say("/import", attachment=Attachment("f.yaml", b"\xff\xfe\x00bad", ""))
    assert "not UTF-8 text" in binary.text
    big = await bot.say("/import", attachment=Attachment("f.yaml", b"", "too-large"))
    assert big.text == "That file is too big to import: Dozor reads files up to 1 MB."
    assert "Usage: /import" in (await bot.say("/import")).text
    assert "is empty" in (await bot.say("/import", attachment=Attachment("f.yaml", b"  ", ""))).text
    assert await bot.store.subscriptions() == []


async def test_opml_import_fetches_a_few_feeds_and_refuses_the_broken(
    bot: Bot, feed_server: FeedServer
) -> None:
    feed_server.set("/a.xml", rss(*ITEMS, title="A"))
    feed_server.set("/gone.xml", b"", status=404)
    urls = (
        feed_server.url("/a.xml"),
        feed_server.url("/gone.xml"),
        "https://example.org/world/rss.xml",
    )
    reply = await bot.say(
        "/import", attachment=Attachment("feeds.opml", opml(*urls), "text/x-opml")
    )
    assert reply.text.startswith("Imported 1 feed: A. 1 feed already read here. Refused:\n")
    assert f"{feed_server.url('/gone.xml')}: " in reply.text and "404" in reply.text
    assert [f.name for f in await bot.store.feeds()] == ["A"]
    reply = await bot.say("/import", attachment=Attachment("feeds.opml", opml(urls[0]), ""))
    assert reply.text == "Nothing to import: Dozor already reads all 1 feed here."


async def test_opml_import_of_many_feeds_skips_fetching_and_says_so(
    bot: Bot, feed_server: FeedServer
) -> None:
    urls = [feed_server.url(f"/{i}.xml") for i in range(7)]
    reply = await bot.say("/import", attachment=Attachment("feeds.opml", opml(*urls), ""))
    assert reply.text.startswith("Imported 7 feeds: Feed 0, Feed 1")
    assert "They were not fetched now (more than 5)" in reply.text
    assert all(feed_server.hits(f"/{i}.xml") == 0 for i in range(7))
    stored = await bot.store.feeds()
    assert [f.url for f in stored] == urls and all(f.owner == CHAT for f in stored)


async def test_opml_import_checks_urls_and_the_feed_limit(bot: Bot) -> None:
    bad = opml("https://ok.example/rss", "javascript:alert(1)", "ftp://x.example/f")
    reply = await bot.say("/import", attachment=Attachment("f.opml", bad, ""))
    assert reply.text.startswith("Nothing was imported; these are not feed URLs:")
    assert "javascript:alert(1)" in reply.text
    for i in range(49):
        await bot.store.save_feed(Feed(f"https://n{i}.example/rss", f"n{i}", owner=CHAT))
    two = opml("https://x.example/a", "https://x.example/b")
    reply = await bot.say("/import", attachment=Attachment("f.opml", two, ""))
    assert reply.text == (
        "Nothing was imported: this chat would have 51 feeds of its own, and the limit is 50."
    )
    empty = await bot.say("/import", attachment=Attachment("f.opml", b"<opml><body/></opml>", ""))
    assert empty.text.startswith("Nothing was imported: no feeds in it")
