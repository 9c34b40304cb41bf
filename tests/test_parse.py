"""Feed bytes to Items, one rule at a time, on small hand-written feeds."""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.parse
from bot.parse import ParsedFeed, parse_feed, parse_feed_async

FEED_URL = "https://example.org/news/feed.xml"
MB = 1024 * 1024


def rss(items: str, *, channel: str = "<title>Example</title>", head: str = "") -> bytes:
    prolog = head or '<?xml version="1.0" encoding="utf-8"?>\n'
    return f'{prolog}<rss version="2.0"><channel>{channel}{items}</channel></rss>'.encode()


def parse(body: bytes | str, **kwargs: Any) -> ParsedFeed:
    data = body.encode() if isinstance(body, str) else body
    return parse_feed(data, url=kwargs.pop("url", FEED_URL), **kwargs)


def texts(feed: ParsedFeed) -> str:
    """Everything a user or the matcher could read from a parsed feed."""
    fields = [feed.title]
    for item in feed.items:
        fields += [item.title, item.summary, item.url, item.key, *item.categories]
    return "\n".join(fields)


# --- formats -------------------------------------------------------------------------------


def test_rss_20() -> None:
    feed = parse(
        rss(
            """<item><title>Minsk talks</title><link>https://example.org/a?utm_source=rss</link>
            <guid isPermaLink="false">id-1</guid><description>Talks &lt;b&gt;today&lt;/b&gt;
            </description><pubDate>Mon, 30 Dec 2019 11:38:00 +0300</pubDate>
            <category>World</category><category>Belarus &amp; Russia</category></item>"""
        )
    )
    assert feed.format == "rss20"
    assert feed.title == "Example"
    assert feed.warning is None
    [item] = feed.items
    assert item.key == "id-1"
    assert item.url == "https://example.org/a?utm_source=rss"
    assert item.canonical_url == "https://example.org/a"
    assert item.title == "Minsk talks"
    assert item.summary == "Talks today"
    assert item.published == datetime(2019, 12, 30, 8, 38, tzinfo=UTC)
    assert item.categories == ("World", "Belarus & Russia")


def test_rss_10_rdf() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
    <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="https://example.org/"><title>RDF news</title></channel>
      <item rdf:about="https://example.org/1"><title>First</title>
        <link>https://example.org/1</link><description>One</description>
        <dc:date>2017-01-23T10:00:00+01:00</dc:date></item>
      <item rdf:about="https://example.org/2"><title>Second</title>
        <link>https://example.org/2</link></item>
    </rdf:RDF>"""
    feed = parse(body)
    assert feed.format == "rss10"
    assert feed.title == "RDF news"
    assert [item.key for item in feed.items] == ["https://example.org/1", "https://example.org/2"]
    assert feed.items[0].published == datetime(2017, 1, 23, 9, 0, tzinfo=UTC)
    assert feed.items[1].published is None


def test_atom_with_xml_base_and_relative_links() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/">
      <title type="html">Avian&amp;rsquo;s &lt;i&gt;Blog&lt;/i&gt;</title>
      <entry><title type="html">&lt;b&gt;Lukash&lt;/b&gt;enko visits</title>
        <id>tag:example.org,2024:1</id>
        <link rel="alternate" href="posts/1.html#comments"/>
        <updated>2024-05-01T12:00:00+02:00</updated>
        <summary type="text">Short</summary>
        <content type="html">&lt;p&gt;Long&lt;/p&gt;</content></entry>
      <entry xml:base="https://other.example.com/x/"><title>Second</title>
        <id>tag:example.org,2024:2</id><link href="../y"/>
        <published>2024-05-02T00:00:00Z</published>
        <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>A</p><p>B</p></div></content>
      </entry>
    </feed>"""
    feed = parse(body)
    assert feed.format == "atom10"
    assert feed.title == "Avian’s Blog"
    first, second = feed.items
    assert first.url == "https://example.org/blog/posts/1.html#comments"
    assert first.canonical_url == "https://example.org/blog/posts/1.html"
    assert first.title == "Lukashenko visits"
    assert first.summary == "Short"
    assert first.published == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert second.url == "https://other.example.com/y"
    assert second.summary == "A B"
    assert second.published == datetime(2024, 5, 2, tzinfo=UTC)


def test_json_feed() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON &amp; news",
        "home_page_url": "https://example.org/",
        "items": [
            {
                "id": "1",
                "url": "/posts/1?utm_medium=json",
                "title": "Minsk",
                "content_html": "<p>Para</p><p>graph</p><script>x()</script>",
                "date_published": "2024-01-01T03:00:00+03:00",
                "tags": ["Belarus", "Belarus", "<b>Politics</b>"],
            },
            {"id": 2, "external_url": "https://elsewhere.example/x", "content_text": " Plain "},
            {"url": "https://example.org/3", "title": "No id", "summary": "Sum",
             "content_text": "Ignored", "date_modified": "2024-01-02T00:00:00"},
            {"title": "Bad date", "date_published": "yesterday", "tags": "not a list"},
            {"title": "Out of range", "date_published": "0001-01-01T00:00:00+01:00"},
            "not an item",
            {},
        ],
    }  # fmt: skip
    feed = parse(json.dumps(document), content_type="application/feed+json")
    assert feed.format == "json"
    assert feed.title == "JSON & news"
    assert feed.warning is None
    first, second, third, fourth, fifth = feed.items
    assert first.key == "1"
    assert first.url == "https://example.org/posts/1?utm_medium=json"
    assert first.canonical_url == "https://example.org/posts/1"
    assert first.summary == "Para graph"
    assert first.published == datetime(2024, 1, 1, tzinfo=UTC)
    assert first.categories == ("Belarus", "Politics")
    assert (second.key, second.url, second.summary) == ("2", "https://elsewhere.example/x", "Plain")
    assert third.key == "https://example.org/3"
    assert third.summary == "Sum"
    assert third.published == datetime(2024, 1, 2, tzinfo=UTC)
    assert fourth.key.startswith("sha1:")
    assert fourth.published is None and fourth.categories == ()
    assert fifth.published is None


def test_json_feed_is_recognised_by_its_brace_and_by_content_type() -> None:
    document = (
        b'\xef\xbb\xbf  {"version": "https://jsonfeed.org/version/1", "items": [{"id": "a"}]}'
    )
    assert [item.key for item in parse(document).items] == ["a"]
    assert parse(document, content_type="text/plain").format == "json"


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (b"{not json", "not a feed: invalid JSON"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "not a feed: JSON without"),
        (b"[1, 2]", "not a feed: JSON without"),
        (b"[" * 100_000 + b"]" * 100_000, "not a feed: invalid JSON"),
        (b'{"items": [{"id": "x"}]}', "JSON Feed without a jsonfeed.org version"),
    ],
)
def test_json_that_is_no_json_feed(body: bytes, warning: str) -> None:
    feed = parse(body, content_type="application/json")
    assert feed.warning is not None and feed.warning.startswith(warning)


# --- keys ----------------------------------------------------------------------------------


def test_guid_wins_over_link_and_blank_guid_falls_back() -> None:
    feed = parse(
        rss(
            """<item><title>A</title><link>https://example.org/a</link><guid>g-1</guid></item>
            <item><title>B</title><link>https://EXAMPLE.org:443/b?fbclid=1#top</link>
              <guid>   </guid></item>
            <item><title>C</title><guid>  https://example.org/c  </guid></item>"""
        )
    )
    assert [item.key for item in feed.items] == [
        "g-1",
        "https://example.org/b",
        "https://example.org/c",
    ]
    assert feed.items[2].url == "https://example.org/c"


def test_non_url_guid_is_not_taken_for_a_link() -> None:
    feed = parse(rss("<item><title>A</title><guid>12345</guid></item>"))
    [item] = feed.items
    assert (item.key, item.url, item.canonical_url) == ("12345", "", "")


def test_keys_of_items_without_guid_ignore_tracking_parameters() -> None:
    first = parse(rss("<item><title>A</title><link>https://e.org/a?utm_source=x</link></item>"))
    second = parse(rss("<item><title>A</title><link>https://e.org/a?utm_source=y</link></item>"))
    assert first.items[0].key == second.items[0].key == "https://e.org/a"


def test_repeated_link_with_different_titles_keeps_items_apart() -> None:
    feed = parse(
        rss(
            """<item><title>Morning news</title><link>https://example.org/</link></item>
            <item><title>Evening news</title><link>https://example.org/?utm_source=rss</link></item>
            <item><title>Own page</title><link>https://example.org/own</link></item>"""
        )
    )
    keys = [item.key for item in feed.items]
    assert len(set(keys)) == 3
    assert keys[0].startswith("sha1:") and keys[1].startswith("sha1:")
    assert keys[2] == "https://example.org/own"
    again = parse(
        rss(
            "<item><title>Morning news</title><link>https://example.org/</link></item>"
            "<item><title>Other</title><link>https://example.org/</link></item>"
        )
    )
    assert again.items[0].key == keys[0]  # the title joins the key the same way every fetch


def test_the_same_item_twice_is_one_item() -> None:
    twice = "<item><title>Same</title><link>https://example.org/s</link></item>" * 2
    guid_twice = (
        "<item><title>G</title><guid>g</guid></item><item><title>G2</title><guid>g</guid></item>"
    )
    feed = parse(rss(twice + guid_twice))
    assert [item.key for item in feed.items] == ["https://example.org/s", "g"]
    assert feed.items[1].title == "G"


def test_items_without_guid_or_link_are_keyed_by_title_and_date() -> None:
    items = """<item><title>Quote</title><pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>
        <item><title>Quote</title><pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate></item>
        <item><description>No title at all</description></item>"""
    feed = parse(rss(items))
    keys = [item.key for item in feed.items]
    assert len(set(keys)) == 3
    assert all(key.startswith("sha1:") and len(key) == 45 for key in keys)
    assert [item.key for item in parse(rss(items)).items] == keys


def test_long_guids_and_links_are_hashed() -> None:
    guid, link = "g" * 300, "https://example.org/" + "p" * 300
    feed = parse(
        rss(
            f"<item><title>A</title><guid>{guid}</guid></item>"
            f"<item><title>B</title><link>{link}</link></item>"
        )
    )
    assert all(item.key.startswith("sha1:") for item in feed.items)
    assert feed.items[1].url == link


def test_empty_items_are_skipped() -> None:
    feed = parse(rss("<item/><item><title>Real</title></item><item><pubDate>x</pubDate></item>"))
    assert [item.title for item in feed.items] == ["Real"]


# --- text ----------------------------------------------------------------------------------


def test_html_in_titles_is_converted() -> None:
    feed = parse(
        rss(
            """<item><title>&lt;b&gt;Breaking:&lt;/b&gt; Minsk &amp;amp; Brest</title>
            <guid>1</guid></item>
            <item><title><![CDATA[<em>Lukash</em>enko &amp; co]]></title><guid>2</guid></item>"""
        )
    )
    assert [item.title for item in feed.items] == ["Breaking: Minsk & Brest", "Lukashenko & co"]


def test_script_and_style_bodies_are_removed() -> None:
    description = (
        "&lt;style&gt;p{color:red}&lt;/style&gt;Text&lt;script&gt;evil('Minsk')&lt;/script&gt;"
    )
    [item] = parse(
        rss(f"<item><title>t</title><description>{description}</description></item>")
    ).items
    assert item.summary == "Text"


def test_blocks_are_spaced_and_whitespace_folded() -> None:
    description = "<![CDATA[\n  <p>First</p><p>second</p>third<br/>fourth<ul><li>five</li></ul> ]]>"
    [item] = parse(
        rss(f"<item><title>\n\t x \n</title><description>{description}</description></item>")
    ).items
    assert item.title == "x"
    assert item.summary == "First second third fourth five"


def test_cdata_and_character_references() -> None:
    [item] = parse(
        rss(
            """<item><title><![CDATA[Caf&eacute; <i>&#1052;&#x438;&#1085;&#1089;&#1082;</i>]]>
            </title>
            <description>R&amp;D &#8211; 5 &lt; 6</description></item>"""
        )
    ).items
    assert item.title == "Café Минск"
    assert item.summary == "R&D – 5 < 6"


def test_html_entities_without_a_dtd_still_decode() -> None:
    feed = parse(
        rss("<item><title>Caf&eacute;&nbsp;Minsk &copy; 2024</title><guid>1</guid></item>")
    )
    assert feed.items[0].title == "Café Minsk © 2024"
    assert feed.warning is not None and "undefined entity" in feed.warning


@pytest.mark.parametrize(
    "title",
    [
        "Foo &amp;quot;bar&amp;quot; &amp;amp; baz",  # escaped twice, parsed strictly
        "Foo &amp;quot;bar&amp;quot; &amp;amp; baz &nbsp;",  # the same, parsed loosely
    ],
)
def test_double_escaped_text_is_decoded_once_more(title: str) -> None:
    [item] = parse(
        rss(f"<item><title>{title}</title><category>A &amp;amp; B</category></item>")
    ).items
    assert item.title == 'Foo "bar" & baz'
    assert item.categories == ("A & B",)


def test_text_that_merely_looks_like_tags_is_kept() -> None:
    # as ibash.org.ru escapes IRC nicknames inside its HTML descriptions
    description = "<![CDATA[&lt;L29Ah&gt; yay<br />&lt;Minoru&gt; hi &amp;&amp; x &lt; y]]>"
    [item] = parse(
        rss(f"<item><title>q</title><description>{description}</description></item>")
    ).items
    assert item.summary == "<L29Ah> yay <Minoru> hi && x < y"


def test_a_keyword_only_in_an_attribute_is_not_in_the_text() -> None:
    description = (
        '&lt;a href="https://example.org/Lukashenko-news" title="Lukashenko"&gt;Read more&lt;/a&gt;'
        '&lt;img alt="Lukashenko" src="/Lukashenko.jpg"&gt;'
    )
    title = "<![CDATA[<a href='https://example.org/Lukashenko'>Headline</a>]]>"
    [item] = parse(
        rss(f"<item><title>{title}</title><description>{description}</description></item>")
    ).items
    assert "Lukashenko" not in item.title + item.summary
    assert (item.title, item.summary) == ("Headline", "Read more")


def test_summary_falls_back_to_content() -> None:
    body = rss(
        """<item xmlns:content="http://purl.org/rss/1.0/modules/content/"><title>t</title>
        <description>  </description>
        <content:encoded><![CDATA[<p>Full text</p>]]></content:encoded></item>"""
    )
    assert parse(body).items[0].summary == "Full text"


def test_text_is_whole() -> None:
    long_title = " ".join(["Лукашенко"] * 2000)
    [item] = parse(rss(f"<item><title>{long_title}</title></item>")).items
    assert item.title == long_title


# --- links and dates -----------------------------------------------------------------------


def test_links_are_resolved_stripped_and_only_http() -> None:
    feed = parse(
        rss(
            """<item><title>a</title><link>
                 /en/news/1
               </link></item>
            <item><title>b</title><link>javascript:alert('x')</link></item>
            <item><title>c</title><link>data:text/html,x</link></item>
            <item><title>d</title><link>mailto:a@example.org</link></item>
            <item><title>e</title>
              <link><![CDATA[ https://rt.com/x?utm_source=rss ]]></link></item>"""
        ),
        url="https://www.arcgames.com/feed/rss.xml",
    )
    assert [item.url for item in feed.items] == [
        "https://www.arcgames.com/en/news/1",
        "",
        "",
        "",
        "https://rt.com/x?utm_source=rss",
    ]
    assert feed.items[1].key.startswith("sha1:")


def test_dates_are_utc_published_else_updated() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>1</id><title>a</title><updated>2024-03-01T10:00:00-05:00</updated></entry>
      <entry><id>2</id><title>b</title><published>2024-03-01T00:00:00Z</published>
        <updated>2024-04-01T00:00:00Z</updated></entry>
      <entry><id>3</id><title>c</title><updated>not a date</updated></entry>
      <entry><id>4</id><title>d</title></entry></feed>"""
    published = [item.published for item in parse(body).items]
    assert published == [
        datetime(2024, 3, 1, 15, 0, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
        None,
        None,
    ]
    assert all(p is None or p.tzinfo is UTC for p in published)


# --- encodings -----------------------------------------------------------------------------


def test_http_charset_is_used_when_the_document_says_nothing() -> None:
    body = "<rss version='2.0'><channel><item><title>Минск</title></item></channel></rss>"
    feed = parse(body.encode("windows-1251"), content_type="text/xml; charset=windows-1251")
    assert feed.items[0].title == "Минск"


def test_the_documents_own_declaration_beats_a_wrong_http_charset() -> None:
    body = "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><item>"
    body += "<title>Zażółć Лукашенко</title></item></channel></rss>"
    for content_type in ("text/html; charset=iso-8859-1", "text/plain", None):
        feed = parse(body.encode(), content_type=content_type)
        assert feed.items[0].title == "Zażółć Лукашенко"
        assert feed.warning is None


def test_utf16_with_bom() -> None:
    body = "<rss version='2.0'><channel><item><title>Мінск</title></item></channel></rss>"
    assert parse(body.encode("utf-16")).items[0].title == "Мінск"


def test_whitespace_before_the_xml_declaration_is_forgiven() -> None:
    feed = parse(b"\xef\xbb\xbf\n\n  " + rss("<item><title>t</title></item>"))
    assert feed.warning is None
    assert [item.title for item in feed.items] == ["t"]


# --- broken and hostile input --------------------------------------------------------------


def test_malformed_xml_yields_what_is_recoverable_and_one_warning() -> None:
    body = rss(
        """
<item><title>First</title><guid>1</guid></item>
<item><title>Second & third</title><guid>2</guid></item>
<item><title>Last</title><guid>3"""
    )
    feed = parse(body)
    assert [item.key for item in feed.items][:2] == ["1", "2"]
    assert feed.items[1].title == "Second & third"
    assert isinstance(feed.warning, str) and "\n" not in feed.warning
    assert feed.warning.startswith("not well-formed XML (not well-formed (invalid token), line 4)")
    assert feed.warning.endswith(f"recovered {len(feed.items)} items")


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (b"", "not a feed: empty body"),
        (b"  \r\n\t ", "not a feed: empty body"),
        (
            b"<!DOCTYPE html><html><head><title>Site</title></head><body><p>Hi</p></body></html>",
            "not a feed: looks like an HTML page",
        ),
        (b"\n<HTML><body>Moved</body></HTML>", "not a feed: looks like an HTML page"),
        (bytes(range(256)) * 40, "not a feed: looks like binary data"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\x01" * 500,
            "not a feed: looks like binary",
        ),
        (b"just some text", "not a feed: no RSS, Atom or JSON Feed found"),
        (b"<config><a>1</a></config>", "not a feed: XML or markup without RSS, Atom or RDF"),
    ],
)
def test_bodies_that_are_no_feed(body: bytes, warning: str) -> None:
    feed = parse(body)
    assert feed.items == ()
    assert feed.format == ""
    assert feed.warning is not None and feed.warning.startswith(warning)


@pytest.mark.parametrize(
    "body",
    [b"/etc/passwd", b"http://127.0.0.1:1/x", b"file:///etc/passwd", b"feed://127.0.0.1:1/x"],
)
def test_a_path_or_url_as_body_is_never_opened(body: bytes, no_file_or_network: list[str]) -> None:
    feed = parse(body)
    assert feed.items == ()
    assert feed.warning is not None and feed.warning.startswith("not a feed")
    assert "root:" not in texts(feed)
    assert no_file_or_network == []


def _bounded(body: bytes) -> tuple[ParsedFeed, float, float]:
    """Parse, returning the result, the seconds taken and the peak of Python memory in MB."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        feed = parse(body)
        return feed, time.perf_counter() - started, tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def billion_laughs() -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    subset = "\n".join(levels)
    return rss(
        "<item><title>&lol9;</title><description>&lol9;&lol9;</description></item>",
        head=f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{subset}\n]>\n',
    )


def quadratic_blowup(
    *, references: int = 95_000, prolog: str = '<?xml version="1.0"?>\n', subset_extra: str = ""
) -> bytes:
    """~300 KB that expands to ~1 GB: one 10 000-character entity used 95 000 times."""
    subset = f'{subset_extra}<!ENTITY a "{"a" * 10_000}">'
    return rss(
        f"<item><title>x &a;</title><description>{'&a;' * references}</description></item>",
        head=f"{prolog}<!DOCTYPE rss [\n{subset}\n]>\n",
    )


def test_billion_laughs_is_defused() -> None:
    feed, seconds, peak_mb = _bounded(billion_laughs())
    assert seconds < 5 and peak_mb < 50
    assert "lollol" not in texts(feed)
    assert feed.warning is not None and "DOCTYPE internal subset removed" in feed.warning


def test_quadratic_blowup_is_defused() -> None:
    body = quadratic_blowup()
    assert 250_000 < len(body) < 350_000
    feed, seconds, peak_mb = _bounded(body)
    assert seconds < 15 and peak_mb < 200
    assert "aaaaaaaaaa" not in texts(feed)
    assert [item.title for item in feed.items] == ["x &a;"]


@pytest.mark.parametrize(
    "make_body",
    [
        pytest.param(lambda: b"\xef\xbb\xbf" + quadratic_blowup(references=30_000), id="bom"),
        pytest.param(
            lambda: quadratic_blowup(
                references=30_000,
                prolog='<?xml version="1.0"?>\n<!-- ]> <!DOCTYPE x> -->\n<?pi ]> ?>\n',
            ),
            id="after-comment-and-pi",
        ),
        pytest.param(
            lambda: quadratic_blowup(references=30_000, subset_extra='<!ENTITY q "]>">\n'),
            id="bracket-in-literal",
        ),
        pytest.param(
            lambda: quadratic_blowup(references=30_000, subset_extra="<!-- ]> -->\n<?p ]> ?>\n"),
            id="bracket-in-comment",
        ),
        pytest.param(
            lambda: quadratic_blowup(references=30_000).replace(b"DOCTYPE", b"doctype"),
            id="lower-case",
        ),
        pytest.param(
            lambda: quadratic_blowup(references=30_000, prolog="PHP Warning: junk\n"),
            id="junk-first",
        ),
        pytest.param(
            lambda: quadratic_blowup(references=30_000, prolog="\n\n").decode().encode("utf-16"),
            id="utf-16",
        ),
        pytest.param(
            lambda: (
                quadratic_blowup(
                    references=30_000, prolog='<?xml version="1.0" encoding="UTF-16BE"?>'
                )
                .decode()
                .encode("utf-16-be")
            ),
            id="utf-16be-declared",
        ),
    ],
)
def test_entity_expansion_is_defused_however_the_doctype_hides(
    make_body: Callable[[], bytes],
) -> None:
    feed, seconds, peak_mb = _bounded(make_body())
    assert seconds < 10 and peak_mb < 100
    assert "aaaaaaaaaa" not in texts(feed)


def test_external_entities_are_never_resolved(no_file_or_network: list[str]) -> None:
    subset = (
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
        '<!ENTITY web SYSTEM "http://127.0.0.1:1/secret">\n'
        '<!ENTITY % pe SYSTEM "http://127.0.0.1:1/evil.dtd"> %pe;\n'
    )
    body = rss(
        "<item><title>&xxe;</title><description>&xxe; &web;</description><guid>1</guid></item>",
        head=f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{subset}]>\n',
    )
    feed = parse(body)
    assert "root:" not in texts(feed)
    assert [item.key for item in feed.items] == ["1"]
    assert no_file_or_network == []


@pytest.mark.parametrize("system_id", ["file:///etc/passwd", "http://127.0.0.1:1/rss.dtd"])
def test_an_external_dtd_is_never_loaded(system_id: str, no_file_or_network: list[str]) -> None:
    body = rss(
        "<item><title>ok</title></item>",
        head=f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{system_id}">\n',
    )
    feed = parse(body)
    assert [item.title for item in feed.items] == ["ok"]
    assert no_file_or_network == []


def test_netscape_doctype_without_subset_is_kept() -> None:
    head = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        ' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
    )
    body = rss("<item><title>old</title></item>", head=head).replace(b'"2.0"', b'"0.91"')
    feed = parse(body)
    assert feed.format == "rss091n"
    assert feed.warning is None


@pytest.mark.parametrize(
    ("prolog", "reason"),
    [
        ('<!-- <!DOCTYPE x [\n<!ENTITY a "aaaa">\n]> -->\n', "entity declaration outside"),
        ('<!DOCTYPE rss [ <!ENTITY a "never closed >\n', "never ends"),
        ("<!DOCTYPE rss [ <!-- never closed ]>\n", "never ends"),
        ('<!DOCTYPE rss SYSTEM "never closed>\n', "never ends"),
    ],
)
def test_doctype_tricks_are_refused(prolog: str, reason: str) -> None:
    feed = parse(rss("<item><title>&a;</title></item>", head=prolog))
    assert feed.items == ()
    assert feed.warning is not None and feed.warning.startswith("refused:")
    assert reason in feed.warning


def test_hostile_markup_in_content_parses_in_linear_time() -> None:
    description = "<![CDATA[" + "<a x='" * 100_000 + "<!--x>" * 50_000 + "]]>"
    feed, seconds, _ = _bounded(
        rss(f"<item><title>t</title><description>{description}</description></item>")
    )
    assert seconds < 5
    assert feed.items[0].title == "t"


@pytest.mark.parametrize(
    ("parser", "body"),
    [
        # well-formed: the fast road (lxml) reads it
        ("read_feed", rss("<item><title>t</title></item>")),
        # an undefined entity: feedparser's road reads it
        ("feedparser", rss("<item><title>t&nbsp;</title></item>")),
    ],
)
def test_a_parser_failure_becomes_a_warning(
    parser: str, body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    if parser == "feedparser":
        monkeypatch.setattr(feedparser, "parse", broken)
    else:
        monkeypatch.setattr(bot.parse, parser, broken)
    feed = parse(body)
    assert feed.items == ()
    assert feed.warning == "parse failed: RuntimeError: boom"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=400),
        st.text(alphabet=st.sampled_from(list("<>/!?[]'\"=&;# abx\n")), max_size=200).map(
            lambda s: rss(s)
        ),
        st.sampled_from([rss("<item><title>t</title></item>")]).flatmap(
            lambda body: st.integers(0, len(body)).map(lambda n: body[:n])
        ),
    )
)
def test_parse_never_raises(body: bytes) -> None:
    feed = parse(body)
    assert isinstance(feed, ParsedFeed)
    assert feed.items or feed.warning is not None or feed.format
    assert len({item.key for item in feed.items}) == len(feed.items)


# --- off the event loop --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        rss("<item><title>t</title><guid>1</guid></item>"),
        rss("<item><title>t&nbsp;</title></item>"),
    ],
    ids=["fast-road", "feedparser-road"],
)
async def test_parse_feed_async_runs_in_a_worker_thread(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real_parse, real_read = feedparser.parse, bot.parse.read_feed

    def spy_parse(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real_parse(*args, **kwargs)

    def spy_read(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return real_read(*args)

    monkeypatch.setattr(feedparser, "parse", spy_parse)
    monkeypatch.setattr(bot.parse, "read_feed", spy_read)
    feed = await parse_feed_async(body, url=FEED_URL)
    assert threads and threading.get_ident() not in threads
    assert feed == parse_feed(body, url=FEED_URL)


async def test_parse_feed_async_in_a_process_pool() -> None:
    body = rss(
        "<item><title>Мінск</title><guid>1</guid>"
        "<pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>"
    )
    with ProcessPoolExecutor(max_workers=1) as pool:
        feed = await parse_feed_async(body, url=FEED_URL, executor=pool)
    assert feed == parse_feed(body, url=FEED_URL)
    assert pickle.loads(pickle.dumps(feed)) == feed


async def test_event_loop_stays_responsive_while_a_big_feed_parses() -> None:
    items = "".join(f"<item><title>Item {n}</title><guid>{n}</guid></item>" for n in range(3000))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    feed = await parse_feed_async(rss(items), url=FEED_URL)
    task.cancel()
    assert len(feed.items) == 3000
    assert ticks > 0


def test_atom_text_is_literal_while_html_is_converted() -> None:
    from tests.feeds import Entry, atom

    title = "Lukashenko <b>not bold</b> & </a> @channel"
    body = atom(Entry(title, "https://n.example/1", "e1", description="<p>a</p><p>b</p>"))
    (item,) = parse_feed(body, url="https://n.example/").items
    assert (item.title, item.summary) == (title, "a b")
