"""Prometheus metrics (`/metrics`): every name starts with `dozor_`.

One registry per service, not prometheus_client's global one, so that tests and several
services in one process never share counts. Counters are fed by the service's hooks (poll
reports, deliveries, rate-limit waits); the outbox depth is read from the store when scraped.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.models import Alert
from bot.poll import PollReport

__all__ = ["CONTENT_TYPE", "Metrics"]

LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, float("inf"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter("dozor_polls", "Feed polls by outcome", ["outcome"], registry=r)
        self.fetch_errors = Counter(
            "dozor_fetch_errors", "Failed polls by kind of error", ["kind"], registry=r
        )
        self.items = Counter("dozor_items_parsed", "Items read from feeds", registry=r)
        self.new_items = Counter("dozor_items_new", "Items not seen before", registry=r)
        self.matches = Counter("dozor_matches", "Alerts queued (matches)", registry=r)
        self.sent = Counter(
            "dozor_alerts_sent", "Alerts a channel accepted", ["channel", "kind"], registry=r
        )
        self.failed = Counter(
            "dozor_alerts_failed",
            "Deliveries that failed, by channel and outcome (retry, dropped, gone)",
            ["channel", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "dozor_delivery_latency_seconds",
            "From an alert's match to the channel's acceptance",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rate_waits = Counter(
            "dozor_rate_limit_wait_seconds",
            "Seconds spent waiting on send budgets",
            ["channel"],
            registry=r,
        )
        self.outbox = Gauge("dozor_outbox_depth", "Alerts waiting in the outbox", registry=r)

    def poll(self, report: PollReport) -> None:
        self.polls.labels(report.outcome).inc()
        if report.outcome == "failed":
            self.fetch_errors.labels(report.error_kind or "unknown").inc()
        self.items.inc(report.items)
        self.new_items.inc(report.new_items)
        self.matches.inc(len(report.alerts))

    def delivered(self, alert: Alert, now: float) -> None:
        channel = alert.to.partition(":")[0]
        self.sent.labels(channel, alert.kind).inc()
        if alert.kind == "alert" and alert.created:
            self.latency.labels(channel).observe(max(now - alert.created, 0.0))

    def failure(self, to: str, outcome: str) -> None:
        self.failed.labels(to.partition(":")[0], outcome).inc()

    def waited(self, channel: str, seconds: float) -> None:
        if seconds > 0:
            self.rate_waits.labels(channel).inc(seconds)

    def render(self, outbox_depth: int) -> bytes:
        self.outbox.set(outbox_depth)
        return generate_latest(self.registry)
