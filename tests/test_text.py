"""Folding text for matching: case, accents, punctuation and scripts, the same for both sides."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import (
    FoldedText,
    Word,
    _token_pattern,
    _tokens_in,
    chunk_words,
    normalise,
    transliterate,
    words,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("LUKASHENKO", "lukashenko"),
        ("Łukaszenka", "lukaszenka"),
        ("Weißrussland", "weissrussland"),
        ("WEISSRUSSLAND", "weissrussland"),
        ("ẞ", "ss"),
        ("Ёлка", "елка"),
        ("Йошкар-Ола", "иошкар ола"),
        ("Ціханоўская", "ціханоуская"),
        ("Søren Ærø", "soren aero"),
        ("Đoković", "dokovic"),
        ("Diyarbakır", "diyarbakir"),
        ("Þórshöfn", "thorshofn"),
        ("Ελλάδα ΟΔΟΣ", "ελλαδα οδοσ"),
        ("Ｍｉｎｓｋ", "minsk"),
        ("ﬁnal", "final"),
        ("٢٠٢٥", "2025"),
    ],
)
def test_case_accents_and_stubborn_latin_letters_fold(text: str, folded: str) -> None:
    assert normalise(text) == folded


@pytest.mark.parametrize(
    "text",
    [
        "Zapad-2025",
        "Zapad–2025",
        "Zapad—2025",
        "ZAPAD 2025",
        "«Zapad»  2025!",
        "Zapad_2025",
        "Zapad\u00a02025",
        "zapad/2025",
    ],
)
def test_punctuation_dashes_and_spaces_separate_words(text: str) -> None:
    assert normalise(text) == "zapad 2025"


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u02bc", "`"])
def test_apostrophes_separate_words(apostrophe: str) -> None:
    assert normalise(f"LUKASHENKO{apostrophe}S") == "lukashenko s"
    assert normalise(f"сям{apostrophe}я") == "сям я"


def test_invisible_characters_inside_a_word_do_not_split_it() -> None:
    assert normalise("Luka\u00adshenko") == "lukashenko"
    assert normalise("Мінск\u200d") == "мінск"


def test_decomposed_and_composed_accents_read_the_same() -> None:
    composed = unicodedata.normalize("NFC", "Białoruś Ёж café")
    decomposed = unicodedata.normalize("NFD", composed)
    assert normalise(decomposed) == normalise(composed) == "białorus еж cafe".replace("ł", "l")


def test_words_keep_their_place_in_the_original_text() -> None:
    text = "Минск обвинил CNN — после интервью с Лукашенко."
    found = words(text)
    assert [text[w.start : w.end] for w in found] == [
        "Минск",
        "обвинил",
        "CNN",
        "после",
        "интервью",
        "с",
        "Лукашенко",
    ]
    assert found[0] == Word(native="минск", latin="minsk", start=0, end=5)
    assert found[-1].latin == "lukashenko"


@pytest.mark.parametrize(
    ("word", "latin"),
    [("лукашенко", "lukashenko"), ("мінск", "minsk"), ("беларусь", "belarus"), ("北京", "beijing")],
)
def test_transliteration_is_lower_case_ascii_letters_and_digits(word: str, latin: str) -> None:
    assert transliterate(word) == latin


def test_text_without_letters_or_digits_has_no_words() -> None:
    assert words("") == []
    assert words(" — …!? \u0301 🙂") == []
    assert normalise("«»") == ""


@given(st.text())
def test_words_never_raise_and_point_into_the_text(text: str) -> None:
    for word in words(text):
        assert 0 <= word.start < word.end <= len(text)
        assert word.native
        assert not any(ch.isspace() for ch in word.native)
        assert word.latin == "" or (word.latin.isascii() and word.latin.isalnum())


@given(st.text())
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(st.text())
def test_folding_is_case_insensitive(text: str) -> None:
    assert normalise(text.upper()) == normalise(text.lower())


# --- reading a text a chunk at a time (what the matcher does) --------------------------------


@given(st.text())
def test_a_text_s_words_are_its_chunks_words(text: str) -> None:
    natives: list[str] = []
    latins: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for chunk in text.split():
        at = text.index(chunk, at)
        spelled = chunk_words(chunk)
        natives.extend(spelled.natives)
        latins.extend(spelled.latins)
        spans.extend((at + start, at + end) for start, end in spelled.spans)
        at += len(chunk)
    found = words(text)
    assert natives == [word.native for word in found]
    assert latins == [word.latin for word in found]
    assert spans == [(word.start, word.end) for word in found]


@given(st.text(st.characters(codec="utf-8")))
def test_the_quick_token_patterns_split_as_the_exact_one(text: str) -> None:
    exact = [token.span() for token in _token_pattern().finditer(text)]
    assert [token.span() for token in _tokens_in(text).finditer(text)] == exact


def test_a_folded_text_reads_following_words_and_quotes_the_original() -> None:
    text = "Учения «Запад-2025» прошли —  у Zapad\u00a02025 и в Минске"
    folded = FoldedText(text, text.split())
    assert folded.following(1, 0, 1, latin=False) == ("2025",)  # «Запад-2025»: in one chunk
    assert folded.following(1, 1, 2, latin=False) == ("прошли", "у")  # "—" has no word
    assert folded.following(1, 0, 1, latin=True) == ("2025",)
    assert folded.following(7, 0, 3, latin=True) == ("v", "minske")  # to the end, no further
    assert folded.original(1, 0, 2) == "Запад-2025"
    assert folded.original(2, 0, 2) == "прошли —  у"
    assert folded.original(5, 0, 2) == "Zapad\u00a02025"  # two chunks, what is between kept
