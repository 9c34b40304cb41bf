"""/mute, /timezone, /previews, /digest and /permissions: how and when a chat gets its alerts."""

from __future__ import annotations

from dataclasses import replace

from bot.commands.context import Context
from bot.commands.grammar import shorten
from bot.commands.parsed import Digest, Mute, Permissions, Previews, Timezone
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
from bot.timespec import TimeSpecError, approx_duration


async def mute(cmd: Mute, ctx: Context) -> Reply:
    chat = await ctx.chat()
    if cmd.seconds is None:
        if not chat.muted(ctx.now):
            return answer("This chat is not muted.")
        await ctx.store.save_chat(replace(chat, mute_until=None))
        waiting = await ctx.store.outbox_for(ctx.to)
        if not waiting:
            return done("Unmuted; no alerts were waiting.")
        return done(f"Unmuted: {plural(waiting, 'alert')} waiting will arrive within a minute.")
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
    topics = await ctx.topics()
    sub = topics.subscription(cmd.topic)
    if sub is None:
        topic = topics.resolve(cmd.topic)
        if topic is None:
            return unknown_topic(cmd.topic, topics)
        return answer(
            f"This chat is not subscribed to {topic.name}: /subscribe {topic.name} digest "
            f"{cmd.schedule} does both at once."
        )
    chat = await ctx.chat()
    try:
        schedule = schedule_in_zone(cmd.schedule, chat.zone)
    except TimeSpecError as exc:
        return malformed("digest", f"{exc}.")
    mode = "digest" if sub.mode == "instant" else sub.mode
    if (sub.digest, sub.mode) == (str(schedule), mode):
        return answer(f"The {sub.topic} digest already comes {schedule_phrase(schedule)}.")
    await ctx.store.save_subscription(replace(sub, digest=str(schedule), mode=mode))
    upcoming = local_time(next_digest(schedule, ctx.now), chat.zone, ctx.now)
    text = f"The {sub.topic} digest now comes {schedule_phrase(schedule)}; the next at {upcoming}."
    if sub.mode == "instant":
        text += (
            f" Its alerts now come only in the digest; /subscribe {sub.topic} both gets them "
            "instantly too."
        )
    return done(text)


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
