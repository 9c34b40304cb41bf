"""/topics, /subscribe, /unsubscribe, /list and /new: which topics a chat follows, and how."""

from __future__ import annotations

from dataclasses import replace

from bot.commands.context import ChatTopics, Context
from bot.commands.parsed import NewTopic, Subscribe, Unsubscribe
from bot.commands.replies import (
    answer,
    done,
    lines_text,
    local_time,
    malformed,
    mode_phrase,
    plural,
    unknown_topic,
)
from bot.commands.schedules import default_schedule, schedule_in_zone
from bot.commands.values import Reply
from bot.models import Subscription, Topic
from bot.timespec import TimeSpecError

_LABELS_SHOWN = 6


def too_many_topics(ctx: Context, count: int) -> Reply:
    return answer(
        f"This chat would have {count} topics, and the limit is {ctx.limits.topics} "
        "(its own topics and subscriptions together). /unsubscribe one first."
    )


async def feed_count(ctx: Context) -> int:
    """Feeds whose items reach this chat: the global ones and the chat's own."""
    return len(ctx.config.feeds) + len(await ctx.own_feeds())


def _labels(topic: Topic | Subscription) -> str:
    labels = [line.label for line in topic.keywords]
    shown = ", ".join(labels[:_LABELS_SHOWN])
    return shown + (", …" if len(labels) > _LABELS_SHOWN else "")


async def show_topics(ctx: Context) -> Reply:
    topics = await ctx.topics()

    def row(topic: Topic) -> str:
        mark = "✓" if topics.subscription(topic.name) else "·"
        count = plural(len(topic.keywords), "keyword line")
        return f"{mark} {topic.name}: {count} ({_labels(topic)})"

    out = ["Topics (✓ = this chat is subscribed):"]
    out += [row(t) for t in topics.shared] or ["(no global topics)"]
    if topics.own:
        out += ["", "This chat's own topics:", *(row(t) for t in topics.own)]
    out += ["", "Subscribe with /subscribe <topic>; /keywords <topic> shows a topic's keywords."]
    return answer("\n".join(out))


async def subscribe(cmd: Subscribe, ctx: Context) -> Reply:
    topics = await ctx.topics()
    topic = topics.resolve(cmd.topic)
    if topic is None:
        return unknown_topic(cmd.topic, topics)
    chat = await ctx.chat()
    existing = topics.subscription(topic.name)
    mode = cmd.mode or (existing.mode if existing else "instant")
    digest = existing.digest if existing else None
    if cmd.schedule:
        try:
            digest = str(schedule_in_zone(cmd.schedule, chat.zone))
        except TimeSpecError as exc:
            return malformed("subscribe", f"{exc}.")
    if mode != "instant" and digest is None:
        digest = default_schedule(chat.zone)
    if existing is not None:
        if (existing.mode, existing.digest) == (mode, digest):
            return answer(
                f"This chat is already subscribed to {topic.name}. {mode_phrase(existing)}"
            )
        sub = replace(existing, mode=mode, digest=digest)
        await ctx.store.save_subscription(sub)
        kept = plural(len(sub.keywords), "keyword line")
        return done(f"Subscription to {topic.name} changed; its {kept} kept. {mode_phrase(sub)}")
    in_use = topics.names_in_use() | {topic.name}
    if len(in_use) > ctx.limits.topics:
        return too_many_topics(ctx, len(in_use))
    former = topics.former(topic.name)
    base = former or Subscription(
        topic=topic.name, to=ctx.to, keywords=topic.keywords, exclude=topic.exclude, created=ctx.now
    )
    sub = replace(base, mode=mode, digest=digest, active=True)
    await ctx.store.save_subscription(sub)
    lines = plural(len(sub.keywords), "keyword line")
    feeds = plural(await feed_count(ctx), "feed")
    return done(f"Subscribed to {topic.name}: {lines}, {feeds}. {mode_phrase(sub)}")


async def unsubscribe(cmd: Unsubscribe, ctx: Context) -> Reply:
    topics = await ctx.topics()
    sub = topics.subscription(cmd.topic)
    if sub is None:
        topic = topics.resolve(cmd.topic)
        if topic is None:
            return unknown_topic(cmd.topic, topics)
        return answer(f"This chat is not subscribed to {topic.name}.")
    if sub.topic in topics.static:
        await ctx.store.save_subscription(replace(sub, active=False))
    else:
        await ctx.store.delete_subscription(ctx.to, sub.topic)
    text = f"Unsubscribed from {sub.topic}: no more alerts for it here."
    own = topics.own_topic(sub.topic)
    if own is not None:
        await ctx.store.delete_topic(ctx.to, own.name)
        text += (
            f" {own.name} was this chat's own topic, so it is gone too; to make it again: "
            f"/new {own.name} {lines_text(sub.keywords)}"
        )
        if sub.exclude:
            text += f" and /exclude {own.name} {lines_text(sub.exclude)}"
    return done(text)


def _describe(sub: Subscription, topics: ChatTopics) -> list[str]:
    own = " (this chat's own topic)" if topics.own_topic(sub.topic) else ""
    previews = "on" if sub.previews else "off"
    out = [
        f"• {sub.topic}{own}: {mode_phrase(sub)} Link previews {previews}.",
        f"  keywords: {lines_text(sub.keywords)}",
    ]
    if sub.exclude:
        out.append(f"  exclude: {lines_text(sub.exclude)}")
    return out


async def list_subscriptions(ctx: Context) -> Reply:
    topics = await ctx.topics()
    chat = await ctx.chat()
    if chat.muted(ctx.now) and chat.mute_until is not None:
        mute = f"Muted until {local_time(chat.mute_until, chat.zone, ctx.now)}; alerts wait."
    else:
        mute = "Not muted."
    settings = f"Time zone {chat.zone}. {mute}"
    if not topics.subscriptions:
        return answer(
            "This chat has no subscriptions yet. /topics lists the topics; "
            f"/subscribe <topic> starts one. {settings}"
        )
    count = len(topics.names_in_use())
    out = [f"This chat's subscriptions ({count} of {ctx.limits.topics} topics):"]
    for sub in topics.subscriptions:
        out += _describe(sub, topics)
    out += [settings]
    return answer("\n".join(out))


async def new_topic(cmd: NewTopic, ctx: Context) -> Reply:
    topics = await ctx.topics()
    own = topics.own_topic(cmd.topic) or next(
        (t for t in topics.own if t.name.casefold() == cmd.topic.casefold()), None
    )
    if own is not None:
        return answer(
            f"This chat already has a topic {own.name}; /add {own.name} <keywords> adds to it."
        )
    shared = topics.shared_topic(cmd.topic)
    if shared is not None:
        return answer(
            f"{shared.name} is a global topic: /subscribe {shared.name}, then "
            f"/add {shared.name} <keywords> changes this chat's copy of it."
        )
    in_use = topics.names_in_use() | {cmd.topic}
    if len(in_use) > ctx.limits.topics:
        return too_many_topics(ctx, len(in_use))
    await ctx.store.save_topic(Topic(cmd.topic, cmd.lines, (), owner=ctx.to))
    sub = Subscription(topic=cmd.topic, to=ctx.to, keywords=cmd.lines, created=ctx.now)
    await ctx.store.save_subscription(sub)
    feeds = plural(await feed_count(ctx), "feed")
    return done(
        f"Made {cmd.topic}, a topic of this chat's own, with "
        f"{plural(len(cmd.lines), 'keyword line')} ({lines_text(cmd.lines)}), "
        f"and subscribed to it: {feeds}. {mode_phrase(sub)}"
    )
