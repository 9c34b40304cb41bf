"""Every Redis key Dozor uses, spelled in one place.

A `Keys` value carries the prefix (`dozor:` by default), so tests and shared deployments can
namespace a whole installation. Parts that come from users (destinations, topic names) are
escaped so that two different (to, topic) pairs never share a key.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "dozor:"


def _part(text: str) -> str:
    """Escape `%` and `/` so that `to/topic` splits one way only."""
    return text.replace("%", "%25").replace("/", "%2F")


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    # --- polling ------------------------------------------------------------------------------
    def feed_state(self, feed_id: str) -> str:
        """STRING: the feed's FeedState as JSON."""
        return f"{self.prefix}feed:{feed_id}"

    def seen(self, feed_id: str) -> str:
        """ZSET: item keys seen in the feed, scored by the time they are forgotten."""
        return f"{self.prefix}seen:{feed_id}"

    def seen_index(self) -> str:
        """SET: the names of all `seen` keys, so purge never has to SCAN."""
        return f"{self.prefix}index:seen"

    def links(self, to: str, topic: str, delivery: str) -> str:
        """ZSET: dedup links already enqueued for one destination's topic and delivery,
        scored by the time they are forgotten."""
        return f"{self.prefix}links:{delivery}:{_part(to)}/{_part(topic)}"

    def links_index(self) -> str:
        """SET: the names of all `links` keys, so purge never has to SCAN."""
        return f"{self.prefix}index:links"

    # --- outbox -------------------------------------------------------------------------------
    def outbox_due(self) -> str:
        """ZSET: outbox entry ids scored by when they may next be claimed."""
        return f"{self.prefix}outbox:due"

    def outbox_data(self) -> str:
        """HASH: entry id -> Alert JSON."""
        return f"{self.prefix}outbox:data"

    def outbox_attempts(self) -> str:
        """HASH: entry id -> failed delivery attempts so far."""
        return f"{self.prefix}outbox:attempts"

    def outbox_errors(self) -> str:
        """HASH: entry id -> the last delivery error."""
        return f"{self.prefix}outbox:errors"

    def outbox_seq(self) -> str:
        """STRING counter: the last outbox entry id handed out (INCR)."""
        return f"{self.prefix}outbox:seq"

    # --- digest buffer, topics, subscriptions, feeds, chats, locks ---------------------------
    def digest(self, to: str, topic: str) -> str:
        """LIST: Alert JSON waiting for (to, topic)'s next digest, oldest at the head."""
        return f"{self.prefix}digest:{_part(to)}/{_part(topic)}"

    def digest_index(self) -> str:
        """SET: the names of `digest` keys, so moving a destination never has to SCAN."""
        return f"{self.prefix}index:digest"

    def topics(self) -> str:
        """HASH: JSON [owner, name] -> Topic JSON."""
        return f"{self.prefix}topics"

    def subscriptions(self) -> str:
        """HASH: JSON [to, topic] -> Subscription JSON."""
        return f"{self.prefix}subscriptions"

    def feeds(self) -> str:
        """HASH: JSON [owner, url] -> Feed JSON: chats' private feeds."""
        return f"{self.prefix}feeds"

    def feeds_order(self) -> str:
        """ZSET: `feeds` fields scored by when first saved, so feeds list in insertion order."""
        return f"{self.prefix}feeds:order"

    def feeds_seq(self) -> str:
        """STRING counter: the last `feeds_order` score handed out (INCR)."""
        return f"{self.prefix}feeds:seq"

    def chats(self) -> str:
        """HASH: destination -> Chat JSON (its time zone, mute, who may edit)."""
        return f"{self.prefix}chats"

    def records(self) -> str:
        """HASH: record name -> JSON [value, expires|null] (expiry judged by the caller's clock)."""
        return f"{self.prefix}records"

    def records_expiry(self) -> str:
        """SORTED SET: names of records that expire, scored by when: what purge() visits."""
        return f"{self.prefix}records:expiry"

    def stories(self) -> str:
        """SORTED SET: story fingerprint rows (JSON), scored by the time they were added."""
        return f"{self.prefix}stories"

    def budget(self, key: str, count: int, window: float) -> str:
        """SORTED SET: send times under one rate budget (e.g. a chat's 1/s), shared by replicas."""
        return f"{self.prefix}budget:{_part(key)}:{count}/{window:g}"

    def lock(self, name: str) -> str:
        """HASH {owner, expires}: a lease on some work, e.g. polling one feed."""
        return f"{self.prefix}lock:{name}"
