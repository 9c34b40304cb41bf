"""JSON for the values both stores keep, so Redis and SQLite hold the very same text.

Decoding ignores fields it does not know, so an older Dozor can read what a newer one wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import Any

from bot.models import Alert, FeedState, KeywordLine, Subscription, Topic

_FEED_STATE_FIELDS = frozenset(f.name for f in fields(FeedState))


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
    )


def encode_feed_state(state: FeedState) -> str:
    return dumps(asdict(state))


def decode_feed_state(text: str | bytes | None) -> FeedState:
    """A stored state, or a fresh one for a feed never polled (nothing stored)."""
    if text is None:
        return FeedState()
    data = json.loads(text)
    return FeedState(**{k: v for k, v in data.items() if k in _FEED_STATE_FIELDS})


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
