"""Stories across feeds: items that tell the same story within a window share one story id.

An instant alert goes out once per story per chat, and digests count stories rather than items,
so copies of one story (a wire text re-posted by several outlets, an outlet re-posting its own
piece under a new link, a light re-write) must be recognised. Two signals, in this order:

1. the same canonical URL (`bot.urls`), which is exact;
2. a 64-bit SimHash of the item's words (title, then the first `excerpt_chars` of the summary),
   compared by Hamming distance with every item seen within `window`.

Why this design (figures from `python -m bench.cluster` on ../shared/corpus, with the 35
same-story pairs, 32 hard negatives and 11 template pairs hand-checked in tests/test_cluster.py):

* A word sketch only finds items that share words, and a paraphrase by another outlet shares
  about as many words as another story about the same people. Even exact word Jaccard (the
  ceiling of MinHash) at 0.4 finds 13 of the 35 pairs; no sketch of the words can do better.
* What decides the threshold is the index size. Two unrelated 64-bit fingerprints are within
  distance k with the binomial tail P(Bin(64, 1/2) <= k): 1e-8 at k = 10, 2.3e-7 at 12,
  3.5e-6 at 14, i.e. a chance false merge for 0.1%, 2.3% and 35% of new items against 100k
  stored ones. Hence `max_distance` = 10: near-duplicates (re-posts, wire copies, edits of a few
  words) merge, re-worded stories mostly do not (4 of 35), and none of the 32 hard negatives
  does (they all lie at 20 or more). A wrong merge silences an alert about another story; a
  missed one only repeats an alert: precision first.
* Wider fingerprints push that noise floor down: at the same chance rate (1e-9 per pair)
  SimHash-128 (k = 30) finds 6 of 35 and SimHash-256 (k = 80) 16 of 35, still with no hard
  negative. But an exact search at that radius costs as much as a scan (~100 lookups/s at 100k
  for 128 bits), and neither fits an SQLite INTEGER; MinHash (datasketch, 128 permutations)
  tracks the Jaccard figures above with a 512-byte signature and an LSH that needs many bands
  at Jaccard 0.4. SimHash-64 is the one that is compact, exact and fast to search.
* `simhash` (PyPI) builds the same kind of fingerprint with numpy and MD5 (35k items/s against
  26k items/s for the code below); both are far faster than the word normalisation in front of
  them (the whole fingerprint runs at ~10k items/s), so it would add numpy as a dependency for
  no gain, and it has no time-windowed index. The fingerprint here is exact (integer weights,
  strict majority per bit), deterministic across processes (BLAKE2b, not the salted `hash`),
  and checked against a bit-by-bit reference in the tests.
* Single words beat word pairs (pairs halve the recall); prefix stemming merged more different
  stories than it joined copies; the title plus 100 characters of summary tells template titles
  apart ("Цитата #17316") that the title alone does not. Template feeds (a fire brigade's
  call-outs "[02.08.2018 - 11:18 Uhr] Brandmeldeanlagenalarm", insider-trade alerts) remain the
  main source of wrong merges (2 of the 11 template pairs at distance 10): their items differ
  in a number or two.

Fingerprints are signed 64-bit ints, so that an SQLite INTEGER and a Redis string hold them as
they are; None for an item with fewer than `min_features` distinct words: a fingerprint of
three words says nothing (every empty title would share one), so such an item joins a story
only by its exact URL. Mis-decoded text ("Ã©" for "é", "Ð¾" for "о") is repaired first where
that is unambiguous: its letter soup otherwise makes unrelated items look alike.

Everything here is pure: no store, no network, no clock; times are passed in (Unix seconds).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from bot.models import Item
from bot.sieve import native_words

BITS = 64
MASK = (1 << BITS) - 1
Export = tuple[int | None, str, float, str]  # (fingerprint, story id, at, link)

# Words that carry no story: articles, prepositions, pronouns, auxiliaries and the like in the
# languages of the corpus (en, ru, uk, be, de, fr, es, it, pt, pl). Without them a headline's
# fingerprint is its names and facts; with them "in the" or "в на" makes unrelated stories alike.
_STOP_TEXT = """
    a an the and or but if of to in on at by for from with without into onto over under about
    after before as is are was were be been being has have had do does did will would shall
    should can could may might must not no nor so than that this these those it its he she they
    them his her their we our you your me my who whom which what when where why how all any both
    each few more most other some such only own same too very just also there here up down out
    off again then once new says said say
    в во на и с со к ко по о об от до из за у не ни но а же ли бы что как так это этот эта эти
    то для при про под над без через после перед между или да его ее её их он она они мы вы я
    был была были было будет быть есть уже еще ещё также того чем где когда который которая
    которые которое раз всех все всё весь
    і й та що як це з зі у від чи їх його її він вона вони ми ви був була було буде
    ў ад пра але ці
    der die das den dem des ein eine einer einem einen eines und oder aber nicht mit von zu zum
    zur im ist sind war auf für an am als auch bei nach aus wie dass sich es er sie wir ihr ich
    um über vor durch noch nur
    le la les un une des du de d l et ou mais en au aux dans par pour sur avec sans ce cette ces
    qui que qu est sont ont il elle ils elles on ne pas plus se sa son ses leur leurs y
    el los las unos unas del pero al por para con sin su sus es lo le como más
    il lo gli di della dei delle degli ma nel nella per da che è non si alla
    o os as um uma do da dos das ou mas em no na nos nas com sem é não ao à
    w na i nie się że jest od po dla
"""
STOP_WORDS = frozenset(native_words(_STOP_TEXT))  # folded as text is


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """How alike two items must be to tell one story; the defaults are tuned on the corpus."""

    max_distance: int = 10  # bits (of 64) in which two fingerprints of one story may differ
    window: float = 48 * 3600.0  # seconds an item stays joinable after it was added
    shingle: int = 1  # words per shingle: single words measured best
    excerpt_chars: int = 100  # how much of the summary counts beside the title
    min_features: int = 4  # fewer distinct shingles: no fingerprint, exact URL match only
    min_word_length: int = 3  # shorter words are dropped, unless they hold a digit

    def __post_init__(self) -> None:
        if not 0 <= self.max_distance < BITS // 2:
            raise ValueError(f"max_distance must be in 0..{BITS // 2 - 1}")
        if not self.window > 0:
            raise ValueError("window must be positive")
        if self.shingle < 1 or self.excerpt_chars < 0 or self.min_features < 1:
            raise ValueError("shingle and min_features must be >= 1, excerpt_chars >= 0")


DEFAULT_SETTINGS = ClusterSettings()


# --- fingerprints ---------------------------------------------------------------------------


def shingles(
    title: str, summary: str = "", settings: ClusterSettings = DEFAULT_SETTINGS
) -> dict[str, int]:
    """The weighted features of an item: its word shingles, each with how often it occurs in
    the title and the summary's excerpt (a word in both weighs twice)."""
    counts: dict[str, int] = {}
    size = settings.shingle
    for text in (title, excerpt(summary, settings.excerpt_chars)):
        tokens = _tokens(text, settings.min_word_length)
        for start in range(max(len(tokens) - size + 1, 1 if tokens else 0)):
            shingle = " ".join(tokens[start : start + size])
            counts[shingle] = counts.get(shingle, 0) + 1
    return counts


def fingerprint(
    title: str, summary: str = "", settings: ClusterSettings = DEFAULT_SETTINGS
) -> int | None:
    """The item's 64-bit SimHash as a signed int, or None when it has too few words to tell
    stories apart (it then joins a story only by its exact URL)."""
    features = shingles(title, summary, settings)
    if len(features) < settings.min_features:
        return None
    value = simhash(features)
    return value - (1 << BITS) if value >> (BITS - 1) else value


def item_fingerprint(item: Item, settings: ClusterSettings = DEFAULT_SETTINGS) -> int | None:
    """`fingerprint` of a parsed item's title and summary."""
    return fingerprint(item.title, item.summary, settings)


def item_link(item: Item, feed_id: str) -> str:
    """What the index knows an item by: its canonical URL, else its key within its feed."""
    return item.canonical_url or f"{feed_id}:{item.key}"


def distance(a: int, b: int) -> int:
    """Hamming distance between two fingerprints (signed or not: their 64 bits count)."""
    return ((a ^ b) & MASK).bit_count()


def story_id(link: str, fingerprint: int | None, at: float) -> str:
    """A story's id: 16 hex digits hashed from its first member (link, fingerprint, time), so
    the same first item always starts the same story id."""
    print_ = "" if fingerprint is None else f"{fingerprint & MASK:016x}"
    return hashlib.blake2b(f"{link}\0{print_}\0{at!r}".encode(), digest_size=8).hexdigest()


def simhash(features: dict[str, int], bits: int = BITS) -> int:
    """Charikar's SimHash of weighted features: bit i is set when the features whose hash has
    bit i set outweigh those that have it clear. Unsigned, `bits` wide (a multiple of 8; the
    index uses 64, the bench compares wider ones).

    The per-bit sums are kept in one big int, 16 bits per bit position ("lanes"), so adding a
    feature is one multiplication and addition instead of `bits` Python steps."""
    total = sum(features.values())
    if total >= 1 << _LANE:  # the lanes would overflow: count bit by bit (never for news items)
        return _simhash_by_bit(features, bits)
    lanes = 0
    for feature, weight in features.items():
        lanes += _lanes(feature, bits) * weight
    # Bit i is set when its lane's count reaches `least`, more than half the total. Every lane
    # raised by 2**15 - least reaches 2**15 (its top bit) just then, and none overflows (the
    # total is under 2**16): the top bits, one a lane, are the answer, read off in C.
    least = total // 2 + 1
    raised = lanes + ((1 << (_LANE - 1)) - least) * _ones(bits)
    tops = raised.to_bytes(bits * _LANE // 8, "little")[1::2]  # each lane's high byte
    return int(tops.translate(_TOP_BIT_AS_DIGIT)[::-1], 2)


def excerpt(summary: str, chars: int) -> str:
    """The first `chars` characters of a summary, cut at a word boundary."""
    if chars <= 0 or not summary:
        return ""
    if len(summary) <= chars:
        return summary
    cut = summary[:chars]
    return cut.rsplit(" ", 1)[0] if summary[chars] != " " and " " in cut else cut


def repair_mojibake(text: str) -> str:
    """UTF-8 that was decoded as Windows-1252 ("Ã©" for "é", "Ð¾" for "о") decoded right; a
    sequence that does not decode as UTF-8 is left as it is, and so is correct text."""
    if text.isascii():
        return text
    return _mojibake_pattern().sub(_redecode, text)


_LANE = 16
_LANE_MASK = (1 << _LANE) - 1
_SPREAD = tuple(
    sum(((byte >> bit) & 1) << (_LANE * bit) for bit in range(8)) for byte in range(256)
)


_TOP_BIT_AS_DIGIT = bytes(ord("1") if byte & 0x80 else ord("0") for byte in range(256))


@lru_cache(maxsize=4)
def _ones(bits: int) -> int:
    """A 1 at the bottom of each of `bits` lanes."""
    return sum(1 << (_LANE * lane) for lane in range(bits))


def _spread(value: int) -> int:
    """The bits of `value`, each moved to the bottom of its own 16-bit lane."""
    spread = 0
    index = 0
    while value:
        spread |= _SPREAD[value & 0xFF] << (8 * _LANE * index)
        value >>= 8
        index += 1
    return spread


@lru_cache(maxsize=1 << 16)
def _lanes(feature: str, bits: int) -> int:
    """A feature's hash spread into lanes; cached, as news repeats its words."""
    return _spread(_hash(feature, bits))


def _simhash_by_bit(features: dict[str, int], bits: int) -> int:
    """The same SimHash, one bit at a time: the reference the lanes are checked against."""
    total = sum(features.values())
    sums = [0] * bits
    for feature, weight in features.items():
        hashed = _hash(feature, bits)
        for bit in range(bits):
            if (hashed >> bit) & 1:
                sums[bit] += weight
    return sum(1 << bit for bit in range(bits) if 2 * sums[bit] > total)


def _hash(feature: str, bits: int) -> int:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=bits // 8).digest()
    return int.from_bytes(digest, "little")


def _tokens(text: str, min_length: int) -> list[str]:
    """Folded words (`bot.text`), without stop words and short words (a number stays)."""
    found = []
    for token in native_words(repair_mojibake(text)):
        if token in STOP_WORDS:
            continue
        if len(token) < min_length and not any(char.isdigit() for char in token):
            continue
        found.append(token)
    return found


# Windows-1252 shows a UTF-8 byte 0x80-0xBF as one of these (five bytes are unassigned there;
# Latin-1 gives them the C1 control characters, which is how such text arrives).
_CONTINUATION = {
    (bytes([byte]).decode("cp1252", "ignore") or chr(byte)): byte for byte in range(0x80, 0xC0)
}


@lru_cache(maxsize=1)
def _mojibake_pattern() -> re.Pattern[str]:
    follow = "".join(map(re.escape, _CONTINUATION))

    def leads(low: int, high: int) -> str:
        return "".join(re.escape(chr(code)) for code in range(low, high + 1))

    # A lead byte and its continuation bytes; "Â " and "Ã " are NBSP and "à", whose 0xA0 the
    # feed's whitespace folding has turned into a plain space.
    return re.compile(
        f"[ÂÃ] |[{leads(0xC2, 0xDF)}][{follow}]|[{leads(0xE0, 0xEF)}][{follow}]{{2}}"
        f"|[{leads(0xF0, 0xF4)}][{follow}]{{3}}"
    )


def _redecode(match: re.Match[str]) -> str:
    text = match.group()
    raw = bytes([ord(text[0])]) + bytes(_CONTINUATION.get(char, 0xA0) for char in text[1:])
    try:
        return raw.decode("utf-8") + (" " if text.endswith(" ") else "")
    except UnicodeDecodeError:
        return text


# --- the index ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    link: str
    fingerprint: int | None  # unsigned
    story: str
    at: float


class StoryIndex:
    """Recent items' fingerprints and links, each with its story id: finds the story a new
    item belongs to, exact URL first, then the nearest fingerprint within `max_distance`.

    Lookups are exact and sub-linear (multi-index hashing): the 64 bits are cut into blocks,
    and two fingerprints within distance d have, by pigeonhole, some block within
    d // blocks bits of each other. Each block has a table from its value to the entries that
    have it, and a lookup probes, in each table, every value within that radius of its own:
    at the default distance 10, four 16-bit blocks and 137 probes each, which at 100k entries
    reach ~840 candidates instead of 100k. The block count is chosen for the least work at
    100k entries."""

    def __init__(self, settings: ClusterSettings = DEFAULT_SETTINGS) -> None:
        self.settings = settings
        self._entries: dict[int, _Entry] = {}
        self._by_link: dict[str, int] = {}
        self._serial = itertools.count()
        self._expiry: list[tuple[float, int]] = []  # a heap of (at, entry number)
        self._blocks = _blocks_for(settings.max_distance)
        radius = settings.max_distance // len(self._blocks)
        self._probes = [_probe_masks(width, radius) for _, width in self._blocks]
        # per block: block value -> [(fingerprint, entry number)]
        self._tables: list[dict[int, list[tuple[int, int]]]] = [{} for _ in self._blocks]

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, link: str, fingerprint: int | None, story_id: str, at: float) -> None:
        """Remember that the item known by `link` (its canonical URL, else its feed-scoped key:
        see `item_link`) tells story `story_id`, seen at `at`. Adding a link again replaces it."""
        old = self._by_link.pop(link, None)
        if old is not None:
            self._remove(old)
        number = next(self._serial)
        unsigned = None if fingerprint is None else fingerprint & MASK
        self._entries[number] = _Entry(link, unsigned, story_id, at)
        self._by_link[link] = number
        heapq.heappush(self._expiry, (at, number))
        if unsigned is not None:
            for (shift, width), table in zip(self._blocks, self._tables, strict=True):
                key = (unsigned >> shift) & ((1 << width) - 1)
                table.setdefault(key, []).append((unsigned, number))

    def find(self, fingerprint: int | None, *, canonical_url: str | None, now: float) -> str | None:
        """The story an item belongs to, if one was seen within the window before `now`: the
        story of its exact canonical URL, else that of the nearest fingerprint within
        `max_distance` (ties: the earlier entry). None when it starts a new story."""
        oldest = now - self.settings.window
        if canonical_url:
            number = self._by_link.get(canonical_url)
            if number is not None and self._entries[number].at >= oldest:
                return self._entries[number].story
        if fingerprint is None:
            return None
        best = self._nearest(fingerprint & MASK, oldest)
        return None if best is None else best.story

    def assign(
        self, link: str, fingerprint: int | None, *, canonical_url: str | None, at: float
    ) -> tuple[str, bool]:
        """The item's story id and whether the item starts it; the item is added either way,
        so that later copies can match it too (`link`: see `add`)."""
        found = self.find(fingerprint, canonical_url=canonical_url, now=at)
        story = found if found is not None else story_id(link, fingerprint, at)
        self.add(link, fingerprint, story, at)
        return story, found is None

    def expire(self, now: float) -> int:
        """Forget entries older than the window; returns how many went. (`find` ignores them
        anyway: this only frees the memory.)"""
        oldest = now - self.settings.window
        removed = 0
        while self._expiry and self._expiry[0][0] < oldest:
            at, number = heapq.heappop(self._expiry)
            entry = self._entries.get(number)
            if entry is not None and entry.at == at:
                self._by_link.pop(entry.link, None)
                self._remove(number)
                removed += 1
        return removed

    def export(self) -> list[Export]:
        """Every entry as (fingerprint, story id, at, link), oldest first: plain values for a
        store to keep, in the form `load` takes back."""
        ordered = sorted(self._entries.items(), key=lambda pair: (pair[1].at, pair[0]))
        return [
            (_signed(entry.fingerprint), entry.story, entry.at, entry.link) for _, entry in ordered
        ]

    def load(self, entries: Iterable[Export]) -> None:
        """Add exported entries (as `export` gives them, e.g. read back from a store)."""
        for fingerprint, story, at, link in entries:
            self.add(link, fingerprint, story, at)

    def _nearest(self, fingerprint: int, oldest: float) -> _Entry | None:
        limit = self.settings.max_distance
        radius = limit // len(self._blocks)
        entries = self._entries
        best: _Entry | None = None
        best_rank: tuple[int, float, int] = (limit + 1, math.inf, 0)
        for (shift, width), table, probes in zip(
            self._blocks, self._tables, self._probes, strict=True
        ):
            if not table:
                continue
            key = (fingerprint >> shift) & ((1 << width) - 1)
            if len(table) < len(probes):  # fewer buckets than probes: look at each bucket
                buckets = [b for k, b in table.items() if (k ^ key).bit_count() <= radius]
            else:
                buckets = [b for b in map(table.get, [key ^ p for p in probes]) if b]
            for bucket in buckets:
                for other, number in bucket:
                    bits = (other ^ fingerprint).bit_count()
                    if bits > limit:
                        continue
                    entry = entries[number]
                    rank = (bits, entry.at, number)
                    if entry.at >= oldest and rank < best_rank:
                        best, best_rank = entry, rank
        return best

    def _remove(self, number: int) -> None:
        entry = self._entries.pop(number)
        if entry.fingerprint is None:
            return
        for (shift, width), table in zip(self._blocks, self._tables, strict=True):
            key = (entry.fingerprint >> shift) & ((1 << width) - 1)
            bucket = table.get(key)
            if bucket is not None:
                bucket.remove((entry.fingerprint, number))
                if not bucket:
                    del table[key]


def _signed(value: int | None) -> int | None:
    if value is None:
        return None
    return value - (1 << BITS) if value >> (BITS - 1) else value


_PLANNED_SIZE = 100_000  # the index size the block layout is chosen for


def _blocks_for(max_distance: int) -> list[tuple[int, int]]:
    """(shift, width) of each block: the layout with the least expected work per lookup at
    `_PLANNED_SIZE` random entries: probes, plus entries found in the probed buckets."""

    def cost(count: int) -> float:
        radius = max_distance // count
        widths = _widths(count)
        probes = sum(_ball(width, radius) for width in widths)
        found = sum(_ball(width, radius) * _PLANNED_SIZE / (1 << width) for width in widths)
        return probes + found

    count = min(range(1, max_distance + 2), key=cost)
    shifts = itertools.accumulate(_widths(count), initial=0)
    return list(zip(shifts, _widths(count), strict=False))


def _widths(count: int) -> list[int]:
    base, extra = divmod(BITS, count)
    return [base + 1] * extra + [base] * (count - extra)


def _ball(width: int, radius: int) -> int:
    return sum(math.comb(width, flips) for flips in range(min(radius, width) + 1))


def _probe_masks(width: int, radius: int) -> list[int]:
    """Every mask of at most `radius` set bits within `width` bits, fewest bits first."""
    return [
        sum(1 << bit for bit in bits)
        for flips in range(min(radius, width) + 1)
        for bits in itertools.combinations(range(width), flips)
    ]
