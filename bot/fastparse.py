"""Well-formed RSS and Atom read fast: libxml2 builds the tree, we read it as feedparser would.

feedparser reads about 1,200 items a second; lxml parses the same bytes many times faster. This
module walks lxml's tree the way feedparser's strict parser walks its SAX events, and keeps only
what Dozor reads (titles, summary and content, link, id, dates, tags) in feedparser's own shapes,
so that `bot.parse` normalises both with the same code and callers cannot tell them apart.

It follows feedparser's rules rather than the formats': element names are lower-cased and known
namespaces mapped to feedparser's prefixes, the shallowest `<title>` wins, a second description
becomes content, a permalink GUID stands in for a missing link, mojibake is repaired, …. Where a
document or feedparser's reading of it is anything but plain (any libxml2 message, a DOCTYPE, an
unknown root, namespace prefixes feedparser would map oddly, markup where text is expected, …) it
answers None and the caller goes to feedparser, which stays the reference.

Safety: lxml gets the bytes only after `bot.xmlsafe` has cut DOCTYPE subsets out (the caller does
that), any DOCTYPE left sends the body to feedparser before lxml sees it, and the parser neither
loads DTDs, nor resolves entities, nor touches the network, nor lifts libxml2's size limits.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from feedparser.datetimes import _parse_date as feedparser_date
from feedparser.encodings import RE_XML_PI_ENCODING, parse_content_type
from feedparser.html import _cp1252 as CP1252
from feedparser.mixin import _FeedParserMixin as FeedparserRules
from feedparser.urls import _urljoin as feedparser_urljoin
from feedparser.urls import make_safe_absolute_uri
from lxml import etree

from bot.xmlsafe import DOCTYPE, ELEMENT_START

# feedparser's namespace table (lower-cased URI -> its prefix, "" for the feed formats' own)
KNOWN_NAMESPACES = {uri.lower(): prefix for uri, prefix in FeedparserRules.namespaces.items()}
USERLAND = "backend.userland.com/rss"  # any such namespace is RSS's own to feedparser
VERSION_NAMESPACES = {  # declarations that set feedparser's version before a root element does
    "http://purl.org/rss/1.0/": "rss10",
    "http://www.w3.org/2005/atom": "atom10",
}
NETSCAPE_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"  # only as the default namespace
RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
XHTML = "application/xhtml+xml"
SUMMARY_TYPES = HTML_TYPES | {"text/plain"}
ITUNES = "http://www.itunes.com/"
MEDIA_CATEGORY_SCHEME = "http://search.yahoo.com/mrss/category_schema"
# Keys of Dozor's reading that an element without a handler must not write.
RESERVED_KEYS = frozenset(
    {"guidislink", "title_detail", "summary_detail", "published_parsed", "updated_parsed"}
)
# Elements whose handlers do things we do not follow (or can raise inside feedparser).
UNFOLLOWED = frozenset({"rss", "feed", "body", "xhtml_body", "where", "psc_chapter"})
UNFOLLOWED_PREFIXES = ("georss_", "gml_", "psc_", "cc_", "creativecommons_")
LIST_KEYS = frozenset({"category", "tags", "itunes_keywords"})  # popped, not stored
OTHER_CONTENT = frozenset(  # text constructs Dozor does not read
    {"subtitle", "tagline", "itunes_subtitle", "rights", "copyright", "dc_rights", "info"}
    | {"feedburner_browserfriendly"}
)
# Unprefixed elements that leave feedparser's image/textinput state alone (its own hack).
KEEPS_TEXTINPUT = frozenset({"title", "link", "description", "name"})
KEEPS_IMAGE = frozenset({"title", "link", "description", "url", "href", "width", "height"})

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
NAMESPACE_DECLARATION = re.compile(
    rb"xmlns(?::([^\s=/>'\"]+))?\s*=\s*(?:\"([^\"&<]*)\"|'([^'&<]*)')"
)
MAYBE_DECLARATION = re.compile(rb"xmlns(?::[^\s=/>'\"]+)?\s*=\s*['\"]")
XMLNS = re.compile(rb"xmlns")  # a regular expression finds it faster than bytes.find
BASE_ATTRIBUTE = re.compile(rb"base\s*=")
TAG_FIELDS = ("term", "scheme", "label")
QUOTE_ENTITY = {'"': "&quot;"}
SELF_DECLARED = {
    ("svg", "http://www.w3.org/2000/svg"),
    ("math", "http://www.w3.org/1998/Math/MathML"),
}
BEYOND_LATIN_1 = re.compile("[^\x00-\xff]")
C1_CONTROLS = re.compile("[\x80-\x9f]")
LINK_REFERENCE = re.compile("&([A-Za-z0-9_]+);")
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


class _Doubtful(Exception):
    """The document leaves what we follow of feedparser: feedparser must read it."""


@dataclass(frozen=True, slots=True)
class FeedRead:
    """A feed as feedparser would give it, cut down to what Dozor reads."""

    version: str  # feedparser's version name ("rss20", "atom10", "rss10", …)
    feed: dict[str, Any]  # "title" and "title_detail"
    entries: list[dict[str, Any]]  # title, summary, content, link, id, dates, tags (+ details)


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


def read_feed(data: bytes) -> FeedRead | None:
    """What feedparser reads from a well-formed UTF-8 feed `data` (DOCTYPE subsets already cut
    out), or None when only feedparser can say."""
    first_element = ELEMENT_START.search(data)
    if first_element is None or DOCTYPE.search(data, 0, first_element.start()):
        return None  # feedparser drops DOCTYPEs, so entities lxml would keep it would not
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(data, parser)
        if len(parser.error_log) or root.getroottree().docinfo.doctype:
            return None  # a DOCTYPE the quick look above missed (after a comment, say)
        names = _ElementNames(_namespace_declarations(data))
        return _Reading(names, _has_base_attribute(data)).read(root)
    except (etree.XMLSyntaxError, _Doubtful, RecursionError):
        return None


def _namespace_declarations(data: bytes) -> list[tuple[str | None, str]]:
    """Every namespace declaration in `data`, in document order. Text that merely looks like
    one (in CDATA, say) is included: it can only make the reading more cautious."""
    found: list[tuple[str | None, str]] = []
    for candidate in XMLNS.finditer(data):
        match = NAMESPACE_DECLARATION.match(data, candidate.start())
        if match:
            prefix, uri = match.group(1), match.group(2) or match.group(3) or b""
            found.append((prefix.decode() if prefix else None, uri.decode()))
        elif MAYBE_DECLARATION.match(data, candidate.start()):
            raise _Doubtful("a namespace URI with references in it")
    return found


def _has_base_attribute(data: bytes) -> bool:
    """Whether an `xml:base` (or any `base`) attribute may occur: most feeds have none, and
    then feedparser's base URI stays empty and need not be followed element by element."""
    return any(
        data[found.start() - 1 : found.start()] in (b":", b" ", b"\t", b"\n", b"\r")
        for found in BASE_ATTRIBUTE.finditer(data)
    )


class _ElementNames:
    """feedparser's name for each lxml tag: lower-cased, with feedparser's prefix for a known
    namespace and the document's own for another. Documents where that name would depend on
    the order of declarations, or where feedparser would remap a prefix, are refused."""

    def __init__(self, declarations: list[tuple[str | None, str]]) -> None:
        uris_of: dict[str, set[str]] = {}
        unknown_prefixes: dict[str, set[str | None]] = {}
        remapped: dict[str, str] = {}
        known_used: set[str] = set()
        for prefix, uri in declarations:
            known = _known_prefix(uri)
            if prefix is not None:
                uris_of.setdefault(prefix, set()).add(uri)
            if known is None:
                unknown_prefixes.setdefault(uri, set()).add(prefix)
                continue
            known_used.add(known)
            if prefix is not None and prefix != known:
                remapped[prefix] = known
        if any(len(uris) > 1 for uris in uris_of.values()):
            raise _Doubtful("a prefix bound to several namespaces")
        self.unknown: dict[str, str] = {}
        used = {prefix.lower() for prefix in known_used}
        for uri, prefixes in unknown_prefixes.items():
            named = [prefix for prefix in prefixes if prefix is not None]
            if len(named) > 1 or (named and None in prefixes):
                raise _Doubtful("a namespace under several prefixes")
            if named and named[0] in known_used:  # feedparser keeps one URI per prefix
                raise _Doubtful("a known namespace's prefix bound to another namespace")
            self.unknown[uri] = named[0].lower() if named else ""
            used.add(self.unknown[uri])
        if any(prefix in used for prefix in remapped):
            raise _Doubtful("a prefix feedparser would remap")
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
        prefix = _known_prefix(uri)
        if prefix is None:
            if uri not in self.unknown:
                raise _Doubtful("a namespace declared where we did not see it")
            prefix = self.unknown[uri]
        if not prefix:
            return local.lower(), False
        return f"{prefix}_{local}".lower(), True


def _known_prefix(uri: str) -> str | None:
    lowered = uri.lower()
    if USERLAND in lowered:
        return ""
    return KNOWN_NAMESPACES.get(lowered)


def _attributes(element: Any) -> dict[str, str]:
    """The element's attributes as feedparser's handlers see them, in its order: lower-cased
    names with a known namespace's prefix, then every attribute again under its bare local
    name (expat's qnames); `rel` and `type` values lower-cased."""
    items = element.items()
    if not items:
        return {}
    found: dict[str, str] = {}
    local_names: list[tuple[str, str]] = []
    for key, value in items:
        if key.startswith("{"):
            uri, _, local = key[1:].partition("}")
            prefix = KNOWN_NAMESPACES.get(uri.lower(), "")
            found[f"{prefix}:{local}".lower() if prefix else local.lower()] = value
        else:
            local = key
            found[key.lower()] = value
        local_names.append((local.lower(), value))
    if len({local for local, _ in local_names}) < len(local_names):
        raise _Doubtful("two attributes with one local name")
    found.update(local_names)
    for key in ("rel", "type"):
        if key in found:
            found[key] = found[key].lower()
    return found


def _repaired(text: str) -> str:
    """feedparser's last touches to every text: UTF-8 read as Latin-1 is read again, and C1
    controls become the Windows-1252 characters they stand for."""
    if not BEYOND_LATIN_1.search(text):  # else it cannot be UTF-8 misread as Latin-1
        text = _read_again_as_utf8(text)
    return C1_CONTROLS.sub(_windows_1252, text) if C1_CONTROLS.search(text) else text


def _read_again_as_utf8(text: str) -> str:
    try:
        return text.encode("iso-8859-1").decode("utf-8")
    except UnicodeDecodeError:
        return text


def _windows_1252(control: re.Match[str]) -> str:
    character = control.group()
    replacement: str = CP1252.get(ord(character), character)  # feedparser's translate(_cp1252)
    return replacement


class _Reading:
    """One document walked in document order with the part of feedparser's state that decides
    what Dozor reads: where we are (feed, entry, source, image, text input), element depth,
    the depth of the title that stands, whether the entry has content, the base URI."""

    def __init__(self, names: _ElementNames, follow_base: bool) -> None:
        self.names = names
        self.follow_base = follow_base
        self.version = ""
        self.atom = False
        self.depth = 0
        self.infeed = self.inentry = self.insource = self.inimage = self.intextinput = False
        self.title_depth = -1
        self.has_content = False
        self.guid_is_link = False
        self.base = ""
        self.bases: list[str] = []
        self.feed: dict[str, Any] = {}
        self.source: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.depths: list[dict[str, int]] = []
        # tag -> (handler, whether it ends feedparser's text input, whether it ends its image)
        self.steps: dict[str, tuple[Callable[[Any], None], bool, bool]] = {}
        self.handlers: dict[str, Callable[[Any], None]] = {
            "channel": self._channel,
            "item": self._entry,
            "entry": self._entry,
            "image": self._image,
            "textinput": self._textinput,
            "itunes_image": self._itunes_image,
            "itunes_link": self._itunes_image,
            "source": self._source,
            "title": self._title,
            "dc_title": self._title,
            "media_title": self._media_title,
            "description": self._description,
            "dc_description": self._description,
            "media_description": self._description,
            "summary": self._summary,
            "itunes_summary": self._summary,
            "abstract": self._abstract,
            "content": self._content,
            "content_encoded": self._html_content,
            "fullitem": self._html_content,
            "link": self._link,
            "guid": self._guid,
            "id": self._guid,
            "category": self._category,
            "keywords": self._category,
            "dc_subject": self._category,
            "media_category": self._media_category,
            "itunes_category": self._itunes_category,
            "tags": self._tag_list,
            "media_keywords": self._keyword_list,
            "itunes_keywords": self._keyword_list,
        }
        for name in ("published", "issued", "pubdate", "dcterms_issued"):
            self.handlers[name] = self._published
        for name in ("updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"):
            self.handlers[name] = self._updated
        for name in OTHER_CONTENT:
            self.handlers[name] = self._other_content

    # --- the walk ----------------------------------------------------------------------

    def read(self, root: Any) -> FeedRead:
        name, _ = self.names(root.tag)
        self.version = self._version(root, name)
        self.atom = self.version.startswith("atom")
        self.depth = 1
        self._enter_base(root)
        self.infeed = name == "feed"
        self._children(root)
        self.infeed = False
        self._leave_base()
        return FeedRead(self.version, self.feed, [_finished(entry) for entry in self.entries])

    def _version(self, root: Any, name: str) -> str:
        """feedparser's version: a declaration on the root may set it, then `<rss>` or
        `<feed>` corrects it. RSS 0.90/1.0 (an `rdf:RDF` root) and Atom 1.0 are followed."""
        version = ""
        for event, declaration in etree.iterwalk(root, events=("start-ns", "start")):
            if event == "start":
                break  # the root's own declarations come first, in document order
            prefix, uri = declaration
            uri = uri.lower()
            if prefix == "" and uri == NETSCAPE_RSS090:
                version = "rss090"
            else:
                version = VERSION_NAMESPACES.get(uri, "")
            if version:
                break
        if name == "rss":
            if not version.startswith("rss"):
                given = _attributes(root).get("version", "")
                version = RSS_VERSIONS.get(given) or ("rss20" if given.startswith("2.") else "rss")
            return version
        if name == "feed" and version == "atom10":
            return version
        if name == "rdf_rdf" and version in ("rss090", "rss10"):
            return version
        raise _Doubtful(f"root {name!r} as {version or 'no version'}")

    def _children(self, element: Any) -> None:
        """Each child in turn, as feedparser's start and end handlers see it: depth, base URI,
        its image/textinput hack, then the element's handler. (The walk's hot path.)"""
        steps, follow_base = self.steps, self.follow_base
        for child in element:
            step = steps.get(child.tag)
            handler, ends_textinput, ends_image = step or self._learn(child.tag)
            self.depth += 1
            if follow_base:
                self._enter_base(child)
            if ends_textinput:
                self.intextinput = False
            if ends_image:
                self.inimage = False
            handler(child)
            if follow_base:
                self._leave_base()
            self.depth -= 1

    def _through(self, element: Any) -> None:
        """An element without a handler: its children are walked (it may hold, say, a
        media:title), and nothing else happens."""
        if len(element):
            self._children(element)

    def _learn(self, tag: object) -> tuple[Callable[[Any], None], bool, bool]:
        """How feedparser treats elements with this tag: its handler (or none: the element is
        walked through), and its hack for empty image/textinput elements in ill-formed feeds
        (an unprefixed element other than a few ends them)."""
        if not isinstance(tag, str):
            raise _Doubtful("a node that is not an element")
        name, prefixed = self.names(tag)
        if name in UNFOLLOWED or name.startswith(UNFOLLOWED_PREFIXES):
            raise _Doubtful(f"element {name!r}")
        if name in RESERVED_KEYS:
            raise _Doubtful(f"element {name!r} would write one of our keys")
        handler = self.handlers.get(name, self._through)
        step = (
            handler,
            not prefixed and name not in KEEPS_TEXTINPUT,
            not prefixed and name not in KEEPS_IMAGE,
        )
        self.steps[tag] = step
        return step

    def _enter_base(self, element: Any) -> None:
        """feedparser's base URI: `xml:base` (or any `base` attribute) joined onto the
        parent's; an empty parent base is not restored when the element ends (so a base can
        outlive its element, as in feedparser)."""
        if self.follow_base:
            attributes = _attributes(element)
            given = attributes.get("xml:base", attributes.get("base")) or self.base
            if self.base:
                self.base = _absolute(self.base, given) or self.base
            else:
                self.base = feedparser_urljoin(self.base, given)
            self.bases.append(self.base)

    def _leave_base(self) -> None:
        if self.follow_base:
            self.bases.pop()
            if self.bases and self.bases[-1]:
                self.base = self.bases[-1]

    def _context(self) -> dict[str, Any]:
        """Where feedparser's `_save` and friends write (its `_get_context`)."""
        if self.insource:
            return self.source
        if self.inimage and "image" in self.feed:
            image: dict[str, Any] = self.feed["image"]
            return image
        if self.intextinput:
            textinput: dict[str, Any] = self.feed["textinput"]
            return textinput
        if self.inentry:
            return self.entries[-1]
        return self.feed

    # --- containers --------------------------------------------------------------------

    def _channel(self, element: Any) -> None:
        self.infeed = True
        self._children(element)
        self.infeed = False

    def _entry(self, element: Any) -> None:
        if self.inimage or self.intextinput or self.insource:
            raise _Doubtful("an entry inside an image, text input or source")
        attributes = _attributes(element)
        if "lastmod" in attributes or "href" in attributes:
            raise _Doubtful("CDF attributes on an entry")
        entry: dict[str, Any] = {}
        self.entries.append(entry)
        self.depths.append({})
        self.inentry, self.guid_is_link, self.title_depth = True, False, -1
        about = attributes.get("rdf:about")
        if about:
            entry["id"] = about
        self._children(element)
        self.inentry = self.has_content = False

    def _image(self, element: Any) -> None:
        if self.insource or self.inimage or self.intextinput:
            raise _Doubtful("an image inside a source, image or text input")
        if not self.inentry:
            self.feed.setdefault("image", {})
        self.inimage, self.title_depth = True, -1
        self._children(element)
        self.inimage = False

    def _itunes_image(self, element: Any) -> None:
        """Not read, but it gives the feed the image that feedparser then writes to."""
        attributes = _attributes(element)
        if attributes.get("href") or attributes.get("url"):
            self._context()["image"] = {}
        self._children(element)

    def _textinput(self, element: Any) -> None:
        if self.inentry or self.insource or self.inimage or self.intextinput:
            raise _Doubtful("a text input inside an entry, source, image or text input")
        self.feed.setdefault("textinput", {})
        self.intextinput, self.title_depth = True, -1
        self._children(element)
        self.intextinput = False

    def _source(self, element: Any) -> None:
        if self.insource:
            raise _Doubtful("a source inside a source")
        self.insource, self.title_depth = True, -1
        self._children(element)
        self.insource = False
        self.source = {}

    # --- text ---------------------------------------------------------------------------

    def _pop(self, key: str, raw: str, content_type: str | None, expecting: bool) -> str:
        """feedparser's `pop`: the text as stored, and stored where feedparser stores it.
        `content_type` is given for elements feedparser reads as content (`push_content`)."""
        output = raw.strip()
        if not expecting:
            return output
        if output and (key == "link" or (key == "id" and self.guid_is_link)):
            output = _resolved(self.base, output)
        if (
            content_type == "text/plain"
            and not self.atom
            and ("<" in output or "&" in output)
            and FeedparserRules.looks_like_html(output)
        ):
            content_type = "text/html"  # feedparser's guess for RSS
        if not output.isascii():
            output = _repaired(output)
        if key in LIST_KEYS or (key == "title" and -1 < self.title_depth <= self.depth):
            return output
        self._store(key, output, content_type)
        return output

    def _store(self, key: str, value: Any, content_type: str | None) -> None:
        if self.inentry and not self.insource:
            entry = self.entries[-1]
            if key == "content":
                entry.setdefault("content", []).append(value)
            elif key == "link":
                if not self.inimage:
                    if "&" in value:
                        value = LINK_REFERENCE.sub(_bare_reference, value.replace("&amp;", "&"))
                    entry["link"] = value
            else:
                key = "summary" if key == "description" else key
                depths = self.depths[-1]
                stored = depths.get(key)
                if stored is None or self.depth <= stored:  # the shallowest element wins
                    depths[key] = self.depth
                    entry[key] = value
                if content_type is not None:
                    entry[f"{key}_detail"] = {"type": content_type}
        elif self.infeed or self.insource:
            context = self._context()
            key = "subtitle" if key == "description" else key
            context[key] = value
            if content_type is not None:
                context[f"{key}_detail"] = {"type": content_type}

    def _title(self, element: Any) -> None:
        content_type = _content_type(element, "text/plain")
        raw = self._content_text(element, content_type)
        expecting = self.infeed or self.inentry or self.insource
        if self._pop("title", raw, content_type, expecting):
            self.title_depth = self.depth

    def _media_title(self, element: Any) -> None:
        standing = self.title_depth
        self._title(element)
        self.title_depth = standing

    def _description(self, element: Any) -> None:
        if "summary" in self._context() and not self.has_content:
            self._content(element)  # a second description is content to feedparser
            return
        expecting = self.infeed or self.inentry or self.insource
        self._text_content(element, "description", "text/html", expecting)

    def _summary(self, element: Any) -> None:
        if "summary" in self._context() and not self.has_content:
            self._content(element)
            return
        self._text_content(element, "summary", "text/plain", True)

    def _abstract(self, element: Any) -> None:
        expecting = self.infeed or self.inentry or self.insource
        self._text_content(element, "description", "text/plain", expecting)

    def _text_content(self, element: Any, key: str, default: str, expecting: bool) -> None:
        content_type = _content_type(element, default)
        self._pop(key, self._content_text(element, content_type), content_type, expecting)

    def _content(self, element: Any, default: str = "text/plain") -> None:
        """Content, kept unread until needed (most entries have a summary, and their content
        is long): the entry's list of contents, and its summary if it has none yet."""
        self.has_content = True
        content_type = _content_type(element, default)
        raw = self._content_text(element, content_type) if content_type == XHTML else None
        if raw is None and len(element):
            raise _Doubtful("markup inside a text element")
        guess = content_type == "text/plain" and not self.atom
        content = _LazyContent(element, raw, content_type, guess)
        self._store("content", content, content_type)
        if content_type in SUMMARY_TYPES:
            self._context().setdefault("summary", content)

    def _html_content(self, element: Any) -> None:
        self._content(element, "text/html")

    def _other_content(self, element: Any) -> None:
        """subtitle, rights, info: not read, but markup in them changes feedparser's state."""
        if len(element) and _content_type(element, "text/plain") != XHTML:
            raise _Doubtful("markup inside a text element")

    def _content_text(self, element: Any, content_type: str) -> str:
        """Text of a content element: XHTML is serialised as feedparser rebuilds it (escaped
        text, tags without a prefix); any other type must be text only."""
        if content_type != XHTML:
            return _leaf_text(element)
        pieces = [piece for piece in self._xhtml_pieces(element, inner=True) if piece]
        return "".join(_unwrapped(pieces) if self.version == "atom10" else pieces)

    def _xhtml_pieces(self, element: Any, *, inner: bool = False) -> Iterable[str]:
        """XHTML content as feedparser's strict parser rebuilds it: text escaped, tags by local
        name, attribute values escaped. Its elements still move feedparser's base URI."""
        if not inner:
            self._enter_base(element)
            qname = etree.QName(element)
            name = qname.localname.lower()
            attributes = list(_attributes(element).items())
            if (name, qname.namespace) in SELF_DECLARED:  # feedparser keeps their namespace
                attributes.insert(0, ("xmlns", qname.namespace))
                if self.names(element.tag)[1]:
                    attributes.append(("xmlns", qname.namespace))
            serialised = "".join(f' {k}="{escape(v, QUOTE_ENTITY)}"' for k, v in attributes)
            yield f"<{name}{serialised}>"
        yield escape(element.text or "")
        for child in element:
            if not isinstance(child.tag, str):
                raise _Doubtful("a node that is not an element")
            yield from self._xhtml_pieces(child)
            yield escape(child.tail or "")
        if not inner:
            yield f"</{name}>"
            self._leave_base()

    def _link(self, element: Any) -> None:
        if not element.items():  # RSS's <link>URL</link>
            expecting = self.infeed or self.inentry or self.insource
            self._pop("link", _leaf_text(element), None, expecting)
            return
        attributes = _attributes(element)
        rel = attributes.setdefault("rel", "alternate")
        attributes.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        href = attributes.get("url", attributes.get("uri", attributes.get("href")))
        if href:
            attributes.pop("url", None)
            attributes.pop("uri", None)
            attributes["href"] = href
        if "href" not in attributes:
            expecting = self.infeed or self.inentry or self.insource
            self._pop("link", _leaf_text(element), None, expecting)
            return
        href = _resolved(self.base, attributes["href"])
        if attributes["rel"] == "alternate" and _mapped_type(attributes["type"]) in HTML_TYPES:
            self._context()["link"] = href
        self._children(element)

    def _guid(self, element: Any) -> None:
        attributes = _attributes(element) if element.items() else {}
        self.guid_is_link = attributes.get("ispermalink", "true") == "true"
        value = self._pop("id", _leaf_text(element), None, True)
        context = self._context()
        context.setdefault("guidislink", self.guid_is_link and "link" not in context)
        if self.guid_is_link:
            context.setdefault("link", value)  # a permalink GUID stands in for a missing link

    def _published(self, element: Any) -> None:
        value = self._pop("published", _leaf_text(element), None, True)
        self._context()["published_parsed"] = value  # parsed when the entry is finished

    def _updated(self, element: Any) -> None:
        value = self._pop("updated", _leaf_text(element), None, True)
        self._context()["updated_parsed"] = value

    # --- tags ---------------------------------------------------------------------------

    def _category(self, element: Any, attributes: dict[str, str] | None = None) -> None:
        attributes = _attributes(element) if attributes is None else attributes
        if attributes:
            self._add_tag(
                attributes.get("term"),
                attributes.get("scheme", attributes.get("domain")),
                attributes.get("label"),
            )
        else:
            self._context().setdefault("tags", [])
        self._end_category(self._pop("category", _leaf_text(element), None, True))

    def _media_category(self, element: Any) -> None:
        attributes = _attributes(element)
        attributes.setdefault("scheme", MEDIA_CATEGORY_SCHEME)
        self._category(element, attributes)

    def _itunes_category(self, element: Any) -> None:
        """iTunes categories nest (a subcategory inside its category): each adds its `text`."""
        self._add_tag(_attributes(element).get("text"), ITUNES, None)
        for child in element:
            if not isinstance(child.tag, str) or self.names(child.tag)[0] != "itunes_category":
                raise _Doubtful("markup inside an iTunes category")
        self._children(element)
        text = (element.text or "") + "".join(child.tail or "" for child in element)
        self._end_category(self._pop("category", text, None, True))

    def _end_category(self, value: str) -> None:
        if not value:
            return
        tags = self._context()["tags"]
        if tags and not tags[-1][0]:
            tags[-1][0] = value
        else:
            self._add_tag(value, None, None)

    def _add_tag(self, term: str | None, scheme: str | None, label: str | None) -> None:
        tags = self._context().setdefault("tags", [])
        if not (term or scheme or label):
            return
        tag = [term, scheme, label]
        if tag not in tags:
            tags.append(tag)

    def _tag_list(self, element: Any) -> None:
        for term in self._pop("tags", _leaf_text(element), None, True).split(","):
            self._add_tag(term.strip(), None, None)

    def _keyword_list(self, element: Any) -> None:
        """media:keywords and itunes:keywords: comma-separated tags, read only when the
        element has no attributes (feedparser pushes it only then)."""
        if element.items():
            self._children(element)
            return
        name, _ = self.names(element.tag)
        scheme = ITUNES if name == "itunes_keywords" else None
        for term in self._pop(name, _leaf_text(element), None, True).split(","):
            if term.strip():
                self._add_tag(term.strip(), scheme, None)


class _LazyContent(Mapping[str, Any]):
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
            if self._guess_html and _looks_like_html(output):
                content_type = "text/html"
            if not output.isascii():
                output = _repaired(output)
            self._read = {"type": content_type, "value": output}
        return self._read

    def __getitem__(self, key: str) -> str:
        return self._value()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._value())

    def __len__(self) -> int:
        return len(self._value())


def _unwrapped(pieces: list[str]) -> list[str]:
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


def _leaf_text(element: Any) -> str:
    if len(element):
        raise _Doubtful("markup inside a text element")
    text: str = element.text or ""
    return text


def _content_type(element: Any, default: str) -> str:
    """feedparser's content type of a text construct (its `push_content`); base64 content,
    which it would decode, is left to it."""
    if not element.items():
        return default
    attributes = _attributes(element)
    content_type = _mapped_type(attributes.get("type", default))
    if attributes.get("mode") == "base64" or not (
        content_type.startswith("text/") or content_type.endswith(("+xml", "/xml"))
    ):
        raise _Doubtful("base64 content")
    return content_type


def _looks_like_html(text: str) -> bool:
    """feedparser's guess that plain text is HTML (it needs a `<` or `&` to say yes)."""
    return ("<" in text or "&" in text) and bool(FeedparserRules.looks_like_html(text))


def _resolved(base: str, link: str) -> str:
    """feedparser's `_urljoin(base, link)`; without a base and without `:///` to mend, the
    link comes back as it is."""
    if not base and ":///" not in link:
        return link
    resolved: str = feedparser_urljoin(base, link)
    return resolved


def _bare_reference(match: re.Match[str]) -> str:
    return "&" + match.group(1)


def _mapped_type(content_type: str) -> str:
    mapped: str = FeedparserRules.map_content_type(content_type)
    return mapped


@functools.lru_cache(maxsize=256)
def _absolute(base: str, given: str) -> str:
    absolute: str = make_safe_absolute_uri(base, given)
    return absolute


def _finished(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry in feedparser's shapes: tags as mappings, dates parsed, summary read."""
    if isinstance(entry.get("summary"), _LazyContent):
        entry["summary"] = entry["summary"]["value"]
    if "tags" in entry:
        entry["tags"] = [dict(zip(TAG_FIELDS, tag, strict=True)) for tag in entry["tags"]]
    for key in ("published_parsed", "updated_parsed"):
        if key in entry:
            entry[key] = parsed_date(entry[key])
    return entry


def parsed_date(text: str) -> tuple[int, ...] | None:
    """feedparser's reading of a date, as a UTC (year, month, day, hour, minute, second):
    RFC 822 and W3C dates in their usual shapes are read here (feedparser reads them the same
    way), anything else by feedparser itself."""
    fields = _rfc822_fields(text) or _w3c_fields(text)
    if fields is not None:
        year, month, day, hour, minute, second, offset = fields
        try:
            moment = datetime(year, month, day, hour, minute, second) - offset
            return moment.timetuple()[:6]
        except (ValueError, OverflowError):
            pass
    parsed = feedparser_date(text)
    return tuple(parsed[:6]) if parsed else None


def _rfc822_fields(text: str) -> tuple[int, int, int, int, int, int, timedelta] | None:
    match = RFC822_DATE.fullmatch(text)
    if match is None:
        return None
    day, month_name, year, hour, minute, second, zone = match.groups()
    month = MONTHS.get(month_name.lower())
    if month is None:
        return None
    zone = zone.lower()
    if zone[0] in "+-":
        hours, minutes = int(zone[1:3]), int(zone[3:5])
        offset = timedelta(hours=hours, minutes=minutes)
        offset = -offset if zone[0] == "-" else offset
    else:
        if zone.startswith("gmt"):
            zone = zone[3:] or "gmt"
        offset = timedelta(hours=ZONE_HOURS.get(zone, 0))
    return int(year), month, int(day), int(hour), int(minute), int(second or 0), offset


def _w3c_fields(text: str) -> tuple[int, int, int, int, int, int, timedelta] | None:
    match = W3C_DATE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    offset = timedelta(0)
    if zone not in "Zz":
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        offset = -offset if zone[0] == "-" else offset
    return int(year), int(month), int(day), int(hour), int(minute), int(second or 0), offset
