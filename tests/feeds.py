"""Small feeds written by tests: RSS 2.0 with the items a test needs, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

BASE_TIME = datetime(2025, 9, 12, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    title: str
    link: str
    guid: str | None = None
    description: str = ""
    minutes: int = 0  # published BASE_TIME + minutes


def rss(*entries: Entry, title: str = "Test feed") -> bytes:
    items = []
    for e in entries:
        guid = f'<guid isPermaLink="false">{escape(e.guid)}</guid>' if e.guid else ""
        when = format_datetime(BASE_TIME + timedelta(minutes=e.minutes))
        items.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>{guid}"
            f"<description>{escape(e.description)}</description><pubDate>{when}</pubDate></item>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>"
        f"<description>test</description>{''.join(items)}</channel></rss>"
    )
    return body.encode("utf-8")


MATCHING = [
    Entry("Лукашенко провёл совещание в Минске", "https://news.example/a/1", "a1", minutes=1),
    Entry("Lukashenko meets envoy", "https://news.example/a/2", "a2", minutes=2),
    Entry("Białoruś zamyka granicę", "https://news.example/a/3", "a3", minutes=3),
]
OTHER = [
    Entry("Weather in Lisbon", "https://news.example/b/1", "b1", minutes=4),
    Entry("Minsky moment for markets", "https://news.example/b/2", "b2", minutes=5),
]


def atom(*entries: Entry, title: str = "Test feed") -> bytes:
    """Atom with type="text" titles: what they hold is text, "<b>" included."""
    parts = []
    for e in entries:
        when = (BASE_TIME + timedelta(minutes=e.minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(
            f'<entry><title type="text">{escape(e.title)}</title>'
            f"<id>{escape(e.guid or e.link)}</id>"
            f'<link href="{escape(e.link)}"/><updated>{when}</updated>'
            f'<summary type="html">{escape(e.description)}</summary></entry>'
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test</id><updated>2025-09-12T08:00:00Z</updated>"
        f"{''.join(parts)}</feed>"
    )
    return body.encode("utf-8")


BELARUS_KEYWORDS = ("Lukashenko | Лукашэнк*", "Minsk | Минск*", "Belarus* | Białoru*")


def feeds_yaml(*feeds: tuple[str, str], backfill: int = 0, extra: str = "") -> str:
    """A feeds.yaml for end-to-end tests: the given (url, name) feeds polled every second and
    the `belarus` topic with three keyword lines, then `extra` (e.g. subscriptions)."""
    lines = [f"defaults: {{interval: 1s, backfill: {backfill}}}", "feeds:"]
    lines += [f'  - {{url: "{url}", name: {name}}}' for url, name in feeds]
    lines += ["topics:", "  belarus:", "    keywords:"]
    lines += [f"      - {line}" for line in BELARUS_KEYWORDS]
    return "\n".join(lines) + "\n" + extra


def subscribed(*destinations: str, topic: str = "belarus") -> str:
    """feeds.yaml lines subscribing each destination ("telegram:42", "slack:C1") to `topic`,
    for `feeds_yaml(extra=...)`."""
    lines = "".join(f'  - {{topic: {topic}, to: "{to}"}}\n' for to in destinations)
    return "subscriptions:\n" + lines
