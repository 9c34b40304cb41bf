"""Encodings: when feedparser would read the bytes as UTF-8 as they are, and the repairs it makes
to every text it reads (mojibake, C1 controls)."""

from __future__ import annotations

import codecs
import functools
import re

from feedparser.encodings import RE_XML_PI_ENCODING, parse_content_type
from feedparser.html import _cp1252 as CP1252

XML_DECLARATION = re.compile(
    rb"<\?xml\s+version\s*=\s*(['\"])1\.0\1"
    rb"(?:\s+encoding\s*=\s*(['\"])(?:utf-8|utf8)\2)?"
    rb"(?:\s+standalone\s*=\s*(['\"])(?:yes|no)\3)?\s*\?>",
    re.IGNORECASE,
)
UNMARKED_STARTS = (  # what convert_to_utf8 takes for a BOM or for '<?xm' in another encoding
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF16_BE,
    codecs.BOM_UTF16_LE,
    b"\x4c\x6f\xa7\x94",
    b"\x00\x3c\x00\x3f",
    b"\x3c\x00\x3f\x00",
    b"\x00\x00\x00\x3c",
    b"\x3c\x00\x00\x00",
)

BEYOND_LATIN_1 = re.compile("[^\x00-\xff]")
C1_CONTROLS = re.compile("[\x80-\x9f]")


def utf8_as_is(body: bytes, content_type: str) -> bytes | None:
    """`body` ready for lxml unchanged, when feedparser's encoding detection (given the
    `content_type` header we hand it) would decode it as UTF-8 without complaint (lxml refuses
    the invalid bytes that would make it complain), or None when the detection must run."""
    if body.startswith(codecs.BOM_UTF8):
        body = body[3:]
    elif body.startswith(UNMARKED_STARTS):
        return None
    declared = RE_XML_PI_ENCODING.match(body)
    try:
        xml_encoding = declared.group(1).decode("utf-8").lower() if declared else ""
    except UnicodeDecodeError:
        return None  # feedparser fails on it; let it say so
    http_encoding = parse_content_type(content_type)[1]
    if not _is_utf8(http_encoding or xml_encoding or "utf-8"):
        return None
    if body.startswith(b"<?xml") and not XML_DECLARATION.match(body):
        return None  # feedparser rewrites other declarations; so does the slow road
    return body


@functools.cache
def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def repaired(text: str) -> str:
    """feedparser's last touches to every text: UTF-8 read as Latin-1 is read again, and C1
    controls become the Windows-1252 characters they stand for."""
    if not BEYOND_LATIN_1.search(text):  # else it cannot be UTF-8 misread as Latin-1
        text = _read_again_as_utf8(text)
    if text.isprintable() or not C1_CONTROLS.search(text):  # C1 controls are unprintable
        return text
    return C1_CONTROLS.sub(_windows_1252, text)


def _read_again_as_utf8(text: str) -> str:
    try:
        return text.encode("iso-8859-1").decode("utf-8")
    except UnicodeDecodeError:
        return text


def _windows_1252(control: re.Match[str]) -> str:
    character = control.group()
    replacement: str = CP1252.get(ord(character), character)  # feedparser's translate(_cp1252)
    return replacement
