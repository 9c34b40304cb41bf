"""Fetched feed bytes to Items: plain text, absolute URLs, stable keys, UTC times.

Well-formed RSS 0.9x/1.0/2.0 and Atom are read by `bot.fastparse` (lxml, read the way feedparser
reads them); everything else (broken XML, doubtful encodings, unusual documents) goes through
feedparser, the reference, and JSON Feed through `json`. Both XML roads end in the same
normalisation, so a caller cannot tell which one read a feed.

Hostile or broken input never raises: a broken feed yields what can be recovered and one warning
line, and a body that is no feed yields no items and says what it looks like. feedparser only
ever sees an in-memory stream (a str or bytes argument that looks like a path or URL is opened
or fetched), and neither parser ever sees a DOCTYPE with an internal subset: feedparser's loose
parser expands the entities declared there without limit (a 300 KB "quadratic blowup" took
7 GB), so that subset is cut out first (`bot.xmlsafe`).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import hashlib
import io
import json
import re
import xml.sax
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

import feedparser
from feedparser.encodings import convert_to_utf8

from bot.fastparse import FeedRead, read_feed, utf8_as_is
from bot.html_text import fold_whitespace, html_to_text, looks_like_markup
from bot.models import Item
from bot.urls import web_and_canonical_url
from bot.xmlsafe import (
    ELEMENT_START,
    RefusedError,
    byte_order_mark,
    declares_xml,
    strip_internal_subsets,
    trim_leading_whitespace,
)

MAX_KEY_LENGTH = 200  # longer GUIDs and links are hashed, so store keys stay short
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*\bencoding\s*=")
DETAIL_KEYS = {key: f"{key}_detail" for key in ("title", "summary", "value")}


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """One fetch's feed: its title, its items (keys unique), what was wrong, its format."""

    title: str
    items: tuple[Item, ...]
    warning: str | None  # one human line, or None
    format: str  # feedparser's version ("rss20", "atom10", "rss10", …), "json", or "" for none


@dataclass(frozen=True, slots=True)
class _Entry:
    """One entry as read, before keys are given: the same shape from XML and JSON Feed."""

    guid: str
    url: str
    canonical_url: str  # of url, "" without one
    title: str
    summary: str
    published: datetime | None
    date_text: str
    categories: tuple[str, ...]


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Items of a fetched feed `body` from `url` (the base for relative links). Never raises:
    what went wrong is in `warning`."""
    try:
        if not body.strip():
            return ParsedFeed("", (), "not a feed: empty body", "")
        if _looks_like_json(body, content_type):
            return _parse_json_feed(body, url)
        return _parse_xml_feed(body, url, content_type)
    except RefusedError as refused:
        return ParsedFeed("", (), f"refused: {refused}", "")
    except Exception as exc:  # a parser bug must not stop the poller; it is reported, not lost
        return ParsedFeed("", (), f"parse failed: {type(exc).__name__}: {exc}"[:300], "")


async def parse_feed_async(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    executor: Executor | None = None,
) -> ParsedFeed:
    """`parse_feed` off the event loop: in a worker thread, or in `executor` (a process pool
    keeps a large feed from holding the GIL)."""
    job = functools.partial(parse_feed, body, url=url, content_type=content_type)
    if executor is None:
        return await asyncio.to_thread(job)
    return await asyncio.get_running_loop().run_in_executor(executor, job)


# --- XML feeds -----------------------------------------------------------------------------


def _parse_xml_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    body, trimmed_lines = trim_leading_whitespace(body)
    headers = _xml_headers(body, content_type)
    fast = _read_fast(body, headers)
    if fast is not None:
        read, warning = fast
        title, items = _normalised(read.version, read.feed, read.entries, url)
        return ParsedFeed(title, items, warning, read.version)
    encoding: dict[str, Any] = {}
    data = convert_to_utf8(headers, body, encoding)
    if not encoding.get("encoding"):
        data = body.decode("utf-8", "replace").encode("utf-8")
    data, subset_removed = strip_internal_subsets(data)
    result = feedparser.parse(
        io.BytesIO(data),
        response_headers={"content-type": "application/xml"},
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    version = str(result.get("version") or "")
    title, items = _normalised(version, result.feed, result.entries, url)
    if not version and not items:
        return ParsedFeed("", (), f"not a feed: {_what_it_looks_like(data)}", "")
    problems = []
    if result.get("bozo") and result.get("bozo_exception") is not None:
        # feedparser prepends a declaration line to a body without one
        line_shift = trimmed_lines - (0 if declares_xml(body) else 1)
        problems.append(_describe(result["bozo_exception"], line_shift, len(items)))
    if encoding.get("bozo_exception") is not None:
        problems.append(f"encoding: {encoding['bozo_exception']}")
    if subset_removed:
        problems.append("DOCTYPE internal subset removed, its entities not expanded")
    return ParsedFeed(title, items, "; ".join(problems) or None, version)


def _read_fast(body: bytes, headers: dict[str, str]) -> tuple[FeedRead, str | None] | None:
    """The feed as `bot.fastparse` reads it, with the warning feedparser's road would give, or
    None when feedparser must. The encoding feedparser picks must decode the body (a fallback
    it had to make, as from invalid UTF-8 to windows-1252, is only a warning: both roads then
    read the same converted bytes), and no DOCTYPE subset may have been cut (that is worth a
    warning, which feedparser's road gives)."""
    data = utf8_as_is(body, headers["content-type"])
    if data is not None:
        read = _read_utf8(data)
        if read is not None or _is_valid_utf8(data):
            return None if read is None else (read, None)
        # invalid UTF-8, which lxml refused: feedparser's detection falls back to another
        # encoding, and both roads read what it converted
    encoding: dict[str, Any] = {}
    data = convert_to_utf8(headers, body, encoding)
    if not encoding.get("encoding"):
        return None
    read = _read_utf8(data)
    if read is None:
        return None
    fallback = encoding.get("bozo_exception")
    return read, None if fallback is None else f"encoding: {fallback}"


def _read_utf8(data: bytes) -> FeedRead | None:
    """`bot.fastparse`'s reading of UTF-8 `data` once DOCTYPE subsets are cut, or None."""
    try:
        data, subset_removed = strip_internal_subsets(data)
    except RefusedError:
        return None  # feedparser's road refuses it, in the same words
    return None if subset_removed else read_feed(data)


def _is_valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _normalised(
    version: str, feed: Mapping[str, Any], entries: Iterable[Mapping[str, Any]], url: str
) -> tuple[str, tuple[Item, ...]]:
    """The feed's title and its items, from entries in feedparser's shapes (either road's)."""
    # Atom declares text as text (type="text"): its "<b>" is literally "<b>", not markup. RSS
    # says nothing, and its titles are often HTML escaped once more: guess there.
    literal = version.startswith("atom")
    read = functools.partial(_xml_entry, url, literal=literal)
    items = _keyed_items(entry for entry in map(read, entries) if entry)
    return _text(feed, "title", literal), items


def _text(element: Mapping[str, Any], key: str, literal: bool) -> str:
    """An element's plain text: HTML converted, declared plain text kept as written."""
    detail = element.get(DETAIL_KEYS[key])
    content_type = detail.get("type") if _is_mapping(detail) else None
    if literal and content_type == "text/plain":
        return fold_whitespace(str(element.get(key) or ""))
    return _plain(element.get(key, ""), content_type in HTML_TYPES)


def _xml_entry(base: str, entry: Mapping[str, Any], *, literal: bool) -> _Entry | None:
    title = _text(entry, "title", literal)
    summary = _text(entry, "summary", literal)
    for content in entry.get("content") or ():
        if summary:
            break
        summary = _text({"value": content.get("value"), "value_detail": content}, "value", literal)
    link = str(entry.get("link") or "")
    guid = str(entry.get("id") or "").strip()
    # feedparser copies a permalink GUID into a missing link: only an absolute one is a link.
    from_guid = bool(entry.get("guidislink")) and link.strip() == guid
    url, canonical = web_and_canonical_url(link, "" if from_guid else base)
    if not (guid or url or title or summary):
        return None  # an empty <item/> (the corpus has one nested inside another item)
    published = _utc(_own(entry, "published_parsed")) or _utc(_own(entry, "updated_parsed"))
    return _Entry(
        guid=guid,
        url=url,
        canonical_url=canonical,
        title=title,
        summary=summary,
        published=published,
        date_text=str(_own(entry, "published") or _own(entry, "updated") or ""),
        categories=_categories(entry.get("tags") or ()),
    )


def _categories(tags: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The tags' terms (else labels) as plain text, each once, in order."""
    found: dict[str, None] = {}
    for tag in tags:
        term = _plain(str(tag.get("term") or tag.get("label") or ""), False)
        if term:
            found[term] = None
    return tuple(found)


def _xml_headers(body: bytes, content_type: str | None) -> dict[str, str]:
    """Headers for feedparser's encoding detection. The media type is always XML, so a feed
    served as text/html or text/plain is not read as ASCII. A BOM decides the charset; else the
    document's declaration; the HTTP charset only when the document says nothing (servers'
    default charsets often lie)."""
    charset = ""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    bom = byte_order_mark(body)
    if bom:
        charset = bom[1]
    elif DECLARED_ENCODING.match(body):
        charset = ""
    return {"content-type": "application/xml" + (f"; charset={charset}" if charset else "")}


def _describe(exc: BaseException, line_shift: int, recovered: int) -> str:
    """feedparser's bozo exception as one line, with the line number in the original body."""
    noun = "item" if recovered == 1 else "items"
    if isinstance(exc, xml.sax.SAXParseException):
        line = max(1, (exc.getLineNumber() or 1) + line_shift)
        what = f"not well-formed XML ({exc.getMessage()}, line {line})"
    else:
        what = f"feed problem ({exc})"
    return f"{what}: recovered {recovered} {noun}"


def _what_it_looks_like(data: bytes) -> str:
    sample = data[:4096].decode("utf-8", "replace")
    lowered = sample.lower()
    if "<html" in lowered or "<!doctype html" in lowered:
        return "looks like an HTML page"
    controls = sum(1 for char in sample if _is_binary_char(char))
    if controls * 10 > len(sample):
        return "looks like binary data"
    if ELEMENT_START.search(data[:4096]):
        return "XML or markup without RSS, Atom or RDF elements"
    return "no RSS, Atom or JSON Feed found"


def _is_binary_char(char: str) -> bool:
    code = ord(char)
    return char == "\ufffd" or (code < 32 and char not in "\t\r\n") or 0x7F <= code < 0xA0


# --- JSON Feed -----------------------------------------------------------------------------


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    start = body[3:] if body.startswith(codecs.BOM_UTF8) else body
    first = start.lstrip()[:1]
    if first == b"{":
        return True
    media_type = (content_type or "").split(";")[0].strip().lower()
    return "json" in media_type and first != b"<"


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return ParsedFeed("", (), f"not a feed: invalid JSON ({str(exc)[:120]})", "")
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        return ParsedFeed("", (), "not a feed: JSON without a JSON Feed items list", "")
    version = document.get("version")
    warning = None
    if not (isinstance(version, str) and "jsonfeed.org/version/" in version):
        warning = "JSON Feed without a jsonfeed.org version"
    entries = [_json_entry(url, item) for item in document["items"] if isinstance(item, dict)]
    items = _keyed_items(entry for entry in entries if entry)
    return ParsedFeed(_plain(_string(document.get("title")), False), items, warning, "json")


def _json_entry(base: str, item: Mapping[str, Any]) -> _Entry | None:
    title = _plain(_string(item.get("title")), False)
    summary = _plain(_string(item.get("summary")), False)
    if not summary:
        summary = _plain(_string(item.get("content_text")), False)
    if not summary:
        summary = _plain(_string(item.get("content_html")), True)
    link = _string(item.get("url")) or _string(item.get("external_url"))
    url, canonical = web_and_canonical_url(link, base)
    raw_id = item.get("id")
    is_id = isinstance(raw_id, str | int) and not isinstance(raw_id, bool)
    guid = str(raw_id).strip() if is_id else ""
    if not (guid or url or title or summary):
        return None
    date_text = _string(item.get("date_published")) or _string(item.get("date_modified"))
    tags = item.get("tags")
    tags = tags if isinstance(tags, list) else []
    return _Entry(
        guid=guid,
        url=url,
        canonical_url=canonical,
        title=title,
        summary=summary,
        published=_iso_utc(_string(item.get("date_published")))
        or _iso_utc(_string(item.get("date_modified"))),
        date_text=date_text,
        categories=_unique(_plain(tag, False) for tag in tags if isinstance(tag, str)),
    )


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _iso_utc(text: str) -> datetime | None:
    """An RFC 3339 date (JSON Feed's) in UTC; one without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
        return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# --- shared --------------------------------------------------------------------------------


def _keyed_items(entries: Iterable[_Entry]) -> tuple[Item, ...]:
    """Items with their dedup keys (DESIGN §4); a later entry with an earlier one's key is the
    same item repeated in the feed, and is dropped."""
    entries = list(entries)
    titles_by_link: dict[str, set[str]] = {}
    for entry in entries:
        if entry.canonical_url and not entry.guid:
            titles_by_link.setdefault(entry.canonical_url, set()).add(entry.title)
    items: dict[str, Item] = {}
    for entry in entries:
        link = entry.canonical_url
        if entry.guid:
            key = _short(entry.guid)
        elif link and len(titles_by_link[link]) == 1:
            key = _short(link)
        elif link:  # one link for several different items: the title tells them apart
            key = _hashed("link", link, entry.title)
        else:
            when = entry.published.isoformat() if entry.published else entry.date_text
            key = _hashed("item", entry.title, when, "" if entry.title else entry.summary)
        if key not in items:
            items[key] = Item(
                key=key,
                url=entry.url,
                canonical_url=link,
                title=entry.title,
                summary=entry.summary,
                published=entry.published,
                categories=entry.categories,
            )
    return tuple(items.values())


def _short(value: str) -> str:
    return value if len(value) <= MAX_KEY_LENGTH else _sha1(value)


def _hashed(*parts: str) -> str:
    return _sha1("\0".join(parts))


def _sha1(text: str) -> str:
    return "sha1:" + hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _plain(value: object, html: bool) -> str:
    """Plain text of a feed value. Markup that survives one decoding (feedparser's loose mode
    leaves XML escapes in place; some feeds escape twice) is decoded once more, never more.
    Text without `<` or `&` (most titles) holds neither tags nor references: it is only folded,
    and `html_to_text`'s answer is folded already, so it is never folded again."""
    text = value if isinstance(value, str) else ""
    if "<" not in text and "&" not in text:
        return fold_whitespace(text)
    if not (html or looks_like_markup(text)):
        return fold_whitespace(text)
    text = html_to_text(text)
    return html_to_text(text) if looks_like_markup(text) else text


def _own(entry: Mapping[str, Any], key: str) -> Any:
    """A date field of the entry itself: feedparser answers a missing `updated` with
    `published` (and a DeprecationWarning), but its `in` tells the truth."""
    return entry.get(key) if key in entry else None


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """isinstance(value, Mapping), quicker for the usual dict."""
    return type(value) is dict or isinstance(value, Mapping)


def _utc(parsed: object) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime, if it is a real date."""
    if not isinstance(parsed, tuple) or len(parsed) < 6:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))
