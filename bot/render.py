"""Alerts as people read them. Feed text is untrusted: every renderer escapes it for its medium.

`AlertView` is what every channel shows (title, link, source, time, keywords, excerpt); each
front end turns it into its own markup. The console form strips control characters so that a
headline cannot move the cursor or recolour the terminal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from bot.models import Alert

EXCERPT_CHARS = 280
TITLE_CHARS = 300
TELEGRAM_LIMIT = 4096
SLACK_SECTION_LIMIT = 3000  # characters in a section's text
SLACK_MAX_BLOCKS = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class AlertView:
    topic: str
    title: str
    url: str
    source: str
    when: str | None  # "2025-09-12 14:03 UTC" in the destination's zone
    matched: tuple[str, ...]
    excerpt: str


def plural(count: int, noun: str) -> str:
    """`1 feed`, `37 feeds`, `2 stories`."""
    if count == 1:
        return f"{count} {noun}"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return f"{count} {noun[:-1]}ies"
    return f"{count} {noun}s"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of `text`, cut at a word boundary with an ellipsis when longer than `limit`."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:-–—") + "…"


def local_time(when: datetime | None, zone: str = "UTC") -> str | None:
    if when is None:
        return None
    local = when.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def view(alert: Alert, zone: str = "UTC") -> AlertView:
    return AlertView(
        topic=alert.topic,
        title=excerpt(alert.title, TITLE_CHARS) or alert.url or "(untitled)",
        url=alert.canonical_url or alert.url,  # the link without tracking parameters
        source=alert.feed,
        when=local_time(alert.published, zone),
        matched=alert.matched,
        excerpt=excerpt(alert.summary),
    )


def terminal_safe(text: str) -> str:
    """Text without control, bidi-override or other invisible formatting characters."""
    text = _CONTROL.sub("", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf" or ch == "\u200d")


def console_text(alert: Alert, zone: str = "UTC") -> str:
    """A plain-text alert of a few lines, for logs and terminals without colour."""
    v = view(alert, zone)
    meta = " · ".join(
        part
        for part in (
            terminal_safe(v.source),
            v.when or "",
            "matched: " + ", ".join(terminal_safe(m) for m in v.matched),
        )
        if part
    )
    lines = [f"[{terminal_safe(v.topic)}] {terminal_safe(v.title)}", f"  {meta}"]
    if v.url:
        lines.append(f"  {terminal_safe(v.url)}")
    if v.excerpt:
        lines.append(f"  {terminal_safe(v.excerpt)}")
    return "\n".join(lines)


def telegram_html(alert: Alert, zone: str = "UTC", also: Sequence[str] = ()) -> str:
    """Telegram HTML: the bold title linked to the canonical URL, source and local time, the
    matched keywords, an excerpt. Every piece of feed text is escaped; the result stays far
    under Telegram's 4,096 characters because title and excerpt are capped."""
    v = view(alert, zone)
    title = f"<b>{escape(v.title)}</b>"
    lines = [f'<a href="{escape(v.url)}">{title}</a>' if v.url else title]
    lines.append("<i>" + escape(" · ".join(p for p in (v.source, v.when) if p)) + "</i>")
    if also:
        lines.append("📰 also: " + escape(also_line(also)))
    lines.append("🔎 " + escape(", ".join(v.matched)))
    if v.excerpt:
        lines.append(escape(v.excerpt))
    return "\n".join(lines)


def split_text(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, split on line boundaries; a line longer than
    `limit` is cut at a space (so only plain-text lines may be that long)."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            pieces, current = _flush(pieces, current), ""
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces, current = _flush(pieces, current), line
        else:
            current = candidate
    return _flush(pieces, current) or [""]


def _flush(pieces: list[str], current: str) -> list[str]:
    if current:
        pieces.append(current)
    return pieces


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters as entities: feed text can then never open a link,
    a mention (`<!channel>`, `<@U123>`) or a date token."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_url(url: str) -> str:
    """A URL safe inside `<url|label>`: the characters that would end or split it encoded."""
    encoded = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
    return encoded.replace("&", "&amp;")


def mrkdwn_text(text: str) -> dict[str, object]:
    """A Slack text object for escaped mrkdwn, always `verbatim`: Slack then turns no bare
    name or URL into a mention or link. Every Slack text Dozor builds comes from here."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def also_line(sources: Sequence[str], shown: int = 5) -> str:
    """`Reuters, ANSA +3`: the other outlets that carried a story already sent."""
    names = [excerpt(s, 60) for s in sources]
    rest = len(names) - shown
    return ", ".join(names[:shown]) + (f" +{rest}" if rest > 0 else "")


def slack_alert(
    alert: Alert, zone: str = "UTC", also: Sequence[str] = ()
) -> tuple[str, list[dict[str, object]]]:
    """Block Kit for an alert and its notification `text`: the linked bold title; a context
    line with source, local time and matched keywords; the excerpt. All feed text escaped and
    every text object `verbatim`, so a headline cannot mention anyone."""
    v = view(alert, zone)
    title = mrkdwn_escape(v.title)
    head = f"*<{slack_url(v.url)}|{title}>*" if v.url else f"*{title}*"
    extra = f"📰 also: {also_line(also)}" if also else ""
    context = " · ".join(p for p in (v.source, v.when, extra, "🔎 " + ", ".join(v.matched)) if p)
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": mrkdwn_text(head)},
        {"type": "context", "elements": [mrkdwn_text(mrkdwn_escape(context))]},
    ]
    if v.excerpt:
        blocks.append({"type": "section", "text": mrkdwn_text(mrkdwn_escape(v.excerpt))})
    fallback = mrkdwn_escape(f"{v.title} — {v.source}" if v.source else v.title)
    return fallback, blocks


def slack_reply(text: str) -> tuple[str, list[dict[str, object]]]:
    """A command's plain-text answer as Slack shows it: escaped mrkdwn sections split on line
    boundaries within Slack's limits (never inside an entity), and a short notification."""
    pieces = _escaped_pieces(text, SLACK_SECTION_LIMIT)
    if len(pieces) > SLACK_MAX_BLOCKS:
        pieces = [*pieces[: SLACK_MAX_BLOCKS - 1], "… (cut: the answer is longer than Slack shows)"]
    blocks: list[dict[str, object]] = [{"type": "section", "text": mrkdwn_text(p)} for p in pieces]
    return mrkdwn_escape(excerpt(text.split("\n", 1)[0], 150)), blocks


def slack_code(text: str) -> list[str]:
    """`text` as escaped mrkdwn code blocks (for a file's content), each within a section."""
    return [f"```{p}```" for p in _escaped_pieces(text, SLACK_SECTION_LIMIT - 6)]


def _escaped_pieces(text: str, limit: int, size: int | None = None) -> list[str]:
    """Split the plain text (pieces of `size`), then escape: a piece whose entities push it
    over `limit` is split again, finer, so no `&amp;` is ever cut in half."""
    out: list[str] = []
    for piece in split_text(text, size or limit):
        escaped = mrkdwn_escape(piece)
        if len(escaped) <= limit:
            out.append(escaped)
        else:
            finer = min(len(piece) * limit // len(escaped), len(piece) - 1)
            out.extend(_escaped_pieces(piece, limit, max(finer, 1)))
    return out
