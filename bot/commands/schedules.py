"""Time zones and digest schedules as typed in chat, and when the next digest is due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, available_timezones

from bot.timespec import DigestSchedule, TimeSpecError, parse_digest_schedule

_NO_ZONE_PARTS: Mapping[str, int] = MappingProxyType({"hourly": 1, "daily": 2, "weekly": 3})
_MAX_ZONE_CHARS = 64


def canonical_zone(name: str) -> str | None:
    """The IANA name as tzdata spells it ("europe/minsk" -> "Europe/Minsk"), or None.

    Only names tzdata lists are accepted: ZoneInfo itself would also try to open paths such
    as "Europe" (a directory) and fail in ways of its own.
    """
    name = name.strip()
    if not name or len(name) > _MAX_ZONE_CHARS:
        return None
    return _zones().get(name.casefold())


@lru_cache(maxsize=1)
def _zones() -> Mapping[str, str]:
    """tzdata's zone names by their case-folded spelling; read once, on first use."""
    return MappingProxyType({zone.casefold(): zone for zone in sorted(available_timezones())})


def schedule_in_zone(text: str, zone: str) -> DigestSchedule:
    """A digest schedule as typed in chat; without a zone it is in the chat's `zone`."""
    parts = text.split()
    expected = _NO_ZONE_PARTS.get(parts[0].lower()) if parts else None
    if expected is not None and len(parts) == expected + 1 and expected > 1:
        found = canonical_zone(parts[-1])
        if found is None:
            raise TimeSpecError(
                f"'{parts[-1][:40]}' is not a time zone (an IANA name like Europe/Minsk)"
            )
        parts[-1] = found
    elif expected is not None and len(parts) == expected and expected > 1:
        parts.append(zone)
    return parse_digest_schedule(" ".join(parts))


def default_schedule(zone: str) -> str:
    return str(DigestSchedule("daily", 9, 0, 0, zone))


def next_digest(schedule: DigestSchedule, now: float) -> float:
    """When the digest after `now` is due, by the wall clock of the schedule's zone.

    Hourly digests fall on the hour (UTC); daily and weekly ones at their local time, a time
    that a DST change skips being moved by the zone's rules.
    """
    if schedule.every == "hourly":
        return (now // 3600 + 1) * 3600
    tz = ZoneInfo(schedule.zone)
    today = datetime.fromtimestamp(now, UTC).astimezone(tz).date()
    for days in range(8):
        day = today + timedelta(days=days)
        if schedule.every == "weekly" and day.weekday() != schedule.weekday:
            continue
        due = datetime(day.year, day.month, day.day, schedule.hour, schedule.minute, tzinfo=tz)
        if due.timestamp() > now:
            return due.timestamp()
    raise AssertionError("a daily or weekly schedule is due within eight days")
