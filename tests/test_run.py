"""`dozor run` as a real process: it polls on schedule, prints each new match once, stops cleanly
on SIGTERM, and a restart sends nothing twice. Waits are on conditions (lines, hits), not clocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer
from tests.feeds import MATCHING, OTHER, Entry, rss
from tests.service import Service, wait_until

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
