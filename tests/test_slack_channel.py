"""SlackChannel against the fake Slack with the real AsyncWebClient: what each of Slack's
answers means for the dispatcher (delivered, retry when, deactivate why, pause, drop)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.dispatch import DeliveryError
from bot.models import Alert, Chat
from bot.ratelimit import Pacer
from handlers.slack import PAUSE, SlackChannel
from tests.fakes.slack_api import TOKEN, FakeSlack

NEWS = "C0NEWS"


def alert(title: str = "Lukashenko in Minsk", *, previews: bool = False) -> Alert:
    return Alert(
        topic="belarus",
        to=f"slack:{NEWS}",
        feed="Local News",
        feed_id="f",
        id="k1",
        url="https://news.example/a/1",
        canonical_url="https://news.example/a/1",
        title=title,
        summary="An excerpt.",
        published=datetime(2025, 9, 12, 8, 0, tzinfo=UTC),
        matched=("Lukashenko", "Minsk"),
        previews=previews,
    )


@pytest.fixture
def channel(slack_api: FakeSlack) -> SlackChannel:
    slack_api.add_channel(NEWS, name="news")

    async def settings(to: str) -> Chat:
        return Chat(to, zone="Europe/Minsk")

    return SlackChannel(AsyncWebClient(token=TOKEN, base_url=slack_api.url), chat_settings=settings)


async def refused(channel: SlackChannel) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await channel.send(alert())
    return caught.value


async def test_an_accepted_alert_returns_and_is_posted_once(
    channel: SlackChannel, slack_api: FakeSlack
) -> None:
    await channel.send(alert(previews=True))
    (posted,) = slack_api.posted(NEWS)
    assert (
        posted.plain.splitlines()[1] == "Local News · 2025-09-12 11:00 +03 · 🔎 Lukashenko, Minsk"
    )
    assert posted.unfurl_links is True  # previews on for this subscription


async def test_rate_limit_carries_slacks_retry_after(
    channel: SlackChannel, slack_api: FakeSlack
) -> None:
    slack_api.fail("chat.postMessage", status=429, retry_after=7)
    error = await refused(channel)
    assert error.retry_after == 7 and not error.permanent and not error.rejected


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (FakeSlack.delete_channel, "channel_not_found"),
        (FakeSlack.archive, "is_archived"),
        (FakeSlack.kick_bot, "invite it there (/invite @Dozor)"),
    ],
)
async def test_a_gone_channel_is_permanent_with_a_reason(
    channel: SlackChannel, slack_api: FakeSlack, break_it: object, reason: str
) -> None:
    break_it(slack_api, NEWS)  # type: ignore[operator]
    error = await refused(channel)
    assert error.permanent and reason in str(error)


@pytest.mark.parametrize("code", ["invalid_auth", "account_inactive", "token_revoked"])
async def test_a_refused_app_pauses_delivery_without_deactivating(
    channel: SlackChannel, slack_api: FakeSlack, code: str
) -> None:
    slack_api.fail("chat.postMessage", error=code)
    error = await refused(channel)
    assert not error.permanent and not error.rejected and error.retry_after == PAUSE


async def test_a_revoked_token_pauses(channel: SlackChannel, slack_api: FakeSlack) -> None:
    slack_api.revoke_token()
    error = await refused(channel)
    assert error.retry_after == PAUSE and "invalid_auth" in str(error)


async def test_server_errors_retry_and_bad_messages_are_dropped(
    channel: SlackChannel, slack_api: FakeSlack
) -> None:
    slack_api.fail("chat.postMessage", status=500)
    error = await refused(channel)
    assert not error.permanent and not error.rejected and error.retry_after is None
    slack_api.fail("chat.postMessage", error="msg_too_long")
    error = await refused(channel)
    assert error.rejected and not error.permanent


async def test_the_pace_is_one_message_a_second_per_channel(slack_api: FakeSlack) -> None:
    slack_api.add_channel(NEWS)
    slack_api.enforce_limits(per_channel_per_second=1.0, burst=1)

    async def settings(to: str) -> Chat:
        return Chat(to)

    client = AsyncWebClient(token=TOKEN, base_url=slack_api.url)
    channel = SlackChannel(client, chat_settings=settings, pacer=Pacer())
    started = time.monotonic()
    for _ in range(3):
        await channel.send(alert())
    assert len(slack_api.posted(NEWS)) == 3 and not slack_api.violations
    assert time.monotonic() - started >= 1.9
