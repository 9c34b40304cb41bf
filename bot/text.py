"""Text as the matcher reads it: words folded for case, accents, punctuation and script.

Keywords and feed text go through the same `words` so that both sides always agree. A word
has two spellings: `native` keeps its script (``Лукашенко`` -> ``лукашенко``) and `latin` is its
transliteration (``lukashenko``), which lets a keyword match across scripts. The matcher reads
a text a chunk at a time (`chunk_words`, `FoldedText`): what `str.split` separates, which no
word spans, and which news repeats often enough to be worth remembering.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

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
_BMP = 0x10000
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ASCII_TOKEN = re.compile("[0-9A-Za-z]+")  # the token pattern for ASCII text


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
    for token in _tokens_in(text).finditer(text):
        start, end = token.span()
        for native, latin in _fold_token(token.group()):
            found.append(Word(native, latin, start, end))
    return found


def normalise(text: str) -> str:
    """The native words of `text` joined by single spaces: ``"Zapad–2025!"`` -> ``"zapad 2025"``."""
    return " ".join(word.native for word in words(text))


class Chunk(NamedTuple):
    """The words of one chunk of text (what `str.split` separates, which no token spans): their
    native and Latin spellings, and where each sits in the chunk."""

    natives: tuple[str, ...]
    latins: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


@lru_cache(maxsize=1 << 16)
def chunk_words(chunk: str) -> Chunk:
    """`words` of one chunk: a text's words are its chunks' words, one chunk after another.
    Cached, as news repeats itself (and the chunks with hits come back at every match)."""
    pattern = _tokens_in(chunk)
    tokens = pattern.findall(chunk)
    if len(tokens) == 1:  # most chunks: one word and some punctuation
        folded = _fold_token(tokens[0])
        if len(folded) == 1:
            start = chunk.find(tokens[0])  # no other run of its letters comes first
            native, latin = folded[0]
            return Chunk((native,), (latin,), ((start, start + len(tokens[0])),))
    if chunk.isascii():
        spans = tuple(token.span() for token in _ASCII_TOKEN.finditer(chunk))
        natives = tuple(chunk[start:end].lower() for start, end in spans)
        return Chunk(natives, natives, spans)
    natives_: list[str] = []
    latins: list[str] = []
    spans_: list[tuple[int, int]] = []
    for token in pattern.finditer(chunk):
        for native, latin in _fold_token(token.group()):
            natives_.append(native)
            latins.append(latin)
            spans_.append(token.span())
    return Chunk(tuple(natives_), tuple(latins), tuple(spans_))


class FoldedText:
    """A text read chunk by chunk, each chunk's words worked out (`chunk_words`) only where
    asked: the matcher passes most texts over on their chunks alone."""

    __slots__ = ("_chunks", "_starts", "_text")

    def __init__(self, text: str, chunks: list[str]) -> None:
        self._text = text
        self._chunks = chunks  # text.split()
        self._starts: list[int] = []  # where each chunk starts in the text, once asked

    def following(self, chunk: int, offset: int, count: int, latin: bool) -> tuple[str, ...]:
        """Up to `count` words after word `offset` of chunk number `chunk`, in their native or
        their Latin spelling (an empty Latin spelling is a word too)."""
        spellings = _LATINS if latin else _NATIVES
        here: tuple[str, ...] = spellings(chunk_words(self._chunks[chunk]))
        if offset + count < len(here):
            return here[offset + 1 : offset + 1 + count]
        found = list(here[offset + 1 :])
        while len(found) < count and chunk + 1 < len(self._chunks):
            chunk += 1
            found.extend(spellings(chunk_words(self._chunks[chunk]))[: count - len(found)])
        return tuple(found)

    def original(self, chunk: int, offset: int, count: int) -> str:
        """The original text of `count` words from word `offset` of chunk number `chunk`, what
        lies between them included."""
        start = chunk_words(self._chunks[chunk]).spans[offset][0]
        tail, last = chunk, offset + count - 1
        while last >= len(spans := chunk_words(self._chunks[tail]).spans):
            last -= len(spans)
            tail += 1
        end = spans[last][1]
        if tail == chunk:
            return self._chunks[chunk][start:end]
        if not self._starts:
            at = 0
            for each in self._chunks:
                at = self._text.find(each, at)  # only spaces lie before it: the first find is it
                self._starts.append(at)
                at += len(each)
        return self._text[self._starts[chunk] + start : self._starts[tail] + end]


_NATIVES = attrgetter("natives")
_LATINS = attrgetter("latins")


def transliterate(word: str) -> str:
    """A folded word in lower-case ASCII letters and digits (``беларусь`` -> ``belarus``)."""
    return "".join(ch for ch in anyascii(word).lower() if ch.isalnum())


def _tokens_in(text: str) -> re.Pattern[str]:
    """The token pattern for `text`: the quick one unless it holds a character beyond the BMP."""
    if text.isascii():
        return _ASCII_TOKEN
    if _ASTRAL.search(text):
        return _token_pattern()
    return _bmp_token_pattern()


@lru_cache(maxsize=1)
def _token_pattern() -> re.Pattern[str]:
    """Runs of letters, digits and the marks that belong to them; built once, on first use."""
    return re.compile(f"(?:[^\\W_{_APOSTROPHES}]|[{_mark_class()}{_IGNORABLE}])+")


@lru_cache(maxsize=1)
def _bmp_token_pattern() -> re.Pattern[str]:
    """`_token_pattern` for text within the BMP, as one character class: `re` keeps such a class
    as a bitmap, where the marks of other planes would be a list searched at every character."""
    exact = _token_pattern()
    ranges: list[tuple[int, int]] = []
    for code in range(_BMP):
        if exact.fullmatch(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    spans = "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in ranges)
    return re.compile(f"[{spans}]+")


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


def is_token_char(ch: str) -> bool:
    """Whether `ch` may be part of a word (else it separates words)."""
    return _token_pattern().fullmatch(ch) is not None


@lru_cache(maxsize=65536)
def _fold_token(token: str) -> tuple[tuple[str, str], ...]:
    """(native, latin) for each word in one token; cached, as news repeats its vocabulary."""
    if token.isascii():
        folded = token.lower()
        return ((folded, folded),)
    natives = "".join(_fold_char(ch) for ch in token).split()
    return tuple((native, transliterate(native)) for native in natives)


def fold_char(ch: str) -> str:
    """One character of a word folded: case, compatibility forms and accents gone; a space
    separates. Each character folds on its own, whatever surrounds it."""
    folded = ch
    for _ in range(_FOLD_ROUNDS):
        step = "".join(_fold_simple(part) for part in unicodedata.normalize("NFKD", folded))
        if step == folded:
            break
        folded = step
    return folded


_fold_char = lru_cache(maxsize=8192)(fold_char)


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
