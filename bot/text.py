"""Text as the matcher reads it: words folded for case, accents, punctuation and script.

Keywords and feed text go through the same `words` so that both sides always agree. A word
has two spellings: `native` keeps its script (``Лукашенко`` -> ``лукашенко``) and `latin` is its
transliteration (``lukashenko``), which lets a keyword match across scripts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

# Characters that are letters to Unicode but apostrophes to a reader ("сям'я", "Oʻzbek"):
# like every apostrophe, they separate words.
_APOSTROPHES = "\u02b9\u02bb\u02bc"
# Invisible characters found inside words in feeds (soft hyphen, zero-width joiners, BOM):
# they join, never split, and vanish from the folded word.
_IGNORABLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
# Where combining marks live: every script in use, and the variation selectors supplement.
_MARK_BLOCKS = (range(0x30000), range(0xE0000, 0xE1000))
_FOLD_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a text: its folded spellings and where it sits in the original."""

    native: str
    latin: str
    start: int
    end: int


def words(text: str) -> list[Word]:
    """Split `text` into folded words; punctuation, apostrophes and dashes separate them."""
    found: list[Word] = []
    for token in _token_pattern().finditer(text):
        start, end = token.span()
        for native, latin in _fold_token(token.group()):
            found.append(Word(native, latin, start, end))
    return found


def normalise(text: str) -> str:
    """The native words of `text` joined by single spaces: ``"Zapad–2025!"`` -> ``"zapad 2025"``."""
    return " ".join(word.native for word in words(text))


def transliterate(word: str) -> str:
    """A folded word in lower-case ASCII letters and digits (``беларусь`` -> ``belarus``)."""
    return "".join(ch for ch in anyascii(word).lower() if ch.isalnum())


@lru_cache(maxsize=1)
def _token_pattern() -> re.Pattern[str]:
    """Runs of letters, digits and the marks that belong to them; built once, on first use."""
    return re.compile(f"(?:[^\\W_{_APOSTROPHES}]|[{_mark_class()}{_IGNORABLE}])+")


def _mark_class() -> str:
    """A regex character-class body listing every combining mark (Python's `re` has no \\p{M})."""
    ranges: list[tuple[int, int]] = []
    for code in (code for block in _MARK_BLOCKS for code in block):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges)


@lru_cache(maxsize=65536)
def _fold_token(token: str) -> tuple[tuple[str, str], ...]:
    """(native, latin) for each word in one token; cached, as news repeats its vocabulary."""
    if token.isascii():
        folded = token.lower()
        return ((folded, folded),)
    natives = "".join(_fold_char(ch) for ch in token).split()
    return tuple((native, transliterate(native)) for native in natives)


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """One character folded: case, compatibility forms and accents gone; a space separates."""
    folded = ch
    for _ in range(_FOLD_ROUNDS):
        step = "".join(_fold_simple(part) for part in unicodedata.normalize("NFKD", folded))
        if step == folded:
            break
        folded = step
    return folded


def _fold_simple(ch: str) -> str:
    """Fold one character of an NFKD string: the per-character rules, without decomposition."""
    if ch.isascii():
        return ch.lower() if ch.isalnum() else " "
    if ch in _IGNORABLE:
        return ""
    lowered = ch.casefold()  # before marks: Greek iota subscript folds to a letter, ι
    if lowered != ch:
        return lowered
    category = unicodedata.category(ch)
    if category in ("Mn", "Me"):
        return ""
    if ch in _APOSTROPHES or not (ch.isalnum() or category == "Mc"):
        return " "
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    if unicodedata.name(ch, "").startswith("LATIN"):
        # Latin letters that NFKD leaves alone (ł, ø, đ, æ, ı, þ) get their plain spelling.
        return transliterate(ch) or ch
    return ch
