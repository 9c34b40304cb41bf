"""Keyword rules -> one compiled matcher for every topic and subscription at once.

An alias is a pattern of folded words (`bot.text`), its last word a prefix when the alias ends
in ``*``; an exact alias is also looked for in the Latin spelling of the text. Every pattern of
every rule set goes into one table, by its first word. The matcher reads a text a chunk at a
time (what `str.split` separates), and what a chunk sets off (the patterns its words complete,
the phrases they may start) is worked out the first time the matcher meets that chunk and then
remembered: news repeats itself, so an item costs a dictionary look-up a chunk and a little
work a hit, however many subscriptions there are. The chunks of an item not met before are
sieved all at once (`bot.sieve`), and only those where a pattern may start are read word by
word. The lines of each subscription are compiled once and reused by later compiles, so a
chat's edit recompiles that chat's lines only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import chain, compress, repeat
from operator import is_
from typing import Final, TypeVar

from bot.models import KeywordLine, Match
from bot.sieve import Sieve
from bot.text import FoldedText, chunk_words, normalise, words

MAX_KEYWORD_CHARS = 100
_SHOWN_CHARS = 30  # how much of an overlong alias an error message quotes
_REMEMBERED = 1 << 16  # chunks (and words) the matcher remembers, before starting afresh
_STEM = 4  # prefixes are filed by their first letters, this many
_T = TypeVar("_T")


class KeywordError(ValueError):
    """A keyword line that cannot be used; the message is meant for the user who wrote it."""


def parse_keyword_line(text: str, *, max_chars: int = MAX_KEYWORD_CHARS) -> KeywordLine:
    """One line, its aliases joined by ``|``: ``"Minsk | Минск*"``. Aliases are kept as written."""
    if not text.strip():
        raise KeywordError("keyword line is empty")
    aliases = tuple(" ".join(part.split()) for part in text.split("|"))
    for alias in aliases:
        if not alias:
            raise KeywordError(f"keyword line '{text.strip()}' has an empty alias: check its '|'")
        if len(alias) > max_chars:
            raise KeywordError(
                f"alias '{alias[:_SHOWN_CHARS]}…' is longer than {max_chars} characters"
            )
        _compile_alias(alias)
    return KeywordLine(aliases)


def parse_keyword_lines(text: str, *, max_chars: int = MAX_KEYWORD_CHARS) -> list[KeywordLine]:
    """Several lines as typed in chat, separated by commas (or newlines): ``"A | B, C"``."""
    parts = [part for part in text.replace("\n", ",").split(",") if part.strip()]
    if not parts:
        raise KeywordError("keyword line is empty")
    return [parse_keyword_line(part, max_chars=max_chars) for part in parts]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """What one topic or subscription looks for; `id` names it in the matcher's answers."""

    id: str
    keywords: tuple[KeywordLine, ...]
    exclude: tuple[KeywordLine, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """One alias of one line found in the text, with the original words it matched."""

    rule_set: str
    line: KeywordLine
    alias: str
    text: str
    field: str  # "title", "summary" or "category"
    exclude: bool


@dataclass(frozen=True, slots=True)
class RuleSetExplanation:
    """Everything one rule set found: keyword hits, and the exclude hits that veto them."""

    id: str
    hits: tuple[Hit, ...]
    vetoes: tuple[Hit, ...]

    @property
    def matched(self) -> bool:
        return bool(self.hits) and not self.vetoes


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a text matches what it matches: for `dozor match` and for curious users."""

    read_as: tuple[tuple[str, str], ...]  # (field, the text as folded words)
    rule_sets: tuple[RuleSetExplanation, ...]  # those with any hit, in compile order

    @property
    def matched(self) -> tuple[str, ...]:
        return tuple(found.id for found in self.rule_sets if found.matched)


@dataclass(frozen=True, slots=True)
class _Alias:
    """An alias as patterns: `native` words in their own script, `latin` transliterated (exact
    aliases only); with `prefix`, the last native word is a prefix. The keys name them."""

    native: tuple[str, ...]
    latin: tuple[str, ...] | None
    prefix: bool
    native_key: str
    latin_key: str | None


# The compiled tables are plain tuples of numbers and strings, never classes: the garbage
# collector then stops walking them (it untracks such tuples), and a matcher holds many.
#
# Where a pattern comes from: (group: the id() of its _Lines, kept alive by the Matcher;
# exclude; line number; alias number; alias; label). Tuple order sorts a rule set's hits:
# keyword before exclude, then by line, then by alias.
_Owner = tuple[int, bool, int, int, str, str]
_GROUP: Final = 0
_EXCLUDE: Final = 1
_LINE: Final = 2
_ALIAS: Final = 4
_LABEL: Final = 5
_Owners = tuple[_Owner, ...]
_Found = tuple[_Owners, int, int, str]  # owners, field, position, original text


_Spellings = tuple[tuple[str, ...], ...]  # lines as their aliases: a key that hashes quickly
# The tables of `_Patterns`: a pattern's key (its words) -> its owners.
_SINGLE, _LATIN_SINGLE, _PREFIX, _PHRASE, _LATIN_PHRASE = range(5)


class _Lines:
    """The lines of every rule set that has these keywords and excludes (subscriptions copying
    one topic), compiled into table entries: what the matcher reuses from one compile to the
    next, as most subscriptions do not change in between. Compared by identity."""

    __slots__ = ("entries", "exclude", "keywords")

    def __init__(self, keywords: _Spellings, exclude: _Spellings) -> None:
        self.keywords = tuple(KeywordLine(aliases) for aliases in keywords)
        self.exclude = tuple(KeywordLine(aliases) for aliases in exclude)
        entries: list[tuple[int, str, _Owner]] = []
        for excluded, lines in ((False, keywords), (True, exclude)):
            for number, aliases in enumerate(lines):
                for index, alias in enumerate(aliases):
                    form = _compile_alias(alias)
                    owner = (id(self), excluded, number, index, alias, aliases[0])
                    phrase = len(form.native) > 1
                    table = _PHRASE if phrase else _PREFIX if form.prefix else _SINGLE
                    entries.append((table, form.native_key, owner))
                    if form.latin_key is not None:
                        table = _LATIN_PHRASE if phrase else _LATIN_SINGLE
                        entries.append((table, form.latin_key, owner))
        self.entries = tuple(entries)

    def line(self, owner: _Owner) -> KeywordLine:
        return (self.exclude if owner[_EXCLUDE] else self.keywords)[owner[_LINE]]


@lru_cache(maxsize=1 << 14)
def _compiled_lines(keywords: _Spellings, exclude: _Spellings) -> _Lines:
    return _Lines(keywords, exclude)


@lru_cache(maxsize=1 << 17)
def _compile_alias(alias: str) -> _Alias:
    """Turn an alias into patterns, or say plainly why it cannot be one."""
    prefix = alias.endswith("*")
    body = alias[:-1] if prefix else alias
    if "*" in body:
        raise KeywordError(f"'*' may only end an alias: '{alias}'")
    found = words(body)
    if not found:
        raise KeywordError(f"alias '{alias}' has no letters or digits")
    if prefix and found[-1].end != len(body):
        raise KeywordError(f"'*' must follow a letter or digit, as in 'Belarus*': '{alias}'")
    native = tuple(word.native for word in found)
    native_key = " ".join(native) + ("*" if prefix else "")
    latin = tuple(word.latin for word in found)
    if prefix or not all(latin):
        return _Alias(native, None, prefix, native_key, None)
    return _Alias(native, latin, prefix, native_key, " ".join(latin))


# A pattern that may start at a word: (how many words it has; the words after the first;
# whether the last is a prefix; its owners in the spelling being read).
_Trigger = tuple[int, tuple[str, ...], bool, _Owners]
# A pattern found at a word of a chunk: (the word's place in the chunk; the word as written;
# (); False; False; owners). Or a phrase that may start at that word: (place; ""; the words
# that must follow; whether the last is a prefix; whether they are in Latin spelling; owners).
_ChunkHit = tuple[int, str, tuple[str, ...], bool, bool, _Owners]


class Matcher:
    """All rule sets compiled together; build with `Matcher.compile`, then call `match`."""

    def __init__(
        self,
        rule_sets: tuple[RuleSet, ...],
        groups: dict[_Lines, tuple[str, ...]],
        patterns: _Patterns,
    ) -> None:
        self._rule_sets = rule_sets
        # By the id() of their _Lines (which `_lines` keeps alive): rule set ids, compile order.
        self._lines = {id(lines): lines for lines in groups}
        self._ids = {id(lines): ids for lines, ids in groups.items()}
        self._order = {id(lines): index for index, lines in enumerate(groups)}
        self._patterns = patterns
        # What the matcher has read before: what each chunk and each word sets off.
        self._hits = _Remembered(self._chunk_hits)
        self._native = _Remembered(partial(patterns.triggers, False))
        self._latin = _Remembered(partial(patterns.triggers, True))

    @classmethod
    def compile(cls, rule_sets: Iterable[RuleSet]) -> Matcher:
        """Build one table; identical patterns are shared by all the lines that use them, and
        the lines of rule sets seen in an earlier compile are not compiled again."""
        sets = tuple(rule_sets)
        groups: dict[_Lines, tuple[str, ...]] = {}
        for (keywords, exclude), ids in _group(sets).items():
            try:
                groups[_compiled_lines(keywords, exclude)] = ids
            except KeywordError as exc:
                raise KeywordError(f"rule set '{ids[0]}': {exc}") from exc
        return cls(sets, groups, _Patterns(groups))

    @property
    def rule_sets(self) -> tuple[RuleSet, ...]:
        return self._rule_sets

    def match(
        self, title: str, summary: str = "", categories: Sequence[str] = ()
    ) -> dict[str, Match]:
        """For each rule set that matched and was not vetoed: its matched labels and evidence."""
        by_group: dict[int, list[tuple[_Owner, int, str]]] = {}
        for owners, _, position, text in self._scan((title, summary, *categories)):
            for owner in owners:
                hits = by_group.get(owner[_GROUP])
                if hits is None:
                    by_group[owner[_GROUP]] = [(owner, position, text)]
                else:
                    hits.append((owner, position, text))
        result: dict[str, Match] = {}
        for group in sorted(by_group, key=self._order.__getitem__):
            hits = by_group[group]
            if len(hits) == 1:  # the common case, made quick
                owner, _, text = hits[0]
                if owner[_EXCLUDE]:
                    continue
                found_match = Match((owner[_LABEL],), ((owner[_ALIAS], text),))
            else:
                hits.sort()
                if hits[-1][0][_EXCLUDE]:
                    continue
                labels = dict.fromkeys([owner[_LABEL] for owner, _, _ in hits])
                evidence = dict.fromkeys([(owner[_ALIAS], text) for owner, _, text in hits])
                found_match = Match(tuple(labels), tuple(evidence))
            for rule_set_id in self._ids[group]:
                result[rule_set_id] = found_match
        return result

    def explain(self, title: str, summary: str = "", categories: Sequence[str] = ()) -> Explanation:
        """Which alias of which line of which rule set matched which words, and what vetoed."""
        fields = _fields(title, summary, categories)
        by_group: dict[int, list[tuple[_Owner, int, int, str]]] = {}
        for owners, field, position, text in self._scan([text for _, text in fields]):
            for owner in owners:
                by_group.setdefault(owner[_GROUP], []).append((owner, position, field, text))
        explained: dict[str, RuleSetExplanation] = {}
        for group, hits in by_group.items():
            lines = self._lines[group]
            for rule_set_id in self._ids[group]:
                found_hits = dict.fromkeys(
                    Hit(
                        rule_set_id,
                        lines.line(owner),
                        owner[_ALIAS],
                        text,
                        fields[field][0],
                        owner[_EXCLUDE],
                    )
                    for owner, _, field, text in sorted(hits)
                )
                explained[rule_set_id] = RuleSetExplanation(
                    id=rule_set_id,
                    hits=tuple(hit for hit in found_hits if not hit.exclude),
                    vetoes=tuple(hit for hit in found_hits if hit.exclude),
                )
        return Explanation(
            read_as=tuple((name, normalise(text)) for name, text in fields),
            rule_sets=tuple(explained[r.id] for r in self._rule_sets if r.id in explained),
        )

    def _scan(self, texts: Sequence[str]) -> list[_Found]:
        """Every pattern found in the fields, in their native spelling and their Latin one; no
        pattern spans two fields. A position (field, chunk, word in the chunk, as one number)
        orders what is found as the text does."""
        found: list[_Found] = []
        if not self._patterns:
            return found
        if len(self._hits) > _REMEMBERED or len(self._native) > _REMEMBERED:
            for remembered in (self._hits, self._native, self._latin):
                remembered.clear()
        fields = [text.split() for text in texts]
        chunks = list(chain.from_iterable(fields))
        hits = list(map(self._hits.get, chunks))
        if None in hits:  # chunks never read before
            read = self._read(list(compress(chunks, map(is_, hits, repeat(None)))))
            if read:
                hits = list(map(read.get, chunks, hits))
        if not any(hits):
            return found
        end = 0
        for field, (text, field_chunks) in enumerate(zip(texts, fields, strict=True)):
            start, end = end, end + len(field_chunks)
            field_hits = hits[start:end]
            if not any(field_hits):
                continue
            folded = FoldedText(text, field_chunks)
            for chunk in compress(range(len(field_hits)), field_hits):
                for offset, written, rest, prefix, latin, owners in field_hits[chunk] or ():
                    if rest:
                        following = folded.following(chunk, offset, len(rest), latin)
                        if not _continues(following, rest, prefix):
                            continue
                        written = folded.original(chunk, offset, 1 + len(rest))
                    found.append((owners, field, field << 64 | chunk << 32 | offset, written))
        return found

    def _read(self, chunks: list[str]) -> dict[str, tuple[_ChunkHit, ...]]:
        """Remember what `chunks`, read for the first time, set off; those that set off
        something. Only the chunks where a pattern may start (`Sieve`) are read word by word."""
        self._hits.update(zip(chunks, repeat(())))
        found: dict[str, tuple[_ChunkHit, ...]] = {}
        for place in self._patterns.sieve.places(chunks):
            chunk = chunks[place]
            hits = self._hits[chunk] = self._chunk_hits(chunk)
            if hits:
                found[chunk] = hits
        return found

    def _chunk_hits(self, chunk: str) -> tuple[_ChunkHit, ...]:
        """The patterns found in a chunk, and the phrases that may start in it."""
        spelled = chunk_words(chunk)
        natives = list(map(self._native.__getitem__, spelled.natives))
        latins = list(map(self._latin.__getitem__, spelled.latins))
        if not any(natives) and not any(latins):
            return ()
        found: list[_ChunkHit] = []
        for offset, (as_native, as_latin) in enumerate(zip(natives, latins, strict=True)):
            single: dict[_Owner, None] = {}
            for in_latin, triggers in ((False, as_native), (True, as_latin)):
                for _, rest, prefix, owners in triggers:
                    if rest:
                        found.append((offset, "", rest, prefix, in_latin, owners))
                    else:
                        single.update(dict.fromkeys(owners))
            if single:
                start, end = spelled.spans[offset]
                found.append((offset, chunk[start:end], (), False, False, tuple(single)))
        return tuple(found)


class _Remembered(dict[str, _T]):
    """What a function gives for each key, worked out on first sight."""

    def __init__(self, work_out: Callable[[str], _T]) -> None:
        super().__init__()
        self._work_out = work_out

    def __missing__(self, key: str) -> _T:
        value = self[key] = self._work_out(key)
        return value


class _Patterns:
    """Every pattern of every rule set, by its first word, in each spelling: native (where the
    prefixes are) and Latin."""

    def __init__(self, groups: Iterable[_Lines]) -> None:
        tables: tuple[_Table[_Owner], ...] = ({}, {}, {}, {}, {})
        for lines in groups:
            for table, key, owner in lines.entries:
                _add(tables[table], key, owner)
        self._single = (_frozen(tables[_SINGLE]), _frozen(tables[_LATIN_SINGLE]))
        phrases: tuple[_Table[_Trigger], _Table[_Trigger]] = ({}, {})
        for table, by_head in zip((_PHRASE, _LATIN_PHRASE), phrases, strict=True):
            for key, owners in _frozen(tables[table]).items():
                head, *rest = key.removesuffix("*").split(" ")
                _add(by_head, head, (1 + len(rest), tuple(rest), key.endswith("*"), owners))
        self._phrases = (_frozen(phrases[0]), _frozen(phrases[1]))
        # Prefixes by their first `_STEM` letters (shorter ones by themselves), so that a word
        # is checked against the few prefixes that start as it does.
        stems: _Table[tuple[str, _Trigger]] = {}
        for key, owners in _frozen(tables[_PREFIX]).items():
            stem = key.removesuffix("*")
            _add(stems, stem[:_STEM], (stem, (1, (), True, owners)))
        self._stems = _frozen(stems)
        self._short = sorted({len(stem) for stem in stems if len(stem) < _STEM})
        self.sieve = Sieve(
            natives=[*self._single[False], *self._phrases[False]],
            latins=[*self._single[True], *self._phrases[True]],
            prefixes=[stem for found in self._stems.values() for stem, _ in found],
        )

    def __bool__(self) -> bool:
        return any(self._single) or any(self._phrases) or bool(self._stems)

    def triggers(self, latin: bool, word: str) -> tuple[_Trigger, ...]:
        """The patterns `word` completes or starts, read in its native or its Latin spelling."""
        found: list[_Trigger] = []
        single = self._single[latin].get(word)
        if single:
            found.append((1, (), False, single))
        if not latin:  # with short prefixes, a short word's cuts repeat: a set drops those
            stems = (
                {word[:_STEM], *(word[:length] for length in self._short)}
                if self._short
                else (word[:_STEM],)
            )
            for stem in stems:
                found.extend(
                    trigger
                    for prefix, trigger in self._stems.get(stem, ())
                    if word.startswith(prefix)
                )
        found.extend(self._phrases[latin].get(word, ()))
        return tuple(found)


# A table being built: what each key has so far. A key's first value goes into a tuple and
# its others into a list: most keys have one value, and a list is one more object for the
# garbage collector to walk (a build makes tens of thousands of keys).
_Table = dict[str, tuple[_T, ...] | list[_T]]


def _add(table: _Table[_T], key: str, value: _T) -> None:
    found = table.get(key)
    if found is None:
        table[key] = (value,)
    elif isinstance(found, tuple):
        table[key] = [*found, value]
    else:
        found.append(value)


def _frozen(table: _Table[_T]) -> dict[str, tuple[_T, ...]]:
    return {key: tuple(values) for key, values in table.items()}


def _continues(following: tuple[str, ...], rest: tuple[str, ...], prefix: bool) -> bool:
    """Whether the words `following` a phrase's first word are the rest of it (the last one a
    prefix when `prefix`)."""
    if not prefix or len(following) < len(rest):
        return following == rest
    return following[:-1] == rest[:-1] and following[-1].startswith(rest[-1])


def _fields(title: str, summary: str, categories: Sequence[str]) -> list[tuple[str, str]]:
    return [("title", title), ("summary", summary), *(("category", c) for c in categories)]


def _group(rule_sets: tuple[RuleSet, ...]) -> dict[tuple[_Spellings, _Spellings], tuple[str, ...]]:
    """Rule set ids by identical lines, in order of first appearance; ids must be unique."""
    counts = Counter(rule_set.id for rule_set in rule_sets)
    duplicates = [each for each, count in counts.items() if count > 1]
    if duplicates:
        raise ValueError(f"rule set ids must be unique: {', '.join(duplicates)}")
    members: dict[tuple[_Spellings, _Spellings], list[str]] = {}
    for rule_set in rule_sets:
        keywords = tuple(line.aliases for line in rule_set.keywords)
        exclude = tuple(line.aliases for line in rule_set.exclude)
        members.setdefault((keywords, exclude), []).append(rule_set.id)
    return {lines: tuple(ids) for lines, ids in members.items()}
