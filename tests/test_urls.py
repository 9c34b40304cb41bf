"""Item links: absolute http(s) URLs, and the canonical form that dedup compares."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.urls import absolute_http_url, canonical_url, web_and_canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # the corpus's own tracking parameters
        (
            "https://news.tut.by/economics/666987.html"
            "?utm_campaign=news-feed&utm_medium=rss&utm_source=rss-news",
            "https://news.tut.by/economics/666987.html",
        ),
        (
            "https://www.heise.de/newsticker/meldung/x-4205274.html?wt_mc=rss.ho.beitrag.rdf",
            "https://www.heise.de/newsticker/meldung/x-4205274.html",
        ),
        (
            "http://www.nytimes.com/2017/01/06/us/x.html?partner=rss&emc=rss",
            "http://www.nytimes.com/2017/01/06/us/x.html",
        ),
        (
            "http://derstandard.at/2000049985169/Arabisch-Angst-vor-Sprache?ref=rss",
            "http://derstandard.at/2000049985169/Arabisch-Angst-vor-Sprache",
        ),
        ("http://www.lemonde.fr/a/b_5255095_5193626.html?xtor=RSS-3208", None),
        (
            "http://www.dailymail.co.uk/news/worldnews/index.html"
            "?ITO=1490&ns_mchannel=rss&ns_campaign=1490",
            "http://www.dailymail.co.uk/news/worldnews/index.html",
        ),
        ("https://www.spiegel.de/politik/a-123.html#ref=rss", None),
        # ad and mail click ids
        ("https://example.org/a?fbclid=IwAR0&gclid=x&yclid=1&msclkid=2", None),
        ("https://example.org/a?mc_cid=1&mc_eid=2&_hsenc=3&_hsmi=4&igshid=5", None),
        ("https://example.org/a?CMP=share_btn_tw&ocid=rss", None),
    ],
)
def test_tracking_parameters_and_fragment_are_dropped(url: str, canonical: str | None) -> None:
    expected = canonical or url.split("?")[0].split("#")[0]
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://www.youtube.com/watch?v=8ztbpW3THmI&utm_source=x", "https://www.youtube.com/watch?v=8ztbpW3THmI"),
        ("http://ibash.org.ru/quote.php?id=17220", "http://ibash.org.ru/quote.php?id=17220"),
        ("https://e.org/p?b=2&utm_medium=rss&a=1", "https://e.org/p?b=2&a=1"),
        ("https://e.org/p?UTM_Source=x&q=Minsk", "https://e.org/p?q=Minsk"),
        ("https://e.org/p?utm%5Fsource=x&q=1", "https://e.org/p?q=1"),
        ("https://e.org/p?q=a+b&r=%20c", "https://e.org/p?q=a+b&r=%20c"),
        ("https://e.org/p?ref=homepage", "https://e.org/p?ref=homepage"),
        ("https://e.org/p?ref=rss_feed&source=feedburner", "https://e.org/p"),
        ("https://e.org/p?&&x=1&", "https://e.org/p?x=1"),
    ],
)  # fmt: skip
def test_other_parameters_keep_their_order_and_encoding(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://WWW.Example.ORG/Path/To?Q=V", "https://www.example.org/Path/To?Q=V"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://example.org:443/a", "http://example.org:443/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org:/a", "https://example.org/a"),
        ("http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"),
        ("http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
        ("https://User:Pw@Example.org/a", "https://User:Pw@example.org/a"),
        ("  https://example.org/a\n", "https://example.org/a"),
        ("\n    https://lenta.ru/news/2021/10/03/x/\n  ", "https://lenta.ru/news/2021/10/03/x/"),
    ],
)
def test_scheme_host_and_port_are_normalised_path_kept(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_anything_but_a_web_url_comes_back_only_stripped() -> None:
    assert canonical_url("") == ""
    assert canonical_url("  12345 ") == "12345"
    assert canonical_url("http://[::1") == "http://[::1"
    assert canonical_url("MAILTO:A@Example.org?utm_source=x") == "MAILTO:A@Example.org?utm_source=x"
    assert canonical_url("tag:example.org,2005:Article/1#x") == "tag:example.org,2005:Article/1#x"
    assert canonical_url("http:///path?utm_source=x") == "http:///path?utm_source=x"


@pytest.mark.parametrize(
    ("link", "base", "absolute"),
    [
        ("/en/games/x", "https://www.arcgames.com/feed.xml", "https://www.arcgames.com/en/games/x"),
        ("x/y", "https://e.org/blog/feed.xml", "https://e.org/blog/x/y"),
        ("//cdn.e.org/a", "https://e.org/feed", "https://cdn.e.org/a"),
        ("\n   https://lenta.ru/news/1/\n  ", "", "https://lenta.ru/news/1/"),
        ("https://e.org/a\n/b", "", "https://e.org/a/b"),
        ("HTTP://E.org/a", "", "HTTP://E.org/a"),
        ("javascript:alert(1)", "https://e.org/", ""),
        ("data:text/html,<b>x</b>", "https://e.org/", ""),
        ("mailto:a@e.org", "https://e.org/", ""),
        ("ftp://e.org/file", "https://e.org/", ""),
        ("file:///etc/passwd", "https://e.org/", ""),
        ("/relative/without/base", "", ""),
        ("12345", "", ""),
        ("http://", "", ""),
        ("http://[::1", "", ""),
        ("", "https://e.org/", ""),
    ],
)
def test_absolute_http_url(link: str, base: str, absolute: str) -> None:
    assert absolute_http_url(link, base) == absolute


@given(st.text())
def test_canonical_url_never_raises_and_is_idempotent(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once


@given(st.text(), st.sampled_from(["", "https://e.org/feed", "http://[::1]/x"]))
def test_absolute_http_url_is_http_or_empty(link: str, base: str) -> None:
    result = absolute_http_url(link, base)
    assert result == "" or result.lower().startswith(("http://", "https://"))


@given(st.text(), st.sampled_from(["", "https://e.org/feed", "http://[::1]/x", "javascript:x"]))
def test_web_and_canonical_url_is_both_in_one(link: str, base: str) -> None:
    absolute = absolute_http_url(link, base)
    canonical = canonical_url(absolute) if absolute else ""
    assert web_and_canonical_url(link, base) == (absolute, canonical)
