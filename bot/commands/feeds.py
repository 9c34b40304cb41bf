"""/feeds, /addfeed and /removefeed: the feeds a chat adds for itself.

A chat's own feed is fetched once through the SSRF-guarded fetcher and parsed before it is
accepted, so a typo or a web page is refused at once with the reason, not failing for days.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.commands.context import Context
from bot.commands.grammar import shorten
from bot.commands.parsed import AddFeed, RemoveFeed
from bot.commands.replies import answer, done, plural
from bot.commands.values import Reply
from bot.fetch import FetchError, check_url
from bot.models import Feed
from bot.parse import ParsedFeed
from bot.timespec import format_duration

MAX_NAME_CHARS = 200


def normalised(url: str) -> str:
    """A URL as check_url spells it, so the same feed typed twice is found; else as given."""
    try:
        return check_url(url)
    except FetchError:
        return url


def feed_problem(parsed: ParsedFeed) -> str | None:
    """Why a fetched body is not a feed worth adding, or None."""
    if parsed.items:
        return None
    if parsed.warning:
        return f"not a feed: {parsed.warning.removeprefix('not a feed: ')}"
    return "the feed has no items, so there is nothing to watch in it yet"


def feed_name(title: str, url: str) -> str:
    """The feed's own title, else its host: what alerts show as the source."""
    name = " ".join(title.split())[:MAX_NAME_CHARS]
    return name or urlsplit(url).hostname or url


def global_feed(url: str, feeds: Sequence[Feed]) -> Feed | None:
    return next((feed for feed in feeds if normalised(feed.url) == url), None)


async def show_feeds(ctx: Context) -> Reply:
    own = await ctx.own_feeds()
    out = [
        f"Dozor reads {plural(len(ctx.config.feeds), 'global feed')}: every chat shares them, "
        "and only Dozor's operators change them."
    ]
    if own:
        out += [f"This chat's own feeds ({len(own)} of {ctx.limits.feeds}):"]
        out += [f"{index}. {feed.name}: {feed.url}" for index, feed in enumerate(own, start=1)]
        out += ["Remove one with /removefeed <number>."]
    else:
        out += ["This chat has no feeds of its own; add one with /addfeed <url>."]
    return answer("\n".join(out))


async def add_feed(cmd: AddFeed, ctx: Context) -> Reply:
    try:
        url = check_url(cmd.url)
    except FetchError as exc:
        return answer(f"Cannot add that feed: {exc}.")
    own = await ctx.own_feeds()
    mine = next((feed for feed in own if normalised(feed.url) == url), None)
    if mine is not None:
        return answer(f"This chat already has that feed: {mine.name}.")
    shared = global_feed(url, ctx.config.feeds)
    if shared is not None:
        return answer(f"Dozor already reads that feed for everyone ({shared.name}).")
    if len(own) >= ctx.limits.feeds:
        return answer(
            f"This chat already has {len(own)} feeds of its own, the limit is "
            f"{ctx.limits.feeds}. /removefeed one first."
        )
    try:
        parsed = await ctx.load_feed(url)
    except FetchError as exc:
        return answer(f"Cannot add {url}: {exc}.")
    problem = feed_problem(parsed)
    if problem is not None:
        return answer(f"Cannot add {url}: {problem}.")
    feed = Feed(url=url, name=feed_name(parsed.title, url), owner=ctx.to)
    await ctx.store.save_feed(feed)
    return done(
        f"Added feed {feed.name} ({url}), {plural(len(parsed.items), 'item')} in it now. "
        f"Dozor reads it every {format_duration(feed.interval)}; its new items that match "
        "this chat's subscriptions come here, and only here."
    )


async def remove_feed(cmd: RemoveFeed, ctx: Context) -> Reply:
    own = await ctx.own_feeds()
    target = cmd.target.removeprefix("#")
    if target.isdecimal():
        index = int(target) - 1 if len(target) < 6 else -1
        if not 0 <= index < len(own):
            return answer(
                f"There is no feed number {shorten(target)}: this chat has "
                f"{plural(len(own), 'feed')} of its own (/feeds lists them)."
            )
        feed = own[index]
    else:
        url = normalised(target)
        found = next((f for f in own if normalised(f.url) == url), None)
        if found is None:
            if global_feed(url, ctx.config.feeds) is not None:
                return answer("That is a global feed: only Dozor's operators can remove it.")
            return answer(f"This chat has no feed {shorten(target, 80)}; /feeds lists its own.")
        feed = found
    await ctx.store.delete_feed(ctx.to, feed.url)
    return done(f"Removed feed {feed.name} ({feed.url}).")
