"""A chat's own feeds as OPML, the file every feed reader exports and imports.

Writing uses the stdlib ElementTree, which escapes attribute values; characters that XML 1.0
cannot carry at all are dropped first. Reading goes through `listparser`, always given bytes
(a str that looks like a URL would make it fetch one).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import listparser

from bot.commands.portfile import FileProblems
from bot.models import Feed

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class OutlineFeed:
    url: str
    title: str


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def write_opml(title: str, feeds: Sequence[Feed]) -> bytes:
    """OPML 2.0 with one rss outline a feed: its name and URL."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _xml_text(title)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = _xml_text(feed.name)
        ET.SubElement(
            body, "outline", type="rss", text=name, title=name, xmlUrl=_xml_text(feed.url)
        )
    ET.indent(root)
    written: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return written + b"\n"


def read_opml(content: bytes) -> list[OutlineFeed]:
    """The feeds an OPML file lists, in order, each URL once; FileProblems when it has none."""
    text = content.decode("utf-8", "replace")
    parsed = listparser.parse(text.encode("utf-8"))
    found: dict[str, OutlineFeed] = {}
    for entry in parsed.get("feeds", []):
        url = str(entry.get("url") or "").strip()
        if url and url not in found:
            found[url] = OutlineFeed(url, " ".join(str(entry.get("title") or "").split()))
    if not found:
        raise FileProblems(['no feeds in it: an OPML file lists feeds as <outline xmlUrl="…"/>'])
    return list(found.values())
