"""Story clustering (`bot.cluster`) on the corpus: items fingerprinted per second beside the word
normalisation alone, index add+find per second at 100k entries beside a linear scan, and
precision/recall at the default distance beside its neighbours, on the hand-checked pairs of
tests/test_cluster.py and on every pair of corpus items published within 48 hours.

`python -m bench.cluster` (or `python -m bench cluster` once registered in bench/__main__.py)."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.cluster import (
    BITS,
    DEFAULT_SETTINGS,
    StoryIndex,
    distance,
    excerpt,
    item_fingerprint,
    shingles,
    simhash,
)
from bot.models import Item
from bot.parse import parse_feed
from bot.text import words
from tests.test_cluster import (
    BELARUS_SAME_DAY,
    OTHER_SAME_NAMES,
    RELATED,
    SAME_STORY,
    TEMPLATES,
    UNRELATED,
)

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "feeds"
ROUNDS = 3
INDEX_SIZE = 100_000
QUERIES = 5_000
SCANNED = 200  # queries the linear-scan baseline answers (it is slow)
WINDOW = DEFAULT_SETTINGS.window

Pair = tuple[str, str]
Named = tuple[str, Item]  # (file name, item)


def corpus() -> list[Named]:
    found = []
    for path in sorted(CORPUS.glob("*.xml")):
        for item in parse_feed(path.read_bytes(), url=f"https://bench.example/{path.name}").items:
            found.append((path.name, item))
    return found


# --- speed ----------------------------------------------------------------------------------


def fingerprint_speed(items: Sequence[Named]) -> None:
    def normalise_only() -> None:
        for _, item in items:
            words(item.title)
            words(excerpt(item.summary, DEFAULT_SETTINGS.excerpt_chars))

    def fingerprint_all() -> None:
        for _, item in items:
            item_fingerprint(item)

    print(f"{'':40}{'items':>10}{'seconds':>10}{'items/s':>10}")
    for label, job in (
        ("bot.text.words alone (baseline)", normalise_only),
        ("item_fingerprint (words + SimHash-64)", fingerprint_all),
    ):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            job()
        elapsed = time.perf_counter() - start
        count = ROUNDS * len(items)
        print(f"{label:40}{count:>10}{elapsed:>10.2f}{count / elapsed:>10.0f}")


def index_speed(items: Sequence[Named]) -> None:
    """100k entries: the corpus's fingerprints and random ones (a random fingerprint is what an
    unrelated story looks like); queries: corpus items (some find their copy) and random."""
    rnd = random.Random(2025)
    real = [fp for _, item in items if (fp := item_fingerprint(item)) is not None]
    stored = real + [rnd.getrandbits(BITS) for _ in range(INDEX_SIZE - len(real))]
    queries = [rnd.choice(real) ^ (1 << rnd.randrange(BITS)) for _ in range(QUERIES // 2)]
    queries += [rnd.getrandbits(BITS) for _ in range(QUERIES - len(queries))]
    index = StoryIndex()
    start = time.perf_counter()
    for number, value in enumerate(stored):
        index.add(f"https://bench.example/{number}", value, f"s{number}", float(number))
    added = time.perf_counter() - start
    start = time.perf_counter()
    found = sum(
        index.find(q, canonical_url=None, now=float(INDEX_SIZE)) is not None for q in queries
    )
    finding = time.perf_counter() - start
    limit = DEFAULT_SETTINGS.max_distance
    start = time.perf_counter()
    for query in queries[:SCANNED]:
        min(((distance(query, value), n) for n, value in enumerate(stored)), default=None)
    scanning = (time.perf_counter() - start) / SCANNED * len(queries)
    random_hits = sum(
        index.find(q, canonical_url=None, now=float(INDEX_SIZE)) is not None
        for q in queries[QUERIES // 2 :]
    )
    print(f"\n{'':40}{'ops':>10}{'seconds':>10}{'ops/s':>10}")
    print(f"{'StoryIndex.add':40}{INDEX_SIZE:>10}{added:>10.2f}{INDEX_SIZE / added:>10.0f}")
    rate = QUERIES / finding
    print(f"{'StoryIndex.find at 100k entries':40}{QUERIES:>10}{finding:>10.2f}{rate:>10.0f}")
    print(
        f"{'linear scan at 100k (baseline)':40}{QUERIES:>10}{scanning:>10.2f}"
        f"{QUERIES / scanning:>10.0f}  (timed on {SCANNED}, scaled)"
    )
    tail = _tail(BITS, limit)
    print(
        f"found {found}/{QUERIES}; random queries matching a random entry: "
        f"{random_hits}/{QUERIES - QUERIES // 2} (binomial tail predicts "
        f"{tail * INDEX_SIZE * 100:.2f}%)"
    )


# --- quality --------------------------------------------------------------------------------


def quality(items: Sequence[Named]) -> None:
    by_title: dict[str, Named] = {}
    for name, item in items:
        by_title.setdefault(item.title, (name, item))
    labels: dict[frozenset[str], str] = {}
    for kind, pairs in (
        ("same", SAME_STORY),
        ("belarus", BELARUS_SAME_DAY),
        ("names", OTHER_SAME_NAMES),
        ("template", TEMPLATES),
        ("unrelated", UNRELATED),
        ("related", RELATED),
    ):
        labels.update({frozenset(pair): kind for pair in pairs})
    prints = {id(item): item_fingerprint(item) for _, item in items}
    names = {id(item): name for name, item in items}

    def apart(one: Item, other: Item) -> int:
        a, b = prints[id(one)], prints[id(other)]
        return BITS + 1 if a is None or b is None else distance(a, b)

    labelled = {
        kind: [apart(by_title[a][1], by_title[b][1]) for (a, b), k in _pairs(labels) if k == kind]
        for kind in ("same", "belarus", "names", "template", "unrelated", "related")
    }
    window = _window_pairs(items)
    window_distance = [(apart(one, other), one, other) for one, other in window]
    cross = [(d, a, b) for d, a, b in window_distance if names[id(a)] != names[id(b)]]
    n_same = len(labelled["same"])
    n_hard = len(labelled["belarus"]) + len(labelled["names"])
    print(
        f"\nlabelled pairs: {n_same} same story, {len(labelled['belarus'])} Belarus same-day "
        f"+ {len(labelled['names'])} other same-name (hard negatives), "
        f"{len(labelled['template'])} template, {len(labelled['related'])} follow-ups (excluded)"
    )
    print(
        f"corpus pairs published within 48 h: {len(window)} ({len(cross)} across files); pairs "
        "with the same canonical URL are left out (the URL joins them)"
    )
    print(
        f"\n{'distance':>8} {'recall':>9} {'hard FP':>8} {'templ FP':>8} {'precision':>9} "
        f"{'48h pairs':>9} {'judged P':>9} {'unjudged':>8} {'cross-file':>10} {'judged P':>9} "
        f"{'random FP/find @100k':>20}"
    )
    default = DEFAULT_SETTINGS.max_distance
    for limit in range(default - 4, default + 5):
        recall = sum(d <= limit for d in labelled["same"])
        hard = sum(d <= limit for d in labelled["belarus"] + labelled["names"])
        template = sum(d <= limit for d in labelled["template"])
        wrong = hard + template
        precision = recall / (recall + wrong) if recall + wrong else 1.0
        flagged = [(a, b) for d, a, b in window_distance if d <= limit]
        judged, right, unjudged = _judge(flagged, labels)
        cross_flagged = [(a, b) for d, a, b in cross if d <= limit]
        cross_judged, cross_right, _ = _judge(cross_flagged, labels)
        mark = "*" if limit == default else " "
        print(
            f"{mark}{limit:>7} {recall:>4}/{n_same:<4} {hard:>4}/{n_hard:<3} {template:>8} "
            f"{precision:>9.2f} {len(flagged):>9} {_ratio(right, judged):>9} {unjudged:>8} "
            f"{len(cross_flagged):>10} {_ratio(cross_right, cross_judged):>9} "
            f"{_tail(BITS, limit) * INDEX_SIZE:>20.1e}"
        )
    print(
        "  recall: same-story pairs within the distance; precision: of labelled pairs within it; "
        "judged P: of corpus pairs within it that carry a label (same vs different); follow-ups "
        "count as neither"
    )
    _distribution(labelled, [d for d, _, _ in window_distance])
    _wider(items, by_title, labels, window)


def _distribution(labelled: dict[str, list[int]], window: list[int]) -> None:
    print("\nHamming distance distribution (SimHash-64; None: too few words):")
    edges = list(range(0, 33, 4))
    print(f"{'':22}" + "".join(f"{f'{e}-{e + 3}':>7}" for e in edges) + f"{'>35':>7}{'None':>6}")
    rows = {
        "same story": labelled["same"],
        "hard negatives": labelled["belarus"] + labelled["names"],
        "templates": labelled["template"],
        "follow-ups": labelled["related"],
        "all 48h pairs": window,
    }
    for label, values in rows.items():
        counts = Counter(min(d // 4, len(edges)) if d <= BITS else -1 for d in values)
        cells = "".join(f"{counts.get(i, 0):>7}" for i in range(len(edges) + 1))
        print(f"{label:22}{cells}{counts.get(-1, 0):>6}")


def _wider(
    items: Sequence[Named],
    by_title: dict[str, Named],
    labels: dict[frozenset[str], str],
    window: list[tuple[Item, Item]],
) -> None:
    """The alternatives at the same rate of chance matches (1e-9 per pair, i.e. 1e-4 per find
    at 100k entries): wider SimHash, and exact word Jaccard (the ceiling of MinHash)."""
    settings = DEFAULT_SETTINGS
    features = {id(item): shingles(item.title, item.summary, settings) for _, item in items}
    enough = {k: v for k, v in features.items() if len(v) >= settings.min_features}

    def measure(label: str, close: Callable[[Item, Item], bool]) -> None:
        kinds = Counter(
            kind
            for (a, b), kind in _pairs(labels)
            if id(by_title[a][1]) in enough
            and id(by_title[b][1]) in enough
            and close(by_title[a][1], by_title[b][1])
        )
        flagged = sum(1 for a, b in window if id(a) in enough and id(b) in enough and close(a, b))
        hard = kinds["belarus"] + kinds["names"]
        print(
            f"{label:34}{kinds['same']:>4}/{len(SAME_STORY):<6}{hard:>4}{kinds['template']:>9}"
            f"{flagged:>10}"
        )

    print(
        "\nalternatives at the same chance-match rate (<= 1e-9 per pair): same story found, hard "
        "FP, template FP, 48h pairs flagged"
    )
    for bits in (64, 128, 256):
        limit = max(k for k in range(bits // 2) if _tail(bits, k) <= 1e-9)
        measure(f"SimHash-{bits}, distance <= {limit}", _within(enough, bits, limit))
    sets = {key: set(value) for key, value in enough.items()}
    for threshold in (0.4, 0.45, 0.5):
        measure(f"exact Jaccard >= {threshold}", _similar(sets, threshold))


def _within(
    features: dict[int, dict[str, int]], bits: int, limit: int
) -> Callable[[Item, Item], bool]:
    prints = {key: simhash(value, bits) for key, value in features.items()}
    return lambda a, b: (prints[id(a)] ^ prints[id(b)]).bit_count() <= limit


def _similar(sets: dict[int, set[str]], threshold: float) -> Callable[[Item, Item], bool]:
    return lambda a, b: _jaccard(sets[id(a)], sets[id(b)]) >= threshold


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _pairs(labels: dict[frozenset[str], str]) -> list[tuple[Pair, str]]:
    return [((min(pair), max(pair)), kind) for pair, kind in labels.items() if len(pair) == 2]


def _judge(
    flagged: list[tuple[Item, Item]], labels: dict[frozenset[str], str]
) -> tuple[int, int, int]:
    """(pairs labelled same or different, of them same, pairs without a label); a pair seen
    twice (the two Lenta snapshots) counts once."""
    seen: set[frozenset[str]] = set()
    judged = right = unjudged = 0
    for one, other in flagged:
        key = frozenset((one.title, other.title))
        if key in seen:
            continue
        seen.add(key)
        kind = labels.get(key)
        if kind is None:
            unjudged += 1
        elif kind != "related":
            judged += 1
            right += kind == "same"
    return judged, right, unjudged


def _window_pairs(items: Sequence[Named]) -> list[tuple[Item, Item]]:
    dated = sorted((item for _, item in items if item.published), key=_time)
    pairs = []
    for start, one in enumerate(dated):
        for other in dated[start + 1 :]:
            if _time(other) - _time(one) > WINDOW:
                break
            if one.canonical_url and one.canonical_url == other.canonical_url:
                continue
            pairs.append((one, other))
    return pairs


def _time(item: Item) -> float:
    return item.published.timestamp() if item.published else 0.0


def _tail(bits: int, limit: int) -> float:
    """Chance that two unrelated fingerprints are within `limit`: P(Binomial(bits, 1/2) <= k)."""
    return sum(math.comb(bits, k) for k in range(limit + 1)) / (1 << bits)


def _ratio(part: int, whole: int) -> str:
    return f"{part}/{whole}" if whole else "-"


def main() -> None:
    items = corpus()
    print(f"\n== cluster: {len(items)} corpus items, {ROUNDS} rounds, settings {DEFAULT_SETTINGS}")
    fingerprint_speed(items)
    index_speed(items)
    quality(items)


if __name__ == "__main__":
    main()
