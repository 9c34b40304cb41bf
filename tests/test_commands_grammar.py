"""The pure half: text -> Command, without a store, a clock or a network."""

from __future__ import annotations

import pytest

from bot.commands.catalog import CATALOG
from bot.commands.grammar import MAX_TEXT, parse_command
from bot.commands.parsed import (
    AddFeed,
    AddKeywords,
    Command,
    Digest,
    Exclude,
    Help,
    Import,
    Malformed,
    MatchTest,
    Mute,
    NewTopic,
    Permissions,
    Previews,
    RemoveFeed,
    RemoveKeywords,
    ShowPermissions,
    ShowTimezone,
    Subscribe,
    Timezone,
    TooLong,
    Topics,
    Unknown,
    Unsubscribe,
)
from bot.models import KeywordLine


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("/start", Help()),
        ("/help@dozor_bot subscribe", Help("subscribe")),
        ("/help /unsub", Help("unsubscribe")),
        ("/topics", Topics()),
        ("topics", Topics()),
        ("/subscribe belarus", Subscribe("belarus")),
        ("/subscribe@dozor_bot  «belarus»  DIGEST", Subscribe("belarus", "digest")),
        (
            "/subscribe belarus both weekly mon 09:00",
            Subscribe("belarus", "both", "weekly mon 09:00"),
        ),
        ("/sub #belarus", Subscribe("belarus")),
        ("/unsubscribe belarus", Unsubscribe("belarus")),
        (
            "/add belarus Tsikhanouskaya | Ціханоўская,  Belavia ",
            AddKeywords(
                "belarus",
                (KeywordLine(("Tsikhanouskaya", "Ціханоўская")), KeywordLine(("Belavia",))),
            ),
        ),
        ("/add belarus a\nb", AddKeywords("belarus", (KeywordLine(("a",)), KeywordLine(("b",))))),
        ("/remove belarus 3, Belavia", RemoveKeywords("belarus", ("3", "Belavia"))),
        ("/exclude belarus hockey", Exclude("belarus", (KeywordLine(("hockey",)),))),
        ("/new coffee coffee | кофе*", NewTopic("coffee", (KeywordLine(("coffee", "кофе*")),))),
        ("/addfeed https://a.example/rss", AddFeed("https://a.example/rss")),
        ("/addfeed <https://a.example/rss|a.example/rss>", AddFeed("https://a.example/rss")),
        ("/removefeed 2", RemoveFeed("2")),
        ("/mute 2h", Mute(7200.0)),
        ("/mute 90 minutes", Mute(5400.0)),
        ("/mute 1 day", Mute(86400.0)),
        ("/mute off", Mute(None)),
        ("/timezone Europe/Minsk", Timezone("Europe/Minsk")),
        ("/tz", ShowTimezone()),
        ("/previews belarus ON", Previews("belarus", True)),
        ("/previews belarus no", Previews("belarus", False)),
        ("/digest belarus  daily   09:00", Digest("belarus", "daily 09:00")),
        ("/permissions everyone", Permissions(everyone=True)),
        ("/permissions admins", Permissions(everyone=False)),
        ("/permissions", ShowPermissions()),
        ("/test  Лукашенко  в Минске ", MatchTest("Лукашенко  в Минске")),
        ("/import", Import("")),
        ("/import\ntopics:\n  a: {keywords: [x]}\n", Import("topics:\n  a: {keywords: [x]}")),
        ("/whatever", Unknown("whatever")),
        ("/subscibe x", Unknown("subscibe", "subscribe")),
        ("/!!!", Unknown("!!!")),
        ("/", Help()),
        ("/\u202eevil", Unknown("evil")),
    ],
)
def test_parse(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "name", "reason"),
    [
        ("/subscribe", "subscribe", "Which topic?"),
        ("/subscribe belarus often", "subscribe", "is not a mode"),
        ("/subscribe a.b", "subscribe", "is not a topic name"),
        ("/subscribe " + "x" * 41, "subscribe", "is not a topic name"),
        ("/unsubscribe a b", "unsubscribe", "Name one topic"),
        ("/add belarus", "add", "Which keywords"),
        ("/add belarus x | ", "add", "empty alias"),
        ("/add belarus *", "add", "no letters or digits"),
        ("/remove belarus , ,", "remove", "Which keyword line"),
        ("/addfeed", "addfeed", "Give one feed URL"),
        ("/mute", "mute", "For how long?"),
        ("/mute soon", "mute", "is not a duration"),
        ("/mute 31d", "mute", "at most 30d"),
        ("/timezone Europe Minsk", "timezone", "one IANA name"),
        ("/previews belarus", "previews", "Which setting"),
        ("/digest belarus", "digest", "Which schedule"),
        ("/permissions nobody", "permissions", "Say admins or everyone"),
        ("/test", "test", "Which text?"),
    ],
)
def test_malformed_commands_keep_the_reason_and_the_command(
    text: str, name: str, reason: str
) -> None:
    found = parse_command(text)
    assert isinstance(found, Malformed) and found.name == name
    assert reason in found.reason


def test_limits_are_applied_while_parsing() -> None:
    found = parse_command("/add t " + "x" * 11, max_chars=10)
    assert isinstance(found, Malformed) and "longer than 10 characters" in found.reason
    found = parse_command("/add t a, b, c", max_lines=2)
    assert isinstance(found, Malformed) and "3 keyword lines at once" in found.reason


def test_overlong_text_is_not_read() -> None:
    assert parse_command("/add t " + "x" * MAX_TEXT) == TooLong(MAX_TEXT + 7)


def test_control_characters_separate_words() -> None:
    assert parse_command("/subscribe\x00belarus\x1b") == Subscribe("belarus")


def test_every_catalog_entry_parses_its_own_example() -> None:
    for entry in CATALOG:
        found = parse_command(entry.example)
        assert not isinstance(found, Malformed | Unknown), entry.example
        assert found.edits == entry.edits or isinstance(found, Help), entry.name
