"""Digests: stories grouped and ranked, keywords counted per story with their trend, the period
in the reader's zone, and every medium's limits kept with feed text inert; trend charts."""

from __future__ import annotations

import json
import re
import struct
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.chart import MAX_LINES, _series, trend_chart
from bot.digest import (
    Digest,
    KeywordCount,
    compose,
    console_digest,
    daily_mentions,
    keyword_counts,
    period_label,
    slack_digest,
    telegram_digest,
)
from bot.models import Alert
from bot.render import SLACK_MAX_BLOCKS, SLACK_SECTION_LIMIT, TELEGRAM_LIMIT
from tests.fakes.slack_api import _block_problems, mrkdwn_mentions

START = datetime(2025, 9, 12, 6, 0, tzinfo=UTC)  # 09:00 in Minsk
END = START + timedelta(days=1)

HOSTILE = [
    '<!channel> Lukashenko & "Tsikhanouskaya" <b>meet</b> in Minsk',
    "</a><i>Zapad-2025</i> &amp; &lt;script&gt; drills <@U123> & <#C1|general>",
    "Belarus' <https://evil.example|click> & 'Belavia' > flights < 'sanctions'",
    "a|b>c<d & <!here|here> @everyone — Лукашэнка & «Захад-2025»",
]


def alert(
    title: str,
    *,
    feed: str = "Reuters",
    url: str = "https://www.reuters.com/world/europe/belarus-1",
    story: str = "",
    matched: tuple[str, ...] = ("Lukashenko",),
    summary: str = "",
    published: datetime | None = None,
    created: float | None = None,
    item: str | None = None,
) -> Alert:
    published = published or START + timedelta(hours=1)
    return Alert(
        topic="belarus",
        to="telegram:-100123",
        feed=feed,
        feed_id=f"feed-{feed}",
        id=item or f"{feed}:{url}",
        url=url,
        canonical_url=url,
        title=title,
        summary=summary,
        published=published,
        matched=matched,
        delivery="digest",
        created=created if created is not None else published.timestamp() + 60,
        story=story,
    )


def digest_of(alerts: list[Alert], previous: dict[str, int] | None = None) -> Digest:
    return compose(
        alerts,
        topic="belarus",
        to="telegram:-100123",
        zone="Europe/Minsk",
        start=START,
        end=END,
        previous=previous,
    )


# --- composing ---------------------------------------------------------------------------------


def test_stories_rank_by_outlets_then_recency() -> None:
    hour = timedelta(hours=1)
    alerts = [
        alert(
            "Lukashenko pardons 52 prisoners after US envoy visit",
            feed=feed,
            story="pardon",
            url=f"https://{feed.lower()}.example/pardon",
            published=START + hour,
        )
        for feed in ("Reuters", "ANSA", "Belsat", "Zerkalo")
    ]
    alerts += [
        alert(
            "Zapad-2025 drills begin near Polish border",
            feed=feed,
            story="zapad",
            url=f"https://{feed.lower()}.example/zapad",
            published=START + 5 * hour,
        )
        for feed in ("Reuters", "Notes from Poland")
    ]
    alerts += [
        alert(
            "Belavia resumes flights to Vilnius",
            feed="Belsat",
            story="belavia",
            url="https://belsat.example/belavia",
            published=START + 2 * hour,
        ),
        alert(
            "Minsk metro opens third line extension",
            feed="Zerkalo",
            story="metro",
            url="https://zerkalo.example/metro",
            published=START + 9 * hour,
        ),
    ]
    d = digest_of(alerts)
    assert [s.key for s in d.stories] == ["pardon", "zapad", "metro", "belavia"]
    pardon = d.stories[0]
    assert pardon.sources == ("Reuters", "ANSA", "Belsat", "Zerkalo")
    assert pardon.count == 4
    assert d.item_count == 8
    assert d.source_count == 5
    assert d.stories[2].latest == START + 9 * hour


def test_story_takes_first_reporter_and_keeps_outlets_distinct() -> None:
    base = START + timedelta(hours=2)
    alerts = [
        alert(
            "Belarus frees opposition figure Siarhei Tsikhanouski",
            feed="Zerkalo",
            url="https://news.zerkalo.io/1",
            story="s1",
            matched=("Belarus",),
            summary="Belarus frees opposition figure Siarhei Tsikhanouski",
            published=base + timedelta(minutes=30),
        ),
        alert(
            "Tsikhanouski released, arrives in Vilnius",
            feed="Reuters",
            url="https://www.reuters.com/tsikhanouski",
            story="s1",
            matched=("Lukashenko", "Belarus"),
            summary="Opposition blogger Siarhei Tsikhanouski was freed on Saturday after five "
            "years in prison, his wife said.",
            published=base,
        ),
        alert(  # the same outlet under another spelling of its name
            "Tsikhanouski: first interview",
            feed=" reuters ",
            url="https://www.reuters.com/tsikhanouski-interview",
            story="s1",
            matched=("Minsk",),
            published=base + timedelta(hours=1),
        ),
    ]
    (story,) = digest_of([*alerts, alerts[0]]).stories  # a retried item counts once
    assert story.title == "Tsikhanouski released, arrives in Vilnius"
    assert story.url == "https://www.reuters.com/tsikhanouski"
    assert story.sources == ("Reuters", "Zerkalo")
    assert story.matched == ("Lukashenko", "Belarus", "Minsk")
    assert story.excerpt.startswith("Opposition blogger Siarhei Tsikhanouski was freed")
    assert "\n" not in story.excerpt
    assert (story.first, story.latest, story.count) == (base, base + timedelta(hours=1), 3)


def test_a_published_time_after_it_was_seen_is_not_believed() -> None:
    seen = START + timedelta(hours=3)
    late = alert(
        "Belarus court sentences journalist",
        published=seen + timedelta(hours=5),  # a feed with its clock in the wrong zone
        created=seen.timestamp(),
    )
    (story,) = digest_of([late]).stories
    assert story.latest == seen


def test_keywords_count_once_per_story() -> None:
    alerts = [
        alert(
            f"Lukashenko meets {who}",
            feed=who,
            url=f"https://{who.lower()}.example/lukashenko",
            story="meeting",
            matched=("Lukashenko", "Minsk") if who == "Belta" else ("Lukashenko",),
        )
        for who in ("Belta", "Reuters", "Euronews")
    ]
    alerts.append(alert("Minsk hosts CSTO summit", url="https://belta.by/csto", matched=("Minsk",)))
    d = digest_of(alerts)
    assert d.keywords == (KeywordCount("Minsk", 2, None), KeywordCount("Lukashenko", 1, None))
    assert keyword_counts(d) == {"Minsk": 2, "Lukashenko": 1}


def _stories_matching(label: str, n: int) -> list[Alert]:
    slug = label.lower().replace(" ", "-")
    return [
        alert(f"{label} story {i}", url=f"https://belsat.eu/{slug}/{i}", matched=(label,))
        for i in range(n)
    ]


def test_keyword_trend_against_the_previous_period() -> None:
    alerts = [
        *_stories_matching("Lukashenko", 14),
        *_stories_matching("Zapad 2025", 6),
        *_stories_matching("Minsk", 3),
    ]
    previous = {"Lukashenko": 5, "Minsk": 5, "Belavia": 2, "Tsikhanouskaya": 0}
    d = digest_of(alerts, previous)
    assert d.keywords == (
        KeywordCount("Lukashenko", 14, 5),
        KeywordCount("Zapad 2025", 6, 0),
        KeywordCount("Minsk", 3, 5),
        KeywordCount("Belavia", 0, 2),  # gone quiet: the fall shows
    )
    line = "Lukashenko 14 (+9) · Zapad 2025 6 (new) · Minsk 3 (−2) · Belavia 0 (−2)"
    assert telegram_digest(d)[-1].endswith(f"<b>Keywords</b>: {line}")
    assert slack_digest(d)[-1][1][-1]["elements"][0]["text"] == f"*Keywords*: {line}"
    assert console_digest(d).endswith(f"Keywords: {line}")
    # the next period compares with this one; a quiet line is not carried forward
    assert keyword_counts(d) == {"Lukashenko": 14, "Zapad 2025": 6, "Minsk": 3}
    same = digest_of(alerts, keyword_counts(d))
    assert "Lukashenko 14 (±0)" in console_digest(same)
    # no comparison asked for: counts only
    assert console_digest(digest_of(alerts)).endswith("Lukashenko 14 · Zapad 2025 6 · Minsk 3")


def test_compose_refuses_a_naive_or_backwards_period() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compose([], topic="t", to="console", zone="UTC", start=datetime(2025, 9, 12), end=END)
    with pytest.raises(ValueError, match="before it starts"):
        compose([], topic="t", to="console", zone="UTC", start=END, end=START)


def test_daily_mentions_per_local_day_per_story() -> None:
    late = datetime(2025, 9, 12, 22, 30, tzinfo=UTC)  # 01:30 on the 13th in Minsk
    alerts = [
        alert("Lukashenko at SCO", feed="Belta", url="https://belta.by/1", story="sco"),
        alert("Lukashenko in Tianjin", feed="Reuters", url="https://r.example/1", story="sco"),
        alert(
            "Лукашэнка ў Тяньцзіні",
            feed="Nasha Niva",
            url="https://nn.by/1",
            story="sco",
            matched=("Lukashenko", "Minsk"),
            published=late,
        ),
    ]
    assert daily_mentions(alerts, "Europe/Minsk") == {
        date(2025, 9, 12): {"Lukashenko": 1},
        date(2025, 9, 13): {"Lukashenko": 1, "Minsk": 1},
    }
    assert list(daily_mentions(alerts, "UTC")) == [date(2025, 9, 12)]


# --- the period in the reader's zone -----------------------------------------------------------


def test_period_in_a_zone_without_dst() -> None:
    assert period_label(START, END, "Europe/Minsk") == "12 Sep 09:00 – 13 Sep 09:00 (Europe/Minsk)"
    hour = START + timedelta(hours=1)
    assert period_label(START, hour, "Europe/Minsk") == "12 Sep 09:00 – 10:00 (Europe/Minsk)"
    new_year = datetime(2025, 12, 31, 6, 0, tzinfo=UTC)
    assert (
        period_label(new_year, new_year + timedelta(days=1), "Europe/Minsk")
        == "31 Dec 2025 09:00 – 1 Jan 2026 09:00 (Europe/Minsk)"
    )


@pytest.mark.parametrize(
    ("start", "end", "zone", "label"),
    [
        (  # clocks go back: a day of 25 hours
            datetime(2025, 10, 25, 7, 0, tzinfo=UTC),
            datetime(2025, 10, 26, 8, 0, tzinfo=UTC),
            "Europe/Warsaw",
            "25 Oct 09:00 CEST – 26 Oct 09:00 CET (25 h, Europe/Warsaw)",
        ),
        (  # clocks go forward: 23 hours
            datetime(2025, 3, 29, 8, 0, tzinfo=UTC),
            datetime(2025, 3, 30, 7, 0, tzinfo=UTC),
            "Europe/Warsaw",
            "29 Mar 09:00 CET – 30 Mar 09:00 CEST (23 h, Europe/Warsaw)",
        ),
        (
            datetime(2025, 11, 1, 13, 0, tzinfo=UTC),
            datetime(2025, 11, 2, 14, 0, tzinfo=UTC),
            "America/New_York",
            "1 Nov 09:00 EDT – 2 Nov 09:00 EST (25 h, America/New_York)",
        ),
    ],
)
def test_period_across_a_dst_change(start: datetime, end: datetime, zone: str, label: str) -> None:
    assert period_label(start, end, zone) == label
    d = compose(
        [alert("Belarus and Poland reopen border crossings", published=start + timedelta(hours=2))],
        topic="belarus",
        to="slack:C1",
        zone=zone,
        start=start,
        end=end,
    )
    assert telegram_digest(d)[0].startswith(f"<b>belarus</b> · {label}\n1 story from 1 source")
    assert slack_digest(d)[0][1][0]["text"]["text"].startswith(f"*belarus* · {label}\n")
    assert console_digest(d).startswith(f"belarus · {label}\n")


def test_an_empty_digest_is_one_short_line() -> None:
    d = digest_of([])
    line = "belarus · 12 Sep 09:00 – 13 Sep 09:00 (Europe/Minsk): no new stories"
    assert console_digest(d) == line
    assert telegram_digest(d) == [line.replace("belarus", "<b>belarus</b>", 1)]
    ((text, blocks),) = slack_digest(d)
    assert text == "belarus digest: no new stories"
    assert blocks == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": line.replace("belarus", "*belarus*", 1),
                "verbatim": True,
            },
        }
    ]


# --- rendering ---------------------------------------------------------------------------------


def test_telegram_shows_top_stories_then_a_list_then_the_rest_counted() -> None:
    alerts = [
        alert(
            "Lukashenko pardons 52 prisoners & frees Tsikhanouski",
            feed=feed,
            url=f"https://{feed.split()[0].lower()}.example/pardon?id=1&lang=en",
            story="pardon",
            summary="The release followed a visit by US envoy Keith Kellogg to Minsk.",
        )
        for feed in ("Reuters", "ANSA", "Belsat", "Zerkalo", "Nasha Niva")
    ]
    alerts += [
        alert(
            f"Belarus news {i}",
            feed="Belta",
            url=f"https://belta.by/{i}",
            published=START + timedelta(minutes=i),
        )
        for i in range(8)
    ]
    (message,) = telegram_digest(digest_of(alerts), top=2, listed=3)
    assert (
        '1. <a href="https://reuters.example/pardon?id=1&amp;lang=en"><b>Lukashenko pardons 52 '
        "prisoners &amp; frees Tsikhanouski</b></a>\n<i>Reuters, ANSA +3 · 🔎 Lukashenko</i>\n"
        "The release followed a visit by US envoy Keith Kellogg to Minsk.\n\n2. "
    ) in message
    assert '<b>Also</b>\n• <a href="https://belta.by/6">Belarus news 6</a> · 1 source\n' in message
    assert '<a href="https://belta.by/4">Belarus news 4</a> · 1 source\n<i>…and 4 more' in message
    assert "<i>…and 4 more stories</i>\n\n<b>Keywords</b>: Lukashenko 9" in message


TAG = re.compile(r'<(/?)(b|i|a)(?: href="([^"<>]*)")?>')
ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#x27);")


def check_telegram_html(piece: str) -> None:
    """Only <b>, <i>, <a href> tags, balanced; every `&` starts an entity."""
    stack: list[str] = []
    for tag in TAG.finditer(piece):
        closing, name, href = tag.groups()
        assert (name == "a") == (href is not None) or closing, tag.group(0)
        if closing:
            assert stack and stack.pop() == name, piece
        else:
            stack.append(name)
    assert not stack
    text = TAG.sub("", piece)
    assert "<" not in text and ">" not in text
    assert text.count("&") == len(ENTITY.findall(text))


def check_slack_mrkdwn(text: str) -> None:
    """`<` only opens a web link; every `&` starts an entity; nobody is mentioned."""
    links = re.compile(r"<https?://[^<>|\s]*\|[^<>]*>")
    rest = links.sub("", text)
    assert "<" not in rest and ">" not in rest, text
    assert text.count("&") == len(re.findall(r"&(?:amp|lt|gt);", text))
    assert mrkdwn_mentions(text, bare=False) == []


def hostile_digest(n: int = 300) -> Digest:
    alerts = []
    for i in range(n):
        title = (HOSTILE[i % len(HOSTILE)] + " ") * 8
        for j in range(1 + i % 4):
            alerts.append(
                alert(
                    f"{title} #{i}",
                    feed=f'<b>Outlet</b> & "{j}" <!here> {"x" * 40}',
                    url=f'https://news.example/{i}?a=1&b=<2>&c="3"|{"&" * 80}',
                    story=f"story-{i}",
                    matched=("Lukashenko", "Zapad 2025 & <drills>", "Лукашэнка"),
                    summary=("&<>\"' " * 60) + "Minsk",
                    published=START + timedelta(minutes=i),
                    item=f"{i}-{j}",
                )
            )
    return digest_of(alerts, {"Lukashenko": 3, "Zapad 2025 & <drills>": 500})


def test_telegram_splits_between_stories_and_keeps_markup_whole() -> None:
    d = hostile_digest()
    pieces = telegram_digest(d)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
        check_telegram_html(piece)
    whole = "\n".join(pieces)
    assert whole.count("<b>Also</b>") == 1
    assert whole.count("\n• ") == 25
    assert "…and 270 more stories" in whole
    assert pieces[-1].count("<b>Keywords</b>: Lukashenko 300 (+297)") == 1
    assert "Zapad 2025 &amp; &lt;drills&gt; 300 (−200)" in pieces[-1]
    starts = [n for piece in pieces for n in re.findall(r"(?m)^(\d+)\. <a href=", piece)]
    assert starts == ["1", "2", "3", "4", "5"]


def checked_slack_texts(messages: list[tuple[str, list[dict[str, Any]]]]) -> list[str]:
    """Every text object, once each message is checked against Block Kit's limits."""
    texts: list[str] = []
    for text, blocks in messages:
        assert len(blocks) <= SLACK_MAX_BLOCKS
        assert _block_problems(blocks) == []
        assert "<" not in text and mrkdwn_mentions(text, bare=True) == []
        for block in blocks:
            for obj in [block["text"]] if "text" in block else block["elements"]:
                assert obj["type"] == "mrkdwn" and obj["verbatim"] is True
                assert len(obj["text"]) <= SLACK_SECTION_LIMIT
                check_slack_mrkdwn(obj["text"])
                texts.append(obj["text"])
    return texts


def test_slack_splits_within_block_kit_limits_and_keeps_text_inert() -> None:
    d = hostile_digest()
    whole = "\n".join(checked_slack_texts(slack_digest(d)))
    assert whole.count("\n• <https://news.example/") == 25
    assert "…and 270 more stories" in whole
    assert "%7C" in whole and "%3C2%3E" in whole  # the link's own `|` and `<>` cannot end it
    # 40 stories in full take 80 blocks and 100 more lines 34 sections: three messages, the
    # first one block short of 50 because a story's two blocks stay together
    messages = slack_digest(d, top=40, listed=100)
    assert [len(blocks) for _, blocks in messages] == [49, 50, 18]
    assert [text for text, _ in messages] == [
        "belarus digest: 300 stories from 4 sources",
        "belarus digest (continued)",
        "belarus digest (continued)",
    ]
    whole = "\n".join(checked_slack_texts(messages))
    assert "…and 160 more stories" in whole
    for _, blocks in messages:
        kinds = [b["type"] for b in blocks]
        for i, kind in enumerate(kinds):  # a story's title (section) keeps its context line
            if kind == "section" and re.match(r"\d+\. \*<", blocks[i]["text"]["text"]):
                assert kinds[i + 1] == "context"


def test_a_link_too_long_to_fit_is_dropped_not_cut() -> None:
    """A story whose link alone would overflow a message keeps its title, unlinked; emoji count
    twice, as Telegram counts UTF-16 units."""
    url = "https://belsat.eu/" + "&" * 5000
    title = "🇧🇾 Lukashenko & Putin sign union state decree 🤝 " * 6
    d = digest_of(
        [
            alert(title, url=url, summary="🔥" * 300),
            alert("Belarus frees prisoners", url="https://belsat.eu/p", feed="Belsat"),
        ]
    )
    pieces = telegram_digest(d, top=1)
    for piece in pieces:
        assert len(piece.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
        check_telegram_html(piece)
    assert "&amp;&amp;" not in "".join(pieces)
    assert "<b>🇧🇾 Lukashenko &amp; Putin" in pieces[0]
    whole = "\n".join(checked_slack_texts(slack_digest(d, top=1)))
    assert "*🇧🇾 Lukashenko &amp; Putin" in whole
    assert "belsat.eu/&amp;" not in whole


def test_weekly_period_across_a_dst_change() -> None:
    start = datetime(2025, 10, 20, 7, 0, tzinfo=UTC)  # Monday 09:00 CEST
    end = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)  # Monday 09:00 CET
    assert (
        period_label(start, end, "Europe/Warsaw")
        == "20 Oct 09:00 CEST – 27 Oct 09:00 CET (7 d 1 h, Europe/Warsaw)"
    )


def test_console_strips_control_characters() -> None:
    d = digest_of([alert("Belarus\x1b[31m election \u202eresults", summary="Turnout\x07 84%")])
    text = console_digest(d)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "1. Belarus[31m election results" in text
    assert "   Turnout 84%" in text


def test_digest_round_trips_through_json() -> None:
    d = hostile_digest(40)
    restored = Digest.from_dict(json.loads(json.dumps(d.to_dict())))
    assert restored == d
    assert telegram_digest(restored) == telegram_digest(d)
    no_trend = digest_of([alert("Belarus & Lithuania close border")])
    assert Digest.from_dict(json.loads(json.dumps(no_trend.to_dict()))) == no_trend
    with pytest.raises(ValueError, match="version"):
        Digest.from_dict({**d.to_dict(), "version": 99})


# --- charts ------------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_trend_chart_draws_cyrillic_labels_deterministically() -> None:
    days = [date(2025, 9, 1) + timedelta(days=n) for n in range(14)]
    mentions = {
        day: {"Лукашэнка": n % 5 + 1, "Zapad 2025": 6 if n > 7 else 0, "Мінск": 2}
        for n, day in enumerate(days)
        if n != 4  # a quiet day is drawn at zero
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would be a warning
        png = trend_chart(mentions, title="belarus · згадкі за тыдзень")
        empty = trend_chart({}, title="belarus")
    assert png_size(png) == (800, 400)
    assert png_size(empty) == (800, 400)
    assert trend_chart(mentions, title="belarus · згадкі за тыдзень") == png
    assert b"tIME" not in png and b"Software" not in png


def test_trend_chart_takes_labels_literally() -> None:
    """A `$` pair would be a formula to matplotlib (and `$\\x$` an error); `_` would hide."""
    mentions = {date(2025, 9, 12): {"$\\x$ loan": 2, "_Belavia": 1}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = trend_chart(mentions, title="IMF $1bn for $\\Belarus$")
    assert png_size(png) == (800, 400)


def test_trend_chart_sums_the_smallest_lines_as_other() -> None:
    day = date(2025, 9, 12)
    mentions = {day: {f"keyword {n}": n + 1 for n in range(12)}, day + timedelta(days=2): {}}
    series = _series(mentions, [day, day + timedelta(days=1), day + timedelta(days=2)])
    assert len(series) == MAX_LINES
    assert series[0] == ("keyword 11", [12, 0, 0])
    assert series[-1] == ("other", [sum(range(1, 6)), 0, 0])
