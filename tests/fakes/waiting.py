"""Waits on a fake's condition, shared by the fake Telegram and Slack servers: block (sync
tests) or await (async tests) until a probe returns enough, and otherwise fail saying why."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


class ConditionWaits:
    """A mixin: the fake notifies `_changed` (and calls every `_listeners` entry) whenever
    something a test may wait for happens."""

    _changed: threading.Condition
    _listeners: list[Callable[[], None]]

    def _wait(
        self,
        probe: Callable[[], list[_T]],
        count: int,
        timeout: float,
        explain: Callable[[list[_T], int, float], str],
    ) -> list[_T]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(got := probe()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(explain(got, count, timeout))
                self._changed.wait(remaining)
            return got

    async def _wait_async(
        self,
        probe: Callable[[], list[_T]],
        count: int,
        timeout: float,
        explain: Callable[[list[_T], int, float], str],
    ) -> list[_T]:
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(changed.set)

        with self._changed:
            self._listeners.append(wake)
        try:
            deadline = loop.time() + timeout
            while True:
                changed.clear()
                if len(got := probe()) >= count:
                    return got
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError(explain(got, count, timeout))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        finally:
            with self._changed:
                self._listeners.remove(wake)
