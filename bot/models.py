"""Values that flow through Dozor: feeds, items, topics, subscriptions and alerts.

All are frozen dataclasses: the core passes them around and never mutates them. Times in the
store are Unix seconds (floats); times that a user sees are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Mode = Literal["instant", "digest", "both"]
Delivery = Literal["instant", "digest"]
AlertKind = Literal["alert", "digest", "also"]
CONSOLE = "console"


def feed_id_for(url: str) -> str:
    """A short stable id for a feed URL: store keys survive renaming a feed in feeds.yaml."""
    return hashlib.sha1(url.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Feed:
    url: str
    name: str
    lang: str | None = None
    tags: tuple[str, ...] = ()
    interval: float = 300.0
    backfill: int = 0
    dedup_days: int = 30
    owner: str | None = None  # a chat's private feed ("telegram:123"); None for feeds.yaml

    @property
    def id(self) -> str:
        """Chats that add the same URL each get their own memory of it (and own poll)."""
        return feed_id_for(self.url if self.owner is None else f"{self.owner} {self.url}")


@dataclass(frozen=True, slots=True)
class Item:
    """One feed entry as Dozor reads it: plain text, absolute URLs, UTC time."""

    key: str  # dedup key within its feed (GUID, else canonical link, else title+date hash)
    url: str  # the entry's link resolved to an absolute URL ("" when it has none)
    canonical_url: str  # url without tracking parameters or fragment, host lower-cased
    title: str
    summary: str  # summary, else content: plain text
    published: datetime | None = None  # UTC
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeywordLine:
    """One concept: its aliases (spellings) as written, the first naming the line."""

    aliases: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.aliases[0]

    def __str__(self) -> str:
        return " | ".join(self.aliases)


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    keywords: tuple[KeywordLine, ...]
    exclude: tuple[KeywordLine, ...] = ()
    owner: str | None = None  # None: a global topic from feeds.yaml


@dataclass(frozen=True, slots=True)
class Subscription:
    """A destination's subscription to a topic. It carries its own copy of the keywords."""

    topic: str
    to: str  # "console", "telegram:<chat_id>" or "slack:<channel_id>"
    keywords: tuple[KeywordLine, ...]
    exclude: tuple[KeywordLine, ...] = ()
    mode: Mode = "instant"
    digest: str | None = None  # schedule, e.g. "daily 09:00 Europe/Minsk"
    created: float = 0.0  # Unix seconds
    active: bool = True
    previews: bool = False  # link previews under alerts (Telegram), unfurling (Slack)

    @property
    def id(self) -> str:
        return f"{self.to}/{self.topic}"

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        if self.mode == "both":
            return ("instant", "digest")
        return (self.mode,)


@dataclass(frozen=True, slots=True)
class Chat:
    """A destination's own settings: time zone, mute, who may change its subscriptions."""

    to: str  # "telegram:<chat_id>" or "slack:<channel_id>"
    zone: str = "UTC"
    mute_until: float | None = None  # Unix seconds; alerts wait (never dropped) until then
    anyone_can_edit: bool = False  # groups: only admins change settings unless this is set
    owner: str | None = None  # user who first subscribed it ("slack:U123"), for Slack's rule
    quiet: str | None = None  # quiet hours in the chat's zone, "22:00-07:00"

    def muted(self, now: float) -> bool:
        return self.mute_until is not None and now < self.mute_until


@dataclass(frozen=True, slots=True)
class Alert:
    """A match on its way to one destination: what the outbox and the digest buffer hold."""

    topic: str
    to: str
    feed: str  # the feed's name
    feed_id: str
    id: str  # the item's key within its feed
    url: str
    canonical_url: str
    title: str
    summary: str
    published: datetime | None
    matched: tuple[str, ...]
    delivery: Delivery = "instant"
    created: float = 0.0
    previews: bool = False
    story: str = ""  # the story cluster this item belongs to ("" before clustering)
    kind: AlertKind = "alert"  # "digest": a summary (payload: the Digest as JSON);
    # "also": another outlet carried a story already sent (the original message is edited)
    payload: str = ""

    @property
    def dedup_link(self) -> str:
        """What makes two alerts the same for one subscription. Instantly, one story is one
        alert across feeds (its story cluster, else its link); a digest keeps every outlet's
        item (the digest lists a story's sources), so only a feed's own repeats are one."""
        if self.delivery == "digest":
            return f"{self.feed_id}|{self.canonical_url or self.id}"
        if self.kind == "also":  # one edit per outlet that carried the story
            return f"also:{self.story}:{self.feed_id}"
        if self.story:
            return f"story:{self.story}"
        return self.canonical_url or f"{self.feed_id}:{self.id}"

    @property
    def story_key(self) -> str:
        """The story this alert tells: its cluster, else its link."""
        return self.story or self.canonical_url or f"{self.feed_id}:{self.id}"

    def contract(self) -> dict[str, Any]:
        """The JSON line of DESIGN §3, exactly those keys."""
        return {
            "topic": self.topic,
            "to": self.to,
            "feed": self.feed,
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "summary": self.summary,
            "published": iso_utc(self.published),
            "matched": list(self.matched),
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, for storage."""
        data = self.contract()
        data.update(
            feed_id=self.feed_id,
            canonical_url=self.canonical_url,
            delivery=self.delivery,
            created=self.created,
            previews=self.previews,
        )
        if self.story:
            data["story"] = self.story
        if self.kind != "alert":
            data.update(kind=self.kind, payload=self.payload)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        published = data.get("published")
        return cls(
            topic=data["topic"],
            to=data["to"],
            feed=data["feed"],
            feed_id=data["feed_id"],
            id=data["id"],
            url=data["url"],
            canonical_url=data.get("canonical_url", ""),
            title=data["title"],
            summary=data["summary"],
            published=datetime.fromisoformat(published) if published else None,
            matched=tuple(data.get("matched", ())),
            delivery=data.get("delivery", "instant"),
            created=float(data.get("created", 0.0)),
            previews=bool(data.get("previews", False)),
            story=str(data.get("story", "")),
            kind=data.get("kind", "alert"),
            payload=str(data.get("payload", "")),
        )


@dataclass(frozen=True, slots=True)
class FeedState:
    """What Dozor remembers about polling one feed."""

    etag: str | None = None
    last_modified: str | None = None
    last_poll: float | None = None  # last attempt, Unix seconds
    last_success: float | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive
    retry_at: float | None = None  # backoff: not before this time
    items_seen: int = 0
    polls: int = 0
    body_digest: str | None = None  # the last good body's fingerprint (bot.known)
    item_digests: tuple[str, ...] = ()  # its items' fingerprints, to skip what was read
    # When the body was last read whole, every item in it marked seen again: items that stay in
    # a feed (answered by 304s, or skipped as known) must not outlive their seen marks.
    read_whole: float | None = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    alert: Alert
    attempts: int = 0
    lease_until: float = 0.0  # when this claim's lease ends: the claimer's proof it holds it


@dataclass(frozen=True, slots=True)
class Match:
    """Why an item matched one rule set: the labels of the matched lines and the evidence."""

    labels: tuple[str, ...]
    evidence: tuple[tuple[str, str], ...] = field(default=())  # (alias, words in the text)


def iso_utc(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
