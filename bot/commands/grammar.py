"""Text -> Command: what a message means, decided without the store, the clock or the network.

Every message becomes exactly one `Command` value, including the wrong ones (`Unknown`,
`Malformed`, `TooLong`), so execution never has to guess and parsing never raises.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.commands.catalog import ALIASES, CATALOG
from bot.commands.parsed import (
    AddFeed,
    AddKeywords,
    Command,
    Digest,
    DigestNow,
    Exclude,
    Export,
    Feeds,
    Help,
    Import,
    Keywords,
    ListSubscriptions,
    Malformed,
    MatchTest,
    Mute,
    NewTopic,
    Permissions,
    Previews,
    Quiet,
    RemoveFeed,
    RemoveKeywords,
    ShowPermissions,
    ShowQuiet,
    ShowTimezone,
    Status,
    Subscribe,
    Timezone,
    TooLong,
    Topics,
    Trend,
    Unknown,
    Unsubscribe,
)
from bot.config import TOPIC_NAME
from bot.match import MAX_KEYWORD_CHARS, KeywordError, parse_keyword_lines
from bot.models import KeywordLine, Mode
from bot.timespec import TimeSpecError, parse_duration, parse_quiet_hours

MAX_TEXT = 50_000  # characters read from one message; longer ones are refused unread
MAX_MUTE = 30 * 86400.0
SHOWN = 40  # characters of a user's input quoted back in a reply
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MESSAGE = re.compile(r"\s*(\S+)(?:\s+(.*))?", re.DOTALL)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_QUOTES = "\"'`«»“”„‘’"
_DURATION_WORDS = re.compile(
    r"(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)",
    re.IGNORECASE,
)
_HIDDEN = frozenset({"Cc", "Cf"})
_ON = frozenset({"on", "yes", "true", "1"})
_OFF = frozenset({"off", "no", "false", "0"})
MODES: tuple[Mode, ...] = ("instant", "digest", "both")


class _Malformed(Exception):
    """Raised inside a command's argument parser; becomes a `Malformed` value."""


@dataclass(frozen=True, slots=True)
class _Caps:
    chars: int
    lines: int


def parse_command(
    text: str, *, max_chars: int = MAX_KEYWORD_CHARS, max_lines: int = 100
) -> Command:
    """The meaning of one message: "/subscribe@dozor_bot belarus", or Slack's "subscribe belarus".

    `max_chars` caps an alias and `max_lines` the keyword lines one command may carry.
    """
    if len(text) > MAX_TEXT:
        return TooLong(len(text))
    found = _MESSAGE.fullmatch(_CONTROL.sub(" ", text.replace("\r\n", "\n")))
    if found is None:
        return Help()
    word, rest = found.group(1), found.group(2) or ""
    raw_name = word[1:] if word.startswith("/") else word
    if not raw_name:
        return Help()
    name = raw_name.partition("@")[0].lower()
    name = ALIASES.get(name, name)
    parser = _PARSERS.get(name)
    if parser is None:
        return Unknown(shorten(raw_name.partition("@")[0] or word), _closest(name))
    try:
        return parser(rest if name == "import" else rest.strip(), _Caps(max_chars, max_lines))
    except _Malformed as exc:
        return Malformed(name, str(exc))


def shorten(text: str, limit: int = SHOWN) -> str:
    """A user's input as quoted back: one line, at most `limit` characters, without control
    or invisible formatting characters (a right-to-left override would garble the reply)."""
    text = "".join(ch for ch in text[: limit * 4] if unicodedata.category(ch) not in _HIDDEN)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _closest(name: str) -> str | None:
    if not _COMMAND_NAME.fullmatch(name):
        return None
    known = [entry.name for entry in CATALOG]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


# --- pieces ---------------------------------------------------------------------------------


def _topic(token: str) -> str:
    name = token.strip(_QUOTES).removeprefix("#")
    if not TOPIC_NAME.fullmatch(name):
        raise _Malformed(
            f"'{shorten(token)}' is not a topic name: names are letters, digits, - and _ "
            "(at most 40). /topics lists them."
        )
    return name


def _topic_and_rest(rest: str, what: str) -> tuple[str, str]:
    parts = rest.split(maxsplit=1)
    if not parts:
        raise _Malformed("Which topic? /topics lists them.")
    topic = _topic(parts[0])
    if len(parts) < 2 or not parts[1].strip():
        raise _Malformed(f"Which {what}?")
    return topic, parts[1].strip()


def _only_topic(rest: str) -> str:
    parts = rest.split()
    if len(parts) != 1:
        raise _Malformed("Name one topic. /topics lists them.")
    return _topic(parts[0])


def _lines(text: str, caps: _Caps) -> tuple[KeywordLine, ...]:
    count = sum(1 for part in text.replace("\n", ",").split(",") if part.strip())
    if count > caps.lines:
        raise _Malformed(
            f"{count} keyword lines at once: a subscription holds at most {caps.lines}"
        )
    try:
        return tuple(parse_keyword_lines(text, max_chars=caps.chars))
    except KeywordError as exc:
        raise _Malformed(f"{shorten(str(exc), 160)}.") from None


def _switch(token: str, question: str) -> bool:
    word = token.lower()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise _Malformed(question)


def _link(token: str) -> str:
    """A URL as typed; Slack wraps links as <https://…> or <https://…|label>."""
    token = token.strip(_QUOTES)
    if token.startswith("<") and token.endswith(">"):
        token = token[1:-1].partition("|")[0]
    return token


def _duration(text: str) -> float:
    found = _DURATION_WORDS.fullmatch(text.strip())
    try:
        if found is None:
            raise TimeSpecError(
                f"'{shorten(text)}' is not a duration: "
                "write a number and a unit, like 30m, 2h or 1d"
            )
        return parse_duration(f"{found.group(1)}{found.group(2)[0].lower()}")
    except TimeSpecError as exc:
        raise _Malformed(str(exc)) from None


# --- one parser a command -------------------------------------------------------------------


def _help(rest: str, caps: _Caps) -> Command:
    name = rest.split()[0].lstrip("/").lower() if rest.split() else None
    return Help(ALIASES.get(name, name) if name else None)


def _subscribe(rest: str, caps: _Caps) -> Command:
    parts = rest.split()
    if not parts:
        raise _Malformed("Which topic? /topics lists them.")
    topic = _topic(parts[0])
    if len(parts) == 1:
        return Subscribe(topic)
    mode = next((mode for mode in MODES if mode == parts[1].lower()), None)
    if mode is None:
        raise _Malformed(f"'{shorten(parts[1])}' is not a mode: use instant, digest or both.")
    schedule = " ".join(parts[2:]) or None
    if schedule and mode == "instant":
        raise _Malformed("Instant alerts have no schedule; a schedule goes with digest or both.")
    return Subscribe(topic, mode, schedule)


def _remove(rest: str, caps: _Caps) -> Command:
    topic, targets = _topic_and_rest(rest, "keyword line (its number in /keywords, or a spelling)")
    found = tuple(part.strip() for part in targets.split(",") if part.strip())
    if not found:
        raise _Malformed("Which keyword line (its number in /keywords, or a spelling)?")
    return RemoveKeywords(topic, found)


def _addfeed(rest: str, caps: _Caps) -> Command:
    parts = rest.split()
    if len(parts) != 1:
        raise _Malformed("Give one feed URL." if not parts else "One feed URL at a time.")
    return AddFeed(_link(parts[0]))


def _removefeed(rest: str, caps: _Caps) -> Command:
    parts = rest.split()
    if len(parts) != 1:
        raise _Malformed("Give one feed: its number in /feeds, or its URL.")
    return RemoveFeed(_link(parts[0]))


def _mute(rest: str, caps: _Caps) -> Command:
    if not rest:
        raise _Malformed("For how long?")
    if rest.lower() in ("off", "stop", "end"):
        return Mute(None)
    seconds = _duration(rest)
    if seconds > MAX_MUTE:
        raise _Malformed("A mute lasts at most 30d.")
    return Mute(seconds)


def _timezone(rest: str, caps: _Caps) -> Command:
    parts = rest.split()
    if not parts:
        return ShowTimezone()
    if len(parts) > 1:
        raise _Malformed("A time zone is one IANA name, like Europe/Minsk or America/New_York.")
    return Timezone(parts[0])


def _previews(rest: str, caps: _Caps) -> Command:
    topic, switch = _topic_and_rest(rest, "setting: on or off")
    return Previews(topic, _switch(switch, "Previews are on or off."))


_SCHEDULE_WORDS = ("hourly", "daily", "weekly", "now", "off")


def _digest(rest: str, caps: _Caps) -> Command:
    """`/digest [topic] hourly|daily HH:MM|weekly <day> HH:MM [zone]|now|off`."""
    words = rest.split()
    if not words:
        raise _Malformed("When? hourly, daily 09:00, weekly mon 09:00, now or off.")
    if words[0].lower() in _SCHEDULE_WORDS:
        topic, schedule = None, " ".join(words)
    else:
        topic, schedule = _topic_and_rest(rest, "schedule: hourly, daily 09:00, now or off")
        schedule = " ".join(schedule.split())
    if schedule.lower() == "now":
        return DigestNow(topic)
    if schedule.lower() in ("off", "stop"):
        return Digest(topic, "off")
    return Digest(topic, schedule)


def _quiet(rest: str, caps: _Caps) -> Command:
    if not rest:
        return ShowQuiet()
    if rest.lower() in ("off", "stop", "none"):
        return Quiet(None)
    try:
        parse_quiet_hours(rest)
    except TimeSpecError as exc:
        raise _Malformed(f"{exc}.") from None
    return Quiet(rest.replace(" ", "").replace("–", "-"))


MAX_TREND_DAYS = 90


def _trend(rest: str, caps: _Caps) -> Command:
    words = rest.split()
    if not words or len(words) > 2:
        raise _Malformed("Which topic, and optionally how many days (default 14)?")
    days = 14
    if len(words) == 2:
        if not words[1].isdigit() or not 1 <= int(words[1]) <= MAX_TREND_DAYS:
            raise _Malformed(f"Days are a number from 1 to {MAX_TREND_DAYS}.")
        days = int(words[1])
    return Trend(_topic(words[0]), days)


def _permissions(rest: str, caps: _Caps) -> Command:
    word = rest.lower()
    if not word:
        return ShowPermissions()
    if word in ("admins", "admin", "administrators"):
        return Permissions(everyone=False)
    if word in ("everyone", "all", "anyone"):
        return Permissions(everyone=True)
    raise _Malformed("Say admins or everyone.")


def _test(rest: str, caps: _Caps) -> Command:
    if not rest:
        raise _Malformed("Which text? Paste a headline after /test.")
    return MatchTest(rest)


def _no_arguments(command: Command) -> Callable[[str, _Caps], Command]:
    return lambda rest, caps: command


def _with_topic(make: Callable[[str], Command]) -> Callable[[str, _Caps], Command]:
    return lambda rest, caps: make(_only_topic(rest))


def _with_lines(
    make: Callable[[str, tuple[KeywordLine, ...]], Command],
) -> Callable[[str, _Caps], Command]:
    def parse(rest: str, caps: _Caps) -> Command:
        topic, lines = _topic_and_rest(rest, "keywords (lines separated by commas)")
        return make(topic, _lines(lines, caps))

    return parse


_PARSERS: Mapping[str, Callable[[str, _Caps], Command]] = MappingProxyType(
    {
        "help": _help,
        "topics": _no_arguments(Topics()),
        "subscribe": _subscribe,
        "unsubscribe": _with_topic(Unsubscribe),
        "list": _no_arguments(ListSubscriptions()),
        "keywords": _with_topic(Keywords),
        "add": _with_lines(AddKeywords),
        "remove": _remove,
        "exclude": _with_lines(Exclude),
        "new": _with_lines(NewTopic),
        "feeds": _no_arguments(Feeds()),
        "addfeed": _addfeed,
        "removefeed": _removefeed,
        "mute": _mute,
        "timezone": _timezone,
        "previews": _previews,
        "digest": _digest,
        "quiet": _quiet,
        "trend": _trend,
        "permissions": _permissions,
        "status": _no_arguments(Status()),
        "test": _test,
        "export": _no_arguments(Export()),
        "import": lambda rest, caps: Import(rest.strip("\n")),
    }
)
