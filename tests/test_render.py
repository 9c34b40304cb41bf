"""Alerts and replies as each medium shows them: feed text always inert, limits always kept."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Alert
from bot.render import (
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_LIMIT,
    slack_alert,
    slack_code,
    slack_reply,
    split_text,
    telegram_html,
)
from handlers.slack import plain_command

HOSTILE = [
    "<!channel> Lukashenko",
    "<@U123> & <#C1|general> <!here|here> @everyone",
    "</a><b>bold</b> &amp; &lt;",
    "a|b>c<d",
    "<https://evil.example|click me>",
]


def make_alert(
    title: str, *, summary: str = "", url: str = "https://news.example/a?b=1&c=2"
) -> Alert:
    return Alert(
        topic="belarus",
        to="slack:C1",
        feed="Local <News>",
        feed_id="f",
        id="k",
        url=url,
        canonical_url=url,
        title=title,
        summary=summary,
        published=datetime(2025, 9, 12, 8, 0, tzinfo=UTC),
        matched=("Lukashenko",),
    )


def texts(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every text object in the blocks."""
    found: list[dict[str, object]] = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            found.append(block["text"])  # type: ignore[arg-type]
        for element in block.get("elements", []) or []:  # type: ignore[attr-defined]
            found.append(element)
    return found


def entities(text: str) -> list[str]:
    """The `<…>` sequences Slack would interpret."""
    return re.findall(r"<[^<>]*>", text)


def test_slack_alert_is_a_linked_title_a_context_line_and_the_excerpt() -> None:
    text, blocks = slack_alert(
        make_alert("Лукашенко в Минске", summary="Он приехал."), "Europe/Minsk"
    )
    assert [b["type"] for b in blocks] == ["section", "context", "section"]
    head, context, excerpt = (t["text"] for t in texts(blocks))
    assert head == "*<https://news.example/a?b=1&amp;c=2|Лукашенко в Минске>*"
    assert context == "Local &lt;News&gt; · 2025-09-12 11:00 +03 · 🔎 Lukashenko"
    assert excerpt == "Он приехал."
    assert text == "Лукашенко в Минске — Local &lt;News&gt;"
    assert all(t.get("verbatim") is True for t in texts(blocks))


def test_a_url_cannot_break_out_of_its_link() -> None:
    _, blocks = slack_alert(make_alert("x", url="https://e.example/a|b>c <!channel>"))
    head = texts(blocks)[0]["text"]
    assert entities(str(head)) == ["<https://e.example/a%7Cb%3Ec%20%3C!channel%3E|x>"]


@settings(max_examples=300, deadline=None)
@given(
    title=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=400)),
    summary=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=600)),
)
def test_feed_text_never_becomes_a_slack_entity(title: str, summary: str) -> None:
    text, blocks = slack_alert(make_alert(title, summary=summary))
    assert entities(text) == []
    found = [e for t in texts(blocks) for e in entities(str(t["text"]))]
    assert len(found) == 1 and found[0].startswith("<https://news.example/a?b=1&amp;c=2|")
    for t in texts(blocks):
        assert len(str(t["text"])) <= SLACK_SECTION_LIMIT and t["verbatim"] is True


@settings(max_examples=300, deadline=None)
@given(title=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=400)))
def test_feed_text_never_becomes_telegram_markup(title: str) -> None:
    rendered = telegram_html(make_alert(title, summary=title))
    tags = re.findall(r"</?([a-z]+)", rendered)
    assert set(tags) <= {"a", "b", "i"}
    assert rendered.count("<a ") == 1 and rendered.count("<b>") == 1


def test_slack_reply_splits_long_answers_without_cutting_an_entity() -> None:
    answer = "\n".join(f"{n}. Lukashenko & <Minsk> | Мінск*" for n in range(400))
    text, blocks = slack_reply(answer)
    assert text == "0. Lukashenko &amp; &lt;Minsk&gt; | Мінск*"
    pieces = [str(t["text"]) for t in texts(blocks)]
    assert len(pieces) > 1 and all(len(p) <= SLACK_SECTION_LIMIT for p in pieces)
    assert html.unescape("\n".join(pieces)) == answer


def test_slack_reply_of_dense_entities_stays_within_limits() -> None:
    _, blocks = slack_reply("&" * 20_000)
    pieces = [str(t["text"]) for t in texts(blocks)]
    assert all(len(p) <= SLACK_SECTION_LIMIT and p.count("&amp;") * 5 == len(p) for p in pieces)
    assert sum(p.count("&amp;") for p in pieces) == 20_000


def test_slack_reply_longer_than_fifty_blocks_says_it_was_cut() -> None:
    _, blocks = slack_reply("\n".join("x" * 2900 for _ in range(80)))
    assert len(blocks) == SLACK_MAX_BLOCKS
    assert "cut" in str(texts(blocks)[-1]["text"])


def test_slack_code_blocks_escape_and_fit() -> None:
    pieces = slack_code("topics:\n  a: <b> & c\n" * 500)
    assert all(p.startswith("```") and p.endswith("```") for p in pieces)
    assert all(len(p) <= SLACK_SECTION_LIMIT for p in pieces)
    assert "&lt;b&gt; &amp; c" in pieces[0]


def test_split_text_keeps_lines_whole_when_it_can() -> None:
    lines = [f"line {n} " + "word " * 30 for n in range(100)]
    pieces = split_text("\n".join(lines), 1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert "\n".join(pieces).split("\n") == lines


def test_plain_command_undoes_slack_escaping_and_links() -> None:
    assert plain_command("add belarus Tsikhanouskaya | Ціханоўская") == (
        "add belarus Tsikhanouskaya | Ціханоўская"
    )
    assert plain_command("exclude belarus A &amp; B &lt;x&gt;") == "exclude belarus A & B <x>"
    assert (
        plain_command("addfeed <https://example.org/rss.xml>")
        == "addfeed https://example.org/rss.xml"
    )
    assert plain_command("addfeed <https://example.org/rss|example.org/rss>") == (
        "addfeed https://example.org/rss"
    )
    assert plain_command("test hi <@U123|anna> in <#C9|news>") == "test hi @anna in #news"
    assert plain_command("  ") == ""
