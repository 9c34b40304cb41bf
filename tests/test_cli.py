"""The `dozor` command as other checks script it (DESIGN §3): real subprocesses, real feeds
served on 127.0.0.1, the embedded store in a temporary directory or Redis."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer
from tests.feeds import MATCHING, OTHER, Entry, rss

REPO = Path(__file__).resolve().parents[1]
CONTRACT_KEYS = {"topic", "to", "feed", "id", "url", "title", "summary", "published", "matched"}

CONFIG = """\
defaults: {{interval: 5m, backfill: {backfill}}}
feeds:
  - {{url: "{one}", name: One, lang: ru}}
  - {{url: "{two}", name: Two, lang: en}}
topics:
  belarus:
    keywords:
      - Lukashenko | Lukashenka | Лукашэнк* | Łukaszenk*
      - Belarus* | Беларус* | Белорус* | Białoru*
      - Minsk | Минск* | Мінск*
      - Zapad 2025 | Захад-2025
"""


def dozor(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOZOR_", "REDIS_", "TELEGRAM_", "SLACK_"))
    }
    base.update({"DOZOR_ALLOW_PRIVATE_NETWORKS": "1", "DOZOR_DB": str(cwd / "dozor.db")})
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def workdir(tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.set("/one.xml", rss(*MATCHING, *OTHER))
    feed_server.set("/two.xml", rss(Entry("Zapad-2025 drills end", "https://news.example/z", "z1")))
    write_config(tmp_path, feed_server, backfill=10)
    return tmp_path


def write_config(path: Path, server: FeedServer, *, backfill: int) -> None:
    text = CONFIG.format(one=server.url("/one.xml"), two=server.url("/two.xml"), backfill=backfill)
    (path / "feeds.yaml").write_text(text, encoding="utf-8")


def test_check_config_ok_and_broken(workdir: Path) -> None:
    ok = dozor("check-config", cwd=workdir)
    assert ok.returncode == 0 and "2 feeds, 1 topics" in ok.stdout
    (workdir / "bad.yaml").write_text("feeds:\n  - {url: ftp://x}\ntopics: {t: {keywords: [a]}}\n")
    bad = dozor("check-config", "--config", "bad.yaml", cwd=workdir)
    assert bad.returncode == 1
    assert bad.stderr.startswith("bad.yaml:2: feeds[0].url:"), bad.stderr
    (workdir / "ugly.yaml").write_text("feeds: [\n")
    ugly = dozor("check-config", "--config", "ugly.yaml", cwd=workdir)
    assert ugly.returncode == 1 and ugly.stderr.startswith("ugly.yaml:2: YAML error")


def test_scan_json_prints_each_match_and_writes_nothing(workdir: Path) -> None:
    result = dozor("scan", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    assert all(set(line) == CONTRACT_KEYS for line in lines)
    titles = {line["title"]: line for line in lines}
    assert set(titles) == {e.title for e in MATCHING} | {"Zapad-2025 drills end"}
    first = titles[MATCHING[0].title]
    assert first["topic"] == "belarus" and first["to"] == "console" and first["feed"] == "One"
    assert first["matched"] == ["Lukashenko", "Minsk"]
    assert first["published"] == "2025-09-12T08:01:00Z" and first["url"] == MATCHING[0].link
    assert not (workdir / "dozor.db").exists()
    again = dozor("scan", "--json", cwd=workdir)
    assert json_lines(again.stdout) == lines  # stateless: same answer twice


def test_scan_all_prints_unmatched_items_with_nulls(workdir: Path) -> None:
    lines = json_lines(dozor("scan", "--json", "--all", cwd=workdir).stdout)
    assert len(lines) == len(MATCHING) + len(OTHER) + 1
    unmatched = [line for line in lines if line["topic"] is None]
    assert {line["title"] for line in unmatched} == {e.title for e in OTHER}
    assert all(line["to"] is None and line["matched"] == [] for line in unmatched)


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_once_delivers_new_matches_then_nothing(workdir: Path, store: str, redis_url: str) -> None:
    env = {"REDIS_URL": redis_url} if store == "redis" else {}
    first = dozor("once", "--json", cwd=workdir, env=env)
    assert first.returncode == 0, first.stderr
    lines = json_lines(first.stdout)
    assert len(lines) == 4 and all(set(line) == CONTRACT_KEYS for line in lines)
    assert "polled 2 feeds" in first.stderr
    second = dozor("once", "--json", cwd=workdir, env=env)
    assert second.returncode == 0 and second.stdout == ""


def test_once_without_backfill_remembers_first_then_alerts_new(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/one.xml", rss(*MATCHING))
    feed_server.set("/two.xml", rss(*OTHER))
    write_config(tmp_path, feed_server, backfill=0)
    assert dozor("once", "--json", cwd=tmp_path).stdout == ""
    fresh = Entry("Лукашенко прилетел в Минск", "https://news.example/new", "n1", minutes=30)
    feed_server.set("/one.xml", rss(fresh, *MATCHING))
    (line,) = json_lines(dozor("once", "--json", cwd=tmp_path).stdout)
    assert line["title"] == fresh.title and line["matched"] == ["Lukashenko", "Minsk"]


def test_once_reports_a_failing_feed_and_still_delivers_the_rest(
    workdir: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/two.xml", b"", status=404)
    result = dozor("once", "--json", cwd=workdir)
    assert result.returncode == 0
    assert len(json_lines(result.stdout)) == 3
    assert "failed: Two: HTTP 404" in result.stderr


def test_match_explains_which_alias_matched_which_words(workdir: Path) -> None:
    result = dozor("match", "ZAPAD-2025: Лукашэнка в Мінску", cwd=workdir)
    assert result.returncode == 0
    assert "belarus: matches (Lukashenko, Minsk, Zapad 2025)" in result.stdout
    assert "alias 'Мінск*' matched 'Мінску'" in result.stdout
    data = json.loads(dozor("match", "--json", "Minsky moment", cwd=workdir).stdout)
    assert data["topics"] == []
    text = dozor("match", "Запад ввёл санкции", cwd=workdir).stdout
    assert text.startswith("no topic matches")


def test_bad_environment_is_a_clear_error(workdir: Path) -> None:
    result = dozor("check-config", cwd=workdir, env={"DOZOR_HTTP_PORT": "eighty"})
    assert result.returncode == 2 and "DOZOR_HTTP_PORT" in result.stderr


def test_status_shows_feed_health_and_backoff(workdir: Path, feed_server: FeedServer) -> None:
    assert "never polled" in dozor("status", cwd=workdir).stdout
    feed_server.set("/two.xml", b"", status=500)
    dozor("once", cwd=workdir)
    text = dozor("status", cwd=workdir).stdout
    assert re.search(r"One: ok, polled (just now|\d+s ago), 5 items seen", text), text
    assert "Two: FAILING (1 in a row, next try in 5m): HTTP 500" in text
    health = {
        line["feed"]: line for line in json_lines(dozor("status", "--json", cwd=workdir).stdout)
    }
    assert health["Two"]["failures"] == 1 and health["Two"]["retry_at"] is not None
    assert health["One"]["items_seen"] == 5 and health["One"]["last_error"] is None
