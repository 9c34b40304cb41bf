"""Who gets what: topics and subscriptions compiled into one matcher and a table of destinations.

Pure: `decide_alerts` turns a feed's new items into alerts; the poll loop writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from bot.match import Matcher, RuleSet
from bot.models import CONSOLE, Alert, Delivery, Feed, Item, Subscription, Topic


@dataclass(frozen=True, slots=True)
class Route:
    topic: str
    to: str
    deliveries: tuple[Delivery, ...]
    previews: bool = False


@dataclass(frozen=True, slots=True)
class Routing:
    """One compiled matcher for all topics and subscriptions; where each rule set's matches go."""

    matcher: Matcher
    routes: Mapping[str, Route]


def merge_subscriptions(
    static: Iterable[Subscription], stored: Iterable[Subscription]
) -> list[Subscription]:
    """feeds.yaml's routes, overridden by the store's record of the same (to, topic)."""
    merged = {s.id: s for s in static}
    merged.update((s.id, s) for s in stored)
    return list(merged.values())


def merge_topics(static: Iterable[Topic], stored: Iterable[Topic]) -> list[Topic]:
    merged = {(t.owner, t.name): t for t in static}
    merged.update(((t.owner, t.name), t) for t in stored)
    return list(merged.values())


def build_routing(topics: Sequence[Topic], subscriptions: Sequence[Subscription]) -> Routing:
    """Active subscriptions route to their destination; global topics nobody (actively)
    subscribes to route to the console, so that `dozor once` with no chat prints every match."""
    rule_sets: list[RuleSet] = []
    routes: dict[str, Route] = {}
    subscribed: set[str] = set()
    for sub in subscriptions:
        if not sub.active:
            continue
        subscribed.add(sub.topic)
        rule_sets.append(RuleSet(sub.id, sub.keywords, sub.exclude))
        routes[sub.id] = Route(sub.topic, sub.to, sub.deliveries, sub.previews)
    for topic in topics:
        if topic.owner is None and topic.name not in subscribed:
            rule_id = f"{CONSOLE}/{topic.name}"
            rule_sets.append(RuleSet(rule_id, topic.keywords, topic.exclude))
            routes[rule_id] = Route(topic.name, CONSOLE, ("instant",))
    return Routing(Matcher.compile(rule_sets), routes)


def decide_alerts(
    feed: Feed,
    items: Sequence[Item],
    routing: Routing,
    *,
    now: float,
    limit_items: int | None = None,
) -> list[Alert]:
    """The alerts for `items`: one per item, matched route and delivery.

    `limit_items` keeps only the alerts of that many matching items, the newest first (the
    first poll's backfill); the rest are remembered as seen without alerting.
    """
    matched: list[tuple[Item, list[Alert]]] = []
    for item in items:
        found = routing.matcher.match(item.title, item.summary, item.categories)
        alerts: list[Alert] = []
        for rule_id, match in found.items():
            route = routing.routes[rule_id]
            if feed.owner is not None and route.to != feed.owner:
                continue  # a chat's private feed feeds that chat only
            alerts.extend(
                Alert(
                    topic=route.topic,
                    to=route.to,
                    feed=feed.name,
                    feed_id=feed.id,
                    id=item.key,
                    url=item.url,
                    canonical_url=item.canonical_url,
                    title=item.title,
                    summary=item.summary,
                    published=item.published,
                    matched=match.labels,
                    delivery=delivery,
                    created=now,
                    previews=route.previews,
                )
                for delivery in route.deliveries
            )
        if alerts:
            matched.append((item, alerts))
    if limit_items is not None:
        matched = newest(matched, limit_items, lambda pair: pair[0].published)
    return [alert for _, alerts in matched for alert in alerts]


_OLDEST = datetime.min.replace(tzinfo=UTC)
T = TypeVar("T")


def newest(entries: Sequence[T], count: int, when: Callable[[T], datetime | None]) -> list[T]:
    """The `count` newest of `entries` by `when` (undated ones keep their order, after the
    dated), in their original order."""
    if count <= 0:
        return []
    ranked = sorted(
        enumerate(entries),
        key=lambda pair: (
            when(pair[1]) is not None,
            when(pair[1]) or _OLDEST,
            -pair[0],
        ),
        reverse=True,
    )
    keep = {index for index, _ in ranked[:count]}
    return [entry for index, entry in enumerate(entries) if index in keep]
