"""What the front ends hand to `Commands.handle` and get back: plain values, no platform types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

ChatKind = Literal["private", "group", "channel"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command, and from where. `is_chat_admin` is asked lazily (it may cost an API
    call), only when a command would change a group's or channel's settings."""

    chat: str  # the destination: "telegram:-100123" or "slack:C0123"
    user: str | None  # "telegram:42" / "slack:U42"; None for an anonymous channel post
    kind: ChatKind
    is_chat_admin: Callable[[], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a command (/import); `mime` as the platform reported it."""

    filename: str
    content: bytes
    mime: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer: PLAIN text (each front end escapes it for its medium) and optional files.

    `public`: a change everyone in the channel should see (Slack posts it instead of an
    ephemeral reply); `changed`: settings changed, so the front end refreshes routing.
    """

    text: str
    public: bool = False
    attachments: tuple[Attachment, ...] = ()
    changed: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-chat caps that keep one chat from making the shared matcher or poller heavy."""

    topics: int = 20  # own topics and subscriptions, counted by distinct topic name
    lines: int = 100  # keyword and exclude lines per subscription or own topic
    chars: int = 100  # characters per alias
    feeds: int = 50  # the chat's own feeds


DEFAULT_LIMITS = Limits()


class Summaries(Protocol):
    """What the service does for /digest now and /trend (commands only ask)."""

    async def digest_now(self, to: str, topic: str) -> int:
        """Send the digest of what (to, topic) collected so far; the number of stories in it
        (0: nothing was collected, nothing sent)."""

    async def trend(self, to: str, topic: str, days: int) -> Attachment | None:
        """A chart of the last `days` days of mentions, or None when there is nothing to draw."""
