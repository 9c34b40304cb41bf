"""/mute, /timezone, /previews, /digest and /permissions: how and when a chat gets its alerts."""

from __future__ import annotations

from dataclasses import replace

from bot.commands.context import Context
from bot.commands.grammar import shorten
from bot.commands.parsed import (
    Digest,
    DigestNow,
    Mute,
    Permissions,
    Previews,
    Quiet,
    Timezone,
    Trend,
)
from bot.commands.replies import (
    answer,
    done,
    local_time,
    malformed,
    not_subscribed,
    plural,
    schedule_phrase,
    unknown_topic,
    wall_clock,
)
from bot.commands.schedules import canonical_zone, next_digest, schedule_in_zone
from bot.commands.values import Reply
from bot.dispatch import MUTED, QUIET
from bot.models import Subscription
from bot.timespec import TimeSpecError, approx_duration


async def mute(cmd: Mute, ctx: Context) -> Reply:
    chat = await ctx.chat()
    if cmd.seconds is None:
        if not chat.muted(ctx.now):
            return answer("This chat is not muted.")
        await ctx.store.save_chat(replace(chat, mute_until=None))
        await ctx.store.release(ctx.to, (MUTED, QUIET), now=ctx.now)
        waiting = await ctx.store.outbox_for(ctx.to)
        if not waiting:
            return done("Unmuted; no alerts were waiting.")
        return done(f"Unmuted: {plural(waiting, 'alert')} waiting, on their way now.")
    until = ctx.now + cmd.seconds
    await ctx.store.save_chat(replace(chat, mute_until=until))
    return done(
        f"Muted for {approx_duration(cmd.seconds)}, until {local_time(until, chat.zone, ctx.now)}; "
        "alerts wait and arrive when the mute ends. /mute off ends it sooner."
    )


async def timezone(cmd: Timezone, ctx: Context) -> Reply:
    zone = canonical_zone(cmd.zone)
    if zone is None:
        return malformed(
            "timezone",
            f"'{shorten(cmd.zone)}' is not a time zone: use an IANA name like Europe/Minsk, "
            "America/New_York or UTC.",
        )
    chat = await ctx.chat()
    if chat.zone == zone:
        return answer(f"This chat's time zone is already {zone}.")
    await ctx.store.save_chat(replace(chat, zone=zone))
    return done(
        f"Time zone set to {zone}; it is {wall_clock(ctx.now, zone)} there now. "
        "/mute and /status show times in it, and new digest schedules default to it "
        "(existing ones keep their zone: change one with /digest)."
    )


async def show_timezone(ctx: Context) -> Reply:
    chat = await ctx.chat()
    return answer(
        f"This chat's time zone is {chat.zone}; it is {wall_clock(ctx.now, chat.zone)} "
        "there now. Change it with /timezone <IANA zone>, like /timezone Europe/Minsk."
    )


async def previews(cmd: Previews, ctx: Context) -> Reply:
    topics = await ctx.topics()
    sub = topics.subscription(cmd.topic)
    if sub is None:
        topic = topics.resolve(cmd.topic)
        return unknown_topic(cmd.topic, topics) if topic is None else not_subscribed(topic.name)
    state = "on" if cmd.on else "off"
    if sub.previews == cmd.on:
        return answer(f"Link previews for {sub.topic} are already {state}.")
    await ctx.store.save_subscription(replace(sub, previews=cmd.on))
    return done(f"Link previews under {sub.topic} alerts are now {state}.")


async def digest(cmd: Digest, ctx: Context) -> Reply:
    """Set (or turn off) the digest of one subscription, or of every one the chat has."""
    topics = await ctx.topics()
    if cmd.topic is None:
        targets = list(topics.subscriptions)
        if not targets:
            return answer("This chat has no subscriptions yet: /topics lists what there is.")
    else:
        sub = topics.subscription(cmd.topic)
        if sub is None:
            topic = topics.resolve(cmd.topic)
            if topic is None:
                return unknown_topic(cmd.topic, topics)
            return answer(
                f"This chat is not subscribed to {topic.name}: /subscribe {topic.name} digest "
                f"{cmd.schedule} does both at once."
            )
        targets = [sub]
    if cmd.schedule == "off":
        return await _digest_off(targets, ctx)
    chat = await ctx.chat()
    try:
        schedule = schedule_in_zone(cmd.schedule, chat.zone)
    except TimeSpecError as exc:
        return malformed("digest", f"{exc}.")
    changed = []
    for sub in targets:
        mode = "digest" if sub.mode == "instant" else sub.mode
        if (sub.digest, sub.mode) != (str(schedule), mode):
            await ctx.store.save_subscription(replace(sub, digest=str(schedule), mode=mode))
            changed.append(sub)
    names = ", ".join(s.topic for s in targets)
    if not changed:
        return answer(f"The {names} digest already comes {schedule_phrase(schedule)}.")
    upcoming = local_time(next_digest(schedule, ctx.now), chat.zone, ctx.now)
    text = f"The {names} digest now comes {schedule_phrase(schedule)}; the next at {upcoming}."
    instant_only = [s.topic for s in changed if s.mode == "instant"]
    if instant_only:
        whose = "Its" if len(targets) == 1 else f"{', '.join(instant_only)}:"
        text += (
            f" {whose} alerts now come only in the digest; "
            f"/subscribe {instant_only[0]} both gets them instantly too."
        )
    return done(text)


async def _digest_off(targets: list[Subscription], ctx: Context) -> Reply:
    turned = [s for s in targets if s.mode != "instant"]
    if not turned:
        names = ", ".join(s.topic for s in targets)
        return answer(f"{names} has no digest: its alerts come instantly.")
    for sub in turned:
        await ctx.store.save_subscription(replace(sub, mode="instant", digest=None))
    names = ", ".join(s.topic for s in turned)
    return done(
        f"No more digests for {names}; its alerts come instantly. What was collected for the "
        "next digest is kept until you turn digests on again or ask for /digest now."
    )


async def digest_now(cmd: DigestNow, ctx: Context) -> Reply:
    """The digest of what was collected so far, at once."""
    topics = await ctx.topics()
    if cmd.topic is None:
        targets = [s for s in topics.subscriptions if s.mode != "instant"]
        if not targets:
            return answer(
                "No subscription of this chat collects a digest: /digest daily 09:00 turns "
                "digests on."
            )
    else:
        sub = topics.subscription(cmd.topic)
        if sub is None:
            topic = topics.resolve(cmd.topic)
            return unknown_topic(cmd.topic, topics) if topic is None else not_subscribed(topic.name)
        if sub.mode == "instant":
            return answer(
                f"{sub.topic} alerts come instantly, so there is nothing to summarise: "
                f"/digest {sub.topic} daily 09:00 turns its digest on."
            )
        targets = [sub]
    if ctx.summaries is None:
        return answer("Digests are not running in this process; try again in a minute.")
    sent = {sub.topic: await ctx.summaries.digest_now(ctx.to, sub.topic) for sub in targets}
    parts = [f"{topic}: {plural(n, 'story', 'stories')}" for topic, n in sent.items() if n]
    if not parts:
        return answer("Nothing new was collected since the last digest.")
    return answer(f"Digest on its way ({'; '.join(parts)}).")


async def quiet(cmd: Quiet, ctx: Context) -> Reply:
    chat = await ctx.chat()
    if cmd.window is None:
        if chat.quiet is None:
            return answer("This chat has no quiet hours.")
        await ctx.store.save_chat(replace(chat, quiet=None))
        released = await ctx.store.release(ctx.to, (QUIET,), now=ctx.now)
        waited = f" {plural(released, 'alert')} that waited, on their way now." if released else ""
        return done(f"Quiet hours are off: alerts come at any hour.{waited}")
    await ctx.store.save_chat(replace(chat, quiet=cmd.window))
    return done(
        f"Quiet hours set to {cmd.window} ({chat.zone}): alerts that come in them wait and "
        "arrive when they end; digests still come on time. /quiet off ends them."
    )


async def show_quiet(ctx: Context) -> Reply:
    chat = await ctx.chat()
    if chat.quiet is None:
        return answer("This chat has no quiet hours; /quiet 22:00-07:00 sets them.")
    return answer(f"Quiet hours: {chat.quiet} ({chat.zone}). /quiet off ends them.")


async def trend(cmd: Trend, ctx: Context) -> Reply:
    topics = await ctx.topics()
    sub = topics.subscription(cmd.topic)
    if sub is None:
        topic = topics.resolve(cmd.topic)
        return unknown_topic(cmd.topic, topics) if topic is None else not_subscribed(topic.name)
    if ctx.summaries is None:
        return answer("Charts are not available in this process; try again in a minute.")
    chart = await ctx.summaries.trend(ctx.to, sub.topic, cmd.days)
    if chart is None:
        return answer(f"No mentions for {sub.topic} in the last {plural(cmd.days, 'day')} yet.")
    return Reply(
        f"Mentions per day for {sub.topic}, last {plural(cmd.days, 'day')}.",
        attachments=(chart,),
    )


async def permissions(cmd: Permissions, ctx: Context) -> Reply:
    if ctx.caller.kind == "private":
        return answer("In a private chat only you change the settings; /permissions is for groups.")
    chat = await ctx.chat()
    if chat.anyone_can_edit == cmd.everyone:
        return await show_permissions(ctx)
    await ctx.store.save_chat(replace(chat, anyone_can_edit=cmd.everyone))
    if cmd.everyone:
        return done(
            "Everyone in this chat can now change its subscriptions and settings "
            "(/permissions admins takes that back)."
        )
    return done("Only this chat's administrators can now change its subscriptions and settings.")


async def show_permissions(ctx: Context) -> Reply:
    if ctx.caller.kind == "private":
        return answer("This is a private chat: only you change its settings.")
    chat = await ctx.chat()
    if chat.anyone_can_edit:
        return answer(
            "Everyone in this chat may change its subscriptions and settings; an admin can "
            "restrict that with /permissions admins."
        )
    return answer(
        "Only this chat's administrators may change its subscriptions and settings; an admin "
        "can allow everyone with /permissions everyone."
    )
