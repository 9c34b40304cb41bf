"""Which chunks of new text may hold a keyword: a quick pass before the matcher reads them.

Reading a chunk (`bot.text.chunk_words`) costs microseconds a word, in Python, and most chunks
of news hold nothing anyone watches for. So the chunks the matcher has not read before are
first folded all at once, in C: folding goes a character at a time (`bot.text` folds each
character of a token on its own), and so does transliteration (`anyascii`), so one
`str.translate` spells every word of a batch of chunks in Latin letters. A pattern that starts
at a word starts, in Latin spelling, with the Latin spelling of its first word (or of its
prefix), whatever its script: the chunks without such a word are passed over unread.

A prefix is matched in the native spelling only, so the sieve spells in capitals the letters of
characters that do not fold to ASCII: ``Дема*`` is looked for as ``DEMA``, which ``demand``
does not start with, and ``Pobe*`` as ``pobe``, which ``победитель`` (``POBEDITEL``) does not.
Exact words are looked for in lower case, the Latin spelling itself.

The same tables, in the native spelling, fold a whole text in one go (`native_words`, which
story fingerprints read titles with).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from itertools import compress, count
from operator import itemgetter

from bot.text import fold_char, is_token_char, transliterate
from bot.text import words as words_of

CHUNK_BREAK = "\x00"  # between two chunks' words in folded text (a control character folds to " ")
_STEM = 4  # prefixes are filed by their first letters, this many
_FEW = 3  # words looked for one at a time (more: every word is looked at once)
_JOIN = " \t "  # how chunks are joined before folding: no chunk holds whitespace
_BLOCK = 8  # bits of a code point within its block
# Blocks the table may hold (about 30 KB each): every script in use fits many times over, and a
# feed that strews characters of every plane cannot make the table grow without bound. Text
# with a character of a block beyond that is not sieved (every chunk is read, as before).
_MAX_BLOCKS = 512

# Code point -> the Latin spelling of what it folds to (in capitals where that is not ASCII), for
# every character of the blocks read so far. A character the table lacks stays as it is, so the
# text is not ASCII once translated: that is how a block not read before is noticed.
_LATIN: dict[int, str] = {}
# Code point -> what it folds to, a space where it separates words: the native spelling of
# `bot.text.words`, a character at a time, for the same blocks.
_NATIVE: dict[int, str] = {}
_READ: set[int] = set()  # the blocks in the tables


class Sieve:
    """Keeps the chunks where a native word may be one of `natives` or begin with one of
    `prefixes`, or a Latin word may be one of `latins`: those where a pattern may start."""

    def __init__(
        self, natives: Iterable[str], latins: Iterable[str], prefixes: Iterable[str]
    ) -> None:
        words = {*latins, *map(_latin_of, natives)}
        stems: dict[str, list[str]] = {}
        for prefix in map(_marked_of, prefixes):
            stems.setdefault(prefix[:_STEM], []).append(prefix)
        self._words = frozenset(words)
        self._stems = {stem: tuple(found) for stem, found in stems.items()}
        self._stem_keys = frozenset(stems)
        self._cuts = [itemgetter(slice(length)) for length in sorted(set(map(len, stems)))]
        # A first word or a prefix without a Latin spelling might start at any word.
        self._keeps_all = "" in words or "" in stems

    def places(self, chunks: Sequence[str]) -> Collection[int]:
        """The numbers of the chunks (text between whitespace) where a pattern may start."""
        spelled = None if self._keeps_all else _spelled(chunks)
        if spelled is None:
            return range(len(chunks))
        marked = spelled.split()
        lowered = spelled.lower()
        words = marked if lowered == spelled else lowered.split()  # the same places
        found = self._words.intersection(words)
        cut_words = [list(map(cut, marked)) for cut in self._cuts]
        stems = [self._stem_keys.intersection(each) for each in cut_words]
        if not found and not any(stems):
            return ()
        places = _places(words, found)
        for each, found_stems in zip(cut_words, stems, strict=True):
            if found_stems:
                places.extend(
                    at
                    for at in _places(each, found_stems)
                    if marked[at].startswith(self._stems[each[at]])
                )
        return _chunks(words, places)


def latin_words(chunks: Sequence[str]) -> list[str] | None:
    """The Latin spellings of the words of `chunks`, in order, the empty ones left out, with
    `CHUNK_BREAK` between one chunk's words and the next's; None when the table may not grow
    to hold the characters they use."""
    spelled = _spelled(chunks)
    return None if spelled is None else spelled.lower().split()


def native_words(text: str) -> list[str]:
    """The native spellings of the words of `text`, as `bot.text.words` gives them, folded
    with one `str.translate` (story fingerprints read every new item's title this way)."""
    if _spelled([text]) is None:  # no room for the blocks it uses: read it word by word
        return [word.native for word in words_of(text)]
    return text.translate(_NATIVE).split()


def _spelled(chunks: Sequence[str]) -> str | None:
    """`chunks` joined and spelled in Latin letters, capitals where a character does not fold
    to ASCII (see `latin_words`); the blocks they use are read into the tables first."""
    if not _LATIN:
        _read_ascii()
    joined = _JOIN.join(chunks) if len(chunks) != 1 else chunks[0]
    latin = joined.translate(_LATIN)
    if not latin.isascii():  # characters of blocks not read before
        blocks = {ord(ch) >> _BLOCK for ch in latin if not ch.isascii()}
        if len(_READ) + len(blocks) > _MAX_BLOCKS:
            return None
        for block in blocks:
            _read_block(block)
        latin = joined.translate(_LATIN)
    return latin


def _places(words: list[str], found: Collection[str]) -> list[int]:
    """Where each of `found` is among `words`."""
    if len(found) > _FEW:
        return list(compress(count(), map(found.__contains__, words)))
    places: list[int] = []
    for each in found:
        at = -1
        for _ in range(words.count(each)):
            at = words.index(each, at + 1)
            places.append(at)
    return places


def _chunks(words: list[str], places: list[int]) -> set[int]:
    """The chunk of each place among `words`: how many breaks come before it."""
    if len(places) > _FEW:
        breaks = list(compress(count(), map(CHUNK_BREAK.__eq__, words)))
        return {bisect_right(breaks, at) for at in places}
    return {words[:at].count(CHUNK_BREAK) for at in places}


@lru_cache(maxsize=1 << 17)
def _latin_of(word: str) -> str:
    """`transliterate`, remembered: the same keywords come back at every compile."""
    return transliterate(word)


@lru_cache(maxsize=1 << 17)
def _marked_of(word: str) -> str:
    """A folded word as the sieve spells it: in Latin letters, capitals where it is not ASCII."""
    return "".join(map(_marked, word))


def _marked(native: str) -> str:
    """One character of a folded word in Latin letters, in capitals unless it is ASCII."""
    latin = transliterate(native)
    return latin if native.isascii() else latin.upper()


def _read_ascii() -> None:
    """ASCII, which needs no Unicode tables: letters and digits are words, the rest separates."""
    for code in range(128):
        ch = chr(code)
        _LATIN[code] = _NATIVE[code] = ch.lower() if ch.isalnum() else " "
    _LATIN[ord("\t")] = CHUNK_BREAK


def _read_block(block: int) -> None:
    """Fill the table for the 256 characters of `block` (ASCII is there from the start)."""
    _READ.add(block)
    for code in range(max(block << _BLOCK, 128), (block + 1) << _BLOCK):
        ch = chr(code)
        native = _NATIVE[code] = fold_char(ch) if is_token_char(ch) else " "
        # Transliteration, too, goes a character at a time: this is `_marked_of` of a word.
        _LATIN[code] = "".join(part if part == " " else _marked(part) for part in native)
