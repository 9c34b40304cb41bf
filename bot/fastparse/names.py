"""Element and attribute names as feedparser sees them: lower-cased, known namespaces under
feedparser's prefixes, unknown ones under the document's own."""

from __future__ import annotations

import functools
import re
from typing import Any

from feedparser.mixin import _FeedParserMixin as FeedparserRules

from bot.fastparse.model import Doubtful

# feedparser's namespace table (lower-cased URI -> its prefix, "" for the feed formats' own)
KNOWN_NAMESPACES = {uri.lower(): prefix for uri, prefix in FeedparserRules.namespaces.items()}
USERLAND = "backend.userland.com/rss"  # any such namespace is RSS's own to feedparser
VERSION_NAMESPACES = {  # declarations that set feedparser's version before a root element does
    "http://purl.org/rss/1.0/": "rss10",
    "http://www.w3.org/2005/atom": "atom10",
}
NETSCAPE_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"  # only as the default namespace
RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}

NAMESPACE_DECLARATION = re.compile(
    rb"xmlns(?::([^\s=/>'\"]+))?\s*=\s*(?:\"([^\"&<]*)\"|'([^'&<]*)')"
)
MAYBE_DECLARATION = re.compile(rb"xmlns(?::[^\s=/>'\"]+)?\s*=\s*['\"]")
XMLNS = re.compile(rb"xmlns")  # a regular expression finds it faster than bytes.find
BASE_ATTRIBUTE = re.compile(rb"base\s*=")


def namespace_declarations(data: bytes) -> list[tuple[str | None, str]]:
    """Every namespace declaration in `data`, in document order. Text that merely looks like
    one (in CDATA, say) is included: it can only make the reading more cautious."""
    found: list[tuple[str | None, str]] = []
    for candidate in XMLNS.finditer(data):
        match = NAMESPACE_DECLARATION.match(data, candidate.start())
        if match:
            prefix, uri = match.group(1), match.group(2) or match.group(3) or b""
            found.append((prefix.decode() if prefix else None, uri.decode()))
        elif MAYBE_DECLARATION.match(data, candidate.start()):
            raise Doubtful("a namespace URI with references in it")
    return found


def has_base_attribute(data: bytes) -> bool:
    """Whether an `xml:base` (or any `base`) attribute may occur: most feeds have none, and
    then feedparser's base URI stays empty and need not be followed element by element."""
    return any(
        data[found.start() - 1 : found.start()] in (b":", b" ", b"\t", b"\n", b"\r")
        for found in BASE_ATTRIBUTE.finditer(data)
    )


class ElementNames:
    """feedparser's name for each lxml tag: lower-cased, with feedparser's prefix for a known
    namespace and the document's own for another. Documents where that name would depend on
    the order of declarations, or where feedparser would remap a prefix, are refused."""

    def __init__(self, declarations: list[tuple[str | None, str]]) -> None:
        uris_of: dict[str, set[str]] = {}
        unknown_prefixes: dict[str, set[str | None]] = {}
        remapped: dict[str, str] = {}
        known_used: set[str] = set()
        for prefix, uri in declarations:
            known = known_prefix(uri)
            if prefix is not None:
                uris_of.setdefault(prefix, set()).add(uri)
            if known is None:
                unknown_prefixes.setdefault(uri, set()).add(prefix)
                continue
            known_used.add(known)
            if prefix is not None and prefix != known:
                remapped[prefix] = known
        if any(len(uris) > 1 for uris in uris_of.values()):
            raise Doubtful("a prefix bound to several namespaces")
        self.unknown: dict[str, str] = {}
        used = {prefix.lower() for prefix in known_used}
        for uri, prefixes in unknown_prefixes.items():
            named = [prefix for prefix in prefixes if prefix is not None]
            if len(named) > 1 or (named and None in prefixes):
                raise Doubtful("a namespace under several prefixes")
            if named and named[0] in known_used:  # feedparser keeps one URI per prefix
                raise Doubtful("a known namespace's prefix bound to another namespace")
            self.unknown[uri] = named[0].lower() if named else ""
            used.add(self.unknown[uri])
        if any(prefix in used for prefix in remapped):
            raise Doubtful("a prefix feedparser would remap")
        self.cache: dict[str, tuple[str, bool]] = {}

    def __call__(self, tag: str) -> tuple[str, bool]:
        """The handler key feedparser derives from `tag` ("dc_date", "title", …) and whether
        the name has a prefix."""
        found = self.cache.get(tag)
        if found is None:
            found = self.cache[tag] = self._name(tag)
        return found

    def _name(self, tag: str) -> tuple[str, bool]:
        if not tag.startswith("{"):
            return tag.lower(), False
        uri, _, local = tag[1:].partition("}")
        prefix = known_prefix(uri)
        if prefix is None:
            if uri not in self.unknown:
                raise Doubtful("a namespace declared where we did not see it")
            prefix = self.unknown[uri]
        if not prefix:
            return local.lower(), False
        return f"{prefix}_{local}".lower(), True


def known_prefix(uri: str) -> str | None:
    lowered = uri.lower()
    if USERLAND in lowered:
        return ""
    return KNOWN_NAMESPACES.get(lowered)


def attributes_of(element: Any) -> dict[str, str]:
    """The element's attributes as feedparser's handlers see them, in its order: lower-cased
    names with a known namespace's prefix, then every attribute again under its bare local
    name (expat's qnames); `rel` and `type` values lower-cased."""
    keys = element.keys()
    if not keys:
        return {}
    values = element.values()
    found = {name: values[index] for name, index in _attribute_names(tuple(keys))}
    if "rel" in found:
        found["rel"] = found["rel"].lower()
    if "type" in found:
        found["type"] = found["type"].lower()
    return found


@functools.lru_cache(maxsize=512)
def _attribute_names(keys: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """For lxml's attribute names `keys`, the names `attributes_of` gives, in its order, each
    with the index of the attribute whose value it holds (a few sets of names recur)."""
    found: dict[str, int] = {}
    local_names: list[tuple[str, int]] = []
    for index, key in enumerate(keys):
        if key.startswith("{"):
            uri, _, local = key[1:].partition("}")
            prefix = KNOWN_NAMESPACES.get(uri.lower(), "")
            found[f"{prefix}:{local}".lower() if prefix else local.lower()] = index
        else:
            local = key
            found[key.lower()] = index
        local_names.append((local.lower(), index))
    if len({local for local, _ in local_names}) < len(local_names):
        raise Doubtful("two attributes with one local name")
    found.update(local_names)
    return tuple(found.items())
