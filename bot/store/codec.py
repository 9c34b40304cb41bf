"""JSON for the values both stores keep, so Redis and SQLite hold the very same text.

Decoding ignores fields it does not know and fills in defaults for optional fields it does not
find, so an older Dozor reads what a newer one wrote, and the other way round.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import Any

from bot.models import Alert, Chat, Feed, FeedState, KeywordLine, Subscription, Topic

_FEED_STATE_NAMES = tuple(f.name for f in fields(FeedState))
_FEED_STATE_FIELDS = frozenset(_FEED_STATE_NAMES)
_FEED_FIELDS = frozenset(f.name for f in fields(Feed))
_CHAT_FIELDS = frozenset(f.name for f in fields(Chat))


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _lines(lines: tuple[KeywordLine, ...]) -> list[list[str]]:
    return [list(line.aliases) for line in lines]


def _keyword_lines(data: Any) -> tuple[KeywordLine, ...]:
    return tuple(KeywordLine(tuple(str(alias) for alias in line)) for line in data or ())


# --- ids: the identity of a row, the same text in both stores -----------------------------
def topic_id(owner: str | None, name: str) -> str:
    """(owner, name) as one string; owner None (a global topic) stays distinct from any chat."""
    return dumps([owner, name])


def subscription_id(to: str, topic: str) -> str:
    return dumps([to, topic])


def feed_id(owner: str, url: str) -> str:
    return dumps([owner, url])


def private_feed_id(feed: Feed) -> str:
    """The id of a chat's private feed; ValueError for a feed without an owner (feeds.yaml)."""
    if feed.owner is None:
        raise ValueError(f"feed {feed.url} has no owner: only a chat's private feeds are stored")
    return feed_id(feed.owner, feed.url)


# --- moving a destination: both stores rewrite the very same text ------------------------
def owned_head(owner: str) -> str:
    """How the id of every record `owner` holds begins: ids are JSON [owner, ...]."""
    return "[" + dumps(owner) + ","


def field_text(key: str, value: str) -> str:
    """`"key":"value"` as `dumps` writes it: in a stored record this is only ever that field,
    since a quote inside a JSON string is always escaped."""
    return f'"{key}":{dumps(value)}'


def readdress(text: str, key: str, old: str, new: str) -> str:
    """The record with its `key` field changed from `old` to `new`, every other byte kept
    (fields a newer Dozor added survive); unchanged if the field does not hold `old`."""
    return text.replace(field_text(key, old), field_text(key, new), 1)


# --- values -------------------------------------------------------------------------------
def encode_topic(topic: Topic) -> str:
    return dumps(
        {
            "name": topic.name,
            "owner": topic.owner,
            "keywords": _lines(topic.keywords),
            "exclude": _lines(topic.exclude),
        }
    )


def decode_topic(text: str | bytes) -> Topic:
    data = json.loads(text)
    return Topic(
        name=data["name"],
        keywords=_keyword_lines(data.get("keywords")),
        exclude=_keyword_lines(data.get("exclude")),
        owner=data.get("owner"),
    )


def encode_subscription(sub: Subscription) -> str:
    return dumps(
        {
            "topic": sub.topic,
            "to": sub.to,
            "keywords": _lines(sub.keywords),
            "exclude": _lines(sub.exclude),
            "mode": sub.mode,
            "digest": sub.digest,
            "created": sub.created,
            "active": sub.active,
            "previews": sub.previews,
        }
    )


def decode_subscription(text: str | bytes) -> Subscription:
    data = json.loads(text)
    return Subscription(
        topic=data["topic"],
        to=data["to"],
        keywords=_keyword_lines(data.get("keywords")),
        exclude=_keyword_lines(data.get("exclude")),
        mode=data.get("mode", "instant"),
        digest=data.get("digest"),
        created=float(data.get("created", 0.0)),
        active=bool(data.get("active", True)),
        previews=bool(data.get("previews", False)),
    )


def encode_feed(feed: Feed) -> str:
    return dumps(
        {
            "url": feed.url,
            "name": feed.name,
            "lang": feed.lang,
            "tags": list(feed.tags),
            "interval": feed.interval,
            "backfill": feed.backfill,
            "dedup_days": feed.dedup_days,
            "owner": feed.owner,
        }
    )


def decode_feed(text: str | bytes) -> Feed:
    data = {k: v for k, v in json.loads(text).items() if k in _FEED_FIELDS and v is not None}
    data["tags"] = tuple(str(tag) for tag in data.get("tags", ()))
    if "interval" in data:
        data["interval"] = float(data["interval"])
    return Feed(**data)


def encode_chat(chat: Chat) -> str:
    return dumps(asdict(chat))


def decode_chat(text: str | bytes) -> Chat:
    return Chat(**{k: v for k, v in json.loads(text).items() if k in _CHAT_FIELDS})


def encode_feed_state(state: FeedState) -> str:
    # Its fields are plain values (a tuple of strings at most): no need for asdict's deep copy,
    # which cost a tenth of a millisecond a poll.
    return dumps({name: getattr(state, name) for name in _FEED_STATE_NAMES})


def decode_feed_state(text: str | bytes | None) -> FeedState:
    """A stored state, or a fresh one for a feed never polled (nothing stored)."""
    if text is None:
        return FeedState()
    data = json.loads(text)
    fields = {k: v for k, v in data.items() if k in _FEED_STATE_FIELDS}
    fields["item_digests"] = tuple(fields.get("item_digests") or ())
    return FeedState(**fields)


def encode_alert(alert: Alert) -> str:
    return dumps(alert.to_dict())


def decode_alert(text: str | bytes) -> Alert:
    return Alert.from_dict(json.loads(text))


# --- order: both stores list rows the same way --------------------------------------------
def sorted_topics(topics: Iterable[Topic]) -> list[Topic]:
    """Global topics first, then by owner and name."""
    return sorted(topics, key=lambda t: (t.owner is not None, t.owner or "", t.name))


def sorted_subscriptions(subs: Iterable[Subscription]) -> list[Subscription]:
    return sorted(subs, key=lambda s: (s.to, s.topic))


def sorted_chats(chats: Iterable[Chat]) -> list[Chat]:
    return sorted(chats, key=lambda c: c.to)
