"""feeds.yaml: the shipped file is valid, and every kind of mistake is named with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config
from bot.models import KeywordLine

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
defaults: {interval: 5m, backfill: 2, dedup_days: 7}
feeds:
  - {url: "https://example.org/rss.xml", name: Example, lang: en, tags: [world]}
  - url: https://example.org/other.xml
    interval: 1h
topics:
  belarus:
    keywords:
      - Lukashenko | Лукашэнк*
      - Zapad 2025
    exclude: [football]
subscriptions:
  - {topic: belarus, to: "telegram:-1001234567890"}
  - {topic: belarus, to: "slack:C0123456789", mode: digest, digest: "daily 09:00 Europe/Minsk"}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("feeds.yaml"))
    return [str(p) for p in caught.value.problems]


def test_shipped_feeds_yaml_is_valid_and_broad() -> None:
    config = load_config(REPO / "feeds.yaml")
    assert len(config.feeds) >= 25
    assert len({f.lang for f in config.feeds}) >= 6
    belarus = next(t for t in config.topics if t.name == "belarus")
    aliases = {a.lower() for line in belarus.keywords for a in line.aliases}
    assert "zapad" not in aliases, "plain Zapad would match запад (west)"
    assert {"lukashenko", "minsk", "zapad 2025"} <= aliases


def test_good_file_becomes_models() -> None:
    config = parse_config(GOOD, Path("feeds.yaml"))
    first, second = config.feeds
    assert (first.name, first.lang, first.tags, first.interval) == (
        "Example",
        "en",
        ("world",),
        300,
    )
    assert (first.backfill, first.dedup_days) == (2, 7)
    assert second.name == "https://example.org/other.xml" and second.interval == 3600
    (topic,) = config.topics
    assert topic.keywords[0] == KeywordLine(("Lukashenko", "Лукашэнк*"))
    assert topic.exclude == (KeywordLine(("football",)),)
    instant, digest = config.subscriptions
    assert (instant.mode, instant.digest, instant.keywords) == ("instant", None, topic.keywords)
    assert (digest.mode, digest.digest) == ("digest", "daily 09:00 Europe/Minsk")


def test_yaml_syntax_error_names_the_line() -> None:
    found = problems("feeds:\n  - {url: https://a.example/rss\ntopics: {}\n")
    assert len(found) == 1 and found[0].startswith("feeds.yaml:3: YAML error")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("https://example.org/rss.xml", "ftp://example.org/rss.xml"),
            "feeds.yaml:3: feeds[0].url: 'ftp://example.org/rss.xml' is not a feed URL",
        ),
        (
            GOOD.replace("interval: 1h", "interval: 1 hour"),
            "feeds.yaml:5: feeds[1].interval: '1 hour' is not a duration",
        ),
        (
            GOOD.replace("interval: 1h", "intervall: 1h"),
            "feeds.yaml:5: feeds[1].intervall: unknown field",
        ),
        (GOOD.replace("Zapad 2025", "'Zapad*2025'"), "feeds.yaml:10: topics.belarus.keywords"),
        (
            GOOD.replace("slack:C0123456789", "slack:#general"),
            "feeds.yaml:14: subscriptions[1].to: 'slack:#general' is not a destination",
        ),
        (
            GOOD.replace("Europe/Minsk", "Europe/Atlantis"),
            "feeds.yaml:14: subscriptions[1].digest: 'Europe/Atlantis' is not a time zone",
        ),
        (
            GOOD.replace('{topic: belarus, to: "telegram', '{topic: belarusia, to: "telegram'),
            "feeds.yaml:13: unknown topic 'belarusia' (topics: belarus)",
        ),
        (
            GOOD.replace("backfill: 2", "backfill: -1"),
            "feeds.yaml:1: defaults.backfill: Input should be greater than or equal to 0",
        ),
        (
            GOOD + '  - {topic: belarus, to: "telegram:-1001234567890"}\n',
            "feeds.yaml:15: telegram:-1001234567890 is subscribed to belarus twice",
        ),
        (
            GOOD.replace("https://example.org/other.xml", "https://example.org/rss.xml"),
            "feeds.yaml:4: feed https://example.org/rss.xml is listed twice (first on line 3)",
        ),
        (
            GOOD.replace("topics:\n", "topics:\n  belarus: {keywords: [x]}\n"),
            "feeds.yaml:8: 'belarus' appears twice in one mapping (first on line 7)",
        ),
    ],
)
def test_schema_errors_name_file_line_and_problem(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_empty_and_missing_files(tmp_path: Path) -> None:
    assert problems("") == ["feeds.yaml:1: the file is empty: it needs feeds and topics"]
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_interval_under_a_minute_is_a_warning_not_an_error() -> None:
    config = parse_config(GOOD.replace("interval: 1h", "interval: 30s"), Path("feeds.yaml"))
    assert config.feeds[1].interval == 30
    assert any("under a minute" in str(w) for w in config.warnings)
