"""Every real-world feed in ../shared/corpus parses into sound Items.

Item counts come from the corpus README's table. Where Dozor reads a different number, the
reason is written down here: a repeated item is one item, an empty `<item/>` is none.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest

from bot.html_text import looks_like_markup
from bot.models import Item
from bot.parse import ParsedFeed, parse_feed
from tests.conftest import CORPUS

FILES = sorted(path.name for path in CORPUS.iterdir()) if CORPUS.is_dir() else ["(missing)"]
FORMATS = {
    "RSS 2.0": "rss20",
    "RSS 1.0 (RDF)": "rss10",
    "RSS 0.90 (RDF)": "rss090",
    "RSS 0.91": "rss091u",
    "Atom 1.0": "atom10",
}
# Files where Dozor's item count differs from the README's <item> count, and why.
COUNT_EXCEPTIONS = {
    "en_pcmag_dvorak_feedburner_illegally_nested.xml": 10,  # 10 empty <item/> nested in items
    "fr_lefigaro_culture_rss2.xml": 49,  # one article twice with the same GUID
    "uk_suspilne_media_ukrnet_rss2_default_ns_quirk.xml": 19,  # one article twice, same link+title
    "fr_lecerclepsy_rss2_latin1_no_xmldecl.xml": 9,  # one <item> with every element empty
    "pl_openstreetmap_org_pl_wordpress_rss2.xml": 8,  # truncated mid-CDATA: the 8th is readable
}
# Every warning the corpus produces; every other file parses without one. Leading whitespace
# before <?xml (androidauthority, londonist, youtube) is forgiven silently.
WARNINGS = {
    "en_guardian_world_2022-09-25_rss2_noxmldecl.xml": (
        "not well-formed XML (not well-formed (invalid token), line 34): recovered 54 items"
    ),
    "en_reuters_mostread_2020_broken_server_error.xml": (
        "not well-formed XML (no element found, line 19): recovered 0 items"
    ),
    "pl_openstreetmap_org_pl_wordpress_rss2.xml": (
        "not well-formed XML (unclosed CDATA section, line 281): recovered 8 items"
    ),
    "fr_lecerclepsy_rss2_latin1_no_xmldecl.xml": (
        "encoding: document declared as utf-8, but parsed as windows-1252"
    ),
}


@cache
def readme_table() -> dict[str, tuple[str, int, bool]]:
    """file -> (format, items, well-formed) from the corpus README's table."""
    rows = {}
    for line in (CORPUS.parent / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[2], int(cells[3]), cells[7] == "ok")
    return rows


@cache
def parsed(name: str) -> ParsedFeed:
    return parse_feed((CORPUS / name).read_bytes(), url=f"https://feeds.example.org/x/{name}")


def items(name: str) -> tuple[Item, ...]:
    return parsed(name).items


def test_the_readme_describes_every_file(corpus_dir: Path) -> None:
    assert sorted(readme_table()) == sorted(path.name for path in corpus_dir.iterdir())


@pytest.mark.parametrize("name", FILES)
def test_file_parses_into_sound_items(name: str, corpus_dir: Path) -> None:
    feed = parsed(name)
    format_name, readme_items, well_formed = readme_table()[name]
    assert feed.format == FORMATS[format_name.split(" wrapped")[0]]
    assert feed.warning == WARNINGS.get(name)
    if name in COUNT_EXCEPTIONS:
        assert len(feed.items) == COUNT_EXCEPTIONS[name]
    elif well_formed:
        assert len(feed.items) == readme_items
    else:
        assert len(feed.items) >= readme_items

    duplicates = [key for key, n in Counter(item.key for item in feed.items).items() if n > 1]
    assert duplicates == []
    for item in feed.items:
        assert item.key and len(item.key) <= 200
        assert item.url == "" or item.url.startswith(("http://", "https://"))
        assert item.canonical_url == "" or item.canonical_url.startswith(("http://", "https://"))
        assert not any(char.isspace() for char in item.url)
        assert "utm_" not in item.canonical_url and "#" not in item.canonical_url
        for text in (item.title, item.summary, *item.categories):
            assert text == " ".join(text.split())
            assert not looks_like_markup(text), f"{name}: markup left in {text[:120]!r}"
        assert item.published is None or item.published.utcoffset() == timedelta(0)
        assert item.title or item.summary


def all_titles(name: str) -> str:
    return "\n".join(item.title for item in items(name))


def all_text(name: str) -> str:
    return "\n".join(f"{item.title}\n{item.summary}" for item in items(name))


def test_belarus_headlines_read_in_cyrillic() -> None:
    assert "Лукашенко" in all_titles("ru_tut_by_news_all_2019-12-30_rss2.xml")
    assert "Минске" in all_titles("ru_citydog_by_minsk_rss2.xml")
    assert "Протесты и забастовки против Лукашенко" in all_titles("ru_liga_net_ukraine_rss2.xml")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        # windows-1251
        ("ru_ibash_org_ru_rss2_windows-1251.xml", ["Цитата #17703", "пользователей"]),
        ("ru_oren_ru_rss2_windows-1251.xml", ["В Бузулуке главные стройплощадки", "героин"]),
        ("ru_xakep_ru_rss2_windows-1251.xml", ["Руководители разведки США", "Сноудена"]),
        # ISO-8859-1
        ("de_golem_rss2_iso8859-1.xml", ["Viele Spieler wünschen sich", "Zünden"]),
        ("de_golem_rss1_rdf_iso8859-1.xml", ["Glasfaserförderung"]),
        ("de_stadtfeuerwehr_weiz_rss091_iso8859-1.xml", ["Birkfelder Straße"]),
        ("pt_jn_pt_feedburner_rss2_iso8859-1.xml", ["Mãe de utente", "Reações dos partidos"]),
        # Latin-1 bytes with no declaration at all
        ("fr_lecerclepsy_rss2_latin1_no_xmldecl.xml", ["Françoise Dolto", "criminalité"]),
        # UTF-8 with a BOM and no declaration
        ("en_mirror_worldnews_rss2.xml", ["mirror"]),
    ],
)
def test_encodings_decode_to_real_words(name: str, words: list[str]) -> None:
    text = all_text(name) + "\n" + parsed(name).title
    for word in words:
        assert word in text
    assert "\ufffd" not in text


def test_feed_titles() -> None:
    assert parsed("de_stadtfeuerwehr_weiz_rss091_iso8859-1.xml").title == (
        "Stadtfeuerwehr Weiz - Einsätze"
    )
    assert parsed("en_nytimes_homepage_rss2.xml").title == "NYT > Home Page"
    assert parsed("en_indianexpress_world_rss2.xml").title == "World – The Indian Express"
    assert parsed("ru_citydog_by_minsk_rss2.xml").title == "Новости - citydog.by"


def test_relative_links_resolve_against_the_feed_url() -> None:
    base = "https://feeds.example.org/"
    for name in ("en_neverwinter_rss2_relative_urls.xml", "en_talkingpointsmemo_atom.xml"):
        assert all(item.url.startswith(base) for item in items(name)), name
    [first, _] = items("en_neverwinter_rss2_relative_urls.xml")
    assert first.url.startswith(base + "en/games/neverwinter/news/detail/10743874")


def test_whitespace_around_links_is_dropped_and_snapshots_share_keys() -> None:
    plain = items("ru_lenta_ru_rss_2021-10-03_200items.xml")
    padded = items("ru_lenta_ru_rss_2021-10-03b_whitespace_in_links_saved_as_html.xml")
    urls = {item.key: item.url for item in plain}
    shared = [item for item in padded if item.key in urls]
    assert len(shared) == 192
    assert all(item.url == urls[item.key] for item in shared)


@pytest.mark.parametrize(
    ("name", "tracking"),
    [
        ("de_heise_newsticker_rss090_rdf_tracking_params.xml", "wt_mc="),
        ("ru_tut_by_news_all_2019-12-30_rss2.xml", "utm_source="),
        ("de_derstandard_at_rss2.xml", "ref=rss"),
        ("en_nytimes_homepage_rss2.xml", "partner=rss"),
        ("fr_lemonde_une_rss2.xml", "xtor="),
        ("fr_pcinpact_rss2_nonpermalink_guid_utm.xml", "utm_campaign="),
        ("de_spiegel_schlagzeilen_2024-12-21_rss2.xml", "#ref=rss"),
    ],
)
def test_tracking_parameters_leave_canonical_links(name: str, tracking: str) -> None:
    feed_items = items(name)
    assert any(tracking in item.url for item in feed_items)
    assert not any(tracking in item.canonical_url for item in feed_items)


def test_items_without_guid_are_keyed_by_canonical_link() -> None:
    heise = items("de_heise_newsticker_rss090_rdf_tracking_params.xml")
    assert all(item.key == item.canonical_url for item in heise)
    assert all("wt_mc" not in item.key for item in heise)


def test_numeric_guids_are_keys_not_links() -> None:
    [item] = items("en_nbcnewyork_rss2_numeric_guid.xml")
    assert re.fullmatch(r"\d+", item.key)
    assert item.url.startswith("https://www.nbcnewyork.com/")
