"""Hostile feeds against a running `dozor run`: each ends in a clear per-feed error and backoff,
the process stays up with its memory bounded, and a good feed beside them is still delivered.
Nothing here leaves 127.0.0.0/8: the one forbidden address is 0.0.0.0, which Linux would
route to this machine, so a guard that failed would show up as a hit on the feed server."""

from __future__ import annotations

from pathlib import Path

from bot.models import Feed
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.feeds import MATCHING, OTHER, Entry, feeds_yaml, rss, subscribed
from tests.service import Service, read_store, wait_until

MB = 1024 * 1024
CHAT = 7001
# What the process may reach at its peak, all of this included: about 170 MB without the
# 50,000-item feed (8 MB of XML), about 300 MB with it (its tree and items before the cap).
PEAK_RSS_LIMIT_MB = 400
HUGE_ITEMS = 50_000


def item(n: int) -> str:
    return (
        f"<item><title>Market note {n}</title><link>https://spam.example/{n}</link>"
        f"<guid>spam-{n}</guid><description>nothing of interest {n}</description></item>"
    )


def huge_feed(items: int) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Spam</title>'
        + "".join(item(n) for n in range(items))
        + "</channel></rss>"
    ).encode()


def billion_laughs() -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    subset = "\n".join(levels)
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{subset}\n]>\n<rss version="2.0"><channel>'
        "<title>Laughs</title><item><title>&lol9;</title><guid>l</guid></item></channel></rss>"
    ).encode()


def external_entity(secret_file: Path) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file://{secret_file}">\n'
        ']>\n<rss version="2.0"><channel><title>XXE</title><item><title>Lukashenko &xxe;'
        "</title><guid>x1</guid><description>&xxe;</description></item></channel></rss>"
    ).encode()


def invalid_utf8() -> bytes:
    good = rss(Entry("Lukashenko visits \xff\xfe plant", "https://bad.example/1", "u1"))
    return good.replace("\xff\xfe".encode(), b"\xff\xfe\xc3")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


def feed_failures(workdir: Path, urls: list[str]) -> dict[str, int]:
    ids = {url: Feed(url=url, name="x").id for url in urls}
    states = read_store(workdir, lambda store: store.feed_states(list(ids.values())))
    return {url: states[ids[url]].failures for url in urls if ids[url] in states}


def test_hostile_feeds_fail_one_by_one_and_the_service_goes_on(
    tmp_path: Path, telegram_api: FakeTelegram, feed_server: FeedServer
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a9", encoding="utf-8")
    port = feed_server.port
    feed_server.dribble("/drip.xml", rss(*MATCHING), chunk=1, interval=0.1)  # a minute, or so
    feed_server.endless("/endless.xml")
    feed_server.redirect("/loop-a.xml", feed_server.url("/loop-b.xml"))
    feed_server.redirect("/loop-b.xml", feed_server.url("/loop-a.xml"))
    feed_server.redirect("/forbidden.xml", f"http://0.0.0.0:{port}/inside.xml")
    feed_server.set("/inside.xml", rss(*MATCHING))
    feed_server.set("/laughs.xml", billion_laughs())
    feed_server.set("/xxe.xml", external_entity(secret))
    feed_server.gzip_bomb("/bomb.xml", 1_000_000_000)
    feed_server.set("/utf8.xml", invalid_utf8())
    feed_server.set("/huge.xml", huge_feed(HUGE_ITEMS))
    feed_server.set("/good.xml", rss(*OTHER))
    failing = ["/drip.xml", "/endless.xml", "/loop-a.xml", "/forbidden.xml", "/bomb.xml"]
    # read without what makes them dangerous: their entity declarations are cut out first
    readable = ["/laughs.xml", "/xxe.xml", "/utf8.xml", "/huge.xml"]
    paths = [*failing, *readable, "/good.xml"]
    subs = subscribed(f"telegram:{CHAT}")
    config = feeds_yaml(*((feed_server.url(p), p.strip("/.xml")) for p in paths), extra=subs)
    (tmp_path / "feeds.yaml").write_text(config, encoding="utf-8")
    env = {**telegram_api.env(), "DOZOR_FETCH_TIMEOUT": "5s"}
    with Service(tmp_path, env) as running:

        def said(path: str, words: str) -> bool:
            url = feed_server.url(path)
            return any(words in line and url in line for line in running.log)

        wait_until(lambda: feed_server.hits("/good.xml") >= 2, what="good feed polled")
        feed_server.set("/good.xml", rss(*MATCHING, *OTHER))
        telegram_api.wait_for_sent(3, chat_id=CHAT, timeout=30)
        for path in failing:
            try:
                wait_until(lambda p=path: said(p, "poll failed"), timeout=40, what=path)
            except AssertionError:
                raise AssertionError("".join(running.log)[-5000:]) from None
        assert said("/drip.xml", "no complete answer within 5s")
        assert said("/endless.xml", "MB")
        assert said("/loop-a.xml", "redirect")
        assert said("/forbidden.xml", "0.0.0.0 (unspecified); never allowed")
        for path in ("/laughs.xml", "/xxe.xml"):
            wait_until(
                lambda p=path: said(p, "DOCTYPE internal subset removed"), what=f"{path} defused"
            )
        assert said("/bomb.xml", "MB")
        wait_until(lambda: said("/huge.xml", "the newest 1,000 were read"), what="huge capped")
        assert running.proc.poll() is None
        peak = peak_rss_mb(running.proc.pid)
        code, log = running.stop()
    assert code == 0 and "Traceback" not in log
    assert peak < PEAK_RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"
    print(f"peak RSS of dozor run through every hostile feed: {peak:.0f} MB")

    failures = feed_failures(tmp_path, [feed_server.url(p) for p in paths])
    for path in failing:  # each counted as its own feed's failure: backoff applies
        assert failures[feed_server.url(path)] >= 1, path
    for path in [*readable, "/good.xml"]:
        assert failures[feed_server.url(path)] == 0, path
    assert feed_server.hits("/inside.xml") == 0  # the guard held: 0.0.0.0 was never reached
    everything = log + "".join(m.text for m in telegram_api.sent())
    assert "TOP-SECRET" not in everything
    titles = [m.plain.splitlines()[0] for m in telegram_api.sent(CHAT)]
    assert sorted(titles) == sorted(e.title for e in MATCHING)
