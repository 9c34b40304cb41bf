"""What the fast road answers, and how it declines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Doubtful(Exception):
    """The document leaves what we follow of feedparser: feedparser must read it."""


@dataclass(frozen=True, slots=True)
class FeedRead:
    """A feed as feedparser would give it, cut down to what Dozor reads."""

    version: str  # feedparser's version name ("rss20", "atom10", "rss10", …)
    feed: dict[str, Any]  # "title" and "title_detail"
    entries: list[dict[str, Any]]  # title, summary, content, link, id, dates, tags (+ details)
