"""Values in feedparser's shapes: content read when needed, text constructs' types, links
resolved, entries finished."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from feedparser.mixin import _FeedParserMixin as FeedparserRules
from feedparser.urls import _urljoin as feedparser_urljoin
from feedparser.urls import make_safe_absolute_uri

from bot.fastparse.dates import parsed_date
from bot.fastparse.encoding import repaired
from bot.fastparse.model import Doubtful
from bot.fastparse.names import attributes_of

LINK_REFERENCE = re.compile("&([A-Za-z0-9_]+);")


class LazyContent(Mapping[str, Any]):
    """A content element's value and type (feedparser's content mapping), worked out when
    first read: most entries have a summary, and their long content is never read."""

    __slots__ = ("_element", "_guess_html", "_raw", "_read", "_type")

    def __init__(self, element: Any, raw: str | None, content_type: str, guess: bool) -> None:
        self._element, self._raw, self._type, self._guess_html = element, raw, content_type, guess
        self._read: dict[str, str] | None = None

    def _value(self) -> dict[str, str]:
        if self._read is None:
            raw = self._raw if self._raw is not None else self._element.text or ""
            output = raw.strip()
            content_type = self._type
            if self._guess_html and looks_like_html(output):
                content_type = "text/html"
            if not output.isascii():
                output = repaired(output)
            self._read = {"type": content_type, "value": output}
        return self._read

    def __getitem__(self, key: str) -> str:
        return self._value()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._value())

    def __len__(self) -> int:
        return len(self._value())


def unwrapped(pieces: list[str]) -> list[str]:
    """Atom 1.0 XHTML without its wrapping `<div>`, as feedparser's `pop` unwraps it: only
    when that div holds everything (blank text around it aside)."""
    while len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if not pieces or not (pieces[0] == "<div>" or pieces[0].startswith("<div ")):
        return pieces
    if pieces[-1] != "</div>":
        return pieces
    depth = 0
    for piece in pieces[:-1]:
        if piece.startswith("</"):
            depth -= 1
            if depth == 0:
                return pieces  # the first div closes before the end
        elif piece.startswith("<") and not piece.endswith("/>"):
            depth += 1
    return pieces[1:-1]


def leaf_text(element: Any) -> str:
    if len(element):
        raise Doubtful("markup inside a text element")
    text: str = element.text or ""
    return text


def content_type_of(element: Any, default: str) -> str:
    """feedparser's content type of a text construct (its `push_content`); base64 content,
    which it would decode, is left to it."""
    if not element.items():
        return default
    attributes = attributes_of(element)
    content_type = mapped_type(attributes.get("type", default))
    if attributes.get("mode") == "base64" or not (
        content_type.startswith("text/") or content_type.endswith(("+xml", "/xml"))
    ):
        raise Doubtful("base64 content")
    return content_type


def looks_like_html(text: str) -> bool:
    """feedparser's guess that plain text is HTML (it needs a `<` or `&` to say yes)."""
    return ("<" in text or "&" in text) and bool(FeedparserRules.looks_like_html(text))


def resolved(base: str, link: str) -> str:
    """feedparser's `_urljoin(base, link)`; without a base and without `:///` to mend, the
    link comes back as it is."""
    if not base and ":///" not in link:
        return link
    resolved: str = feedparser_urljoin(base, link)
    return resolved


def stored_link(link: str) -> str:
    """An entry's link as feedparser stores it: `&amp;` decoded, other references left without
    their `;`."""
    return LINK_REFERENCE.sub(_bare_reference, link.replace("&amp;", "&"))


def _bare_reference(match: re.Match[str]) -> str:
    return "&" + match.group(1)


def mapped_type(content_type: str) -> str:
    mapped: str = FeedparserRules.map_content_type(content_type)
    return mapped


@functools.lru_cache(maxsize=256)
def absolute(base: str, given: str) -> str:
    absolute: str = make_safe_absolute_uri(base, given)
    return absolute


def finished(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry in feedparser's shapes: tags as mappings, dates parsed, summary read."""
    if isinstance(entry.get("summary"), LazyContent):
        entry["summary"] = entry["summary"]["value"]
    if "tags" in entry:
        entry["tags"] = [
            {"term": term, "scheme": scheme, "label": label}
            for term, scheme, label in entry["tags"]
        ]
    for key in ("published_parsed", "updated_parsed"):
        if key in entry:
            entry[key] = parsed_date(entry[key])
    return entry
