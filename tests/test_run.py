"""`dozor run` as a real process: it polls on schedule, prints each new match once, stops cleanly
on SIGTERM, and a restart sends nothing twice. Waits are on conditions (lines, hits), not clocks."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer
from tests.feeds import MATCHING, OTHER, Entry, rss

REPO = Path(__file__).resolve().parents[1]
CONFIG = """\
defaults: {{interval: 1s, backfill: 10}}
feeds:
  - {{url: "{url}", name: Local}}
topics:
  belarus:
    keywords:
      - Lukashenko | Лукашэнк*
      - Minsk | Минск*
      - Belarus* | Białoru*
"""


class Service:
    """A `dozor run --json` process whose stdout lines are collected by a thread."""

    def __init__(self, workdir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOZOR_", "REDIS_"))}
        env.update(
            DOZOR_ALLOW_PRIVATE_NETWORKS="1",
            DOZOR_DB=str(workdir / "dozor.db"),
            PYTHONPATH=str(REPO),
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--json"],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, object]] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.put(json.loads(line))

    def take(self, count: int, timeout: float = 30) -> list[dict[str, object]]:
        return [self.lines.get(timeout=timeout) for _ in range(count)]

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def workdir(tmp_path: Path, feed_server: FeedServer) -> Path:
    (tmp_path / "feeds.yaml").write_text(CONFIG.format(url=feed_server.url("/f.xml")))
    return tmp_path


def test_run_alerts_once_stops_cleanly_and_restarts_without_repeats(
    workdir: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/f.xml", rss(*MATCHING, *OTHER))
    service = Service(workdir)
    try:
        first = service.take(3)
        assert {line["title"] for line in first} == {e.title for e in MATCHING}
        fresh = Entry("Лукашэнка прыехаў у Мінск", "https://news.example/n", "n1", minutes=20)
        feed_server.set("/f.xml", rss(fresh, *MATCHING, *OTHER))
        (line,) = service.take(1)
        assert line["title"] == fresh.title and line["feed"] == "Local"
        hits = feed_server.hits("/f.xml")
        wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2)  # polled again: nothing new
        assert service.lines.empty()
    finally:
        code, err = service.stop()
    assert code == 0, err
    assert "stopping" in err and "Traceback" not in err

    restarted = Service(workdir)
    try:
        hits = feed_server.hits("/f.xml")
        wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2)
    finally:
        code, err = restarted.stop()
    assert code == 0 and restarted.lines.empty(), err
