"""The fast XML road (`bot.fastparse`) reads what the feedparser road reads, and stays as safe.

Every test here parses the same bytes both ways: `parse_feed` as it is (fast road first), and
`parse_feed` with the fast road switched off (feedparser, the reference). A difference is a bug
in the fast road, and the failure message lists every one.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import pytest
from feedparser.datetimes import _parse_date as feedparser_date
from feedparser.encodings import convert_to_utf8
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.parse
from bot import fastparse
from bot.models import Item
from bot.parse import ParsedFeed, parse_feed
from tests.conftest import CORPUS

FEED_URL = "https://feeds.example.org/news/feed.xml"
ITEM_FIELDS = ("key", "url", "canonical_url", "title", "summary", "published", "categories")
# Files the fast road must leave to feedparser: broken XML (feedparser's loose parser reads it,
# and reads it differently), Atom inside XHTML (a DOCTYPE, and feedparser's <body> handling).
LEFT_TO_FEEDPARSER = {
    "en_guardian_world_2022-09-25_rss2_noxmldecl.xml",
    "en_reuters_mostread_2020_broken_server_error.xml",
    "pl_openstreetmap_org_pl_wordpress_rss2.xml",
    "en_tablix_atom_wrapped_in_xhtml_html.xml",
}


@dataclass(frozen=True)
class Reading:
    fast: ParsedFeed
    reference: ParsedFeed
    fast_road_taken: bool


def read_both(body: bytes, *, url: str = FEED_URL, content_type: str | None = None) -> Reading:
    """`body` parsed as Dozor does, and by feedparser alone; and whether the fast road read it."""
    taken: list[bool] = []
    real_read_fast = bot.parse._read_fast

    def spy(*args: Any) -> Any:
        result = real_read_fast(*args)
        taken.append(result is not None)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.parse, "_read_fast", spy)
        fast = parse_feed(body, url=url, content_type=content_type)
        patch.setattr(bot.parse, "_read_fast", lambda *args: None)
        reference = parse_feed(body, url=url, content_type=content_type)
    return Reading(fast, reference, any(taken))


def differences(name: str, reading: Reading) -> Iterator[str]:
    """Every way the two readings differ, one line each: file, item, field, both values."""
    fast, reference = reading.fast, reading.reference
    for field in ("title", "warning", "format"):
        if getattr(fast, field) != getattr(reference, field):
            yield (
                f"{name}: feed {field}: fast {getattr(fast, field)!r} "
                f"!= feedparser {getattr(reference, field)!r}"
            )
    if len(fast.items) != len(reference.items):
        yield f"{name}: {len(fast.items)} items fast, {len(reference.items)} by feedparser"
    for number, (mine, theirs) in enumerate(zip(fast.items, reference.items, strict=False)):
        for field in ITEM_FIELDS:
            if getattr(mine, field) != getattr(theirs, field):
                yield (
                    f"{name}: item {number} ({theirs.key[:60]}): {field}: "
                    f"fast {_short(getattr(mine, field))} "
                    f"!= feedparser {_short(getattr(theirs, field))}"
                )


def assert_alike(name: str, reading: Reading, body: bytes | None = None) -> None:
    """Fails with every difference between the two readings (and the document, if given)."""
    found = list(differences(name, reading))
    shown = "" if body is None else "\n" + body.decode()
    assert not found, "\n".join(found) + shown


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def identical_items(reading: Reading) -> int:
    pairs = zip(reading.fast.items, reading.reference.items, strict=False)
    return sum(mine == theirs for mine, theirs in pairs)


# --- the corpus ------------------------------------------------------------------------------


def test_the_corpus_reads_the_same_both_ways(corpus_dir: Path) -> None:
    names = sorted(path.name for path in corpus_dir.iterdir())
    found: list[str] = []
    same = total = 0
    fast_files: list[str] = []
    for name in names:
        body = (corpus_dir / name).read_bytes()
        reading = read_both(body, url=f"https://feeds.example.org/x/{name}")
        found += differences(name, reading)
        same += identical_items(reading)
        total += max(len(reading.fast.items), len(reading.reference.items))
        if reading.fast_road_taken:
            fast_files.append(name)
    report = "\n".join(found)
    assert total > 1700
    assert same >= 0.99 * total, f"{same}/{total} identical items; differences:\n{report}"
    assert not [line for line in found if ": feed " in line or " items fast, " in line], report
    left = sorted(set(names) - set(fast_files))
    assert set(left) <= LEFT_TO_FEEDPARSER, f"left to feedparser: {left}"
    assert len(fast_files) >= len(names) - len(LEFT_TO_FEEDPARSER)


# --- generated feeds ---------------------------------------------------------------------------

TEXTS = [
    "Plain title",
    "  padded \n\t text  ",
    "<b>bold</b> and <i>italic</i>",
    "&lt;p&gt;escaped once&lt;/p&gt; &amp;amp; twice",
    "A &amp; B &lt; C",
    "Café Minsk",
    "Ã©tÃ© mojibake",
    "\u0080\u0099 C1 controls",
    "Минск и Лукашенко",
    "x &amp;nbsp; y &amp;#8217; z",
    "",
    "   ",
    "<![CDATA[<p>Para</p><p>graph</p> &nbsp; R&D]]>",
    "<![CDATA[Lukash<b>enko</b> &amp; co]]>",
    "a&#160;b&#x2019;c",
    "&lt;script&gt;evil()&lt;/script&gt;Text",
    "Price: 5 &lt; 6 &gt; 4",
    "ﬁ ligature\u00ad soft",
    "fÃ¼r KÃ¶ln",
]
LINKS = [
    "https://example.org/a?utm_source=rss&amp;b=2",
    "  https://EXAMPLE.org:443/p#frag \n",
    "/relative/path.html",
    "relative.html",
    "javascript:alert(1)",
    "http:///triple/slash",
    "https://example.org/a?x=1&amp;y;=2",
    "<![CDATA[ https://rt.com/x?utm_source=rss ]]>",
    "",
    "tag:example.org,2024:1",
    "https://пример.рф/путь",
]
DATES = [
    "Mon, 30 Dec 2019 11:38:00 +0300",
    "30 Dec 2019 11:38 GMT",
    "Sat, 04 Oct 2013 10:00:00 EST",
    "Wed, 17 Jan 2018 15:50:00 EST",
    "Tue, 31 Feb 2019 10:00:00 GMT",
    "Mon, 30 Dec 19 11:38:00 +0300",
    "Mon, 30 Dec 2019 11:38:00 +03:00",
    "Thu, 01 Jan 1970 00:00:00 MSK",
    "Sun, 1 June 2014 7:05:09 -0730",
    "2024-05-01T12:00:00+02:00",
    "2024-05-01T12:00:00.123Z",
    "2024-05-01t12:00z",
    "2019-05-18 10:58:46 +0300",
    "2024-13-01T00:00:00Z",
    "2024-05-01",
    "not a date",
    "",
]


def _texts() -> st.SearchStrategy[str]:
    return st.sampled_from(TEXTS)


def _element(name: str, text: st.SearchStrategy[str], attributes: str = "") -> Any:
    return text.map(lambda value: f"<{name}{attributes}>{value}</{name}>")


def _typed(name: str) -> Any:
    """A text construct with each of Atom's types (and none)."""
    xhtml = _texts().map(
        lambda value: (
            f'<{name} type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            f"<p>{value}</p><br/><em>x</em></div></{name}>"
        )
    )
    plain = st.sampled_from(["", ' type="text"', ' type="html"', ' type="TEXT/HTML"'])
    return st.one_of(
        xhtml, st.tuples(plain, _texts()).map(lambda p: f"<{name}{p[0]}>{p[1]}</{name}>")
    )


def _leaves() -> Any:
    link_text = st.sampled_from(LINKS)
    href = st.sampled_from([link.strip("< >") for link in LINKS if "CDATA" not in link])
    rel = st.sampled_from(["", ' rel="alternate"', ' rel="self"', ' rel="enclosure"', ' rel=""'])
    kind = st.sampled_from(["", ' type="text/html"', ' type="application/atom+xml"'])
    return st.one_of(
        _typed("title"),
        _typed("summary"),
        _typed("content"),
        _element("description", _texts()),
        _element("content:encoded", _texts()),
        _element("dc:title", _texts()),
        _element("media:title", _texts()),
        _element("media:description", _texts()),
        _element("itunes:summary", _texts()),
        _element("link", link_text),
        st.tuples(rel, kind, href).map(lambda p: f'<link{p[0]}{p[1]} href="{p[2]}"/>'),
        st.tuples(rel, href).map(lambda p: f'<atom:link{p[0]} href="{p[1]}"/>'),
        _element("guid", link_text, ' isPermaLink="false"'),
        _element("guid", link_text, ' isPermaLink="True"'),
        _element("guid", link_text),
        _element("id", link_text),
        _element("pubDate", st.sampled_from(DATES)),
        _element("dc:date", st.sampled_from(DATES)),
        _element("updated", st.sampled_from(DATES)),
        _element("published", st.sampled_from(DATES)),
        _element("lastBuildDate", st.sampled_from(DATES)),
        _element("category", _texts()),
        _element("category", _texts(), ' domain="https://example.org/c"'),
        st.sampled_from(['<category term="World"/>', '<category term="A" label="B"/>']),
        _element("dc:subject", _texts()),
        _element("media:category", _texts()),
        _element("media:keywords", st.sampled_from(["a, b, ,c", "Minsk,Brest"])),
        _element("itunes:keywords", st.sampled_from(["a, b", ""])),
        st.just(
            '<itunes:category text="News"><itunes:category text="Politics"/></itunes:category>'
        ),
        st.just('<itunes:image href="https://example.org/i.png"/>'),
        st.just('<enclosure url="https://example.org/e.mp3" type="audio/mpeg"/>'),
        _element("comments", link_text),
        _element("source", _texts(), ' url="https://example.org/src"'),
        st.just("<author><name>Someone</name><email>a@example.org</email></author>"),
        st.just("<item/>"),
        _element("abstract", _texts()),
        _element("dcterms:issued", st.sampled_from(DATES)),
        _element("dcterms:modified", st.sampled_from(DATES)),
        _element("keywords", _texts()),
        _element("tags", st.sampled_from(["a, b", " ,x,,y "])),
        _element("fullitem", _texts()),
        _typed("subtitle"),
        _element("rights", _texts()),
        st.sampled_from(['<category x:term="Unknown ns"/>', '<link xml:base="/b/" href="c"/>']),
        st.just("<textinput><title>Search</title><link>https://example.org/s</link></textinput>"),
        st.just("<image><title>Logo</title><url>https://example.org/l.png</url></image>"),
    )


def _children(depth: int = 0) -> Any:
    leaf = _leaves()
    if depth >= 2:
        return st.lists(leaf, max_size=6)
    wrapped = st.tuples(
        st.sampled_from(
            [
                ("<media:group>", "</media:group>"),
                ('<media:content url="https://example.org/v.mp4">', "</media:content>"),
                ("<x:wrap>", "</x:wrap>"),
                ('<x:wrap a="1">', "</x:wrap>"),
                ("<image>", "</image>"),
                ('<source><link href="https://source.example/"/>', "</source>"),
                ("<source><title>Source title</title>", "</source>"),
                ('<div xml:base="https://base.example/dir/">', "</div>"),
            ]
        ),
        st.deferred(lambda: _children(depth + 1)),
    ).map(lambda p: p[0][0] + "".join(p[1]) + p[0][1])
    return st.lists(st.one_of(leaf, leaf, leaf, wrapped), max_size=9)


NAMESPACES = (
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:x="urn:example:unknown" '
    'xmlns:dcterms="http://purl.org/dc/terms/"'
)


def _document(kind: str, channel: list[str], entries: list[list[str]], base: str) -> bytes:
    if kind == "atom":
        body = "".join(f"<entry>{''.join(entry)}</entry>" for entry in entries)
        text = (
            f'<feed xmlns="http://www.w3.org/2005/Atom" {NAMESPACES}{base}>'
            f"{''.join(channel)}{body}</feed>"
        )
    elif kind == "rdf":
        body = "".join(
            f'<item rdf:about="https://example.org/{n}">{"".join(entry)}</item>'
            for n, entry in enumerate(entries)
        )
        text = (
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            f'xmlns="http://purl.org/rss/1.0/" {NAMESPACES}{base}>'
            f"<channel>{''.join(channel)}</channel>{body}</rdf:RDF>"
        )
    else:
        body = "".join(f"<item>{''.join(entry)}</item>" for entry in entries)
        text = (
            f'<rss version="{kind}" {NAMESPACES}{base}><channel>'
            f"{''.join(channel)}{body}</channel></rss>"
        )
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode()


documents = st.builds(
    _document,
    st.sampled_from(["2.0", "0.91", "atom", "rdf"]),
    st.lists(_leaves(), max_size=4),
    st.lists(_children(), min_size=1, max_size=3),
    st.sampled_from(["", ' xml:base="https://base.example/feed/"', ' xml:base="/blog/"']),
)


# Generated documents compared: as many as FASTPARSE_EXAMPLES asks (more for a deeper look).
compared = settings(
    max_examples=int(os.environ.get("FASTPARSE_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def fast_road_taken(strategy: st.SearchStrategy[bytes], examples: int = 60) -> int:
    """How many of `examples` generated documents take the fast road: a comparison test is
    worth something only if most do (else it compares feedparser with itself)."""
    taken = 0

    @settings(max_examples=examples, deadline=None, database=None)
    @given(strategy)
    def count(body: bytes) -> None:
        nonlocal taken
        taken += read_both(body).fast_road_taken

    count()
    return taken


@compared
@given(documents)
def test_generated_feeds_read_the_same_both_ways(body: bytes) -> None:
    reading = read_both(body)
    assert_alike("generated", reading, body)


def test_the_generated_feeds_mostly_take_the_fast_road() -> None:
    assert fast_road_taken(documents) >= 30


# --- markup inside text elements ----------------------------------------------------------
# Feeds often put raw HTML elements in a <description>: feedparser rebuilds them as markup (its
# content turns XHTML at the first tag that is not a <div>), and both roads must agree on it.

MARKUP_TEXTS = [
    "Text",
    " ",
    "\n  ",
    "A &amp; B",
    "5 &lt; 6 &gt; 4",
    "&lt;b&gt;escaped&lt;/b&gt; &amp;amp;",
    "Café Ã©tÃ©",
    "<![CDATA[<i>cdata</i> & <more>]]>",
    "x&#160;y&#x2019;",
    "&lt;div&gt;",
    "&lt;/div&gt;",
]
MARKUP_TAGS = [
    ("p", ""),
    ("p", ""),
    ("div", ""),
    ("div", ""),
    ("DIV", ' class="x"'),
    ("div", ' xml:base="https://div.example/d/"'),
    ("a", ' href="https://example.org/a?x=1&amp;y=&quot;2&quot;&lt;"'),
    ("span", ' style="color: red" xml:base="/inner/"'),
    ("em", ""),
    ("br", ""),
    ("img", ' src="i.png" alt="a &lt; b"'),
    ("figure", ""),
    ("li", ""),
    ("script", ""),
    ("h:p", ' xmlns:h="http://www.w3.org/1999/xhtml"'),
    ("h:div", ' xmlns:h="http://www.w3.org/1999/xhtml"'),
    ("div", ' xmlns="http://www.w3.org/1999/xhtml"'),
    ("x:em", ""),
    ("x:div", ""),
    ("svg", ' xmlns="http://www.w3.org/2000/svg" width="1"'),
    ("m:math", ' xmlns:m="http://www.w3.org/1998/Math/MathML"'),
]
# feedparser's handlers act on these inside content, so it must read them
HANDLED_TAGS = [("source", ' src="v.mp4"'), ("title", ""), ("link", "")]
KINDS = ["", ' type="text"', ' type="html"', ' type="xhtml"', ' type="TEXT/HTML"']
RARE_KINDS = [' type="text/plain"', ' type="text/xml"', ' type="application/xml"']
TEXT_ELEMENTS = ["title", "description", "summary", "content", "content:encoded", "dc:title"]
TEXT_ELEMENTS += ["media:title", "media:description", "itunes:summary", "subtitle", "rights"]
TEXT_ELEMENTS += ["abstract", "fullitem", "dc:description"]


@dataclass(frozen=True)
class Markup:
    """What generated markup may hold: these tags, and these types on text elements."""

    tags: list[tuple[str, str]]
    kinds: list[str]

    def mixed(self, depth: int = 0) -> Any:
        """Well-formed mixed content: text, and elements nested up to three deep."""
        text = st.sampled_from(MARKUP_TEXTS)
        if depth >= 3:
            return text
        element = st.tuples(st.sampled_from(self.tags), st.deferred(lambda: self.mixed(depth + 1)))
        tagged = element.map(lambda p: f"<{p[0][0]}{p[0][1]}>{p[1]}</{p[0][0]}>")
        return st.lists(st.one_of(text, tagged), max_size=4).map("".join)

    def text_element(self, name: str) -> Any:
        return st.tuples(st.sampled_from(self.kinds), self.mixed()).map(
            lambda p: f"<{name}{p[0]}>{p[1]}</{name}>"
        )

    def leaves(self) -> Any:
        return st.one_of(
            st.one_of(*(self.text_element(name) for name in TEXT_ELEMENTS)),
            _element("guid", st.sampled_from(LINKS)),
            _element("link", st.sampled_from(LINKS)),
            _element("pubDate", st.sampled_from(DATES)),
            _element("category", _texts()),
            st.just('<link rel="alternate" href="/atom-link"/>'),
        )

    def children(self) -> Any:
        wrapped = st.tuples(
            st.sampled_from(
                [
                    ("<image>", "</image>"),
                    ("<source>", "</source>"),
                    ('<media:content url="https://example.org/v.mp4">', "</media:content>"),
                    ('<x:wrap xml:base="https://base.example/dir/">', "</x:wrap>"),
                ]
            ),
            st.lists(self.leaves(), max_size=6),
        ).map(lambda p: p[0][0] + "".join(p[1]) + p[0][1])
        return st.lists(st.one_of(self.leaves(), self.leaves(), wrapped), max_size=8)

    def documents(self) -> Any:
        return st.builds(
            _document,
            st.sampled_from(["2.0", "0.91", "atom", "rdf"]),
            st.lists(self.leaves(), max_size=3),
            st.lists(self.children(), min_size=1, max_size=3),
            st.sampled_from(["", ' xml:base="https://base.example/feed/"']),
        )


# Most documents hold markup the fast road reads; some, markup it must leave to feedparser.
readable_markup = Markup(MARKUP_TAGS, KINDS).documents()
markup_documents = st.one_of(
    readable_markup,
    readable_markup,
    Markup(MARKUP_TAGS + HANDLED_TAGS, KINDS + RARE_KINDS).documents(),
)


@compared
@given(markup_documents)
def test_markup_inside_text_reads_the_same_both_ways(body: bytes) -> None:
    reading = read_both(body)
    assert_alike("markup", reading, body)


def test_feeds_with_markup_inside_text_mostly_take_the_fast_road() -> None:
    assert fast_road_taken(readable_markup) >= 30


BARE_AMPERSAND = re.compile(rb"&(?![A-Za-z_][\w.-]*;|#[0-9]+;|#x[0-9A-Fa-f]+;)")


def _bare_ampersands_escaped(body: bytes) -> bytes:
    """`body` with each '&' that starts no entity or character reference escaped."""
    return BARE_AMPERSAND.sub(b"&amp;", body)


def test_html_inside_guardian_descriptions_is_read_fast(corpus_dir: Path) -> None:
    """The Guardian's descriptions hold raw HTML elements. The feed is also broken XML (bare
    '&'), so it goes to feedparser as it is; with those escaped it is well-formed, and read
    fast, to the same items."""
    original = (corpus_dir / "en_guardian_world_2022-09-25_rss2_noxmldecl.xml").read_bytes()
    reading = read_both(_bare_ampersands_escaped(original))
    assert reading.fast_road_taken
    assert len(reading.fast.items) == 54
    assert_alike("guardian", reading)
    assert reading.fast.items == read_both(original).reference.items


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'<rss version="2.0"><channel><item><title>a<b>b</b></title><description>'
            b'<p>Text <a href="https://a.example/?x=1&amp;y=2">link</a></p>&lt;i&gt;</description>'
            b"</item></channel></rss>",
            id="html-elements-in-rss-text",
        ),
        pytest.param(
            b'<rss version="2.0"><channel><item><description>5 &lt; 6 <div>&lt;b&gt;x</div>'
            b"<p>&lt;b&gt;y</p></description></item></channel></rss>",
            id="text-before-the-first-tag-stays-unescaped",
        ),
        pytest.param(
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><summary type="html">'
            b"<div><p>A</p> B</div></summary><content>  <div>C <em>D</em></div> </content>"
            b"</entry></feed>",
            id="atom-html-with-elements-unwrapped-as-xhtml",
        ),
        pytest.param(
            b'<rss version="2.0"><channel><item><guid>1</guid><description><div>only'
            b"<div>divs</div></div></description></item></channel></rss>",
            id="divs-alone-leave-the-type",
        ),
        pytest.param(
            b'<rss version="2.0"><channel><item><title></title><title>Text<div></div></title>'
            b"</item></channel></rss>",
            id="a-div-before-markup-leaves-feedparser-one-level-deeper",
        ),
        pytest.param(
            b'<rss version="2.0" xml:base="https://base.example/feed/"><channel><item>'
            b'<description><div xml:base="https://div.example/d/"><div>x</div></div>'
            b"</description><link>relative.html</link></item></channel></rss>",
            id="a-div-before-markup-leaves-its-base-behind",
        ),
    ],
)
def test_markup_inside_text_is_read_fast(body: bytes) -> None:
    reading = read_both(body)
    assert reading.fast_road_taken
    assert_alike("markup", reading)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'<rss version="2.0"><channel><title>T</title><item><title>A</title>'
            b"<source url='https://s.example/'>Src</source><dc:title xmlns:dc="
            b'"http://purl.org/dc/elements/1.1/">Later</dc:title></item></channel></rss>',
            id="source-resets-the-standing-title",
        ),
        pytest.param(
            b'<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            b"<item><media:content><media:title>Deep</media:title></media:content>"
            b"<title>Shallow</title><guid>1</guid></item></channel></rss>",
            id="the-shallowest-title-wins",
        ),
        pytest.param(
            b'<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><item>'
            b"<description>First</description><media:description>Second</media:description>"
            b"<guid>1</guid></item></channel></rss>",
            id="a-second-description-is-content",
        ),
        pytest.param(
            b'<rss version="2.0" xmlns:c="http://purl.org/rss/1.0/modules/content/"><channel>'
            b"<item><c:encoded><![CDATA[<p>Only content</p>]]></c:encoded><guid>1</guid></item>"
            b"</channel></rss>",
            id="content-only-under-another-prefix",
        ),
        pytest.param(
            b'<rss version="2.0"><channel><item><title>t</title><link>https://a.example/1</link>'
            b"<link/></item></channel></rss>",
            id="an-empty-link-after-a-link",
        ),
        pytest.param(
            b'<rss version="2.0"><channel><item><guid isPermaLink="true">https://a.example/g</guid>'
            b"<link>https://a.example/l</link></item></channel></rss>",
            id="permalink-guid-before-link",
        ),
        pytest.param(
            b'<rss version="2.0" xmlns="https://cyber.harvard.edu/rss/rss.html"><channel>'
            b"<item><title>Default namespace</title><link>https://a.example/</link></item>"
            b"</channel></rss>",
            id="unknown-default-namespace",
        ),
        pytest.param(
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a</title>'
            b'<link rel="alternate" type="text/html" href="/one"/>'
            b'<link rel="alternate" type="text/html" href="/two"/>'
            b'<link rel="related" href="/three"/></entry></feed>',
            id="last-alternate-link-wins",
        ),
        pytest.param(
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry xml:base="https://a.example/x/">'
            b'<title>a</title><id>1</id></entry><entry><title>b</title><link href="y"/></entry>'
            b"</feed>",
            id="xml-base-of-an-entry-leaks-as-in-feedparser",
        ),
        pytest.param(
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml">'
            b'<div xmlns="http://www.w3.org/1999/xhtml" class="c"><p>A</p><svg '
            b'xmlns="http://www.w3.org/2000/svg" width="1"/></div></title><image><title>Logo'
            b"</title></image></entry></feed>",
            id="xhtml-title-shown-as-written-when-a-deeper-title-sets-its-type",
        ),
        pytest.param(
            b'<rss version="2.0"><channel><item><title>Caf&#233;&#xA0;&#8212; &#x1F600;</title>'
            b"</item></channel></rss>",
            id="character-references",
        ),
        pytest.param(
            b'<rss version="2.0"><channel><item><title>a</title><description><![CDATA['
            b"Tom &nbsp; Jerry &amp;nbsp; <p>cut?</p> after]]></description></item>"
            b"</channel></rss>",
            id="nbsp-in-html-does-not-cut-the-text",
        ),
    ],
)
def test_feedparser_quirks_are_kept(body: bytes) -> None:
    reading = read_both(body)
    assert reading.fast_road_taken
    assert_alike("quirk", reading)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            "<rss version='2.0'><channel><item><title>Минск</title></item></channel></rss>".encode(
                "windows-1251"
            ),
            "text/xml; charset=windows-1251",
            id="http-charset",
        ),
        pytest.param(
            b"\xef\xbb\xbf<?xml version='1.0' encoding='windows-1251'?><rss version='2.0'>"
            b"<channel><item><title>Z\xc3\xa9</title></item></channel></rss>",
            None,
            id="bom-against-declaration",
        ),
        pytest.param(
            "<?xml version='1.0' encoding='iso-8859-1'?><rss version='2.0'><channel><item>"
            "<title>Zürich – €</title></item></channel></rss>".encode("cp1252"),
            None,
            id="latin-1-declared-cp1252-bytes",
        ),
        pytest.param(
            b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><item>"
            b"<title>caf\xe9</title></item></channel></rss>",
            None,
            id="latin-1-bytes-declared-utf-8",
        ),
        pytest.param(
            "<rss version='2.0'><channel><item><title>Мінск</title></item></channel></rss>".encode(
                "utf-16"
            ),
            None,
            id="utf-16",
        ),
        pytest.param(
            b"<?xml version='1.1'?><rss version='2.0'><channel><item><title>t</title></item>"
            b"</channel></rss>",
            None,
            id="xml-1.1",
        ),
    ],
)
def test_encodings_read_the_same_both_ways(body: bytes, content_type: str | None) -> None:
    reading = read_both(body, content_type=content_type)
    assert_alike("encoding", reading)


@pytest.mark.parametrize(
    "body",
    [
        b"<rss version='2.0'><channel><item><title>caf\xe9 \x93quoted\x94</title></item>"
        b"</channel></rss>",
        b"\xef\xbb\xbf<rss version='2.0'><channel><item><title>caf\xe9</title></item>"
        b"</channel></rss>",
    ],
)
def test_invalid_utf8_is_read_fast_as_feedparser_decodes_it(body: bytes) -> None:
    """feedparser falls back to windows-1252 and says so: both roads read the same converted
    bytes, and give the same warning."""
    reading = read_both(body)
    assert reading.fast_road_taken
    assert_alike("fallback", reading)
    assert reading.fast.warning is not None and reading.fast.warning.startswith("encoding: ")


def test_doubtful_documents_are_left_to_feedparser() -> None:
    doubtful = [
        b'<rss version="2.0"><channel><item><title>A &nbsp; B</title></item></channel></rss>',
        b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "https://example.org/rss.dtd">'
        b'<rss version="2.0"><channel><item><title>t</title></item></channel></rss>',
        b'<rss version="2.0"><channel><item><title>a<link>b</link></title></item></channel></rss>',
        b'<rss version="2.0"><channel><item><description><video><source src="v"/></video>'
        b"</description></item></channel></rss>",
        # the inner </title> ends feedparser's title early, even in XHTML
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title type="xhtml">'
        b"<div>A<title>B</title>C</div></title></entry></feed>",
        # whether feedparser unwraps a <div> here depends on how expat splits the text
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><summary type="html">'
        b'&lt;div class="a"&gt;&lt;script&gt;<div><p>x</p></div></summary></entry></feed>',
        b'<rss version="2.0"><channel><item><description type="text/xml"><p>x</p>'
        b"</description></item></channel></rss>",
        b'<feed xmlns="http://purl.org/atom/ns#" version="0.3"><entry><title>t</title>'
        b"</entry></feed>",
        b'<rss version="2.0"><channel><item><atom:link href="x"/></item></channel></rss>',
        b'<rss version="2.0" xmlns:a="urn:a" xmlns:b="urn:a"><channel><item><a:x/><title>t'
        b"</title></item></channel></rss>",
    ]
    for body in doubtful:
        reading = read_both(body)
        assert not reading.fast_road_taken, body
        assert reading.fast == reading.reference


# --- dates and encodings, piece by piece ---------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.sampled_from(DATES),
        st.builds(
            "{}{} {} {} {:02d}:{:02d}{} {}".format,
            st.sampled_from(["", "Mon, ", "Sat ", "Thursday, ", "Foo, "]),
            st.integers(0, 40),
            st.sampled_from(["Jan", "feb", "MAR", "June", "Sept", "Dec.", "Foo"]),
            st.sampled_from(["2019", "1999", "0001", "9999", "19", "20190"]),
            st.integers(0, 25),
            st.integers(0, 61),
            st.sampled_from(["", ":00", ":59", ":60", ":7"]),
            st.sampled_from(["GMT", "+0300", "-0730", "EST", "MSK", "Z", "gmt+3", "+03:00", "UT"]),
        ),
        st.builds(
            "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}{}{}".format,
            st.integers(0, 10000),
            st.integers(0, 13),
            st.integers(0, 32),
            st.sampled_from(["T", "t", " "]),
            st.integers(0, 25),
            st.integers(0, 60),
            st.sampled_from(["", ":00", ":30.5", ":61"]),
            st.sampled_from(["Z", "z", "+02:00", "-05:30", "+0200", ""]),
        ),
    )
)
def test_dates_are_read_as_feedparser_reads_them(text: str) -> None:
    expected = feedparser_date(text)
    assert fastparse.parsed_date(text) == (tuple(expected[:6]) if expected else None)


@pytest.mark.parametrize(
    "body",
    [
        b"<rss/>",
        b"\xef\xbb\xbf<rss/>",
        b"<?xml version='1.0' encoding='UTF-8'?><rss/>",
        b'<?xml version="1.0" encoding="utf8" standalone="yes" ?><rss/>',
        b"<?xml version='1.0' encoding='iso-8859-1'?><rss/>",
        b"<?xml version='1.0'?><?xml-stylesheet encoding='koi8-r'?><rss/>",
        b"<?xml-stylesheet href='x.css'?><rss/>",
        b"<?xml version='1.0' encoding='\xff'?><rss/>",
        "<rss/>".encode("utf-16-le"),
        b"\x4c\x6f\xa7\x94",
    ],
)
@pytest.mark.parametrize("charset", ["", "; charset=utf-8", "; charset=windows-1251"])
def test_utf8_as_is_only_when_feedparser_would_read_utf8(body: bytes, charset: str) -> None:
    content_type = "application/xml" + charset
    taken = fastparse.utf8_as_is(body, content_type)
    if taken is None:
        return
    result: dict[str, Any] = {}
    try:
        converted = convert_to_utf8({"content-type": content_type}, body, result)
    except UnicodeDecodeError:
        pytest.fail("taken as UTF-8 where feedparser fails")
    assert result["encoding"].lower().replace("-", "").replace("_", "") == "utf8"
    assert "bozo_exception" not in result
    assert converted.split(b"?>", 1)[-1].lstrip(b"\n") == taken.split(b"?>", 1)[-1]


# --- safety ----------------------------------------------------------------------------------


def _all_text(feed: ParsedFeed) -> str:
    return "\n".join(
        [feed.title, *(f"{i.title}\n{i.summary}\n{i.url}\n{i.key}" for i in feed.items)]
    )


def test_a_system_entity_naming_a_local_file_is_never_read(
    tmp_path: Path, no_file_or_network: list[str]
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")  # written before spying on open
    no_file_or_network.clear()
    for head in (
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>',
        f'<!DOCTYPE rss SYSTEM "file://{secret}">',
        f'<!DOCTYPE rss [<!ENTITY % dtd SYSTEM "file://{secret}"> %dtd;]>',
    ):
        body = (
            f'<?xml version="1.0"?>\n{head}\n<rss version="2.0"><channel><title>t</title>'
            "<item><title>&xxe;</title><description>x &xxe;</description><guid>1</guid></item>"
            "</channel></rss>"
        ).encode()
        reading = read_both(body)
        assert "TOP-SECRET" not in _all_text(reading.fast)
        assert not reading.fast_road_taken
    assert no_file_or_network == []


def test_a_doctype_never_reaches_lxml(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    real_fromstring = fastparse.etree.fromstring

    def spy(data: bytes, *args: Any, **kwargs: Any) -> Any:
        seen.append(data)
        return real_fromstring(data, *args, **kwargs)

    monkeypatch.setattr(fastparse.etree, "fromstring", spy)
    for head in ('<!DOCTYPE rss [<!ENTITY a "aaaa">]>', '<!DOCTYPE rss SYSTEM "x.dtd">'):
        parse_feed(
            f'<?xml version="1.0"?>{head}<rss version="2.0"><channel><item><title>&a;</title>'
            "</item></channel></rss>".encode(),
            url=FEED_URL,
        )
    assert not any(b"<!DOCTYPE" in data or b"<!ENTITY" in data for data in seen)


def test_the_parser_neither_loads_nor_resolves_nor_connects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options: list[dict[str, Any]] = []
    real_parser = fastparse.etree.XMLParser

    def spy(**kwargs: Any) -> Any:
        options.append(kwargs)
        return real_parser(**kwargs)

    monkeypatch.setattr(fastparse.etree, "XMLParser", spy)
    parse_feed(b'<rss version="2.0"><channel><item><title>t</title></item></channel></rss>', url="")
    assert options
    for kwargs in options:
        assert kwargs["resolve_entities"] is False
        assert kwargs["no_network"] is True
        assert kwargs["load_dtd"] is False
        assert kwargs["huge_tree"] is False


def _entity_bomb(levels: int) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels)
    ]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{chr(10).join(entities)}\n]>\n'
        f'<rss version="2.0"><channel><item><title>&lol{levels - 1};</title>'
        "<description>&lol9;&lol9;</description></item></channel></rss>"
    ).encode()


def test_billion_laughs_and_quadratic_blowup_are_not_expanded() -> None:
    quadratic = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "' + "a" * 10_000 + '">]>\n'
        '<rss version="2.0"><channel><item><title>x &a;</title><description>'
        + "&a;" * 30_000
        + "</description></item></channel></rss>"
    ).encode()
    for body in (_entity_bomb(10), quadratic):
        started = time.perf_counter()
        reading = read_both(body)
        assert time.perf_counter() - started < 10
        assert "lollollol" not in _all_text(reading.fast)
        assert "aaaaaaaaaa" not in _all_text(reading.fast)
        assert not reading.fast_road_taken
        assert reading.fast == reading.reference


def test_the_fast_road_reads_items_as_items() -> None:
    """A plain check that the fast road is a road: values, not only agreement."""
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>News</title>'
        b"<item><title>Minsk &amp; Brest</title><link>https://example.org/a?utm_source=rss</link>"
        b"<guid isPermaLink='false'>id-1</guid><description>&lt;p&gt;Talks&lt;/p&gt;</description>"
        b"<dc:date>2024-05-01T12:00:00+02:00</dc:date><dc:subject>World</dc:subject></item>"
        b"</channel></rss>"
    )
    reading = read_both(body)
    assert reading.fast_road_taken
    [item] = reading.fast.items
    assert item == Item(
        key="id-1",
        url="https://example.org/a?utm_source=rss",
        canonical_url="https://example.org/a",
        title="Minsk & Brest",
        summary="Talks",
        published=reading.reference.items[0].published,
        categories=("World",),
    )
    assert item.published is not None and item.published.hour == 10
    assert reading.fast.format == "rss20" and reading.fast.title == "News"


def test_feedparser_is_not_called_on_the_fast_road(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("feedparser.parse called")

    monkeypatch.setattr(feedparser, "parse", fail)
    feed = parse_feed(
        (CORPUS / "ru_tut_by_news_all_2019-12-30_rss2.xml").read_bytes(), url=FEED_URL
    )
    assert len(feed.items) == 100


# --- the shortcuts in html_text and urls keep the general code's answers ----------------------

HTML_PIECES = [
    "<p>", "</p>", "<b>", "</b>", "<br/>", "<BR>", "<P CLASS=x>", "</ p>", "< b>", "<a href='x>y'>",
    '<img src=x alt="a>b">', "<a =", "<a b=c d>", "<a b='c' d=\"e\">", "</a>", "<li>", "<span>",
    "<script>", "</script>", "<style>x</style>", "<title>", "<textarea>", "<svg>", "</svg>",
    "<!--", "-->", "<![CDATA[", "]]>", "<?", "<a x='", "<a", "</", "<", ">", "=", "'", '"', "&amp;",
    "&nbsp;", "&", "&#8211;", "&lt;p&gt;", "5 < 6", " ", "\n", "\t", "text", "Минск", "Lukash",
    "\u00ad", "\u200b", "\x07", "\u2028", "\u00a0", "\x1c", "\x85", "\u200e", "<SCRIPT>",
    "</Script >", "<script/>", "</scripts>", "<iframe src=x>", "</iframe>", "<xmp>", "</xmp>",
    "</title>", "</textarea>", "<noscript>", "</noscript>", "<!-->", "\u017f", "\u212a",
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(HTML_PIECES), max_size=30).map("".join))
def test_html_to_text_shortcuts_keep_the_tokenizers_answer(html: str) -> None:
    from bot import html_text

    def general_fold(text: str) -> str:
        return " ".join(html_text.CONTROLS.sub(" ", html_text.INVISIBLE.sub("", text)).split())

    expected = general_fold("".join(html_text._Tokenizer(html).text()))
    assert html_text.html_to_text(html) == expected
    assert html_text.fold_whitespace(html) == general_fold(html)
    expected_markup = bool(html_text.CHARACTER_REFERENCE.search(html)) or any(
        tag.group(1).lower() in html_text.HTML_ELEMENTS for tag in html_text.TAG_LIKE.finditer(html)
    )
    assert html_text.looks_like_markup(html) == expected_markup


URL_SCHEMES = ["http://", "https://", "HTTP://", "ftp://", "//", "", "javascript:", "http:///"]
URL_HOSTS = ["example.org", "EXAMPLE.org", "a.b-c.example", "[::1]", "[bad", "пример.рф",
             "user@host.example", "host.example:80", "host.example:443", "host.example:",
             "host.example:8080x", ""]  # fmt: skip
URL_PATHS = ["", "/", "/a/b", "/a;p", "/a/../b", "/%20x", "/a b", "/Путь", "a/b", "/x?"]
URL_QUERIES = ["", "?", "?x=1", "?utm_source=a&b=2", "?ref=rss", "?a=1;b=2", "?q=%E2%80%93"]
URL_ENDS = ["", "#", "#f", "#a#b", " ", "\n", "\t", "\x00", "\u00a0"]
BASES = ["", "https://feeds.example.org/x/feed.xml", "http://a.example/b/c", "https://[bad/",
         "javascript:x", "/relative/", " https://padded.example/ "]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    st.tuples(
        st.sampled_from(URL_ENDS),
        st.sampled_from(URL_SCHEMES),
        st.sampled_from(URL_HOSTS),
        st.sampled_from(URL_PATHS),
        st.sampled_from(URL_QUERIES),
        st.sampled_from(URL_ENDS),
    ).map("".join),
    st.sampled_from(BASES),
)
def test_url_shortcuts_keep_the_general_answer(link: str, base: str) -> None:
    import re

    from bot import urls

    fast = (urls.clean_link(link), urls.absolute_http_url(link, base), urls.canonical_url(link))
    absolute = fast[1]
    both = (absolute, urls.canonical_url(absolute) if absolute else "")
    assert urls.web_and_canonical_url(link, base) == both
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(urls, "PLAIN_HTTP_URL", re.compile(r"(?!)"))
        general = (
            urls.URL_PADDING.sub("", urls.URL_BREAKS.sub("", link)),
            urls.absolute_http_url(link, base),
            urls.canonical_url(link),
        )
    assert fast == general
