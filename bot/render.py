"""Alerts as people read them. Feed text is untrusted: every renderer escapes it for its medium.

`AlertView` is what every channel shows (title, link, source, time, keywords, excerpt); each
front end turns it into its own markup. The console form strips control characters so that a
headline cannot move the cursor or recolour the terminal.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.models import Alert

EXCERPT_CHARS = 280
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
        title=alert.title or alert.url or "(untitled)",
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
