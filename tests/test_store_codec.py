"""The JSON both stores keep: tolerant of other versions' records, rewritten byte for byte."""

from __future__ import annotations

import dataclasses

import pytest

from bot.models import Alert, Chat, Feed, KeywordLine, Subscription
from bot.store import codec


def test_feed_and_chat_round_trip() -> None:
    feed = Feed("https://x/rss", "Х", "be", ("a", "b"), 60.0, 2, 5, "telegram:1")
    assert codec.decode_feed(codec.encode_feed(feed)) == feed
    chat = Chat("slack:C1", "Europe/Minsk", 10.5, anyone_can_edit=True, owner="slack:U1")
    assert codec.decode_chat(codec.encode_chat(chat)) == chat


def test_missing_optional_fields_take_defaults_and_unknown_ones_are_ignored() -> None:
    feed = codec.decode_feed('{"url":"https://x/rss","name":"X","lang":null,"later":[1]}')
    assert feed == Feed(url="https://x/rss", name="X")
    sub = codec.decode_subscription('{"topic":"t","to":"console","keywords":[["a"]]}')
    assert sub == Subscription(topic="t", to="console", keywords=(KeywordLine(("a",)),))
    assert codec.decode_chat('{"to":"telegram:1","new_setting":true}') == Chat("telegram:1")


def test_a_feed_without_owner_has_no_store_id() -> None:
    with pytest.raises(ValueError, match="no owner"):
        codec.private_feed_id(Feed(url="https://x/rss", name="X"))
    owned = Feed(url="https://x/rss", name="X", owner="telegram:1")
    assert codec.private_feed_id(owned) == codec.feed_id("telegram:1", "https://x/rss")
    assert codec.feed_id("telegram:1", "u").startswith(codec.owned_head("telegram:1"))


def test_readdress_changes_only_the_named_field() -> None:
    alert = Alert(
        topic="t",
        to="telegram:-123",
        feed="F",
        feed_id="f",
        id="1",
        url="",
        canonical_url="",
        title='He wrote "to":"telegram:-123" in a headline',
        summary="",
        published=None,
        matched=(),
        created=1712345678.123456,
    )
    text = codec.encode_alert(alert)
    moved = codec.readdress(text, "to", "telegram:-123", "telegram:-100123")
    assert codec.decode_alert(moved) == dataclasses.replace(alert, to="telegram:-100123")
    assert moved == codec.encode_alert(dataclasses.replace(alert, to="telegram:-100123"))
    assert codec.readdress(text, "to", "telegram:-12", "x") == text  # a prefix is not a match
    assert codec.readdress(moved, "to", "telegram:-123", "x") == moved  # the headline is kept
