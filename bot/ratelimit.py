"""Rate budgets obeyed before sending, not discovered through 429s.

Each budget is "at most N sends per window seconds" for a key (a chat, a group, everything).
A sender checks every budget it falls under, sleeps until all allow, and records its send in
the same step as the final check (no await in between), so concurrent senders on one event loop
never overbook a budget. History holds only past sends, so it stays ordered.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window: float  # seconds


Rules = Sequence[tuple[str, Limit]]
# A budget kept elsewhere (Redis, shared by replicas): records the send and returns 0 when all
# rules allow it at `now`, else returns the seconds to wait and records nothing.
Take = Callable[[Rules, float], Awaitable[float]]


class Budgets:
    """Sliding-window send histories keyed by (key, limit); pure bookkeeping on a clock."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, Limit], deque[float]] = {}

    def wait_needed(self, rules: Rules, now: float) -> float:
        """Seconds until a send under all `rules` is allowed (0 when it is allowed now)."""
        wait = 0.0
        for key, limit in rules:
            history = self._prune(key, limit, now)
            if len(history) >= limit.count:
                wait = max(wait, history[len(history) - limit.count] + limit.window - now)
        return wait

    def record(self, rules: Rules, now: float) -> None:
        for key, limit in rules:
            self._sent.setdefault((key, limit), deque()).append(now)

    def _prune(self, key: str, limit: Limit, now: float) -> deque[float]:
        history = self._sent.get((key, limit))
        if history is None:
            return deque()
        while history and history[0] <= now - limit.window:
            history.popleft()
        if not history:
            del self._sent[(key, limit)]
        return history

    def __len__(self) -> int:
        """How many histories are kept: idle ones are dropped, so memory follows activity."""
        return len(self._sent)


class Pacer:
    """`await pacer.wait(rules)` returns when a send may go, and counts it as sent. With
    `take`, the budgets live in a shared store (every replica's sends count; use a wall clock
    then), else in this process."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        observe: Callable[[float], None] | None = None,
        take: Take | None = None,
    ) -> None:
        self.budgets = Budgets()
        self._clock = clock
        self._sleep = sleep
        self._observe = observe  # told how long each send waited (metrics)
        self._take = take

    async def wait(self, rules: Rules) -> float:
        """Seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            if self._take is not None:
                delay = await self._take(rules, now)
            else:
                delay = self.budgets.wait_needed(rules, now)
                if delay <= 0:
                    self.budgets.record(rules, now)
            if delay <= 0:
                if self._observe is not None and waited:
                    self._observe(waited)
                return waited
            await self._sleep(delay)
            waited += delay


# Windows 5% longer than the platforms' own: a request can reach them later than it left
# (a busy process, a slow connection), and the next one on time would then look too early.
JITTER_MARGIN = 1.05
TELEGRAM_PER_CHAT = Limit(1, 1.0 * JITTER_MARGIN)
TELEGRAM_PER_GROUP = Limit(20, 60.0 * JITTER_MARGIN)
TELEGRAM_OVERALL = Limit(30, 1.0 * JITTER_MARGIN)
# ... and spread evenly inside it: 30 sends granted at once leave together, reach Telegram over
# a tenth of a second or so, and the next second's first sends then look like a 31st
TELEGRAM_OVERALL_PACE = Limit(1, TELEGRAM_OVERALL.window / TELEGRAM_OVERALL.count)
SLACK_PER_CHANNEL = Limit(1, 1.0 * JITTER_MARGIN)


def slack_rules(channel: str) -> list[tuple[str, Limit]]:
    """About 1 message/s per channel (chat.postMessage's documented pace)."""
    return [(f"slack:{channel}", SLACK_PER_CHANNEL)]


def telegram_rules(chat_id: int) -> list[tuple[str, Limit]]:
    """About 1 message/s per chat, 20/min per group (negative ids), 30/s overall."""
    rules = [
        (f"chat:{chat_id}", TELEGRAM_PER_CHAT),
        ("all", TELEGRAM_OVERALL),
        ("all:pace", TELEGRAM_OVERALL_PACE),
    ]
    if chat_id < 0:
        rules.append((f"group:{chat_id}", TELEGRAM_PER_GROUP))
    return rules
