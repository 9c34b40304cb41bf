"""Commands on a real store: help, topics, subscriptions and keyword edits, and failures.

Every test runs on SQLite and on Redis (the `store` fixture).
"""

from __future__ import annotations

import logging
import time

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.commands import Commands, Limits
from bot.fetch import Fetcher
from bot.models import KeywordLine, Subscription
from bot.parse import ParsedFeed
from bot.store import Store
from bot.store.redis import RedisStore
from tests import test_commands_support as kit
from tests.test_commands_support import (
    NOW,
    Bot,
    build,
    loader,
    make_config,
    private,
)

bot, fetcher, store = kit.bot, kit.fetcher, kit.store  # fixtures, on both stores

CHAT = "telegram:1"
OTHER = "telegram:2"


async def sub_of(bot: Bot, to: str, topic: str) -> Subscription | None:
    return next(
        (s for s in await bot.store.subscriptions() if s.to == to and s.topic == topic), None
    )


# --- help and the shape of messages ---------------------------------------------------------


async def test_help_start_and_empty_text_explain_dozor(bot: Bot) -> None:
    for text in ("/help", "/start", "", "   ", "help", "/start@dozor_bot"):
        reply = await bot.say(text)
        assert "Dozor watches news feeds" in reply.text
        assert "/subscribe <topic> [instant|digest|both]" in reply.text
        assert "Examples:" in reply.text
        assert "cannot be changed from a chat" in reply.text
        assert not reply.changed and not reply.public


async def test_help_for_one_command(bot: Bot) -> None:
    reply = await bot.say("/help add")
    assert "Usage: /add <topic> <keyword line>" in reply.text
    assert "Example: /add belarus Tsikhanouskaya | Ціханоўская, Belavia" in reply.text
    assert "no command /nope" in (await bot.say("/help nope")).text


async def test_unknown_command_suggests_the_closest(bot: Bot) -> None:
    assert (await bot.say("/frobnicate")).text == "Unknown command /frobnicate. Try /help."
    reply = await bot.say("/subscrbe belarus")
    assert reply.text == "Unknown command /subscrbe. Did you mean /subscribe? Try /help."


async def test_bot_suffix_and_slack_form_without_slash(bot: Bot) -> None:
    reply = await bot.say("/subscribe@dozor_bot belarus")
    assert reply.text.startswith("Subscribed to belarus")
    reply = await bot.say("unsubscribe belarus")
    assert reply.text.startswith("Unsubscribed from belarus")
    assert (await bot.say("/SUBSCRIBE Belarus")).text.startswith("Subscribed to belarus")


def test_menu_lists_every_command_with_a_short_description(bot: Bot) -> None:
    menu = dict(bot.commands.menu())
    for name in ("help", "topics", "subscribe", "add", "addfeed", "status", "test", "import"):
        assert menu[name]
    assert all(name.islower() and len(text) < 100 for name, text in menu.items())


# --- topics and subscriptions ---------------------------------------------------------------


async def test_topics_lists_global_and_own_marking_subscriptions(bot: Bot) -> None:
    await bot.say("/subscribe belarus")
    await bot.say("/new coffee coffee | кофе*, espresso")
    text = (await bot.say("/topics")).text
    assert "✓ belarus: 4 keyword lines (Lukashenko, Belarus*, Minsk, Zapad 2025)" in text
    assert "· ukraine: 2 keyword lines" in text
    assert "This chat's own topics:\n✓ coffee: 2 keyword lines (coffee, espresso)" in text
    assert "coffee" not in (await bot.say("/topics", private(OTHER))).text


async def test_subscribe_copies_the_topic_and_says_what_it_did(bot: Bot) -> None:
    reply = await bot.say("/subscribe belarus")
    assert reply.text == "Subscribed to belarus: 4 keyword lines, 2 feeds. Alerts come instantly."
    assert reply.changed and reply.public and bot.changes == [1]
    sub = await sub_of(bot, CHAT, "belarus")
    topic = next(t for t in bot.config.topics if t.name == "belarus")
    assert sub is not None and sub.keywords == topic.keywords and sub.exclude == topic.exclude
    assert sub.mode == "instant" and sub.created == NOW and sub.active


async def test_subscribe_digest_defaults_to_nine_in_the_chat_zone(bot: Bot) -> None:
    await bot.say("/timezone Europe/Minsk")
    reply = await bot.say("/subscribe belarus digest")
    assert reply.text.endswith("Digest daily at 09:00 Europe/Minsk.")
    sub = await sub_of(bot, CHAT, "belarus")
    assert sub is not None and sub.digest == "daily 09:00 Europe/Minsk"
    reply = await bot.say("/subscribe ukraine both weekly fri 18:30")
    assert reply.text.endswith(
        "Alerts come instantly, and a digest weekly on Friday at 18:30 Europe/Minsk."
    )


async def test_resubscribing_changes_the_mode_and_keeps_edited_keywords(bot: Bot) -> None:
    await bot.say("/subscribe belarus")
    await bot.say("/add belarus Belavia")
    reply = await bot.say("/subscribe belarus digest")
    assert reply.text == (
        "Subscription to belarus changed; its 5 keyword lines kept. Digest daily at 09:00 UTC."
    )
    sub = await sub_of(bot, CHAT, "belarus")
    assert sub is not None and sub.mode == "digest" and sub.keywords[-1].label == "Belavia"
    same = await bot.say("/subscribe belarus digest")
    assert same.text.startswith("This chat is already subscribed to belarus.")
    assert not same.changed
    assert (await bot.say("/subscribe belarus")).text.startswith("This chat is already")


async def test_subscribe_mistakes_answer_with_usage_or_the_known_topics(bot: Bot) -> None:
    reply = await bot.say("/subscribe belarusia")
    assert reply.text.startswith("There is no topic 'belarusia'. Topics: global: belarus, ukraine.")
    assert not reply.changed
    reply = await bot.say("/subscribe")
    assert reply.text == (
        "Which topic? /topics lists them.\nUsage: /subscribe <topic> [instant|digest|both]\n"
        "Example: /subscribe belarus digest"
    )
    assert "'sometimes' is not a mode" in (await bot.say("/subscribe belarus sometimes")).text
    assert "no schedule" in (await bot.say("/subscribe belarus instant daily 09:00")).text
    assert "is not a time" in (await bot.say("/subscribe belarus digest daily 25:00")).text
    assert "is not a topic name" in (await bot.say("/subscribe ../../etc")).text
    assert await bot.store.subscriptions() == []
    assert bot.changes == []


async def test_unsubscribe(bot: Bot) -> None:
    await bot.say("/subscribe belarus")
    reply = await bot.say("/unsubscribe belarus")
    assert reply.text == "Unsubscribed from belarus: no more alerts for it here."
    assert reply.changed and await sub_of(bot, CHAT, "belarus") is None
    assert (await bot.say("/unsubscribe belarus")).text == "This chat is not subscribed to belarus."
    assert "There is no topic 'nope'" in (await bot.say("/unsubscribe nope")).text
    assert "Usage: /unsubscribe <topic>" in (await bot.say("/unsubscribe")).text


async def test_a_static_subscription_from_feeds_yaml_can_be_left_and_rejoined(bot: Bot) -> None:
    group = private("telegram:-100777")  # feeds.yaml subscribes it to ukraine
    assert "• ukraine: Alerts come instantly." in (await bot.say("/list", group)).text
    await bot.say("/add ukraine Odesa | Одеса", group)
    await bot.say("/unsubscribe ukraine", group)
    sub = await sub_of(bot, "telegram:-100777", "ukraine")
    assert sub is not None and not sub.active  # kept, so it overrides the static route
    assert "no subscriptions yet" in (await bot.say("/list", group)).text
    reply = await bot.say("/subscribe ukraine", group)
    assert reply.text.startswith("Subscribed to ukraine: 3 keyword lines")  # Odesa kept


async def test_list_shows_everything_about_each_subscription(bot: Bot) -> None:
    assert "This chat has no subscriptions yet." in (await bot.say("/list")).text
    await bot.say("/timezone Europe/Minsk")
    await bot.say("/subscribe belarus digest")
    await bot.say("/previews belarus on")
    await bot.say("/new coffee coffee")
    await bot.say("/mute 2h")
    text = (await bot.say("/list")).text
    assert text.startswith("This chat's subscriptions (2 of 20 topics):")
    assert "• belarus: Digest daily at 09:00 Europe/Minsk. Link previews on." in text
    assert "  keywords: Lukashenko | Lukashenka | Лукашэнк* | Лукашенк*, Belarus*" in text
    assert "  exclude: hockey" in text
    assert "• coffee (this chat's own topic): Alerts come instantly. Link previews off." in text
    assert "Time zone Europe/Minsk. Muted until 13:00 Europe/Minsk; alerts wait." in text


# --- keywords -------------------------------------------------------------------------------


async def test_keywords_are_numbered_keywords_then_excludes(bot: Bot) -> None:
    text = (await bot.say("/keywords belarus")).text
    assert text.startswith("Keywords of belarus (this chat is not subscribed: /subscribe belarus)")
    await bot.say("/subscribe belarus")
    text = (await bot.say("/keywords belarus")).text
    assert "1. Lukashenko | Lukashenka | Лукашэнк* | Лукашенк*\n2. Belarus*" in text
    assert "Excluded (an item that mentions one is skipped):\n5. hockey" in text
    assert "There is no topic 'x'" in (await bot.say("/keywords x")).text


async def test_add_reports_the_lines_and_the_new_count(bot: Bot) -> None:
    await bot.say("/subscribe belarus")
    reply = await bot.say("/add belarus Tsikhanouskaya | Ціханоўская, Belavia")
    assert reply.text == "Added to belarus: Tsikhanouskaya | Ціханоўская, Belavia (now 6 lines)."
    assert reply.changed and reply.public
    sub = await sub_of(bot, CHAT, "belarus")
    assert sub is not None
    assert sub.keywords[-2:] == (
        KeywordLine(("Tsikhanouskaya", "Ціханоўская")),
        KeywordLine(("Belavia",)),
    )
    again = await bot.say("/add belarus belavia, Hrodna")
    assert again.text == "Added to belarus: Hrodna (now 7 lines). Already there: belavia."
    nothing = await bot.say("/add belarus MINSK")
    assert nothing.text == "Nothing changed in belarus. Already there: MINSK."
    assert not nothing.changed


async def test_add_needs_a_subscription_and_well_formed_lines(bot: Bot) -> None:
    reply = await bot.say("/add belarus Belavia")
    assert reply.text == (
        "This chat is not subscribed to belarus: subscribe first with /subscribe belarus, "
        "then change its keywords."
    )
    await bot.say("/subscribe belarus")
    bad = await bot.say("/add belarus Belavia | | Белавиа")
    assert "has an empty alias" in bad.text and "Usage: /add <topic>" in bad.text
    assert "may only end an alias" in (await bot.say("/add belarus Be*lavia")).text
    assert "no letters or digits" in (await bot.say("/add belarus !!!")).text
    assert "Which keywords" in (await bot.say("/add belarus")).text
    assert "There is no topic 'nope'" in (await bot.say("/add nope x")).text
    sub = await sub_of(bot, CHAT, "belarus")
    assert sub is not None and len(sub.keywords) == 4


async def test_remove_by_number_by_alias_or_by_whole_line(bot: Bot) -> None:
    await bot.say("/subscribe belarus")
    reply = await bot.say("/remove belarus 4")
    assert reply.text == "Removed from belarus: Zapad 2025 | Захад-2025 (now 3 lines)."
    reply = await bot.say("/remove belarus мінск")  # any alias, any case
    assert reply.text == "Removed from belarus: Minsk | Минск* | Мінск* (now 2 lines)."
    reply = await bot.say("/remove belarus belarus* | беларус* | белорус*, hockey")
    assert (
        reply.text == "Removed from belarus: Belarus* | Беларус* | Белорус*, hockey (now 1 line)."
    )
    sub = await sub_of(bot, CHAT, "belarus")
    assert sub is not None and sub.exclude == () and len(sub.keywords) == 1


async def test_remove_refuses_unknown_lines_and_the_last_keyword(bot: Bot) -> None:
    await bot.say("/subscribe ukraine")
    reply = await bot.say("/remove ukraine 1, 9, Odesa")
    assert reply.text.startswith("ukraine has no keyword line '9', 'Odesa': nothing was removed.")
    reply = await bot.say("/remove ukraine 1, 2")
    assert "without keyword lines: nothing was removed" in reply.text
    sub = await sub_of(bot, CHAT, "ukraine")
    assert sub is not None and len(sub.keywords) == 2
    assert "Usage: /remove" in (await bot.say("/remove ukraine")).text


async def test_exclude_adds_a_veto_that_test_explains(bot: Bot) -> None:
    await bot.say("/subscribe belarus")
    reply = await bot.say("/exclude belarus tennis | теннис")
    assert reply.text == (
        "Excluded from belarus: tennis | теннис; an item that mentions one is skipped "
        "(now 2 exclude lines)."
    )
    text = (await bot.say("/test Belarus wins the tennis final in Minsk")).text
    assert "✗ belarus would match (Belarus*: “Belarus”; Minsk: “Minsk”)" in text
    assert "but is excluded by tennis: “tennis”" in text
    assert "Nothing matches." in text
    again = await bot.say("/exclude belarus TENNIS, Minsk")  # a keyword may become a veto
    assert again.text == (
        "Excluded from belarus: Minsk; an item that mentions one is skipped (now 3 exclude "
        "lines). Already there: TENNIS."
    )


async def test_edits_change_only_this_chats_copy(bot: Bot) -> None:
    await bot.say("/subscribe belarus")
    await bot.say("/subscribe belarus", private(OTHER))
    await bot.say("/add belarus Belavia")
    await bot.say("/remove belarus 1")
    await bot.say("/exclude belarus tennis")
    mine = await sub_of(bot, CHAT, "belarus")
    theirs = await sub_of(bot, OTHER, "belarus")
    topic = next(t for t in make_config().topics if t.name == "belarus")
    assert mine is not None and theirs is not None
    assert theirs.keywords == topic.keywords and theirs.exclude == topic.exclude
    assert mine.keywords == (*topic.keywords[1:], KeywordLine(("Belavia",)))
    assert [str(x) for x in mine.exclude] == ["hockey", "tennis"]
    assert await bot.store.topics() == []  # nothing global was stored or changed
    assert "Lukashenko" in (await bot.say("/keywords belarus", private(OTHER))).text


async def test_new_topic_of_the_chats_own(bot: Bot) -> None:
    reply = await bot.say("/new coffee coffee | кофе*, espresso")
    assert reply.text == (
        "Made coffee, a topic of this chat's own, with 2 keyword lines (coffee | кофе*, "
        "espresso), and subscribed to it: 2 feeds. Alerts come instantly."
    )
    [topic] = await bot.store.topics()
    assert topic.owner == CHAT and topic.name == "coffee"
    await bot.say("/add coffee latte")
    [topic] = await bot.store.topics()
    assert topic.keywords[-1].label == "latte"  # the chat's own topic follows its copy
    assert "already has a topic coffee" in (await bot.say("/new Coffee tea")).text
    assert "belarus is a global topic" in (await bot.say("/new belarus x")).text
    other = await bot.say("/subscribe coffee", private(OTHER))
    assert other.text.startswith("There is no topic 'coffee'")  # other chats do not see it
    reply = await bot.say("/unsubscribe coffee")
    assert "to make it again: /new coffee coffee | кофе*, espresso, latte" in reply.text
    assert await bot.store.topics() == []
    assert "Usage: /new" in (await bot.say("/new tea")).text
    assert "is not a topic name" in (await bot.say("/new t.e.a tea")).text


# --- /test ----------------------------------------------------------------------------------


async def test_test_explains_matches_of_this_chats_subscriptions(bot: Bot) -> None:
    text = (await bot.say("/test Лукашенко прилетел в Минск")).text
    assert text.startswith("This chat has no subscriptions, so this is tested against the global")
    assert "✓ belarus matches" in text
    await bot.say("/subscribe ukraine")
    text = (await bot.say("/test Лукашенко прилетел в Минск")).text
    assert text.startswith("Tested against this chat's subscriptions.")
    assert "belarus" not in text
    assert "Nothing matches. Dozor reads the text as: лукашенко прилетел в минск" in text
    text = (await bot.say("/test Зеленский в Киеве")).text
    assert "✓ ukraine matches: Kyiv (Киев*): “Киеве”" in text
    assert "Usage: /test <text>" in (await bot.say("/test")).text


# --- limits ---------------------------------------------------------------------------------


async def test_topic_limit_counts_own_topics_and_subscriptions(
    store: Store, fetcher: Fetcher
) -> None:
    small = build(store, loader(fetcher), Limits(topics=2))
    await small.say("/subscribe belarus")
    await small.say("/new coffee coffee")
    reply = await small.say("/subscribe ukraine")
    assert reply.text == (
        "This chat would have 3 topics, and the limit is 2 (its own topics and subscriptions "
        "together). /unsubscribe one first."
    )
    assert "limit is 2" in (await small.say("/new tea tea")).text
    await small.say("/unsubscribe belarus")
    assert (await small.say("/subscribe ukraine")).text.startswith("Subscribed")


async def test_line_and_alias_limits(store: Store, fetcher: Fetcher) -> None:
    small = build(store, loader(fetcher), Limits(lines=6, chars=12))
    await small.say("/subscribe belarus")  # 4 lines and 1 exclude
    reply = await small.say("/add belarus Belavia, Hrodna")
    assert reply.text == (
        "belarus would have 7 keyword lines, and the limit is 6 per subscription (exclusions "
        "included). /remove some first."
    )
    assert "7 keyword lines at once" in (await small.say("/add belarus a,b,c,d,e,f,g")).text
    reply = await small.say("/add belarus Tsikhanouskaya")
    assert "alias 'Tsikhanouskaya…' is longer than 12 characters" in reply.text
    assert (await small.say("/add belarus Belavia")).text.endswith("(now 5 lines).")


# --- failures -------------------------------------------------------------------------------


async def test_storage_failure_answers_plainly(caplog: pytest.LogCaptureFixture) -> None:
    client = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0), decode_responses=True)
    dead = RedisStore(client)

    async def no_fetch(url: str) -> ParsedFeed:
        raise AssertionError("not reached")

    commands = Commands(
        store=dead, config=make_config(), admins=frozenset(), load_feed=no_fetch, clock=lambda: NOW
    )
    with caplog.at_level(logging.ERROR, logger="dozor.commands"):
        reply = await commands.handle("/subscribe belarus", private())
    assert reply.text == (
        "Dozor's storage is not answering; nothing was changed. Try again in a minute."
    )
    assert not reply.changed
    assert "store failed" in caplog.text
    help_reply = await commands.handle("/help", private())
    assert "Dozor watches" in help_reply.text  # help needs no store
    await dead.close()


async def test_unexpected_errors_are_logged_not_shown(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(url: str) -> ParsedFeed:
        raise ZeroDivisionError("secret internals")

    bot = build(store, broken)
    with caplog.at_level(logging.ERROR, logger="dozor.commands"):
        reply = await bot.say("/addfeed https://example.org/feed.xml")
    assert reply.text.startswith("Sorry, something went wrong inside Dozor")
    assert "secret" not in reply.text and "Traceback" not in reply.text
    assert "ZeroDivisionError" in caplog.text


async def test_huge_and_hostile_input_is_refused_quickly(bot: Bot) -> None:
    started = time.perf_counter()
    reply = await bot.say("/add belarus " + "Belavia, " * 1_200_000)
    assert reply.text.startswith("That message is too long (10,800,013 characters)")
    reply = await bot.say("/test " + "x" * 49_000)
    assert "Nothing matches" in reply.text
    assert time.perf_counter() - started < 2
    for text in (
        "/subscribe \x00\x1b[31mbelarus",
        '/add belarus "unbalanced',
        "/subscribe <script>alert(1)</script>",
        "/addfeed $(rm -rf /)",
        "/mute `reboot`",
        "/timezone ../../../etc/passwd",
        "/\u202eevil",
    ):
        reply = await bot.say(text)
        assert "Traceback" not in reply.text
    assert (await bot.say("/subscribe \x00belarus")).text.startswith("Subscribed to belarus")
