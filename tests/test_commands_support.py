"""What the command tests share: a config, callers, and `Commands` on a real store (SQLite or
Redis) with the real fetcher and parser behind `load_feed`.

Test modules import the fixtures from here (`from tests.test_commands_support import …`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.commands import Attachment, Caller, ChatKind, Commands, Limits, Reply
from bot.commands.values import DEFAULT_LIMITS
from bot.config import Config, parse_config
from bot.fetch import Fetcher
from bot.parse import ParsedFeed, parse_feed_async
from bot.store import Store, open_store

NOW = 1_757_664_000.0  # 2025-09-12 08:00 UTC, a Friday
ADMIN = "telegram:999"  # in DOZOR_ADMINS
CONFIG_TEXT = """
feeds:
  - {url: https://example.org/world/rss.xml, name: Example World}
  - {url: https://example.org/europe/rss.xml, name: Example Europe}
topics:
  belarus:
    keywords:
      - Lukashenko | Lukashenka | Лукашэнк* | Лукашенк*
      - Belarus* | Беларус* | Белорус*
      - Minsk | Минск* | Мінск*
      - Zapad 2025 | Захад-2025
    exclude: [hockey]
  ukraine:
    keywords: [Ukrain* | Україн* | Украин*, Kyiv | Київ | Киев*]
subscriptions:
  - {topic: ukraine, to: "telegram:-100777", mode: instant}
"""


def make_config() -> Config:
    return parse_config(CONFIG_TEXT, Path("feeds.yaml"))


async def never_asked() -> bool:
    raise AssertionError("is_chat_admin must not be asked here")


def private(chat: str = "telegram:1") -> Caller:
    return Caller(chat=chat, user=chat, kind="private", is_chat_admin=never_asked)


@dataclass
class Member:
    """A group member whose admin status the front end would look up; counts the lookups."""

    admin: bool
    asked: int = 0

    async def is_admin(self) -> bool:
        self.asked += 1
        return self.admin


def in_group(
    member: Member,
    chat: str = "telegram:-100555",
    user: str | None = "telegram:42",
    kind: ChatKind = "group",
) -> Caller:
    return Caller(chat=chat, user=user, kind=kind, is_chat_admin=member.is_admin)


@dataclass
class Bot:
    """`Commands` plus what the tests look at: the store, the changes reported."""

    commands: Commands
    store: Store
    config: Config
    changes: list[int] = field(default_factory=list)

    async def say(
        self, text: str, caller: Caller | None = None, attachment: Attachment | None = None
    ) -> Reply:
        reply = await self.commands.handle(text, caller or private(), attachment)
        assert reply.text.strip()
        return reply


Loader = Callable[[str], Awaitable[ParsedFeed]]


def loader(fetcher: Fetcher) -> Loader:
    """The real load_feed: the guarded fetch, then the parser, as app.py wires it."""

    async def load(url: str) -> ParsedFeed:
        result = await fetcher.fetch(url)
        return await parse_feed_async(result.body, url=result.url, content_type=result.content_type)

    return load


@pytest.fixture(params=["sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> AsyncIterator[Store]:
    opened = await open_store(
        redis_url if request.param == "redis" else None, str(tmp_path / "dozor.db")
    )
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(allow_private=True, total_timeout=10) as opened:
        yield opened


def build(store: Store, load: Loader, limits: Limits = DEFAULT_LIMITS) -> Bot:
    config = make_config()
    changes: list[int] = []
    commands = Commands(
        store=store,
        config=config,
        admins=frozenset({ADMIN}),
        load_feed=load,
        clock=lambda: NOW,
        limits=limits,
        on_change=lambda: changes.append(1),
    )
    return Bot(commands, store, config, changes)


@pytest.fixture
def bot(store: Store, fetcher: Fetcher) -> Bot:
    return build(store, loader(fetcher))
