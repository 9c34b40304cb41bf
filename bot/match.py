"""Keyword rules -> one compiled matcher for every topic and subscription at once.

Each alias becomes a pattern over a stream of folded words (" w1 w2 " for an exact alias,
" w1 w2" for a prefix alias ending in ``*``); every pattern of every rule set goes into a single
Aho-Corasick automaton, so the cost of matching an item hardly grows with the number of
subscriptions. Exact aliases are also looked for in a transliterated (Latin) copy of the text.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import ahocorasick

from bot.models import KeywordLine, Match
from bot.text import Word, normalise, words

MAX_KEYWORD_CHARS = 100
_SHOWN_CHARS = 30  # how much of an overlong alias an error message quotes
_FIELD_BREAK = "\n"  # between fields: no pattern contains it, so no phrase spans two fields


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
    """An alias as patterns: `native` in its own script, `latin` transliterated (exact only)."""

    native: str
    latin: str | None


class _Owner(NamedTuple):
    """Where a pattern comes from. Its order sorts hits by group, keyword before exclude, line."""

    group: int
    exclude: bool
    line: int
    alias_index: int
    alias: str
    label: str


class _Entry(NamedTuple):
    """An automaton value: the owners that count in the native and in the Latin stream."""

    length: int
    native: tuple[_Owner, ...]
    latin: tuple[_Owner, ...]


class _Found(NamedTuple):
    """One pattern found: its owners, and the original words it covers."""

    owners: tuple[_Owner, ...]
    field: int
    position: int  # index of the first word covered, to keep evidence in text order
    text: str


@dataclass(frozen=True, slots=True)
class _Group:
    """Rule sets with identical lines (subscriptions copying one topic) are matched once."""

    keywords: tuple[KeywordLine, ...]
    exclude: tuple[KeywordLine, ...]
    ids: tuple[str, ...]

    def line(self, owner: _Owner) -> KeywordLine:
        return (self.exclude if owner.exclude else self.keywords)[owner.line]


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
    native = " ".join(word.native for word in found)
    if prefix:
        return _Alias(f" {native}", None)
    latin = [word.latin for word in found]
    return _Alias(f" {native} ", f" {' '.join(latin)} " if all(latin) else None)


class Matcher:
    """All rule sets compiled together; build with `Matcher.compile`, then call `match`."""

    def __init__(
        self, rule_sets: tuple[RuleSet, ...], groups: tuple[_Group, ...], automaton: Any
    ) -> None:
        self._rule_sets = rule_sets
        self._groups = groups
        self._automaton = automaton  # None when there is no pattern at all

    @classmethod
    def compile(cls, rule_sets: Iterable[RuleSet]) -> Matcher:
        """Build one automaton; identical patterns are shared by all the lines that use them."""
        sets = tuple(rule_sets)
        groups = _group(sets)
        native: dict[str, list[_Owner]] = {}
        latin: dict[str, list[_Owner]] = {}
        forms: dict[str, _Alias] = {}
        for index, group in enumerate(groups):
            for owner in _owners(index, group):
                form = forms.get(owner.alias)
                if form is None:
                    try:
                        form = forms[owner.alias] = _compile_alias(owner.alias)
                    except KeywordError as exc:
                        raise KeywordError(f"rule set '{group.ids[0]}': {exc}") from exc
                native.setdefault(form.native, []).append(owner)
                if form.latin is not None:
                    latin.setdefault(form.latin, []).append(owner)
        return cls(sets, groups, _build_automaton(native, latin))

    @property
    def rule_sets(self) -> tuple[RuleSet, ...]:
        return self._rule_sets

    def match(
        self, title: str, summary: str = "", categories: Sequence[str] = ()
    ) -> dict[str, Match]:
        """For each rule set that matched and was not vetoed: its matched labels and evidence."""
        by_group: dict[int, list[tuple[_Owner, int, str]]] = {}
        for found in self._scan(_fields(title, summary, categories)):
            for owner in found.owners:
                by_group.setdefault(owner.group, []).append((owner, found.position, found.text))
        result: dict[str, Match] = {}
        for group in sorted(by_group):
            hits = sorted(by_group[group])
            if hits[-1][0].exclude:
                continue
            labels = dict.fromkeys(owner.label for owner, _, _ in hits)
            evidence = dict.fromkeys((owner.alias, text) for owner, _, text in hits)
            found_match = Match(labels=tuple(labels), evidence=tuple(evidence))
            result.update(dict.fromkeys(self._groups[group].ids, found_match))
        return result

    def explain(self, title: str, summary: str = "", categories: Sequence[str] = ()) -> Explanation:
        """Which alias of which line of which rule set matched which words, and what vetoed."""
        fields = _fields(title, summary, categories)
        by_group: dict[int, list[tuple[_Owner, int, int, str]]] = {}
        for found in self._scan(fields):
            for owner in found.owners:
                hit = (owner, found.position, found.field, found.text)
                by_group.setdefault(owner.group, []).append(hit)
        explained: dict[str, RuleSetExplanation] = {}
        for index, hits in by_group.items():
            group = self._groups[index]
            for rule_set_id in group.ids:
                found_hits = dict.fromkeys(
                    Hit(
                        rule_set_id,
                        group.line(owner),
                        owner.alias,
                        text,
                        fields[field][0],
                        owner.exclude,
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

    def _scan(self, fields: Sequence[tuple[str, str]]) -> list[_Found]:
        """Every pattern the automaton finds, native and transliterated, with its words."""
        if self._automaton is None:
            return []
        stream = _Stream([words(text) for _, text in fields])
        found: list[_Found] = []
        for end, entry in self._automaton.iter(stream.text):
            begin = end - entry.length + 1
            owners = entry.latin if begin >= stream.latin_from else entry.native
            if not owners:
                continue
            first = bisect_right(stream.starts, begin)
            last = bisect_right(stream.starts, end) - 1
            field, first_word = stream.located[first]
            text = fields[field][1][first_word.start : stream.located[last][1].end]
            found.append(_Found(owners, field, first % stream.words, text))
        return found


class _Stream:
    """The text the automaton reads: native words of every field, then their Latin spellings.

    Each field reads " w1 w2 … " and fields are joined by a break no pattern contains; `starts`
    holds where each word begins, so a hit maps back to the words (and the original text).
    """

    __slots__ = ("latin_from", "located", "starts", "text", "words")

    def __init__(self, fields: list[list[Word]]) -> None:
        chunks: list[str] = []
        self.starts: list[int] = []
        self.located: list[tuple[int, Word]] = []
        self.words = sum(len(field) for field in fields)
        self.latin_from = 0
        position = 0
        for latin in (False, True):
            self.latin_from = position
            for index, field in enumerate(fields):
                chunks.append(_FIELD_BREAK + " ")
                position += 2
                for word in field:
                    spelling = word.latin if latin else word.native
                    self.starts.append(position)
                    self.located.append((index, word))
                    chunks.append(spelling + " ")
                    position += len(spelling) + 1
        self.text = "".join(chunks)


def _fields(title: str, summary: str, categories: Sequence[str]) -> list[tuple[str, str]]:
    return [("title", title), ("summary", summary), *(("category", c) for c in categories)]


def _group(rule_sets: tuple[RuleSet, ...]) -> tuple[_Group, ...]:
    """Rule sets by identical lines, in order of first appearance; ids must be unique."""
    counts = Counter(rule_set.id for rule_set in rule_sets)
    duplicates = [each for each, count in counts.items() if count > 1]
    if duplicates:
        raise ValueError(f"rule set ids must be unique: {', '.join(duplicates)}")
    members: dict[tuple[tuple[KeywordLine, ...], tuple[KeywordLine, ...]], list[str]] = {}
    for rule_set in rule_sets:
        members.setdefault((rule_set.keywords, rule_set.exclude), []).append(rule_set.id)
    return tuple(_Group(lines[0], lines[1], tuple(group)) for lines, group in members.items())


def _owners(index: int, group: _Group) -> Iterable[_Owner]:
    for exclude, lines in ((False, group.keywords), (True, group.exclude)):
        for line_index, line in enumerate(lines):
            for alias_index, alias in enumerate(line.aliases):
                yield _Owner(index, exclude, line_index, alias_index, alias, line.label)


def _build_automaton(native: dict[str, list[_Owner]], latin: dict[str, list[_Owner]]) -> Any:
    """One automaton for both streams; an entry says which owners count in which stream."""
    if not native and not latin:
        return None
    automaton = ahocorasick.Automaton()
    for key in native.keys() | latin.keys():
        entry = _Entry(len(key), tuple(native.get(key, ())), tuple(latin.get(key, ())))
        automaton.add_word(key, entry)
    automaton.make_automaton()
    return automaton
