"""Durations (`30s`, `5m`, `1h`, `2d`) and digest schedules, as people write them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class TimeSpecError(ValueError):
    """A duration or schedule that cannot be read; the message says what is expected."""


def parse_duration(text: str) -> float:
    """Seconds in a duration such as `30s`, `5m`, `1h` or `2d`."""
    found = _DURATION.match(str(text))
    if not found:
        raise TimeSpecError(
            f"{text!r} is not a duration: write a number and a unit, like 30s, 5m, 1h or 2d"
        )
    seconds = float(found.group(1)) * _UNIT_SECONDS[found.group(2).lower()]
    if seconds <= 0:
        raise TimeSpecError(f"{text!r}: a duration must be longer than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact way to write `seconds` (300 -> `5m`)."""
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def approx_duration(seconds: float) -> str:
    """A duration as people say it, rounded to its largest unit: 45s, 5m, 3h, 2d."""
    for unit, size, above in (("d", 86400, 129600), ("h", 3600, 5400), ("m", 60, 90)):
        if seconds >= above:
            return f"{round(seconds / size)}{unit}"
    return f"{max(round(seconds), 0)}s"


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a digest goes out: hourly, daily at a time, or weekly on a day at a time."""

    every: Literal["hourly", "daily", "weekly"]
    hour: int = 9
    minute: int = 0
    weekday: int = 0  # 0 = Monday, for weekly
    zone: str = "UTC"

    def __str__(self) -> str:
        if self.every == "hourly":
            return "hourly"
        clock = f"{self.hour:02d}:{self.minute:02d}"
        day = f" {_DAYS[self.weekday]}" if self.every == "weekly" else ""
        return f"{self.every}{day} {clock} {self.zone}"


def parse_digest_schedule(text: str) -> DigestSchedule:
    """`hourly`, `daily HH:MM [Zone]` or `weekly <day> HH:MM [Zone]`; the zone defaults to UTC."""
    parts = str(text).split()
    usage = "write hourly, daily 09:00 Europe/Minsk or weekly mon 09:00 Europe/Minsk"
    if not parts:
        raise TimeSpecError(f"empty digest schedule: {usage}")
    every = parts[0].lower()
    if every == "hourly" and len(parts) == 1:
        return DigestSchedule(every="hourly")
    if every == "daily" and len(parts) in (2, 3):
        hour, minute = _clock(parts[1], usage)
        return DigestSchedule("daily", hour, minute, 0, _zone(parts[2:], usage))
    if every == "weekly" and len(parts) in (3, 4):
        day = parts[1].lower()[:3]
        if day not in _DAYS:
            raise TimeSpecError(f"{parts[1]!r} is not a day of the week (mon, tue, … sun)")
        hour, minute = _clock(parts[2], usage)
        return DigestSchedule("weekly", hour, minute, _DAYS.index(day), _zone(parts[3:], usage))
    raise TimeSpecError(f"{text!r} is not a digest schedule: {usage}")


def _clock(text: str, usage: str) -> tuple[int, int]:
    found = _CLOCK.match(text)
    if not found:
        raise TimeSpecError(f"{text!r} is not a time of day (HH:MM): {usage}")
    return int(found.group(1)), int(found.group(2))


def _zone(parts: list[str], usage: str) -> str:
    if not parts:
        return "UTC"
    try:
        ZoneInfo(parts[0])
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimeSpecError(
            f"{parts[0]!r} is not a time zone (an IANA name like Europe/Minsk)"
        ) from None
    return parts[0]


def parse_quiet_hours(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """`22:00-07:00` -> ((22, 0), (7, 0)): a daily window in the chat's zone; it may cross
    midnight. Start and end must differ."""
    usage = "write the start and end like 22:00-07:00"
    start, dash, end = text.replace("–", "-").replace(" ", "").partition("-")
    if not dash:
        raise TimeSpecError(f"{text!r} is not a time window: {usage}")
    first, last = _clock(start, usage), _clock(end, usage)
    if first == last:
        raise TimeSpecError("quiet hours need a start and an end that differ")
    return first, last


def quiet_until(window: str | None, zone: str, now: float) -> float | None:
    """When the quiet hours that contain `now` end (Unix seconds), or None outside them.
    A window that cannot be read is treated as absent (never holds alerts for ever)."""
    if not window:
        return None
    try:
        (h1, m1), (h2, m2) = parse_quiet_hours(window)
        tz = ZoneInfo(zone)
    except (TimeSpecError, ZoneInfoNotFoundError, ValueError, OSError):
        return None
    local = datetime.fromtimestamp(now, UTC).astimezone(tz)
    minute = local.hour * 60 + local.minute
    start, end = h1 * 60 + m1, h2 * 60 + m2
    inside = start <= minute < end if start < end else minute >= start or minute < end
    if not inside:
        return None
    day = local.date() if minute < end else local.date() + timedelta(days=1)
    ends = datetime(day.year, day.month, day.day, h2, m2, tzinfo=tz)
    return ends.timestamp()


def previous_digest(schedule: DigestSchedule, now: float) -> float:
    """When the latest digest at or before `now` was due (the mirror of the next one)."""
    if schedule.every == "hourly":
        return (now // 3600) * 3600
    tz = ZoneInfo(schedule.zone)
    today = datetime.fromtimestamp(now, UTC).astimezone(tz).date()
    for days in range(8):
        day = today - timedelta(days=days)
        if schedule.every == "weekly" and day.weekday() != schedule.weekday:
            continue
        due = datetime(day.year, day.month, day.day, schedule.hour, schedule.minute, tzinfo=tz)
        if due.timestamp() <= now:
            return due.timestamp()
    raise AssertionError("a daily or weekly schedule was due within eight days")
