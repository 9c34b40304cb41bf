"""Recognising what a feed already showed, before any parsing.

Most polls that get a body (servers without ETag or Last-Modified, or feeds that changed a
little) carry mostly items Dozor has already read. Their raw bytes say so: each `<item>` or
`<entry>` element is hashed as it stands, and the hashes of the last good poll live in the
feed's state. A body identical to the last one is not parsed at all; a body with a few unknown
items is cut down to its head, those items and its tail, and only that is parsed, so a feed
that gained one item costs about one item of work.

The cut is made only where it is certainly safe: unprefixed elements found by a scan whose
pieces each hold exactly one opening tag, with nothing but whitespace between them. Anything
else (nested items, CDATA that contains "</item>", other encodings, prefixed names) is parsed
whole, as before.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_ELEMENT = re.compile(rb"<(item|entry)(?=[\s>/])(?:[^>]*/>|.*?</\1\s*>)", re.DOTALL)
_OPENING = re.compile(rb"<(?:item|entry)(?=[\s>/])")
_OWN_ID = re.compile(rb"<(?:guid|id)[\s>]")
MAX_REMEMBERED = 1000  # hashes kept per feed; a feed with more is parsed whole each time


def digest(data: bytes) -> str:
    """A short fingerprint of some bytes (not a security boundary: a feed that wants to hide
    an item from itself gains nothing)."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Layout:
    """A feed body as head, items and tail: `spans` are the items' (start, end) offsets."""

    body: bytes
    spans: tuple[tuple[int, int], ...]
    hashes: tuple[str, ...]

    def stands_alone(self, index: int) -> bool:
        """Whether the item has its own guid or id: then its key does not depend on the other
        items (without one, items sharing a link are told apart by their titles), and it can
        be read without them."""
        start, end = self.spans[index]
        return _OWN_ID.search(self.body, start, end) is not None

    def only(self, keep: list[int]) -> bytes:
        """The body with only the items at `keep` (indices into `spans`), head and tail kept."""
        head = self.body[: self.spans[0][0]]
        tail = self.body[self.spans[-1][1] :]
        items = [self.body[start:end] for start, end in (self.spans[i] for i in keep)]
        return b"".join([head, b"\n".join(items), tail])


def layout(body: bytes) -> Layout | None:
    """The body's items, when they can be cut out safely; else None (parse it whole)."""
    spans: list[tuple[int, int]] = []
    for found in _ELEMENT.finditer(body):
        start, end = found.span()
        if len(_OPENING.findall(body, start, end)) != 1:
            return None  # an item inside an item
        if spans and body[spans[-1][1] : start].strip():
            return None  # something between two items: not a plain list of them
        spans.append((start, end))
    if not spans or len(spans) > MAX_REMEMBERED:
        return None
    if _OPENING.search(body, spans[-1][1]) or _OPENING.search(body, 0, spans[0][0]):
        return None  # an opening tag the scan could not close
    hashes = tuple(digest(body[start:end]) for start, end in spans)
    return Layout(body, tuple(spans), hashes)
