"""Defusing an XML feed's prolog before feedparser sees it.

feedparser's loose parser expands the entities declared in a DOCTYPE's internal subset without
limit (a 300 KB "quadratic blowup" took 7 GB), so every internal subset in the prolog is cut out
before parsing, and a body whose DOCTYPE never ends, or that declares an entity anywhere else in
the prolog, is refused outright (`RefusedError`). The prolog's other small repairs live here too:
whitespace before `<?xml` (after any UTF-8 BOM) is trimmed, and a byte order mark or an XML
declaration is recognised in any of the encodings feedparser sniffs.
"""

from __future__ import annotations

import codecs
import re

# "<?xml" in the encodings feedparser sniffs; the last one is EBCDIC.
XML_DECLARATIONS = (
    *("<?xml".encode(codec) for codec in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le")),
    "<?xml".encode("utf-32-be"),
    b"\x4c\x6f\xa7\x94",
)
# Byte order marks and what they say; UTF-32LE's begins with UTF-16LE's, so it comes first.
BOM_ENCODINGS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32le"),
    (codecs.BOM_UTF32_BE, "utf-32be"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
)
ELEMENT_START = re.compile(rb"<[A-Za-z_]")
ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
DOCTYPE_STOP = re.compile(rb"[\"'\[>]")  # what matters inside a DOCTYPE, outside its subset
SUBSET_STOP = re.compile(rb"[\"'\]]|<!--|<\?")  # what matters inside an internal subset


class RefusedError(Exception):
    """The body is not parsed at all, for safety; the message says why."""


def strip_internal_subsets(data: bytes) -> tuple[bytes, bool]:
    """`data` (UTF-8) without any DOCTYPE internal subset in its prolog, and whether one was
    removed. Raises `RefusedError` for a DOCTYPE that never ends or an `<!ENTITY` left over.

    The scanner follows XML's prolog: comments, processing instructions and quoted literals are
    skipped, so a `]` or `>` inside them cannot end the subset early. It stops at the first
    element; whatever precedes it (junk included) is searched, which covers expat's prolog and
    feedparser's regular-expression view of the head. Removed text leaves its newlines, so
    line numbers in later errors still match the document."""
    kept: list[bytes] = []
    copied = pos = 0
    while (lt := data.find(b"<", pos)) >= 0:
        if data.startswith(b"<?", lt):
            pos = _past(data, b"?>", lt + 2)
        elif data.startswith(b"<!--", lt):
            pos = _past(data, b"-->", lt + 4)
        elif DOCTYPE.match(data, lt):
            pos, has_subset = _doctype_end(data, lt + len(b"<!DOCTYPE"))
            if has_subset:
                kept += [data[copied:lt], b"\n" * data.count(b"\n", lt, pos)]
                copied = pos
        elif ELEMENT_START.match(data, lt):
            break
        else:
            pos = lt + 1
    else:
        lt = len(data)
    prolog = b"".join([*kept, data[copied:lt]]) if copied < lt else b"".join(kept)
    if ENTITY_DECLARATION.search(prolog):
        raise RefusedError("an entity declaration outside a DOCTYPE subset")
    if not kept:
        return data, False
    return b"".join([*kept, data[copied:]]), True


def _doctype_end(data: bytes, pos: int) -> tuple[int, bool]:
    """Index just past a DOCTYPE declaration whose keyword ends at `pos`, and whether it has an
    internal subset (`[...]`)."""
    has_subset = False
    while (stop := DOCTYPE_STOP.search(data, pos)) is not None:
        char, pos = stop.group(), stop.end()
        if char == b">":
            return pos, has_subset
        if char == b"[":
            pos, has_subset = _subset_end(data, pos), True
        else:  # a quoted literal
            pos = _past(data, char, pos, required=True)
    raise RefusedError("a DOCTYPE declaration that never ends")


def _subset_end(data: bytes, pos: int) -> int:
    """Index just past the `]` that closes an internal subset starting at `pos`."""
    closers = {b'"': b'"', b"'": b"'", b"<!--": b"-->", b"<?": b"?>"}
    while (stop := SUBSET_STOP.search(data, pos)) is not None:
        if stop.group() == b"]":
            return stop.end()
        pos = _past(data, closers[stop.group()], stop.end(), required=True)
    raise RefusedError("a DOCTYPE declaration that never ends")


def _past(data: bytes, token: bytes, start: int, *, required: bool = False) -> int:
    """Index just past the next `token` from `start`; the end of `data` if there is none."""
    found = data.find(token, start)
    if found < 0:
        if required:
            raise RefusedError("a DOCTYPE declaration that never ends")
        return len(data)
    return found + len(token)


def trim_leading_whitespace(body: bytes) -> tuple[bytes, int]:
    """Whitespace before `<?xml` (a classic WordPress bug) makes the XML ill-formed: drop it.
    Returns the body and how many lines were removed."""
    bom = codecs.BOM_UTF8 if body.startswith(codecs.BOM_UTF8) else b""
    rest = body[len(bom) :]
    trimmed = rest.lstrip(b" \t\r\n")
    if len(trimmed) == len(rest) or not trimmed.startswith(b"<") or trimmed[1:2] == b"\0":
        return body, 0
    return bom + trimmed, rest.count(b"\n", 0, len(rest) - len(trimmed))


def byte_order_mark(body: bytes) -> tuple[bytes, str] | None:
    """The BOM `body` starts with and the encoding it names, or None."""
    return next(((bom, name) for bom, name in BOM_ENCODINGS if body.startswith(bom)), None)


def declares_xml(body: bytes) -> bool:
    """Whether `body` starts (after any BOM) with `<?xml` in an encoding feedparser sniffs."""
    bom = byte_order_mark(body)
    return body[len(bom[0]) if bom else 0 :].startswith(XML_DECLARATIONS)
