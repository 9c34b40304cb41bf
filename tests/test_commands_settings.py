"""/mute, /timezone, /previews, /digest, /permissions, and who may change what, on both stores."""

from __future__ import annotations

import pytest

from bot.commands import Caller, ChatKind
from tests import test_commands_support as kit
from tests.test_commands_support import (
    ADMIN,
    NOW,
    Bot,
    Member,
    in_group,
    private,
)

bot, fetcher, store = kit.bot, kit.fetcher, kit.store  # fixtures, on both stores

CHAT = "telegram:1"
GROUP = "telegram:-100555"
REFUSED = (
    "Only this chat's administrators can change its subscriptions (ask an admin, or an admin "
    "can allow everyone with /permissions everyone)."
)


# --- mute and time zone ---------------------------------------------------------------------


async def test_mute_sets_mute_until_and_says_when_it_ends(bot: Bot) -> None:
    await bot.say("/timezone Europe/Minsk")
    reply = await bot.say("/mute 2h")
    assert reply.text == (
        "Muted for 2h, until 13:00 Europe/Minsk; alerts wait and arrive when the mute ends. "
        "/mute off ends it sooner."
    )
    assert reply.changed and reply.public
    assert (await bot.store.chat(CHAT)).mute_until == NOW + 7200
    reply = await bot.say("/mute 3 days")
    assert "until Mon 15 Sep 11:00 Europe/Minsk" in reply.text
    assert (await bot.say("/mute off")).text == "Unmuted; no alerts were waiting."
    assert (await bot.store.chat(CHAT)).mute_until is None
    assert (await bot.say("/mute off")).text == "This chat is not muted."


async def test_mute_mistakes(bot: Bot) -> None:
    assert "Usage: /mute <duration>|off\nExample: /mute 2h" in (await bot.say("/mute")).text
    assert "'forever' is not a duration" in (await bot.say("/mute forever")).text
    assert "at most 30d" in (await bot.say("/mute 31d")).text
    assert "longer than zero" in (await bot.say("/mute 0m")).text
    assert "at most 30d" in (await bot.say("/mute 99999999999999999999999d")).text
    assert (await bot.store.chat(CHAT)).mute_until is None


async def test_timezone_is_checked_and_spelled_as_tzdata_does(bot: Bot) -> None:
    reply = await bot.say("/timezone europe/minsk")
    assert reply.text.startswith("Time zone set to Europe/Minsk; it is 11:00 there now.")
    assert (await bot.store.chat(CHAT)).zone == "Europe/Minsk"
    assert "already Europe/Minsk" in (await bot.say("/timezone Europe/Minsk")).text
    assert "This chat's time zone is Europe/Minsk" in (await bot.say("/timezone")).text
    for wrong in ("Mars/Olympus", "Europe", "../../etc/passwd", "UTC+3"):
        reply = await bot.say(f"/timezone {wrong}")
        assert "is not a time zone" in reply.text and "Usage: /timezone" in reply.text
    assert (await bot.store.chat(CHAT)).zone == "Europe/Minsk"


# --- previews and digests -------------------------------------------------------------------


async def test_previews_switch_per_subscription(bot: Bot) -> None:
    assert "/subscribe belarus" in (await bot.say("/previews belarus on")).text
    await bot.say("/subscribe belarus")
    reply = await bot.say("/previews belarus on")
    assert reply.text == "Link previews under belarus alerts are now on."
    assert [s.previews for s in await bot.store.subscriptions()] == [True]
    assert "already on" in (await bot.say("/previews belarus yes")).text
    assert (await bot.say("/previews belarus off")).text.endswith("are now off.")
    assert "on or off" in (await bot.say("/previews belarus maybe")).text
    assert "Usage: /previews <topic> on|off" in (await bot.say("/previews belarus")).text


async def test_digest_schedule_defaults_to_the_chat_zone(bot: Bot) -> None:
    await bot.say("/timezone Europe/Minsk")
    await bot.say("/subscribe belarus")
    reply = await bot.say("/digest belarus daily 18:00")
    assert reply.text == (
        "The belarus digest now comes daily at 18:00 Europe/Minsk; the next at 18:00 "
        "Europe/Minsk. Its alerts now come only in the digest; /subscribe belarus both gets "
        "them instantly too."
    )
    [sub] = await bot.store.subscriptions()
    assert (sub.mode, sub.digest) == ("digest", "daily 18:00 Europe/Minsk")
    reply = await bot.say("/digest belarus weekly MON 07:30 america/new_york")
    assert "weekly on Monday at 07:30 America/New_York" in reply.text
    assert "next at Mon 15 Sep 14:30 Europe/Minsk" in reply.text
    assert "every hour" in (await bot.say("/digest belarus hourly")).text
    [sub] = await bot.store.subscriptions()
    assert (sub.mode, sub.digest) == ("digest", "hourly")


async def test_digest_mistakes(bot: Bot) -> None:
    await bot.say("/subscribe belarus both")
    for wrong, expected in (
        ("daily", "is not a digest schedule"),
        ("daily 9am", "is not a time of day"),
        ("weekly funday 09:00", "is not a day of the week"),
        ("daily 09:00 Europe", "is not a time zone"),
        ("sometimes", "is not a digest schedule"),
    ):
        reply = await bot.say(f"/digest belarus {wrong}")
        assert expected in reply.text and "Usage: /digest" in reply.text, reply.text
    assert (
        "/subscribe ukraine digest daily 09:00"
        in (await bot.say("/digest ukraine daily 09:00")).text
    )
    [sub] = await bot.store.subscriptions()
    assert (sub.mode, sub.digest) == ("both", "daily 09:00 UTC")


# --- permissions ----------------------------------------------------------------------------

CHANGES = (
    "/subscribe belarus",
    "/new coffee coffee",
    "/mute 1h",
    "/timezone Europe/Minsk",
    "/addfeed https://example.org/x.xml",
    "/import topics: {}",
)
READS = (
    "/help",
    "/start",
    "/topics",
    "/list",
    "/keywords belarus",
    "/feeds",
    "/status",
    "/test Minsk",
    "/export",
    "/timezone",
    "/permissions",
)


async def test_in_a_group_only_admins_change_settings(bot: Bot) -> None:
    member = Member(admin=False)
    for text in CHANGES:
        reply = await bot.say(text, in_group(member))
        assert reply.text == REFUSED, text
        assert not reply.changed and not reply.public
    assert member.asked == len(CHANGES)
    assert await bot.store.subscriptions() == [] and await bot.store.topics() == []
    assert (await bot.store.chat(GROUP)).mute_until is None
    for text in READS:
        assert (await bot.say(text, in_group(member))).text != REFUSED
    assert member.asked == len(CHANGES)  # reading never asks
    admin = Member(admin=True)
    reply = await bot.say("/subscribe belarus", in_group(admin))
    assert reply.text.startswith("Subscribed to belarus") and reply.public and admin.asked == 1


async def test_permissions_everyone_lets_members_edit_but_not_take_it_back(bot: Bot) -> None:
    member, admin = Member(admin=False), Member(admin=True)
    refused = await bot.say("/permissions everyone", in_group(member))
    assert refused.text == "Only this chat's administrators can change who may edit its settings."
    reply = await bot.say("/permissions everyone", in_group(admin))
    assert reply.text.startswith("Everyone in this chat can now change")
    assert (await bot.store.chat(GROUP)).anyone_can_edit
    assert (await bot.say("/subscribe belarus", in_group(member))).text.startswith("Subscribed")
    assert member.asked == 1  # only for /permissions
    assert (
        "Only this chat's administrators can change who"
        in (await bot.say("/permissions admins", in_group(member))).text
    )
    assert (
        "Everyone in this chat may change" in (await bot.say("/permissions", in_group(member))).text
    )
    reply = await bot.say("/permissions admins", in_group(admin))
    assert reply.text.startswith("Only this chat's administrators can now change")
    assert (await bot.say("/unsubscribe belarus", in_group(member))).text == REFUSED
    assert "Say admins or everyone" in (await bot.say("/permissions some", in_group(admin))).text
    assert "private chat" in (await bot.say("/permissions everyone")).text


async def test_dozor_admins_and_channel_posts_may_change_anything(bot: Bot) -> None:
    member = Member(admin=False)
    reply = await bot.say("/subscribe belarus", in_group(member, user=ADMIN))
    assert reply.text.startswith("Subscribed") and member.asked == 0
    assert (await bot.say("/permissions everyone", in_group(member, user=ADMIN))).changed
    channel = in_group(member, chat="telegram:-100999", user=None, kind="channel")
    assert (await bot.say("/subscribe ukraine", channel)).text.startswith("Subscribed")
    assert member.asked == 0


async def test_an_admin_check_that_fails_changes_nothing(bot: Bot) -> None:
    async def unreachable() -> bool:
        raise ConnectionError("Telegram did not answer")

    caller = Caller(chat=GROUP, user="telegram:42", kind="group", is_chat_admin=unreachable)
    reply = await bot.say("/subscribe belarus", caller)
    assert reply.text.startswith("Dozor could not check whether you are an administrator")
    assert await bot.store.subscriptions() == []


async def test_the_first_user_to_change_a_chat_is_kept_as_its_owner(bot: Bot) -> None:
    await bot.say("/subscribe belarus", in_group(Member(admin=True), user="slack:U1"))
    await bot.say("/subscribe ukraine", in_group(Member(admin=True), user="slack:U2"))
    assert (await bot.store.chat(GROUP)).owner == "slack:U1"
    assert bot.changes == [1, 1]


@pytest.mark.parametrize("kind", ["private", "group", "channel"])
async def test_changes_are_public_and_reads_are_not(bot: Bot, kind: ChatKind) -> None:
    caller = private() if kind == "private" else in_group(Member(True), kind=kind)
    assert (await bot.say("/subscribe belarus", caller)).public
    assert not (await bot.say("/list", caller)).public
    assert not (await bot.say("/subscribe nope", caller)).public


# --- quiet hours, digests for every topic, digest now, trend ---------------------------------


async def test_quiet_hours_are_set_shown_and_ended(bot: Bot) -> None:
    await bot.say("/timezone Europe/Minsk")
    reply = await bot.say("/quiet 22:00 - 07:00")
    assert reply.text.startswith("Quiet hours set to 22:00-07:00 (Europe/Minsk)")
    assert reply.changed and (await bot.store.chat(CHAT)).quiet == "22:00-07:00"
    assert (await bot.say("/quiet")).text.startswith("Quiet hours: 22:00-07:00 (Europe/Minsk)")
    assert (await bot.say("/quiet off")).text.startswith("Quiet hours are off")
    assert (await bot.store.chat(CHAT)).quiet is None
    assert "Usage: /quiet" in (await bot.say("/quiet 22:00")).text
    assert "differ" in (await bot.say("/quiet 07:00-07:00")).text


async def test_digest_without_a_topic_sets_every_subscription_and_off_turns_it_off(
    bot: Bot,
) -> None:
    await bot.say("/subscribe belarus")
    await bot.say("/subscribe ukraine both")
    reply = await bot.say("/digest daily 08:30 Europe/Minsk")
    assert reply.text.startswith("The belarus, ukraine digest now comes daily at 08:30")
    subs = {s.topic: s for s in await bot.store.subscriptions()}
    assert subs["belarus"].mode == "digest" and subs["ukraine"].mode == "both"
    assert subs["belarus"].digest == "daily 08:30 Europe/Minsk"
    off = await bot.say("/digest belarus off")
    assert off.text.startswith("No more digests for belarus; its alerts come instantly.")
    subs = {s.topic: s for s in await bot.store.subscriptions()}
    assert (subs["belarus"].mode, subs["belarus"].digest) == ("instant", None)
    assert (await bot.say("/digest belarus off")).text == (
        "belarus has no digest: its alerts come instantly."
    )


async def test_digest_now_and_trend_explain_what_they_cannot_do(bot: Bot) -> None:
    await bot.say("/subscribe belarus")
    assert "nothing to summarise" in (await bot.say("/digest belarus now")).text
    assert "No subscription of this chat collects a digest" in (await bot.say("/digest now")).text
    await bot.say("/digest belarus daily 09:00")
    assert "not running" in (await bot.say("/digest now")).text  # no service wired here
    assert "Usage: /trend" in (await bot.say("/trend")).text
    assert "from 1 to 90" in (await bot.say("/trend belarus 400")).text
    assert "not subscribed" in (await bot.say("/trend ukraine")).text.lower()
