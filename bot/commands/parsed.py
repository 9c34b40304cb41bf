"""The commands a message can mean, as values: what `grammar` decides and `handle` executes.

Wrong messages are values too (`Unknown`, `Malformed`, `TooLong`), so parsing never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.models import KeywordLine, Mode


class Command:
    """A message's meaning. `edits`: it changes settings, so group admins only."""

    __slots__ = ()
    edits: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Help(Command):
    command: str | None = None


@dataclass(frozen=True, slots=True)
class Topics(Command):
    pass


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    edits: ClassVar[bool] = True
    topic: str
    mode: Mode | None = None  # None: instant when new, unchanged when already subscribed
    schedule: str | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe(Command):
    edits: ClassVar[bool] = True
    topic: str


@dataclass(frozen=True, slots=True)
class ListSubscriptions(Command):
    pass


@dataclass(frozen=True, slots=True)
class Keywords(Command):
    topic: str


@dataclass(frozen=True, slots=True)
class AddKeywords(Command):
    edits: ClassVar[bool] = True
    topic: str
    lines: tuple[KeywordLine, ...]


@dataclass(frozen=True, slots=True)
class RemoveKeywords(Command):
    edits: ClassVar[bool] = True
    topic: str
    targets: tuple[str, ...]  # line numbers as shown by /keywords, or aliases


@dataclass(frozen=True, slots=True)
class Exclude(Command):
    edits: ClassVar[bool] = True
    topic: str
    lines: tuple[KeywordLine, ...]


@dataclass(frozen=True, slots=True)
class NewTopic(Command):
    edits: ClassVar[bool] = True
    topic: str
    lines: tuple[KeywordLine, ...]


@dataclass(frozen=True, slots=True)
class Feeds(Command):
    pass


@dataclass(frozen=True, slots=True)
class AddFeed(Command):
    edits: ClassVar[bool] = True
    url: str


@dataclass(frozen=True, slots=True)
class RemoveFeed(Command):
    edits: ClassVar[bool] = True
    target: str  # a URL, or a number from /feeds


@dataclass(frozen=True, slots=True)
class Mute(Command):
    edits: ClassVar[bool] = True
    seconds: float | None  # None: unmute


@dataclass(frozen=True, slots=True)
class Timezone(Command):
    edits: ClassVar[bool] = True
    zone: str


@dataclass(frozen=True, slots=True)
class ShowTimezone(Command):
    pass


@dataclass(frozen=True, slots=True)
class Previews(Command):
    edits: ClassVar[bool] = True
    topic: str
    on: bool


@dataclass(frozen=True, slots=True)
class Digest(Command):
    edits: ClassVar[bool] = True
    topic: str | None  # None: every subscription of the chat
    schedule: str  # a schedule, or "off"


@dataclass(frozen=True, slots=True)
class DigestNow(Command):
    edits: ClassVar[bool] = True  # it posts to everyone in the chat
    topic: str | None


@dataclass(frozen=True, slots=True)
class Quiet(Command):
    edits: ClassVar[bool] = True
    window: str | None  # "22:00-07:00"; None: off


@dataclass(frozen=True, slots=True)
class ShowQuiet(Command):
    pass


@dataclass(frozen=True, slots=True)
class Trend(Command):
    topic: str
    days: int


@dataclass(frozen=True, slots=True)
class Permissions(Command):
    edits: ClassVar[bool] = True
    everyone: bool


@dataclass(frozen=True, slots=True)
class ShowPermissions(Command):
    pass


@dataclass(frozen=True, slots=True)
class Status(Command):
    pass


@dataclass(frozen=True, slots=True)
class MatchTest(Command):
    text: str


@dataclass(frozen=True, slots=True)
class Export(Command):
    pass


@dataclass(frozen=True, slots=True)
class Import(Command):
    edits: ClassVar[bool] = True
    text: str  # pasted after the command; "" means: read the attachment


@dataclass(frozen=True, slots=True)
class Unknown(Command):
    name: str
    suggestion: str | None = None


@dataclass(frozen=True, slots=True)
class Malformed(Command):
    name: str  # the catalog name, for its usage line
    reason: str


@dataclass(frozen=True, slots=True)
class TooLong(Command):
    length: int
