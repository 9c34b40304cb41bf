"""Delivery through a real `dozor run` to the fake Bot API over loopback HTTP.

1. Throughput: 1,000 alerts to 100 chats while the fake enforces Telegram's limits (1 message a
   second per chat, 30 a second overall): wall time from the first message to the last beside
   the least those limits allow, and the 429s the bot ran into.
2. Latency: one new story at a time, to one chat, with no limit in the way: from the moment the
   poll that carried it reached the feed server to sendMessage at the fake, p50 and p95.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.feeds import OTHER, Entry, feeds_yaml, rss, subscribed
from tests.service import Service, wait_until

CHATS = 100
STORIES = 10
LATENCY_ROUNDS = 13  # every headline has five words of its own: 66 words make 13
OVERALL_PER_SECOND = 30

WORDS = [
    "potash",
    "border",
    "envoy",
    "court",
    "metro",
    "drills",
    "prisoners",
    "airport",
    "taxes",
    "fence",
    "harvest",
    "pipeline",
    "railway",
    "summit",
    "sanctions",
    "election",
    "museum",
    "bridge",
    "refinery",
    "tractor",
    "hockey",
    "festival",
    "nuclear",
    "plant",
    "grain",
    "exports",
    "visa",
    "embassy",
    "pardon",
    "strike",
    "textbook",
    "reactor",
    "convoy",
    "balloon",
    "smuggling",
    "customs",
    "orchestra",
    "cathedral",
    "stadium",
    "highway",
    "forest",
    "wildfire",
    "flood",
    "drought",
    "vaccine",
    "hospital",
    "university",
    "startup",
    "bitcoin",
    "satellite",
    "tanker",
    "frigate",
    "monument",
    "archive",
    "theatre",
    "cinema",
    "marathon",
    "library",
    "fertiliser",
    "dairy",
    "cheese",
    "timber",
    "furniture",
    "crystal",
    "glass",
    "porcelain",
]


def story(n: int, tag: str = "") -> Entry:
    """Headlines that share only the name they are about: each is its own story, never
    clustered with another (which would make it an edit of that one's message)."""
    words = [WORDS[(5 * n + k) % len(WORDS)] for k in range(5)]
    return Entry(
        f"Lukashenko {' '.join(words)} {tag}{n}",
        f"https://wire.example/{tag}{n}",
        f"{tag}{n}",
        minutes=n,
    )


def first_polls(server: FeedServer) -> None:
    # the first poll is committed (backfill 0 alerts nothing) before the news comes
    wait_until(lambda: server.hits("/f.xml") >= 2, timeout=60, what="first polls")


def throughput(workdir: Path) -> None:
    chats = list(range(10_001, 10_001 + CHATS))
    with FeedServer() as server, FakeTelegram(TOKEN) as telegram:
        server.set("/f.xml", rss(*OTHER))
        config = feeds_yaml(
            (server.url("/f.xml"), "Wire"),
            extra=subscribed(*(f"telegram:{chat}" for chat in chats)),
        )
        (workdir / "feeds.yaml").write_text(config, encoding="utf-8")
        telegram.enforce_limits()
        with Service(workdir, telegram.env()) as running:
            first_polls(server)
            server.set("/f.xml", rss(*(story(n) for n in range(STORIES)), *OTHER))
            total = CHATS * STORIES
            try:
                sent = telegram.wait_for_sent(total, timeout=300)
            except AssertionError:
                raise SystemExit(f"only {len(telegram.sent())} of {total} sent in 300 s") from None
            running.stop()
        wall = sent[-1].time - sent[0].time
        least = (total - 1) / OVERALL_PER_SECOND
        refused = len(telegram.violations)
        rules = Counter(v.rule for v in telegram.violations)
        print(f"\n== delivery: {total} alerts to {CHATS} chats, Telegram's limits enforced")
        print(f"{'':34}{'seconds':>10}{'msgs/s':>10}")
        print(f"{'least the limits allow (baseline)':34}{least:>10.2f}{OVERALL_PER_SECOND:>10.1f}")
        print(f"{'dozor run':34}{wall:>10.2f}{(total - 1) / wall:>10.1f}")
        print(f"ratio {wall / least:.3f}x the minimum; 429s received: {refused} {dict(rules)}")


def latency(workdir: Path) -> None:
    chat = 20_001
    with FeedServer() as server, FakeTelegram(TOKEN) as telegram:
        server.set("/f.xml", rss(*OTHER))
        config = feeds_yaml((server.url("/f.xml"), "Wire"), extra=subscribed(f"telegram:{chat}"))
        (workdir / "feeds.yaml").write_text(config, encoding="utf-8")
        delays = []
        with Service(workdir, telegram.env()) as running:
            first_polls(server)
            entries = list(OTHER)
            for n in range(LATENCY_ROUNDS):
                entries.insert(0, story(n, "l"))
                changed = time.monotonic()
                server.set("/f.xml", rss(*entries))
                (message, *_) = telegram.wait_for_sent(n + 1, chat_id=chat, timeout=30)[n:]
                carried = next(r for r in server.requests("/f.xml") if r.time > changed)
                delays.append(message.time - carried.time)
                time.sleep(1.0)  # Telegram's 1 message a second to a chat stays out of the way
            running.stop()
        delays.sort()
        p50 = statistics.median(delays)
        p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
        print(f"\n== latency: poll to sendMessage, {LATENCY_ROUNDS} stories one at a time")
        print(f"p50 {p50 * 1000:.0f} ms   p95 {p95 * 1000:.0f} ms   max {delays[-1] * 1000:.0f} ms")
        print("(from the poll's request reaching the feed server: fetch, parse, match, commit,")
        print(" dispatch and the Bot API call; target p95 < 1 s)")


def main() -> None:
    for run in (throughput, latency):
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp))
