"""bot.known: a feed body cut into its items only where that is certainly safe, and a body cut
down to some items reads as exactly those items."""

from __future__ import annotations

import random
from pathlib import Path

from bot.known import layout
from bot.parse import parse_feed
from tests.feeds import MATCHING, OTHER, rss


def test_items_and_their_fingerprints() -> None:
    body = rss(*MATCHING, *OTHER)
    shape = layout(body)
    assert shape is not None and len(shape.spans) == len(shape.hashes) == 5
    assert len(set(shape.hashes)) == 5
    again = layout(rss(*MATCHING[1:], *OTHER))
    assert again is not None and again.hashes == shape.hashes[1:]  # same bytes, same prints


def test_anything_doubtful_is_not_cut() -> None:
    plain = rss(*MATCHING).decode()
    nested = plain.replace("</item>", "<item><title>x</title></item></item>", 1)
    inside = "<description><![CDATA[</item>]]></description>"
    cdata = plain.replace("<description></description>", inside, 1)
    between = plain.replace("</item><item>", "</item><!-- ad --><item>", 1)
    for body in (nested, cdata, between, rss().decode(), plain.encode("utf-16").hex()):
        assert layout(body.encode()) is None, body[:80]


def test_a_corpus_feed_cut_down_reads_as_exactly_those_items(corpus_dir: Path) -> None:
    """Over the whole corpus: wherever a cut is allowed, the head and tail with any subset of
    the items (here: all of them, and a random half of those that stand alone, with their own
    guid or id, which are the only ones the poller ever reads alone) parse to the same items
    as the full body does."""
    cut = 0
    chance = random.Random(7)  # a fixed sample
    for path in sorted(corpus_dir.glob("*.xml")):
        body = path.read_bytes()
        shape = layout(body)
        if shape is None:
            continue
        full = parse_feed(body, url="https://example.org/")
        if full.warning:
            continue  # the poller reads such feeds whole
        cut += 1
        whole = parse_feed(shape.only(list(range(len(shape.spans)))), url="https://example.org/")
        assert whole.items == full.items, path.name
        alone = [i for i in range(len(shape.spans)) if shape.stands_alone(i)]
        half = sorted(chance.sample(alone, len(alone) // 2))
        part = parse_feed(shape.only(half), url="https://example.org/")
        by_key = {item.key: item for item in full.items}
        for item in part.items:
            assert by_key.get(item.key) == item, (path.name, item.key)
    assert cut >= 40, f"only {cut} corpus feeds could be cut"
