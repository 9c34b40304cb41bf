"""What one command runs against: the store, the config, the caller, and a snapshot of the chat.

`ChatTopics` is read once per command and answers the questions every handler asks (which
topic does this name mean, is the chat subscribed to it, how many topics does it use) purely.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.commands.values import Caller, Limits, Summaries
from bot.config import Config
from bot.models import Chat, Feed, KeywordLine, Subscription, Topic
from bot.parse import ParsedFeed
from bot.routes import merge_subscriptions, merge_topics
from bot.store import Store


@dataclass(frozen=True, slots=True)
class Context:
    """One command's world. `now` is read once, so every time in a reply agrees."""

    store: Store
    config: Config
    caller: Caller
    limits: Limits
    now: float
    load_feed: Callable[[str], Awaitable[ParsedFeed]]
    summaries: Summaries | None = None

    @property
    def to(self) -> str:
        return self.caller.chat

    async def chat(self) -> Chat:
        return await self.store.chat(self.to)

    async def topics(self) -> ChatTopics:
        """Topics and subscriptions as this chat sees them, from feeds.yaml and the store."""
        stored_topics = await self.store.topics()
        stored_subs = [s for s in await self.store.subscriptions() if s.to == self.to]
        static_subs = [s for s in self.config.subscriptions if s.to == self.to]
        merged = merge_subscriptions(static_subs, stored_subs)
        return ChatTopics(
            own=tuple(t for t in stored_topics if t.owner == self.to),
            shared=tuple(
                merge_topics(self.config.topics, (t for t in stored_topics if t.owner is None))
            ),
            subscriptions=tuple(s for s in merged if s.active),
            inactive=tuple(s for s in merged if not s.active),
            static=frozenset(s.topic for s in static_subs),
        )

    async def own_feeds(self) -> list[Feed]:
        return [feed for feed in await self.store.feeds() if feed.owner == self.to]

    async def save_lines(
        self,
        topics: ChatTopics,
        sub: Subscription,
        keywords: tuple[KeywordLine, ...],
        exclude: tuple[KeywordLine, ...],
    ) -> Subscription:
        """Change the chat's copy of a topic's lines; a topic of the chat's own changes too."""
        changed = replace(sub, keywords=keywords, exclude=exclude)
        await self.store.save_subscription(changed)
        own = topics.own_topic(sub.topic)
        if own is not None:
            await self.store.save_topic(replace(own, keywords=keywords, exclude=exclude))
        return changed


@dataclass(frozen=True, slots=True)
class ChatTopics:
    """The topics a chat can name and the subscriptions it has, as read at one moment."""

    own: tuple[Topic, ...]  # owner == this chat
    shared: tuple[Topic, ...]  # global: feeds.yaml merged with stored topics without owner
    subscriptions: tuple[Subscription, ...]  # this chat's active ones, static ones included
    inactive: tuple[Subscription, ...]  # unsubscribed static routes, deactivated ones
    static: frozenset[str]  # topics feeds.yaml subscribes this chat to

    def resolve(self, name: str) -> Topic | None:
        """The chat's own topic of that name first, then a global one; exact case first."""
        candidates = (*self.own, *self.shared)
        exact = next((topic for topic in candidates if topic.name == name), None)
        folded = name.casefold()
        return exact or next((t for t in candidates if t.name.casefold() == folded), None)

    def own_topic(self, name: str) -> Topic | None:
        return next((t for t in self.own if t.name == name), None)

    def shared_topic(self, name: str) -> Topic | None:
        return next((t for t in self.shared if t.name.casefold() == name.casefold()), None)

    def subscription(self, topic: str) -> Subscription | None:
        """The chat's active subscription to `topic` (exact name first, then any case)."""
        exact = next((s for s in self.subscriptions if s.topic == topic), None)
        folded = topic.casefold()
        return exact or next((s for s in self.subscriptions if s.topic.casefold() == folded), None)

    def former(self, topic: str) -> Subscription | None:
        """An inactive subscription kept in the store: resubscribing keeps its keywords."""
        return next((s for s in self.inactive if s.topic == topic), None)

    def names_in_use(self) -> set[str]:
        """What counts against the topics limit: own topics and subscriptions, by name."""
        return {t.name for t in self.own} | {s.topic for s in self.subscriptions}

    def known_names(self) -> str:
        """Every topic name the chat may use, for an "unknown topic" answer."""
        shared = ", ".join(sorted(t.name for t in self.shared)) or "none"
        text = f"global: {shared}"
        if self.own:
            text += f"; this chat's own: {', '.join(sorted(t.name for t in self.own))}"
        return text
