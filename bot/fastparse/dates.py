"""Dates as feedparser reads them: the usual RFC 822 and W3C shapes here, the rest by feedparser."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from feedparser.datetimes import _parse_date as feedparser_date

RFC822_DATE = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)\S*\s+)?([0-9]{1,2})\s+([a-z]{3})\S*\s+([0-9]{4})"
    r"\s+([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?\s+([+-][0-9]{4}|[a-z]+)",
    re.IGNORECASE,
)
W3C_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# feedparser's RFC 822 zone names (hours east of UTC); any other name counts as UTC there too
ZONE_HOURS = {
    "ut": 0, "gmt": 0, "z": 0, "adt": -3, "ast": -4, "at": -4, "edt": -4, "est": -5, "et": -5,
    "cdt": -5, "cst": -6, "ct": -6, "mdt": -6, "mst": -7, "mt": -7, "pdt": -7, "pst": -8,
    "pt": -8, "a": -1, "n": 1, "m": -12, "y": 12, "met": 1, "mest": 2,
}  # fmt: skip


def parsed_date(text: str) -> tuple[int, ...] | None:
    """feedparser's reading of a date, as a UTC (year, month, day, hour, minute, second):
    RFC 822 and W3C dates in their usual shapes are read here (feedparser reads them the same
    way), anything else by feedparser itself."""
    fields = _rfc822_fields(text) or _w3c_fields(text)
    if fields is not None:
        year, month, day, hour, minute, second, offset = fields
        try:
            moment = datetime(year, month, day, hour, minute, second)
            if offset:
                moment -= timedelta(minutes=offset)
            return moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
        except (ValueError, OverflowError):
            pass
    parsed = feedparser_date(text)
    return tuple(parsed[:6]) if parsed else None


# year, month, day, hour, minute, second, and the zone's offset east of UTC in minutes
Fields = tuple[int, int, int, int, int, int, int]


def _rfc822_fields(text: str) -> Fields | None:
    match = RFC822_DATE.fullmatch(text)
    if match is None:
        return None
    day, month_name, year, hour, minute, second, zone = match.groups()
    month = MONTHS.get(month_name.lower())
    if month is None:
        return None
    zone = zone.lower()
    if zone[0] in "+-":
        offset = int(zone[1:3]) * 60 + int(zone[3:5])
        offset = -offset if zone[0] == "-" else offset
    else:
        if zone.startswith("gmt"):
            zone = zone[3:] or "gmt"
        offset = ZONE_HOURS.get(zone, 0) * 60
    return int(year), month, int(day), int(hour), int(minute), int(second or 0), offset


def _w3c_fields(text: str) -> Fields | None:
    match = W3C_DATE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    offset = 0
    if zone not in "Zz":
        offset = int(zone[1:3]) * 60 + int(zone[4:6])
        offset = -offset if zone[0] == "-" else offset
    return int(year), int(month), int(day), int(hour), int(minute), int(second or 0), offset
