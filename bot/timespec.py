"""Durations (`30s`, `5m`, `1h`, `2d`) and digest schedules, as people write them."""

from __future__ import annotations

import re
from dataclasses import dataclass
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
