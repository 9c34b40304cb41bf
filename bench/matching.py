"""Matching at scale (issue 7, benchmark 2): items/second of the compiled matcher over every
corpus item (title, summary, categories) with 1,000 subscriptions x 20 keyword lines, beside
1 subscription (the `belarus` topic of feeds.yaml); the time to build the routing of the
1,000, and to build it again after one chat's keyword edit.

Keyword lines are generated: words, prefixes and phrases of the corpus headlines as written (in
every language the corpus holds), known names in several scripts, and made-up surnames in
Latin, Cyrillic and Polish spelling, which stand for the many keywords today's news does not
mention. What the 1,000 cost depends mostly on how many of them match each item, so three sets
are measured: names only, 10% of the aliases from the corpus, and all of them from the corpus.

Columns: warm = every chunk of text read by this matcher before (median of the rounds after the
first, and their range); unseen = the odd items after reading the even ones, i.e. new items in
a vocabulary the matcher has met, as in service (median of three); cold = the first round,
nothing read before.

`python -m bench matching`."""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import pairwise
from pathlib import Path

from bot.config import load_config
from bot.match import Matcher, RuleSet, parse_keyword_line
from bot.models import Item, KeywordLine, Subscription
from bot.parse import parse_feed
from bot.routes import build_routing
from bot.text import chunk_words, words

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "feeds"
ROUNDS = 5  # over every item, the first of them cold
UNSEEN_ROUNDS = 3
EDITS = 5
SUBSCRIPTIONS = 1_000
LINES = 20
FROM_CORPUS = 0.1  # share of aliases taken from the corpus headlines (the rest: names)
KNOWN_NAMES = 0.02  # share of lines that are one of NAMES
COMMON = 150  # the commonest headline words, which nobody subscribes to
SEED = 20250907

# People, places and things in the news, each a line of its spellings in several scripts.
NAMES = (
    "Tsikhanouskaya | Ціханоўская | Тихановская | Cichanouska",
    "Lukashenko | Лукашенк* | Łukaszenk* | Lukaschenk*",
    "Zelensky | Zelenskyy | Зеленськ* | Зеленск* | Selenskyj",
    "Putin | Путин* | Путін* | Poutine",
    "Macron | Макрон*",
    "Scholz | Шольц*",
    "Navalny | Навальн* | Nawalny",
    "Biden | Байден*",
    "Trump | Трамп*",
    "Tusk | Туск*",
    "Orbán | Орбан*",
    "Erdoğan | Erdogan | Эрдоган*",
    "Kyiv | Kiev | Київ* | Киев* | Kijów",
    "Warsaw | Warszaw* | Варшав* | Warschau | Varsovie",
    "Vilnius | Вильнюс* | Вільнюс* | Wilno",
    "Moscow | Москв* | Moskau | Moscou | Mosca",
    "Grodno | Hrodna | Гродн* | Гродна",
    "Brest | Брест*",
    "NATO | НАТО | OTAN",
    "European Union | Евросоюз* | Євросоюз* | Europäische Union | Unione europea",
    "Belavia | Белави*",
    "Ryanair",
    "Gazprom | Газпром*",
    "Wagner | Вагнер*",
    "Zapad 2025 | Захад-2025 | Запад-2025",
    "climate change | Klimawandel | changement climatique | изменение климата",
    "COVID | коронавирус* | Corona*",
    "Olympics | Olympi* | Олимпиад* | Olimpiadi",
    "artificial intelligence | intelligence artificielle | искусственный интеллект*",
    "Champions League | Лига чемпионов | Лиги чемпионов | Ligue des champions",
)

# Made-up surnames: (onsets, vowels, endings) of one spelling.
SPELLINGS = (
    (
        ("b", "br", "ch", "d", "dr", "g", "h", "k", "kr", "l", "m", "n", "p", "r", "s", "sh", "t"),
        ("a", "e", "i", "o", "u"),
        ("enko", "ski", "ova", "berg", "ich", "escu", "son", "elli", "ak", "ovic", "mann", "ez"),
    ),
    (
        ("б", "бр", "в", "г", "д", "ж", "з", "к", "кр", "л", "м", "н", "п", "р", "с", "т", "х"),
        ("а", "е", "и", "о", "у", "я"),
        ("енко", "ский", "ова", "ич", "ук", "ин", "ев", "ская", "чук", "ёнок"),
    ),
    (
        ("b", "ch", "cz", "d", "g", "k", "ł", "m", "p", "r", "sz", "ś", "w", "ż"),
        ("a", "e", "i", "o", "u", "ó", "y"),
        ("ński", "wicz", "czyk", "ska", "ak", "ek"),
    ),
)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Headline words and two-word phrases as written, each once; the commonest words are left
    out, as people watch for the specific."""

    words: list[str]
    phrases: list[str]


def corpus() -> list[Item]:
    """Every corpus item, parsed once up front."""
    items: list[Item] = []
    for path in sorted(CORPUS.glob("*.xml")):
        items.extend(parse_feed(path.read_bytes(), url=f"https://bench.example/{path.name}").items)
    return items


def vocabulary(items: Sequence[Item]) -> Vocabulary:
    spelled: list[list[tuple[str, str]]] = []
    counts: Counter[str] = Counter()
    for item in items:
        found = [(item.title[w.start : w.end], w.native) for w in words(item.title)]
        spelled.append(found)
        counts.update(native for _, native in found)
    common = {native for native, _ in counts.most_common(COMMON)}

    def usable(native: str) -> bool:
        return len(native) >= 4 and native not in common and not native.isdigit()

    singles: dict[str, str] = {}
    phrases: dict[tuple[str, str], str] = {}
    for found in spelled:
        singles.update((native, written) for written, native in found if usable(native))
        for (first, one), (second, two) in pairwise(found):
            if usable(one) and usable(two):
                phrases[(one, two)] = f"{first} {second}"
    return Vocabulary(list(singles.values()), list(phrases.values()))


def surname(rng: random.Random) -> str:
    onsets, vowels, endings = rng.choice(SPELLINGS)
    stem = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 2)))
    return (stem + rng.choice(endings)).capitalize()


def alias(rng: random.Random, vocabulary: Vocabulary, from_corpus: float) -> str:
    """A word, a prefix or a phrase: from the headlines with chance `from_corpus`, else a name."""
    kind = rng.random()
    corpus_word = rng.random() < from_corpus
    if kind < 0.15:
        if corpus_word:
            return rng.choice(vocabulary.phrases)
        return f"{surname(rng)} {surname(rng)}"
    word = rng.choice(vocabulary.words) if corpus_word else surname(rng)
    if kind < 0.35 and len(word) > 5:
        return word[: rng.randint(4, len(word) - 1)] + "*"
    return word


def generated_line(rng: random.Random, vocabulary: Vocabulary, from_corpus: float) -> KeywordLine:
    """One to three aliases, or now and then a known name in its several spellings."""
    if rng.random() < KNOWN_NAMES:
        return parse_keyword_line(rng.choice(NAMES))
    count = rng.choice((1, 1, 1, 2, 2, 3))
    aliases = dict.fromkeys(alias(rng, vocabulary, from_corpus) for _ in range(count))
    return parse_keyword_line(" | ".join(aliases))


def subscriptions(
    vocabulary: Vocabulary, count: int, lines: int, from_corpus: float
) -> list[Subscription]:
    """`count` chats with `lines` keyword lines each; half of them exclude something too."""
    rng = random.Random(SEED)
    found: list[Subscription] = []
    for n in range(count):
        keywords = tuple(generated_line(rng, vocabulary, from_corpus) for _ in range(lines))
        excluded = rng.choice((0, 0, 1, 2))
        exclude = tuple(generated_line(rng, vocabulary, from_corpus) for _ in range(excluded))
        found.append(Subscription("news", f"telegram:{n + 1}", keywords, exclude))
    return found


def edited(sub: Subscription, rng: random.Random, vocabulary: Vocabulary) -> Subscription:
    """The chat's `/add`: two lines more, one of them of names no compile has seen before."""
    line = parse_keyword_line(f"{surname(rng)} {rng.randint(1000, 9999)} | {surname(rng)}*")
    return replace(sub, keywords=(*sub.keywords, line, generated_line(rng, vocabulary, 0.5)))


@dataclass(frozen=True, slots=True)
class Rates:
    """Items/second of one matcher, warm, unseen and cold (see the module's docstring)."""

    matches: float  # rule sets matched per item
    warm: float
    low: float
    high: float
    unseen: float
    cold: float


def rates(rule_sets: Sequence[RuleSet], items: Sequence[Item]) -> Rates:
    def matched(matcher: Matcher, some: Sequence[Item]) -> tuple[int, float]:
        gc.collect()  # the garbage of what ran before is not this pass's to collect
        start = time.perf_counter()
        found = sum(len(matcher.match(i.title, i.summary, i.categories)) for i in some)
        return found, len(some) / (time.perf_counter() - start)

    def fresh() -> Matcher:
        chunk_words.cache_clear()  # how chunks of text fold, shared by every matcher
        return Matcher.compile(rule_sets)

    matcher = fresh()
    found, cold = matched(matcher, items)
    warm = [matched(matcher, items)[1] for _ in range(ROUNDS - 1)]
    unseen: list[float] = []
    for _ in range(UNSEEN_ROUNDS):
        matcher = fresh()
        matched(matcher, items[::2])
        unseen.append(matched(matcher, items[1::2])[1])
    median = statistics.median(warm)
    return Rates(found / len(items), median, min(warm), max(warm), statistics.median(unseen), cold)


def timed(job: Callable[[], object]) -> float:
    """Milliseconds `job` takes."""
    start = time.perf_counter()
    job()
    return (time.perf_counter() - start) * 1000


def aliases(subs: Sequence[Subscription]) -> int:
    lines = (line for sub in subs for line in (*sub.keywords, *sub.exclude))
    return len({alias for line in lines for alias in line.aliases})


def edit_times(subs: list[Subscription], vocabulary: Vocabulary) -> list[float]:
    """Milliseconds to rebuild the routing after one chat's edit, as RoutingCache.get does."""
    rng = random.Random(SEED)
    found: list[float] = []
    current = list(subs)
    for _ in range(EDITS):
        index = rng.randrange(len(current))
        current[index] = edited(current[index], rng, vocabulary)
        found.append(timed(partial(build_routing, (), list(current))))
    return found


def milliseconds(times: Sequence[float]) -> str:
    return (
        f"median {statistics.median(times):.0f} ms (" + ", ".join(f"{t:.0f}" for t in times) + ")"
    )


def main() -> None:
    items = corpus()
    topics = load_config(REPO / "feeds.yaml").topics
    belarus = next(topic for topic in topics if topic.name == "belarus")
    words_of = vocabulary(items)
    subs = subscriptions(words_of, SUBSCRIPTIONS, LINES, FROM_CORPUS)
    first = timed(partial(build_routing, (), subs))
    again = [timed(partial(build_routing, (), subs)) for _ in range(EDITS)]
    edits = edit_times(subs, words_of)

    print(
        f"\n== matching: {len(items)} corpus items (title, summary, categories);"
        f" {SUBSCRIPTIONS} subscriptions x {LINES} keyword lines, {aliases(subs)} distinct aliases"
    )
    many = f"{SUBSCRIPTIONS} x {LINES}"
    rows = {
        "1 subscription (belarus topic)": [RuleSet("belarus", belarus.keywords, belarus.exclude)],
        f"{many}, names only": subscriptions(words_of, SUBSCRIPTIONS, LINES, 0.0),
        f"{many}, {FROM_CORPUS:.0%} from the corpus": subs,
        f"{many}, all from the corpus": subscriptions(words_of, SUBSCRIPTIONS, LINES, 1.0),
    }
    measured = {label: rates(rules, items) for label, rules in rows.items()}
    baseline = measured["1 subscription (belarus topic)"]
    print(
        f"{'items/s':>40}{'matches/item':>14}{'warm':>9}{'(range)':>14}{'unseen':>9}{'cold':>8}"
        f"{'ratio warm, unseen':>20}"
    )
    for label, found in measured.items():
        spread = f"({found.low:.0f}-{found.high:.0f})"
        ratio = f"{found.warm / baseline.warm:.2f}, {found.unseen / baseline.unseen:.2f}"
        print(
            f"{label:40}{found.matches:>14.2f}{found.warm:>9.0f}{spread:>14}{found.unseen:>9.0f}"
            f"{found.cold:>8.0f}{ratio:>20}"
        )
    print(f"build_routing {many}, nothing compiled before: {first:.0f} ms")
    print(f"build_routing {many} again, nothing changed: {milliseconds(again)}")
    print(f"build_routing after one chat's keyword edit: {milliseconds(edits)}")
