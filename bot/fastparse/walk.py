"""The walk: lxml's tree in document order, with the part of feedparser's state that decides
what Dozor reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from feedparser.api import StrictFeedParser
from feedparser.mixin import _FeedParserMixin as FeedparserRules
from feedparser.urls import _urljoin as feedparser_urljoin
from lxml import etree

from bot.fastparse.encoding import repaired
from bot.fastparse.model import Doubtful, FeedRead
from bot.fastparse.names import (
    NETSCAPE_RSS090,
    RSS_VERSIONS,
    VERSION_NAMESPACES,
    ElementNames,
    attributes_of,
)
from bot.fastparse.values import (
    LazyContent,
    absolute,
    content_type_of,
    finished,
    leaf_text,
    mapped_type,
    resolved,
    stored_link,
    unwrapped,
)

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


QUOTE_ENTITY = {'"': "&quot;"}
# Elements with an end handler in feedparser: inside content it still calls it (and a
# `</title>` there would end the title), so content holding one is left to it.
END_HANDLED = frozenset(
    name.removeprefix("_end_") for name in dir(StrictFeedParser) if name.startswith("_end_")
)
SELF_DECLARED = {
    ("svg", "http://www.w3.org/2000/svg"),
    ("math", "http://www.w3.org/1998/Math/MathML"),
}


class Reading:
    """One document walked in document order with the part of feedparser's state that decides
    what Dozor reads: where we are (feed, entry, source, image, text input), element depth,
    the depth of the title that stands, whether the entry has content, the base URI."""

    def __init__(self, names: ElementNames, follow_base: bool) -> None:
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
        self.steps: dict[str, tuple[Callable[[Any], None] | None, bool, bool]] = {}
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
        return FeedRead(self.version, self.feed, [finished(entry) for entry in self.entries])

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
                given = attributes_of(root).get("version", "")
                version = RSS_VERSIONS.get(given) or ("rss20" if given.startswith("2.") else "rss")
            return version
        if name == "feed" and version == "atom10":
            return version
        if name == "rdf_rdf" and version in ("rss090", "rss10"):
            return version
        raise Doubtful(f"root {name!r} as {version or 'no version'}")

    def _children(self, element: Any) -> None:
        """Each child in turn, as feedparser's start and end handlers see it: its image/textinput
        hack, depth, base URI, then the element's handler. (The walk's hot path: an empty
        element without a handler changes nothing else, and is passed by.)"""
        steps, follow_base = self.steps, self.follow_base
        for child in element:
            handler, ends_textinput, ends_image = steps.get(child.tag) or self._learn(child.tag)
            if ends_textinput:
                self.intextinput = False
            if ends_image:
                self.inimage = False
            if handler is None:
                if not len(child) and not follow_base:
                    continue
                handler = self._children
            self.depth += 1
            if follow_base:
                self._enter_base(child)
            handler(child)
            if follow_base:
                self._leave_base()
            self.depth -= 1

    def _learn(self, tag: object) -> tuple[Callable[[Any], None] | None, bool, bool]:
        """How feedparser treats elements with this tag: its handler (or none: the element's
        children are walked, as it may hold, say, a media:title, and nothing else happens), and
        its hack for empty image/textinput elements in ill-formed feeds (an unprefixed element
        other than a few ends them)."""
        if not isinstance(tag, str):
            raise Doubtful("a node that is not an element")
        name, prefixed = self.names(tag)
        if name in UNFOLLOWED or name.startswith(UNFOLLOWED_PREFIXES):
            raise Doubtful(f"element {name!r}")
        if name in RESERVED_KEYS:
            raise Doubtful(f"element {name!r} would write one of our keys")
        step = (
            self.handlers.get(name),
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
            attributes = attributes_of(element)
            given = attributes.get("xml:base", attributes.get("base")) or self.base
            if self.base:
                self.base = absolute(self.base, given) or self.base
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
            raise Doubtful("an entry inside an image, text input or source")
        attributes = attributes_of(element)
        if "lastmod" in attributes or "href" in attributes:
            raise Doubtful("CDF attributes on an entry")
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
            raise Doubtful("an image inside a source, image or text input")
        if not self.inentry:
            self.feed.setdefault("image", {})
        self.inimage, self.title_depth = True, -1
        self._children(element)
        self.inimage = False

    def _itunes_image(self, element: Any) -> None:
        """Not read, but it gives the feed the image that feedparser then writes to."""
        attributes = attributes_of(element)
        if attributes.get("href") or attributes.get("url"):
            self._context()["image"] = {}
        self._children(element)

    def _textinput(self, element: Any) -> None:
        if self.inentry or self.insource or self.inimage or self.intextinput:
            raise Doubtful("a text input inside an entry, source, image or text input")
        self.feed.setdefault("textinput", {})
        self.intextinput, self.title_depth = True, -1
        self._children(element)
        self.intextinput = False

    def _source(self, element: Any) -> None:
        if self.insource:
            raise Doubtful("a source inside a source")
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
            output = resolved(self.base, output)
        if (
            content_type == "text/plain"
            and not self.atom
            and ("<" in output or "&" in output)
            and FeedparserRules.looks_like_html(output)
        ):
            content_type = "text/html"  # feedparser's guess for RSS
        if not output.isascii():
            output = repaired(output)
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
                    entry["link"] = stored_link(value) if "&" in value else value
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
        raw, content_type = self._content_text(element, content_type_of(element, "text/plain"))
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
        raw, content_type = self._content_text(element, content_type_of(element, default))
        self._pop(key, raw, content_type, expecting)

    def _content(self, element: Any, default: str = "text/plain") -> None:
        """Content, kept unread until needed (most entries have a summary, and their content
        is long): the entry's list of contents, and its summary if it has none yet."""
        self.has_content = True
        content_type = content_type_of(element, default)
        raw = None
        if content_type == XHTML or len(element):
            raw, content_type = self._content_text(element, content_type)
        guess = content_type == "text/plain" and not self.atom
        content = LazyContent(element, raw, content_type, guess)
        self._store("content", content, content_type)
        if content_type in SUMMARY_TYPES:
            self._context().setdefault("summary", content)

    def _html_content(self, element: Any) -> None:
        self._content(element, "text/html")

    def _other_content(self, element: Any) -> None:
        """subtitle, rights, info: not read, but markup in them moves feedparser's base URI
        and depth."""
        if len(element):
            self._content_text(element, content_type_of(element, "text/plain"))

    def _content_text(self, element: Any, content_type: str) -> tuple[str, str]:
        """Text of a content element, and its type, as feedparser's strict parser leaves them.
        Markup inside is rebuilt as feedparser rebuilds it: XHTML from the start (escaped text,
        tags without a prefix); in HTML or plain text, a child other than a `<div>` turns the
        content into XHTML from that tag on, text before it staying as it was."""
        if content_type != XHTML and not len(element):
            return element.text or "", content_type
        if content_type.endswith("xml") and content_type != XHTML:
            raise Doubtful("markup inside XML content")  # feedparser would follow its tags
        pieces, content_type = self._markup_pieces(element, content_type)
        if self.version == "atom10" and content_type == XHTML:
            pieces = unwrapped(pieces)
        return "".join(pieces), content_type

    def _markup_pieces(self, element: Any, content_type: str) -> tuple[list[str], str]:
        """The non-empty pieces feedparser's strict parser adds to a content element with
        markup in it, and the content's type when it ends: start tags by local name with their
        attributes escaped, end tags, text escaped once the content is XHTML. The children
        still move feedparser's base URI and depth (a `<div>` ended before the change leaves
        both as they were inside it, as in feedparser). Where feedparser's own handlers would
        act on a tag, or text before the change holds a `<` its Atom unwrapping could take for
        a tag, the content is left to feedparser."""
        pieces: list[str] = []
        xhtml = content_type == XHTML
        self._add_text(pieces, element.text, xhtml)
        for event, node in etree.iterwalk(element, events=("start", "end")):
            if node is element:
                continue
            if event == "end":
                if xhtml:
                    pieces.append(f"</{etree.QName(node).localname.lower()}>")
                    self._leave_base()
                else:  # feedparser returns early from a div's end: its depth and base stay
                    self.depth += 1
                self._add_text(pieces, node.tail, xhtml)
                continue
            if not isinstance(node.tag, str):
                raise Doubtful("a node that is not an element")
            name, prefixed = self.names(node.tag)
            if name in END_HANDLED:
                raise Doubtful(f"element {name!r} inside content")
            self._enter_base(node)
            if not xhtml and name != ("xhtml_div" if prefixed else "div"):
                xhtml = True  # feedparser: "declared itself as escaped markup, but it isn't"
            if xhtml:
                pieces.append(self._start_tag(node))
            self._add_text(pieces, node.text, xhtml)
        return pieces, XHTML if xhtml else content_type

    def _add_text(self, pieces: list[str], text: str | None, xhtml: bool) -> None:
        if not text:
            return
        if xhtml:
            pieces.append(escape(text))
        elif "<" in text and self.version == "atom10":
            raise Doubtful("a '<' in text before markup in Atom content")
        else:
            pieces.append(text)

    def _start_tag(self, element: Any) -> str:
        """A start tag as feedparser rebuilds it in XHTML content: the local name, then the
        attributes as its handlers see them (SVG and MathML keep their namespace)."""
        qname = etree.QName(element)
        name = qname.localname.lower()
        attributes = list(attributes_of(element).items())
        if (name, qname.namespace) in SELF_DECLARED:  # feedparser keeps their namespace
            attributes.insert(0, ("xmlns", qname.namespace))
            if self.names(element.tag)[1]:
                attributes.append(("xmlns", qname.namespace))
        serialised = "".join(f' {k}="{escape(v, QUOTE_ENTITY)}"' for k, v in attributes)
        return f"<{name}{serialised}>"

    def _link(self, element: Any) -> None:
        if not element.items():  # RSS's <link>URL</link>
            expecting = self.infeed or self.inentry or self.insource
            self._pop("link", leaf_text(element), None, expecting)
            return
        attributes = attributes_of(element)
        rel = attributes.setdefault("rel", "alternate")
        attributes.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        href = attributes.get("url", attributes.get("uri", attributes.get("href")))
        if href:
            attributes.pop("url", None)
            attributes.pop("uri", None)
            attributes["href"] = href
        if "href" not in attributes:
            expecting = self.infeed or self.inentry or self.insource
            self._pop("link", leaf_text(element), None, expecting)
            return
        href = resolved(self.base, attributes["href"])
        if attributes["rel"] == "alternate" and mapped_type(attributes["type"]) in HTML_TYPES:
            self._context()["link"] = href
        self._children(element)

    def _guid(self, element: Any) -> None:
        attributes = attributes_of(element) if element.items() else {}
        self.guid_is_link = attributes.get("ispermalink", "true") == "true"
        value = self._pop("id", leaf_text(element), None, True)
        context = self._context()
        context.setdefault("guidislink", self.guid_is_link and "link" not in context)
        if self.guid_is_link:
            context.setdefault("link", value)  # a permalink GUID stands in for a missing link

    def _published(self, element: Any) -> None:
        value = self._pop("published", leaf_text(element), None, True)
        self._context()["published_parsed"] = value  # parsed when the entry is finished

    def _updated(self, element: Any) -> None:
        value = self._pop("updated", leaf_text(element), None, True)
        self._context()["updated_parsed"] = value

    # --- tags ---------------------------------------------------------------------------

    def _category(self, element: Any, attributes: dict[str, str] | None = None) -> None:
        attributes = attributes_of(element) if attributes is None else attributes
        if attributes:
            self._add_tag(
                attributes.get("term"),
                attributes.get("scheme", attributes.get("domain")),
                attributes.get("label"),
            )
        else:
            self._context().setdefault("tags", [])
        self._end_category(self._pop("category", leaf_text(element), None, True))

    def _media_category(self, element: Any) -> None:
        attributes = attributes_of(element)
        attributes.setdefault("scheme", MEDIA_CATEGORY_SCHEME)
        self._category(element, attributes)

    def _itunes_category(self, element: Any) -> None:
        """iTunes categories nest (a subcategory inside its category): each adds its `text`."""
        self._add_tag(attributes_of(element).get("text"), ITUNES, None)
        for child in element:
            if not isinstance(child.tag, str) or self.names(child.tag)[0] != "itunes_category":
                raise Doubtful("markup inside an iTunes category")
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
        for term in self._pop("tags", leaf_text(element), None, True).split(","):
            self._add_tag(term.strip(), None, None)

    def _keyword_list(self, element: Any) -> None:
        """media:keywords and itunes:keywords: comma-separated tags, read only when the
        element has no attributes (feedparser pushes it only then)."""
        if element.items():
            self._children(element)
            return
        name, _ = self.names(element.tag)
        scheme = ITUNES if name == "itunes_keywords" else None
        for term in self._pop(name, leaf_text(element), None, True).split(","):
            if term.strip():
                self._add_tag(term.strip(), scheme, None)
