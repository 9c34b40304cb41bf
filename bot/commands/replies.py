"""Words shared by the replies: plurals, times in the chat's zone, modes, the usual refusals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.commands.catalog import usage_text
from bot.commands.context import ChatTopics
from bot.commands.grammar import shorten
from bot.commands.values import Reply
from bot.models import KeywordLine, Subscription
from bot.timespec import DigestSchedule, TimeSpecError, parse_digest_schedule

STORAGE_DOWN = "Dozor's storage is not answering; nothing was changed. Try again in a minute."
APOLOGY = (
    "Sorry, something went wrong inside Dozor while doing that; the error has been logged. "
    "Try again, or see /help."
)
ONLY_ADMINS = (
    "Only this chat's administrators can change its subscriptions (ask an admin, or an admin "
    "can allow everyone with /permissions everyone)."
)
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def answer(text: str) -> Reply:
    """A reply for the one who asked: reading, refusals, mistakes."""
    return Reply(text)


def done(text: str) -> Reply:
    """A change was made: everyone in the chat sees it, and the front end refreshes routing."""
    return Reply(text, public=True, changed=True)


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def lines_text(lines: Sequence[KeywordLine]) -> str:
    """Keyword lines as typed in chat: "A | B, C"."""
    return ", ".join(str(line) for line in lines)


def numbered(lines: Sequence[KeywordLine], start: int = 1) -> list[str]:
    return [f"{start + index}. {line}" for index, line in enumerate(lines)]


def zone_of(name: str) -> ZoneInfo:
    """The chat's zone; a stored name that no longer exists falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def wall_clock(when: float, zone: str) -> str:
    """The time of day in `zone`, like 14:30."""
    return f"{datetime.fromtimestamp(when, UTC).astimezone(zone_of(zone)):%H:%M}"


def local_time(when: float, zone: str, now: float) -> str:
    """A moment as the chat reads it: 14:30 Europe/Minsk today, else Sat 13 Sep 14:30 …"""
    tz = zone_of(zone)
    local = datetime.fromtimestamp(when, UTC).astimezone(tz)
    today = datetime.fromtimestamp(now, UTC).astimezone(tz).date()
    day = "" if local.date() == today else f"{local:%a %d %b} "
    if local.year != today.year:
        day = f"{local:%a %d %b %Y} "
    return f"{day}{local:%H:%M} {zone}"


def schedule_phrase(schedule: DigestSchedule) -> str:
    """A schedule in words: every hour, daily at 09:00 UTC, weekly on Monday at 09:00 UTC."""
    if schedule.every == "hourly":
        return "every hour"
    clock = f"{schedule.hour:02d}:{schedule.minute:02d} {schedule.zone}"
    if schedule.every == "weekly":
        return f"weekly on {_DAY_NAMES[schedule.weekday]} at {clock}"
    return f"daily at {clock}"


def digest_phrase(text: str | None) -> str:
    try:
        return schedule_phrase(parse_digest_schedule(text or "daily 09:00"))
    except TimeSpecError:
        return f"on the schedule '{shorten(text or '')}'"


def mode_phrase(sub: Subscription) -> str:
    """How a subscription's alerts arrive, as a sentence."""
    if sub.mode == "instant":
        return "Alerts come instantly."
    digest = digest_phrase(sub.digest)
    if sub.mode == "digest":
        return f"Digest {digest}."
    return f"Alerts come instantly, and a digest {digest}."


def unknown_topic(name: str, topics: ChatTopics) -> Reply:
    return answer(
        f"There is no topic '{shorten(name)}'. Topics: {topics.known_names()}. "
        "/topics describes them; /new makes one of this chat's own."
    )


def not_subscribed(topic: str) -> Reply:
    return answer(
        f"This chat is not subscribed to {topic}: subscribe first with /subscribe {topic}, "
        "then change its keywords."
    )


def malformed(name: str, reason: str) -> Reply:
    return answer(f"{reason}\n{usage_text(name)}")
