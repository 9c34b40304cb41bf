"""Digests on their schedules, `/digest now`, and mentions history for trend charts.

A digest is composed from the subscription's digest buffer and handed to the outbox as one
entry (an Alert of kind "digest" whose payload is the Digest), so it shares the outbox's
promises: delivered once, acked only when the platform accepted it, retried otherwise. Each
period is enqueued under its own key, so a replica that races another (or a restart between
enqueue and trimming the buffer) cannot send the same period twice.

Records kept per (destination, topic): `digest:` — when the last period ended and its keyword
counts (for the trend line); `mentions:` — stories per keyword line per local day, 90 days.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.chart import trend_chart
from bot.commands import Attachment
from bot.commands.replies import zone_of
from bot.commands.schedules import default_schedule
from bot.config import Config
from bot.digest import compose, keyword_counts
from bot.models import Alert, FeedState, Subscription
from bot.routes import merge_subscriptions
from bot.store.base import Store
from bot.timespec import DigestSchedule, TimeSpecError, parse_digest_schedule, previous_digest

log = logging.getLogger("dozor.digest")

HISTORY_DAYS = 90
CHART_DAYS = 7
PERIOD_MEMORY = 40 * 86400.0  # how long a sent period's key is remembered
FIRST_PERIOD = 86400.0  # a digest asked for before any was sent covers at most this much


@dataclass(frozen=True, slots=True)
class DigestState:
    last: float  # when the last digest's period ended (Unix seconds)
    counts: dict[str, int] | None  # its keyword counts (None before the first digest)


def _state_name(to: str, topic: str) -> str:
    return f"digest:{to}/{topic}"


def _history_name(to: str, topic: str) -> str:
    return f"mentions:{to}/{topic}"


def schedule_of(sub: Subscription, zone: str) -> DigestSchedule:
    """The subscription's schedule; a missing or unreadable one is daily at 09:00 local."""
    try:
        return parse_digest_schedule(sub.digest or default_schedule(zone))
    except TimeSpecError:
        log.warning("unreadable digest schedule %r; using daily 09:00", sub.digest)
        return parse_digest_schedule(default_schedule(zone))


def _moment(when: float) -> datetime:
    return datetime.fromtimestamp(when, UTC)


class Summaries:
    """The digest side of the service (and `bot.commands.Summaries` for /digest now, /trend)."""

    def __init__(
        self,
        *,
        store: Store,
        config: Config,
        clock: Callable[[], float],
        instance: str,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._instance = instance
        self._wake = wake

    async def _subscriptions(self) -> list[Subscription]:
        subs = merge_subscriptions(self._config.subscriptions, await self._store.subscriptions())
        return [s for s in subs if s.active and s.mode != "instant"]

    async def run_due(self) -> int:
        """Send every digest whose time has come; how many were sent. Safe to call often and
        from every replica: a period goes out once."""
        sent = 0
        now = self._clock()
        for sub in await self._subscriptions():
            try:
                sent += await self._run_one(sub, now)
            except Exception:
                log.exception("digest failed; it is retried", extra={"to": sub.to})
        if sent and self._wake is not None:
            self._wake()
        return sent

    async def _run_one(self, sub: Subscription, now: float) -> int:
        chat = await self._store.chat(sub.to)
        schedule = schedule_of(sub, chat.zone)
        due = previous_digest(schedule, now)
        state = await self._state(sub.to, sub.topic, now)
        if state is None:  # first sight: the first period starts at the latest due time
            await self._save_state(sub.to, sub.topic, DigestState(due, None))
            return 0
        if state.last >= due:
            return 0
        if not await self._store.try_lock(f"digest:{sub.id}", self._instance, ttl=300.0, now=now):
            return 0
        try:
            stories = await self._send(
                sub,
                state,
                start=state.last,
                end=due,
                zone=schedule.zone,
                period=f"{due:.0f}",
                chart=schedule.every == "weekly",
                now=now,
            )
        finally:
            await self._store.unlock(f"digest:{sub.id}", self._instance)
        return 1 if stories else 0

    async def digest_now(self, to: str, topic: str) -> int:
        """/digest now: everything collected since the last digest, at once."""
        now = self._clock()
        sub = next((s for s in await self._subscriptions() if (s.to, s.topic) == (to, topic)), None)
        if sub is None:
            return 0
        chat = await self._store.chat(to)
        state = await self._state(to, topic, now) or DigestState(now - FIRST_PERIOD, None)
        stories = await self._send(
            sub,
            state,
            start=min(state.last, now),
            end=now,
            zone=schedule_of(sub, chat.zone).zone,
            period=f"now:{now:.3f}",
            chart=False,
            now=now,
        )
        if stories and self._wake is not None:
            self._wake()
        return stories

    async def _send(
        self,
        sub: Subscription,
        state: DigestState,
        *,
        start: float,
        end: float,
        zone: str,
        period: str,
        chart: bool,
        now: float,
    ) -> int:
        """Compose the buffer into a digest, enqueue it, trim the buffer, remember the period.
        An empty buffer sends nothing (no "nothing happened" messages) but closes the period."""
        alerts = await self._store.digest_alerts(sub.to, sub.topic)
        digest = compose(
            alerts,
            topic=sub.topic,
            to=sub.to,
            zone=zone,
            start=_moment(start),
            end=_moment(max(end, start)),
            previous=state.counts,
        )
        if alerts:
            payload = digest.to_dict()
            if sub.mode == "digest":  # "both" counted these when they went out instantly
                await self._add_history(sub.to, sub.topic, seen_mentions(alerts, zone), now)
            if chart:
                payload["chart"] = await self._chart_data(sub.to, sub.topic, zone, now, CHART_DAYS)
            entry = Alert(
                topic=sub.topic,
                to=sub.to,
                feed="Dozor",
                feed_id=f"digest:{sub.id}",
                id=period,
                url="",
                canonical_url="",
                title=f"{sub.topic} digest",
                summary="",
                published=_moment(end),
                matched=(),
                created=now,
                kind="digest",
                payload=json.dumps(payload, ensure_ascii=False),
            )
            await self._store.commit_poll(
                entry.feed_id, [period], [entry], FeedState(), now=now, keep_seconds=PERIOD_MEMORY
            )
            await self._store.drop_digest(sub.to, sub.topic, len(alerts))
            log.info(
                "digest of %s for %s: %d stories from %d items",
                sub.topic,
                sub.to,
                len(digest.stories),
                len(alerts),
                extra={"to": sub.to},
            )
        await self._save_state(sub.to, sub.topic, DigestState(end, keyword_counts(digest)))
        return len(digest.stories)

    # --- mentions history and charts -----------------------------------------------------
    async def note_sent(self, alert: Alert) -> None:
        """An instant alert went out: count its keywords on its local day."""
        if alert.kind != "alert" or alert.delivery != "instant":
            return
        chat = await self._store.chat(alert.to)
        await self._add_history(
            alert.to, alert.topic, seen_mentions([alert], chat.zone), self._clock()
        )

    async def trend(self, to: str, topic: str, days: int) -> Attachment | None:
        now = self._clock()
        zone = (await self._store.chat(to)).zone
        data = await self._chart_data(to, topic, zone, now, days)
        if not any(any(v for v in counts.values()) for counts in data.values()):
            return None
        mentions = {date.fromisoformat(day): counts for day, counts in data.items()}
        png = trend_chart(mentions, title=f"{topic}: mentions per day ({zone})")
        return Attachment(f"{topic}-trend.png", png, "image/png")

    async def _chart_data(
        self, to: str, topic: str, zone: str, now: float, days: int
    ) -> dict[str, dict[str, int]]:
        history = await self._history(to, topic, now)
        today = _moment(now).astimezone(zone_of(zone)).date()
        wanted = [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]
        return {day: history.get(day, {}) for day in wanted}

    async def _history(self, to: str, topic: str, now: float) -> dict[str, dict[str, int]]:
        text = await self._store.get_record(_history_name(to, topic), now=now)
        return json.loads(text) if text else {}

    async def _add_history(
        self, to: str, topic: str, counts: Mapping[date, Mapping[str, int]], now: float
    ) -> None:
        history = await self._history(to, topic, now)
        for day, labels in counts.items():
            slot = history.setdefault(day.isoformat(), {})
            for label, n in labels.items():
                slot[label] = slot.get(label, 0) + n
        oldest = (_moment(now).date() - timedelta(days=HISTORY_DAYS)).isoformat()
        kept = {day: labels for day, labels in sorted(history.items()) if day >= oldest}
        await self._store.put_record(_history_name(to, topic), json.dumps(kept, ensure_ascii=False))

    # --- state ---------------------------------------------------------------------------
    async def _state(self, to: str, topic: str, now: float) -> DigestState | None:
        text = await self._store.get_record(_state_name(to, topic), now=now)
        if not text:
            return None
        data = json.loads(text)
        counts = data.get("counts")
        return DigestState(float(data["last"]), None if counts is None else dict(counts))

    async def _save_state(self, to: str, topic: str, state: DigestState) -> None:
        await self._store.put_record(
            _state_name(to, topic),
            json.dumps({"last": state.last, "counts": state.counts}, ensure_ascii=False),
        )


def seen_mentions(alerts: list[Alert], zone: str) -> dict[date, dict[str, int]]:
    """Stories per keyword line per local day on which Dozor saw them: a chart of what came
    in (a feed's own dates can be old or wrong)."""
    tz = zone_of(zone)
    stories: dict[date, dict[str, set[str]]] = {}
    for alert in alerts:
        day = _moment(alert.created).astimezone(tz).date()
        for label in alert.matched:
            stories.setdefault(day, {}).setdefault(label, set()).add(alert.story_key)
    return {day: {k: len(v) for k, v in labels.items()} for day, labels in stories.items()}


def chart_png(payload: Mapping[str, object], topic: str, zone: str) -> bytes | None:
    """The weekly chart a digest payload carries, drawn when it is sent (None without one)."""
    data = payload.get("chart")
    if not isinstance(data, Mapping) or not data:
        return None
    mentions = {date.fromisoformat(str(day)): dict(counts) for day, counts in data.items()}
    if not any(any(c.values()) for c in mentions.values()):
        return None
    return trend_chart(mentions, title=f"{topic}: mentions per day ({zone})")
