"""Digests: a period's alerts for one subscription, grouped into stories and ranked, then
rendered for Telegram, Slack and the console.

Pure: the caller takes the alerts out of the digest buffer and hands them in, with the period
and the previous period's keyword counts; nothing here reads the store, the clock or the network.
Feed text is untrusted, so every renderer escapes it for its medium and splits only between whole
fragments (a story, a list line), never inside a link or an entity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from bot.models import Alert
from bot.render import (
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_LIMIT,
    TELEGRAM_LIMIT,
    TITLE_CHARS,
    excerpt,
    mrkdwn_escape,
    mrkdwn_text,
    plural,
    slack_url,
    terminal_safe,
)

TOP_STORIES = 5  # shown in full: title, sources, keywords, excerpt
LISTED_STORIES = 25  # then one line each; the rest are counted
STORY_EXCERPT_CHARS = 200
SOURCE_CHARS = 60  # an outlet's name as shown
KEYWORDS_CHARS = 150  # a story's matched keywords as shown
FORMAT_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class Story:
    """Items from one or more outlets that tell the same story (one cluster, else one link)."""

    key: str
    title: str
    url: str
    sources: tuple[str, ...]  # distinct outlets, first reporter first
    matched: tuple[str, ...]  # keyword labels any of its items matched
    excerpt: str  # one line
    first: datetime  # UTC: when its earliest item was published (else seen)
    latest: datetime
    count: int  # items


class KeywordCount(NamedTuple):
    """Stories that matched a keyword line this period and, when compared, the period before."""

    label: str
    current: int
    previous: int | None  # None: no comparison was asked for


@dataclass(frozen=True, slots=True)
class Digest:
    """What one digest says; stored as JSON in the outbox until it is sent, then rendered."""

    topic: str
    to: str
    zone: str  # IANA name: the period is shown in it
    start: datetime  # UTC
    end: datetime
    stories: tuple[Story, ...]  # ranked
    item_count: int
    source_count: int
    keywords: tuple[KeywordCount, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values only (times as ISO 8601), with a version for later readers."""
        return {
            "version": FORMAT_VERSION,
            "topic": self.topic,
            "to": self.to,
            "zone": self.zone,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "item_count": self.item_count,
            "source_count": self.source_count,
            "keywords": [[k.label, k.current, k.previous] for k in self.keywords],
            "stories": [
                {
                    "key": s.key,
                    "title": s.title,
                    "url": s.url,
                    "sources": list(s.sources),
                    "matched": list(s.matched),
                    "excerpt": s.excerpt,
                    "first": s.first.isoformat(),
                    "latest": s.latest.isoformat(),
                    "count": s.count,
                }
                for s in self.stories
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Digest:
        """The inverse of `to_dict`; raises ValueError on a version this code cannot read."""
        if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            raise ValueError(f"digest format version {data.get('version')!r} is not supported")
        return cls(
            topic=str(data["topic"]),
            to=str(data["to"]),
            zone=str(data["zone"]),
            start=_utc(datetime.fromisoformat(data["start"])),
            end=_utc(datetime.fromisoformat(data["end"])),
            stories=tuple(
                Story(
                    key=str(s["key"]),
                    title=str(s["title"]),
                    url=str(s["url"]),
                    sources=tuple(s["sources"]),
                    matched=tuple(s["matched"]),
                    excerpt=str(s["excerpt"]),
                    first=_utc(datetime.fromisoformat(s["first"])),
                    latest=_utc(datetime.fromisoformat(s["latest"])),
                    count=int(s["count"]),
                )
                for s in data["stories"]
            ),
            item_count=int(data["item_count"]),
            source_count=int(data["source_count"]),
            keywords=tuple(
                KeywordCount(str(label), int(now), None if prev is None else int(prev))
                for label, now, prev in data["keywords"]
            ),
        )


# --- composing ---------------------------------------------------------------------------------


def compose(
    alerts: Iterable[Alert],
    *,
    topic: str,
    to: str,
    zone: str,
    start: datetime,
    end: datetime,
    previous: Mapping[str, int] | None = None,
) -> Digest:
    """Group the period's alerts into stories and rank them: more outlets first (what many
    report matters more), then the most recent. Keywords are counted once per story so that
    one event syndicated by ten feeds does not look like ten; `previous` (the last period's
    `keyword_counts`) adds the trend, None leaves it out."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a digest period needs timezone-aware start and end")
    if end < start:
        raise ValueError("a digest period cannot end before it starts")
    ZoneInfo(zone)  # an unknown zone fails here, not when the digest is rendered
    groups = _stories(alerts)
    stories = sorted(
        (_story(key, items) for key, items in groups.items()),
        key=lambda s: (-len(s.sources), -s.latest.timestamp(), s.key),
    )
    outlets = _distinct(a.feed for items in groups.values() for a in items)
    return Digest(
        topic=topic,
        to=to,
        zone=zone,
        start=_utc(start),
        end=_utc(end),
        stories=tuple(stories),
        item_count=sum(len(items) for items in groups.values()),
        source_count=len(outlets),
        keywords=_keyword_counts(stories, previous),
    )


def keyword_counts(digest: Digest) -> dict[str, int]:
    """Stories per keyword line, to hand to the next period's `compose` as `previous`."""
    return {k.label: k.current for k in digest.keywords if k.current > 0}


def daily_mentions(alerts: Iterable[Alert], zone: str) -> dict[date, dict[str, int]]:
    """Stories per keyword line per local day, for trend charts. A story reported over two
    days counts on each; repeats of it within one day count once."""
    tz = ZoneInfo(zone)
    seen: dict[date, dict[str, set[str]]] = {}
    for alert in alerts:
        day = _moment(alert).astimezone(tz).date()
        labels = seen.setdefault(day, {})
        for label in alert.matched:
            labels.setdefault(label, set()).add(alert.story_key)
    return {
        day: {label: len(keys) for label, keys in labels.items()}
        for day, labels in sorted(seen.items())
    }


def _stories(alerts: Iterable[Alert]) -> dict[str, list[Alert]]:
    """Alerts by story, each story's items in the order they were published; an item that
    the buffer holds twice (an at-least-once retry) counts once."""
    unique: dict[tuple[str, str], Alert] = {}
    for alert in alerts:
        unique.setdefault((alert.feed_id, alert.id), alert)
    groups: dict[str, list[Alert]] = {}
    for alert in sorted(unique.values(), key=lambda a: (_moment(a), a.created)):
        groups.setdefault(alert.story_key, []).append(alert)
    return groups


def _story(key: str, items: Sequence[Alert]) -> Story:
    """The first titled item speaks for the story: usually the outlet that broke it."""
    lead = next((a for a in items if a.title.strip()), items[0])
    title = excerpt(lead.title, TITLE_CHARS) or lead.canonical_url or lead.url or "(untitled)"
    summaries = (excerpt(a.summary, STORY_EXCERPT_CHARS) for a in items)
    moments = [_moment(a) for a in items]
    return Story(
        key=key,
        title=title,
        url=lead.canonical_url or lead.url,
        sources=_distinct(a.feed for a in items),
        matched=tuple(dict.fromkeys(label for a in items for label in a.matched)),
        excerpt=next((s for s in summaries if s and s.casefold() != title.casefold()), ""),
        first=min(moments),
        latest=max(moments),
        count=len(items),
    )


def _keyword_counts(
    stories: Sequence[Story], previous: Mapping[str, int] | None
) -> tuple[KeywordCount, ...]:
    """Most mentioned first; a line that was mentioned before and not now stays, at 0, so
    the fall shows."""
    counts: dict[str, int] = {}
    for story in stories:
        for label in story.matched:
            counts[label] = counts.get(label, 0) + 1
    if previous is not None:
        for label, before in previous.items():
            if before > 0:
                counts.setdefault(label, 0)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))
    return tuple(
        KeywordCount(label, n, None if previous is None else previous.get(label, 0))
        for label, n in ranked
    )


def _moment(alert: Alert) -> datetime:
    """When an item appeared: its published time, but never later than when Dozor saw it
    (feeds with a wrong clock or zone), else when it was seen."""
    seen = datetime.fromtimestamp(alert.created, UTC) if alert.created > 0 else None
    if alert.published is None:
        return seen or _EPOCH
    published = _utc(alert.published)
    return seen if seen is not None and published > seen else published


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _distinct(names: Iterable[str]) -> tuple[str, ...]:
    """Outlet names without repeats (case and spacing aside), in first-seen order."""
    found: dict[str, str] = {}
    for name in names:
        name = " ".join(name.split())
        if name:
            found.setdefault(name.casefold(), name)
    return tuple(found.values())


# --- the words every medium shares -------------------------------------------------------------


def period_label(start: datetime, end: datetime, zone: str) -> str:
    """`12 Sep 09:00 – 13 Sep 09:00 (Europe/Minsk)` in local time. When the clocks change
    inside the period, both ends carry their abbreviation and the length is given, so a
    25-hour day does not look like 24."""
    tz = ZoneInfo(zone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    year = a.year != b.year
    shifted = a.utcoffset() != b.utcoffset()

    def stamp(t: datetime, with_date: bool) -> str:
        day = f"{t.day} {_MONTHS[t.month - 1]}{f' {t.year}' if year else ''} " if with_date else ""
        return f"{day}{t:%H:%M}{f' {t.tzname()}' if shifted else ''}"

    length = f"{_length(end - start)}, " if shifted else ""
    return f"{stamp(a, True)} – {stamp(b, a.date() != b.date())} ({length}{zone})"


def _length(span: timedelta) -> str:
    """`25 h`, `6 d 23 h`."""
    hours = round(span.total_seconds() / 3600, 2)
    if hours < 48:
        return f"{hours:g} h"
    days, rest = divmod(hours, 24)
    return f"{days:g} d {rest:g} h" if rest else f"{days:g} d"


def _stories_count(n: int) -> str:
    return f"{n} {'story' if n == 1 else 'stories'}"


def _summary(d: Digest) -> str:
    return f"{_stories_count(len(d.stories))} from {plural(d.source_count, 'source')}"


def _sources(story: Story) -> str:
    """`Reuters, ANSA +3`."""
    shown = ", ".join(excerpt(s, SOURCE_CHARS) for s in story.sources[:2])
    more = len(story.sources) - 2
    return f"{shown} +{more}" if more > 0 else shown


def _meta(story: Story, mark: str = "🔎 ") -> str:
    """`Reuters, ANSA +3 · 🔎 Lukashenko, Minsk`, leaving out what is empty."""
    matched = excerpt(", ".join(story.matched), KEYWORDS_CHARS)
    return " · ".join(p for p in (_sources(story), mark + matched if matched else "") if p)


def _trend(k: KeywordCount) -> str:
    """`Lukashenko 14 (+9)`, `Zapad 2025 6 (new)`, `Minsk 3 (−2)`."""
    text = f"{excerpt(k.label, SOURCE_CHARS)} {k.current}"
    if k.previous is None:
        return text
    if k.previous == 0:
        return f"{text} (new)"
    change = k.current - k.previous
    return f"{text} ({'+' if change > 0 else '−' if change < 0 else '±'}{abs(change)})"


def _more(hidden: int) -> str:
    return f"…and {hidden} more {'story' if hidden == 1 else 'stories'}"


def _linkable(url: str) -> bool:
    """Only web links become links: anything else from a feed stays out of the markup."""
    return url.startswith(("https://", "http://"))


def _units(text: str) -> int:
    """Length as Telegram and Slack count it: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def _lines_within(parts: Sequence[str], sep: str, limit: int) -> list[str]:
    """`parts` joined by `sep` into as few lines as fit `limit`; a part is never cut."""
    lines: list[str] = []
    for part in parts:
        if lines and _units(lines[-1] + sep + part) <= limit:
            lines[-1] += sep + part
        else:
            lines.append(part)
    return lines


def _pack(fragments: Sequence[tuple[str, str]], limit: int) -> list[str]:
    """Messages of whole fragments, each `(separator before it, text)`, within `limit`."""
    messages: list[str] = []
    for sep, text in fragments:
        if messages and _units(messages[-1] + sep + text) <= limit:
            messages[-1] += sep + text
        else:
            messages.append(text)
    return messages


def _story_that_fits(render: Callable[[bool, bool], str], url: str, limit: int) -> str:
    """A story rendered as fully as `limit` allows: linked with its excerpt, linked without,
    then plain; `render(link, with_excerpt)` draws it for one platform."""
    link = _linkable(url)
    options = (render(link, True), render(link, False), render(False, False))
    return _first_fitting(options, limit)


def _first_fitting(options: Iterable[str], limit: int) -> str:
    """The fullest rendering that fits; the last option is small enough by construction."""
    chosen = ""
    for chosen in options:
        if _units(chosen) <= limit:
            break
    return chosen


# --- Telegram ----------------------------------------------------------------------------------


def telegram_digest(
    d: Digest, *, top: int = TOP_STORIES, listed: int = LISTED_STORIES
) -> list[str]:
    """Telegram HTML messages (only <b>, <i> and <a href>), each within Telegram's limit and
    split between stories, so no tag or entity is ever cut."""
    head = (
        f"<b>{escape(excerpt(d.topic, 100))}</b> · {escape(period_label(d.start, d.end, d.zone))}"
    )
    if not d.stories:
        return [f"{head}: no new stories"]
    fragments = [("", f"{head}\n{escape(_summary(d))}")]
    for n, story in enumerate(d.stories[:top], 1):
        fragments.append(("\n\n", _telegram_story(n, story)))
    rest = d.stories[top : top + listed]
    for n, story in enumerate(rest):
        line = _telegram_line(story)
        fragments.append(("\n", line) if n else ("\n\n", f"<b>Also</b>\n{line}"))
    hidden = len(d.stories) - top - len(rest)
    if hidden > 0:
        fragments.append(("\n" if rest else "\n\n", f"<i>{_more(hidden)}</i>"))
    words = [escape(_trend(k)) for k in d.keywords]
    for n, line in enumerate(_lines_within(words, " · ", TELEGRAM_LIMIT - 20)):
        fragments.append(("\n", line) if n else ("\n\n", f"<b>Keywords</b>: {line}"))
    return _pack(fragments, TELEGRAM_LIMIT)


def _telegram_story(n: int, story: Story) -> str:
    def render(link: bool, with_excerpt: bool) -> str:
        title = f"<b>{escape(story.title)}</b>"
        if link:
            title = f'<a href="{escape(story.url)}">{title}</a>'
        meta = f"\n<i>{escape(_meta(story))}</i>" if _meta(story) else ""
        tail = f"\n{escape(story.excerpt)}" if with_excerpt and story.excerpt else ""
        return f"{n}. {title}{meta}{tail}"

    return _story_that_fits(render, story.url, TELEGRAM_LIMIT)


def _telegram_line(story: Story) -> str:
    count = escape(plural(len(story.sources), "source"))
    title = escape(story.title)
    linked = f'• <a href="{escape(story.url)}">{title}</a> · {count}'
    plain = f"• {title} · {count}"
    options = (linked, plain) if _linkable(story.url) else (plain,)
    return _first_fitting(options, TELEGRAM_LIMIT - 20)  # room for the heading of the list


# --- Slack -------------------------------------------------------------------------------------

Block = dict[str, Any]


def slack_digest(
    d: Digest, *, top: int = TOP_STORIES, listed: int = LISTED_STORIES
) -> list[tuple[str, list[Block]]]:
    """Slack messages as (notification text, Block Kit blocks): sections and context blocks,
    every text object mrkdwn and verbatim with feed text escaped, so a headline can neither
    mention anyone nor open a link; within Slack's limits, split between stories."""
    head = f"*{mrkdwn_escape(excerpt(d.topic, 100))}* · {period_label(d.start, d.end, d.zone)}"
    note = mrkdwn_escape(f"{excerpt(d.topic, 100)} digest")
    if not d.stories:
        return [(f"{note}: no new stories", [_section(f"{head}: no new stories")])]
    groups: list[list[Block]] = [[_section(f"{head}\n{_summary(d)}")]]
    for n, story in enumerate(d.stories[:top], 1):
        meta = mrkdwn_escape(_meta(story))
        story_blocks = [_section(_slack_story(n, story))]
        groups.append([*story_blocks, _context(meta)] if meta else story_blocks)
    rest = d.stories[top : top + listed]
    lines = [_slack_line(s) for s in rest]
    for n, text in enumerate(_lines_within(lines, "\n", SLACK_SECTION_LIMIT - 10)):
        groups.append([_section(f"*Also*\n{text}" if n == 0 else text)])
    hidden = len(d.stories) - top - len(rest)
    if hidden > 0:
        groups.append([_context(_more(hidden))])
    words = [mrkdwn_escape(_trend(k)) for k in d.keywords]
    for n, text in enumerate(_lines_within(words, " · ", SLACK_SECTION_LIMIT - 20)):
        groups.append([_context(f"*Keywords*: {text}" if n == 0 else text)])
    messages: list[list[Block]] = []
    for group in groups:
        if messages and len(messages[-1]) + len(group) <= SLACK_MAX_BLOCKS:
            messages[-1].extend(group)
        else:
            messages.append(list(group))
    first = f"{note}: {_summary(d)}"
    return [(first if i == 0 else f"{note} (continued)", m) for i, m in enumerate(messages)]


def _slack_story(n: int, story: Story) -> str:
    def render(link: bool, with_excerpt: bool) -> str:
        title = mrkdwn_escape(story.title)
        title = f"*<{slack_url(story.url)}|{title}>*" if link else f"*{title}*"
        tail = f"\n{mrkdwn_escape(story.excerpt)}" if with_excerpt and story.excerpt else ""
        return f"{n}. {title}{tail}"

    return _story_that_fits(render, story.url, SLACK_SECTION_LIMIT)


def _slack_line(story: Story) -> str:
    count = plural(len(story.sources), "source")
    title = mrkdwn_escape(story.title)
    linked = f"• <{slack_url(story.url)}|{title}> · {count}"
    plain = f"• {title} · {count}"
    options = (linked, plain) if _linkable(story.url) else (plain,)
    return _first_fitting(options, SLACK_SECTION_LIMIT - 20)  # room for the heading


def _section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn_text(text)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn_text(text)]}


# --- console -----------------------------------------------------------------------------------


def console_digest(d: Digest, *, top: int = TOP_STORIES, listed: int = LISTED_STORIES) -> str:
    """Plain text for terminals and logs, control characters removed from feed text."""
    head = f"{terminal_safe(d.topic)} · {period_label(d.start, d.end, d.zone)}"
    if not d.stories:
        return f"{head}: no new stories"
    lines = [head, _summary(d)]
    for n, story in enumerate(d.stories[:top], 1):
        lines += ["", f"{n}. {terminal_safe(story.title)}"]
        details = (_meta(story, "matched: "), story.url, story.excerpt)
        lines += [f"   {terminal_safe(text)}" for text in details if text]
    rest = d.stories[top : top + listed]
    if rest:
        lines += ["", "Also:"]
        lines += [
            f"  - {terminal_safe(s.title)} ({plural(len(s.sources), 'source')})"
            + (f" {terminal_safe(s.url)}" if s.url else "")
            for s in rest
        ]
    hidden = len(d.stories) - top - len(rest)
    if hidden > 0:
        lines.append(_more(hidden))
    if d.keywords:
        lines += ["", "Keywords: " + " · ".join(terminal_safe(_trend(k)) for k in d.keywords)]
    return "\n".join(lines)
