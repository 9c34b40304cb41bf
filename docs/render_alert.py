"""Renders docs/alert.svg, the README's picture: a real corpus headline through Dozor's pipeline
(parse -> match -> console channel), recorded by rich. Run: .venv/bin/python docs/render_alert.py"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from rich.console import Console

from bot.config import load_config
from bot.models import Feed
from bot.parse import parse_feed
from bot.routes import build_routing, decide_alerts
from handlers.console import styled

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "corpus" / "feeds" / "ru_tut_by_news_all_2019-12-30_rss2.xml"


async def main() -> None:
    config = load_config(REPO / "feeds.yaml")
    routing = build_routing(config.topics, ())
    feed = Feed(url="https://news.tut.by/rss/all.rss", name="TUT.BY")
    parsed = parse_feed(SOURCE.read_bytes(), url=feed.url)
    alerts = decide_alerts(feed, parsed.items, routing, now=0)
    chosen = [a for a in alerts if "Lukashenko" in a.matched][:1] + [
        a for a in alerts if "Minsk" in a.matched and a.summary
    ][:1]
    console = Console(record=True, width=100, file=io.StringIO())
    console.print("$ dozor run", style="dim")
    for alert in chosen:
        console.print(styled(alert))
        console.print()
    console.save_svg(str(REPO / "docs" / "alert.svg"), title="dozor run")


if __name__ == "__main__":
    asyncio.run(main())
