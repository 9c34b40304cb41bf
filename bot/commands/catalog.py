"""The commands Dozor understands, as a user reads them: usage, a one-line summary, an example.

One table feeds /help, the usage line of a malformed command, the Telegram/Slack menu and the
permission rule (which commands change settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class CommandInfo:
    name: str
    args: str  # "" when the command takes none
    summary: str
    example: str
    edits: bool  # changes this chat's settings: admins only in groups

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


CATALOG: tuple[CommandInfo, ...] = (
    CommandInfo("help", "[command]", "what Dozor does and how to use it", "/help add", False),
    CommandInfo("topics", "", "the topics you can subscribe to", "/topics", False),
    CommandInfo(
        "subscribe",
        "<topic> [instant|digest|both]",
        "get alerts for a topic",
        "/subscribe belarus digest",
        True,
    ),
    CommandInfo("unsubscribe", "<topic>", "stop alerts for a topic", "/unsubscribe belarus", True),
    CommandInfo("list", "", "this chat's subscriptions and settings", "/list", False),
    CommandInfo(
        "keywords",
        "<topic>",
        "a subscription's keyword lines, numbered",
        "/keywords belarus",
        False,
    ),
    CommandInfo(
        "add",
        "<topic> <keyword line>[, <keyword line>…]",
        "add keyword lines (spellings of one thing joined by |)",
        "/add belarus Tsikhanouskaya | Ціханоўская, Belavia",
        True,
    ),
    CommandInfo(
        "remove",
        "<topic> <number|keyword>[, …]",
        "remove keyword lines, by number or by any spelling",
        "/remove belarus 3",
        True,
    ),
    CommandInfo(
        "exclude",
        "<topic> <keyword line>[, …]",
        "skip items that mention these",
        "/exclude belarus hockey | хоккей",
        True,
    ),
    CommandInfo(
        "new",
        "<topic> <keyword line>[, …]",
        "make a topic of this chat's own and subscribe to it",
        "/new coffee coffee | кофе*, espresso",
        True,
    ),
    CommandInfo("feeds", "", "the feeds Dozor reads", "/feeds", False),
    CommandInfo(
        "addfeed",
        "<url>",
        "add a feed of this chat's own",
        "/addfeed https://example.org/news/rss.xml",
        True,
    ),
    CommandInfo(
        "removefeed", "<url|number>", "remove one of this chat's own feeds", "/removefeed 1", True
    ),
    CommandInfo(
        "mute",
        "<duration>|off",
        "hold alerts for a while (they wait, none is lost)",
        "/mute 2h",
        True,
    ),
    CommandInfo(
        "quiet",
        "<HH:MM-HH:MM>|off",
        "quiet hours: alerts wait until they end (digests still come)",
        "/quiet 22:00-07:00",
        True,
    ),
    CommandInfo("timezone", "<IANA zone>", "this chat's time zone", "/timezone Europe/Minsk", True),
    CommandInfo(
        "previews",
        "<topic> on|off",
        "link previews under a topic's alerts",
        "/previews belarus on",
        True,
    ),
    CommandInfo(
        "digest",
        "[topic] hourly|daily HH:MM|weekly <day> HH:MM [zone]|now|off",
        "when the digest comes (every topic, or one); now: the digest at once",
        "/digest daily 09:00 Europe/Minsk",
        True,
    ),
    CommandInfo(
        "trend",
        "<topic> [days]",
        "a chart of mentions per day per keyword line",
        "/trend belarus 14",
        False,
    ),
    CommandInfo(
        "permissions",
        "admins|everyone",
        "who may change this group's settings",
        "/permissions everyone",
        True,
    ),
    CommandInfo("status", "", "feed health, waiting alerts, mute, next digests", "/status", False),
    CommandInfo(
        "test",
        "<text>",
        "which of this chat's keywords a text would match, and why",
        "/test Лукашенко встретился с послом",
        False,
    ),
    CommandInfo("export", "", "this chat's settings as files /import reads", "/export", False),
    CommandInfo(
        "import",
        "(attach a .yaml or .opml file, or paste it after the command)",
        "load subscriptions (YAML) or feeds (OPML)",
        "/import",
        True,
    ),
)

ALIASES: Mapping[str, str] = MappingProxyType(
    {"start": "help", "sub": "subscribe", "unsub": "unsubscribe", "tz": "timezone"}
)


def info(name: str) -> CommandInfo:
    """The catalog entry of a command name (canonical, not an alias)."""
    for entry in CATALOG:
        if entry.name == name:
            return entry
    raise KeyError(name)


def usage_text(name: str) -> str:
    """The answer to a command written wrongly: its usage line and an example."""
    entry = info(name)
    return f"Usage: {entry.usage}\nExample: {entry.example}"
