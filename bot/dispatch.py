"""The outbox consumer: claims due alerts, hands each to its channel, acks only what was accepted.

A crash between claim and ack loses nothing: the claim is a lease, and the alert becomes due
again when it runs out. Leases are short (`lease`, 30 s by default) so a dead replica's alerts go
again soon; a live dispatcher renews the leases it holds every third of that, and renews an
alert's lease once more just before sending it: a renewal that fails means another replica took
the alert over, and it is not sent here. What remains is the one window no chat API lets anyone
close: a crash after the platform accepted a message and before the ack sends that message
again. Alerts to one destination go out in order, destinations in parallel.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.metrics import Metrics
from bot.models import Alert, Chat, OutboxEntry
from bot.store.base import Store, StoreError
from bot.timespec import quiet_until

log = logging.getLogger("dozor.dispatch")

UNCONFIGURED_RETRY = 300.0
MAX_RETRY_DELAY = 900.0
ACK_RETRY_FIRST, ACK_RETRY_MAX = 0.2, 5.0  # waiting for a store that is down, after a send
MUTED, QUIET = "muted", "quiet hours"  # why an alert is held (`Store.release` lets it go)
MUTE_RECHECK = 30.0  # a muted chat's alerts look again this often, so /mute off acts quickly


class DeliveryError(Exception):
    """A channel could not deliver. `permanent`: the destination is gone (blocked, deleted),
    so its subscriptions stop; `rejected`: this alert can never be sent (dropped, logged);
    otherwise it is retried, not before `retry_after` seconds when the platform said so."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        rejected: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.rejected = rejected


class Channel(Protocol):
    """Where alerts leave Dozor: console, Telegram, Slack. `send` returns once accepted, with
    a reference to the message when the platform can edit it later (else None)."""

    async def send(self, alert: Alert) -> str | None: ...


class Editor(Protocol):
    """A channel that can add "also: <outlets>" to a message it sent."""

    async def edit(self, alert: Alert, ref: str, also: Sequence[str]) -> None: ...


STORY_MEMORY = 3 * 86400.0  # how long a sent story's message can still be edited


def sent_record(to: str, story: str) -> str:
    return f"sent:{to}/{story}"


def platform_of(destination: str) -> str:
    return destination.partition(":")[0]


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Exponential: 2, 4, 8 … seconds up to 15 minutes; a server's retry-after wins if longer."""
    return max(min(2.0 ** min(max(attempts, 1), 20), MAX_RETRY_DELAY), retry_after or 0.0)


@dataclass(slots=True)
class DispatchReport:
    sent: list[Alert] = field(default_factory=list)
    retried: int = 0
    dropped: int = 0
    held: int = 0  # muted destinations: their alerts wait
    waiting: Counter[str] = field(default_factory=Counter)  # platform -> alerts with no channel

    def add(self, other: DispatchReport) -> None:
        self.sent.extend(other.sent)
        self.retried += other.retried
        self.dropped += other.dropped
        self.held += other.held
        self.waiting.update(other.waiting)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        clock: Callable[[], float],
        on_gone: Callable[[str, str], Awaitable[None]],
        chat: Callable[[str], Awaitable[Chat]] | None = None,
        on_sent: Callable[[Alert], Awaitable[None]] | None = None,
        metrics: Metrics | None = None,
        lease: float = 30.0,
        batch: int = 100,
    ) -> None:
        self._store = store
        self._channels = channels
        self._clock = clock
        self._on_gone = on_gone
        self._chat = chat
        self._on_sent = on_sent
        self._metrics = metrics
        self._lease = lease
        self._batch = batch
        self._held: dict[str, float] = {}  # entry id -> the lease end this dispatcher holds
        self._renewing = asyncio.Lock()

    async def drain(self, stop: asyncio.Event | None = None) -> DispatchReport:
        """Deliver everything due now, batch by batch, until nothing is due (or `stop` is set:
        the batch in hand is finished, the rest waits in the outbox)."""
        report = DispatchReport()
        while stop is None or not stop.is_set():
            entries = await self._store.claim(
                now=self._clock(), lease=self._lease, limit=self._batch
            )
            if not entries:
                return report
            self._held.update((entry.id, entry.lease_until) for entry in entries)
            keeper = asyncio.ensure_future(self._keep_leases())
            try:
                report.add(await self._deliver(entries, stop))
            finally:
                keeper.cancel()
                for entry in entries:
                    self._held.pop(entry.id, None)
        return report

    async def _keep_leases(self) -> None:
        """Renew the held leases every third of a lease, for as long as a batch is in hand."""
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await self._renew(list(self._held))
            except Exception as exc:  # the pre-send renewal will tell; nothing is sent unheld
                log.warning("could not renew outbox leases: %s", exc)

    async def _renew(self, ids: Sequence[str]) -> set[str]:
        """Renew these entries' leases; the ids still held. One at a time, so a renewal never
        presents a lease end another renewal just replaced."""
        async with self._renewing:
            asked = {entry_id: self._held[entry_id] for entry_id in ids if entry_id in self._held}
            until = self._clock() + self._lease
            renewed = await self._store.extend(asked, until=until)
            for entry_id in asked:
                if entry_id in renewed:
                    self._held[entry_id] = until
                else:
                    self._held.pop(entry_id, None)
            return renewed

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, *, idle: float = 1.0) -> None:
        """Drain whenever woken (a poll queued alerts) or every `idle` seconds, until `stop`."""
        while not stop.is_set():
            wake.clear()
            try:
                await self.drain(stop)
            except StoreError as exc:  # said in one line: the store's own message is the story
                log.warning("dispatch round failed: %s; retrying", exc)
            except Exception:
                log.exception("dispatch round failed; retrying")
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            _, pending = await asyncio.wait(waiters, timeout=idle, return_when="FIRST_COMPLETED")
            for waiter in pending:
                waiter.cancel()

    async def _deliver(
        self, entries: list[OutboxEntry], stop: asyncio.Event | None
    ) -> DispatchReport:
        by_destination: dict[str, list[OutboxEntry]] = defaultdict(list)
        for entry in entries:
            by_destination[entry.alert.to].append(entry)
        # every destination finishes its turn even if another's fails (a store outage): none
        # is left running unheld after its batch is given up
        reports = await asyncio.gather(
            *(self._deliver_in_order(es, stop) for es in by_destination.values()),
            return_exceptions=True,
        )
        total = DispatchReport()
        for part in reports:
            if isinstance(part, BaseException):
                raise part
            total.add(part)
        return total

    async def _deliver_in_order(
        self, entries: list[OutboxEntry], stop: asyncio.Event | None
    ) -> DispatchReport:
        """One destination's alerts, in order; on shutdown the rest go back to the outbox, and
        a muted destination's wait until the mute ends (they are never dropped)."""
        report = DispatchReport()
        entries, held = await self._hold(entries)
        report.held += held
        for index, entry in enumerate(entries):
            if stop is not None and stop.is_set():
                for rest in entries[index:]:
                    await self._store.retry(
                        rest.id, not_before=self._clock(), error="shutdown", failed=False
                    )
                return report
            platform = platform_of(entry.alert.to)
            channel = self._channels.get(platform)
            if channel is None:
                for waiting in entries[index:]:
                    await self._store.retry(
                        waiting.id,
                        not_before=self._clock() + UNCONFIGURED_RETRY,
                        error=f"{platform} is not configured",
                        failed=False,
                    )
                report.waiting[platform] += len(entries) - index
                return report
            if entry.id not in await self._renew([entry.id]):
                log.info(
                    "alert taken over by another replica, not sent here",
                    extra={"to": entry.alert.to},
                )
                continue
            try:
                if entry.alert.kind == "also":
                    await self._also(channel, entry)
                    await self._ack(entry, stop)
                    continue
                ref = await self._send(channel, entry)
            except DeliveryError as exc:
                if entry.alert.kind == "also" and (exc.permanent or exc.rejected):
                    await self._store.ack(entry.id)  # an edit that cannot be made is dropped
                    log.info("edit dropped: %s", exc, extra={"to": entry.alert.to})
                    continue
                if self._metrics is not None:
                    outcome = "gone" if exc.permanent else "dropped" if exc.rejected else "retry"
                    self._metrics.failure(entry.alert.to, outcome)
                if exc.permanent:
                    await self._give_up(entry, str(exc))
                    report.dropped += 1
                    continue
                if exc.rejected:
                    await self._store.ack(entry.id)
                    log.error("alert rejected, dropped: %s", exc, extra={"to": entry.alert.to})
                    report.dropped += 1
                    continue
                delay = retry_delay(entry.attempts + 1, exc.retry_after)
                await self._store.retry(entry.id, not_before=self._clock() + delay, error=str(exc))
                log.warning(
                    "delivery failed: %s; retry in %.0fs", exc, delay, extra={"to": entry.alert.to}
                )
                report.retried += len(entries) - index
                for later in entries[index + 1 :]:  # keep the destination's order
                    await self._store.retry(
                        later.id, not_before=self._clock() + delay, error="queued", failed=False
                    )
                return report
            await self._ack(entry, stop)
            report.sent.append(entry.alert)
            if self._metrics is not None:
                self._metrics.delivered(entry.alert, self._clock())
            await self._remember(entry.alert, ref)
            if self._on_sent is not None:
                try:
                    await self._on_sent(entry.alert)
                except Exception:  # bookkeeping after delivery must not undo it
                    log.exception("after-delivery hook failed", extra={"to": entry.alert.to})
        return report

    async def _ack(self, entry: OutboxEntry, stop: asyncio.Event | None) -> None:
        """The platform has the message: its ack must land, or it goes out again. A store that
        is down (Redis restarting, SQLite locked) is waited for with backoff, not given up on;
        only a shutdown stops the wait."""
        delay = ACK_RETRY_FIRST
        while True:
            try:
                await self._store.ack(entry.id)
                return
            except StoreError as exc:
                if stop is not None and stop.is_set():
                    raise
                log.warning(
                    "sent, but the outbox could not record it (%s); retrying in %.1fs",
                    exc,
                    delay,
                    extra={"to": entry.alert.to},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, ACK_RETRY_MAX)

    async def _hold(self, entries: list[OutboxEntry]) -> tuple[list[OutboxEntry], int]:
        """A muted destination's entries wait until the mute ends; during its quiet hours its
        alerts wait until they end (digests, being scheduled, still go). Returns what may go
        now and how many wait."""
        if self._chat is None:
            return entries, 0
        now = self._clock()
        chat = await self._chat(entries[0].alert.to)
        if chat.muted(now) and chat.mute_until is not None:
            until, why, held = chat.mute_until, MUTED, entries
        else:
            quiet = quiet_until(chat.quiet, chat.zone, now)
            if quiet is None:
                return entries, 0
            until, why = quiet, QUIET
            held = [e for e in entries if e.alert.kind != "digest"]
        for entry in held:
            await self._store.retry(
                entry.id, not_before=min(until, now + MUTE_RECHECK), error=why, failed=False
            )
        return [e for e in entries if e not in held], len(held)

    async def _send(self, channel: Channel, entry: OutboxEntry) -> str | None:
        """A channel's unexpected exception is a transient failure, logged in full, never a
        crash of the delivery loop."""
        try:
            return await channel.send(entry.alert)
        except DeliveryError:
            raise
        except StoreError as exc:  # the shared send budget is out of reach: nothing was sent
            raise DeliveryError(str(exc)) from exc
        except Exception as exc:
            log.exception("channel failed unexpectedly", extra={"to": entry.alert.to})
            raise DeliveryError(f"unexpected error: {exc!r}") from exc

    async def _remember(self, alert: Alert, ref: str | None) -> None:
        """A story's first alert: keep its message so that later outlets can be added."""
        if ref is None or not alert.story or alert.kind != "alert":
            return
        record = {"ref": ref, "alert": alert.to_dict(), "sources": [alert.feed]}
        try:
            await self._store.put_record(
                sent_record(alert.to, alert.story),
                json.dumps(record, ensure_ascii=False),
                expires=self._clock() + STORY_MEMORY,
            )
        except Exception:  # the alert went out; only the later edit is lost
            log.exception("could not remember a sent story", extra={"to": alert.to})

    async def _also(self, channel: Channel, entry: OutboxEntry) -> None:
        """Another outlet carried a story this destination already got: edit that message to
        say so (once per outlet), or do nothing where the platform cannot edit."""
        alert = entry.alert
        editor = getattr(channel, "edit", None)
        name = sent_record(alert.to, alert.story)
        text = await self._store.get_record(name, now=self._clock())
        if editor is None or text is None:
            return
        record = json.loads(text)
        sources: list[str] = list(record["sources"])
        if alert.feed in sources:
            return
        sources.append(alert.feed)
        original = Alert.from_dict(record["alert"])
        try:
            await editor(original, str(record["ref"]), sources[1:])
        except DeliveryError:
            raise
        except Exception as exc:
            log.exception("channel failed to edit", extra={"to": alert.to})
            raise DeliveryError(f"unexpected error: {exc!r}") from exc
        record["sources"] = sources
        await self._store.put_record(
            name, json.dumps(record, ensure_ascii=False), expires=self._clock() + STORY_MEMORY
        )

    async def _give_up(self, entry: OutboxEntry, reason: str) -> None:
        """The destination is gone for good: deactivate it, drop the alert."""
        await self._on_gone(entry.alert.to, reason)
        await self._store.ack(entry.id)
        log.error("destination deactivated: %s", reason, extra={"to": entry.alert.to})
