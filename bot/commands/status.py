"""/status: are the feeds healthy, what waits for this chat, and when its next digests come."""

from __future__ import annotations

from bot.commands.context import ChatTopics, Context
from bot.commands.replies import answer, local_time, plural
from bot.commands.schedules import next_digest
from bot.commands.values import Reply
from bot.models import Chat, Feed, FeedState
from bot.timespec import TimeSpecError, approx_duration, parse_digest_schedule

_FAILING_SHOWN = 10
_ERROR_CHARS = 160


def _ago(seconds: float) -> str:
    return "just now" if seconds < 1 else f"{approx_duration(seconds)} ago"


def _failure(feed: Feed, state: FeedState, chat: Chat, now: float) -> str:
    error = " ".join((state.last_error or "unknown error").split())[:_ERROR_CHARS]
    text = f"• {feed.name}: {error} ({plural(state.failures, 'failure')} in a row"
    if state.retry_at is not None and state.retry_at > now:
        text += f"; next try in {approx_duration(state.retry_at - now)}, at "
        text += local_time(state.retry_at, chat.zone, now)
    return text + ")"


def _own(feed: Feed, state: FeedState, now: float) -> str:
    if state.last_poll is None:
        return f"• {feed.name}: not read yet"
    health = "FAILING" if state.failures else "ok"
    return (
        f"• {feed.name}: {health}, last read {_ago(now - state.last_poll)}, "
        f"{plural(state.items_seen, 'item')} seen"
    )


async def status(ctx: Context) -> Reply:
    chat = await ctx.chat()
    own = await ctx.own_feeds()
    feeds = [*ctx.config.feeds, *own]
    states = await ctx.store.feed_states([feed.id for feed in feeds])
    state_of = {feed.id: states.get(feed.id, FeedState()) for feed in feeds}
    failing = [feed for feed in feeds if state_of[feed.id].failures > 0]
    unread = sum(state_of[feed.id].last_poll is None for feed in feeds)
    healthy = len(feeds) - len(failing) - unread
    out = [f"Feeds: {len(feeds)} ({healthy} ok, {len(failing)} failing, {unread} not read yet)."]
    if failing:
        out += ["Failing:"]
        out += [_failure(f, state_of[f.id], chat, ctx.now) for f in failing[:_FAILING_SHOWN]]
        if len(failing) > _FAILING_SHOWN:
            out += [f"…and {len(failing) - _FAILING_SHOWN} more."]
    if own:
        out += ["This chat's own feeds:", *(_own(f, state_of[f.id], ctx.now) for f in own)]
    waiting = await ctx.store.outbox_for(ctx.to)
    out += [f"Alerts waiting to be sent here: {waiting}."]
    if chat.muted(ctx.now) and chat.mute_until is not None:
        out += [f"Muted until {local_time(chat.mute_until, chat.zone, ctx.now)}; alerts wait."]
    else:
        out += ["Not muted."]
    out += _digests(await ctx.topics(), chat, ctx.now)
    return answer("\n".join(out))


def _digests(topics: ChatTopics, chat: Chat, now: float) -> list[str]:
    """When each digest subscription's next digest is due, in the chat's zone."""
    rows: list[str] = []
    for sub in topics.subscriptions:
        if sub.mode == "instant":
            continue
        try:
            schedule = parse_digest_schedule(sub.digest or "daily 09:00")
            due = next_digest(schedule, now)
        except (TimeSpecError, ValueError, OSError):
            rows.append(f"• {sub.topic}: its schedule cannot be read; set one with /digest")
            continue
        rows.append(f"• {sub.topic}: {local_time(due, chat.zone, now)}")
    return ["Next digests:", *rows] if rows else []
