"""The Slack front end (slack-bolt on slack-sdk): `/dozor <command>` in, Block Kit alerts out.

`SlackFrontEnd` hands the slash command to the platform-neutral `bot.commands` with the same
grammar as Telegram (`/dozor add belarus Tsikhanouskaya | Ціханоўская` is `/add …`). It acks
at once and answers through the command's `response_url`: ephemeral for reads, in the channel
for changes everyone should see. It listens by Socket Mode (`SLACK_APP_TOKEN`, no public URL)
or on the service's HTTP server at `/slack/events` (`SLACK_SIGNING_SECRET`, where bolt checks
every signature and refuses a timestamp more than five minutes off).

`SlackChannel` posts alerts within about one message a second per channel and maps Slack's
answers onto retry / deactivate / pause for the dispatcher.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import Attachment, Caller, ChatKind, Commands, Reply
from bot.digest import Digest, slack_digest
from bot.dispatch import DeliveryError
from bot.models import Alert, Chat
from bot.ratelimit import Pacer, slack_rules
from bot.render import mrkdwn_text, slack_alert, slack_code, slack_reply
from bot.summaries import chart_png

log = logging.getLogger("dozor.slack")

COMMAND = "/dozor"
EVENTS_PATH = "/slack/events"
PAUSE = 600.0  # seconds to wait when the whole app is refused (token revoked, app removed)

# Slack's errors for a destination that is gone, and what to tell the operator.
GONE = {
    "channel_not_found": "the channel does not exist or the app cannot see it",
    "is_archived": "the channel is archived",
    "not_in_channel": (
        "the bot is not in the channel: invite it there (/invite @Dozor) and /dozor subscribe again"
    ),
    "restricted_action": "the workspace does not let the bot post there",
}
# Errors that refuse the app itself: every channel would fail alike, so wait and retry.
APP_REFUSED = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
REJECTED = {"msg_too_long", "invalid_blocks", "no_text", "invalid_arguments"}

_ENTITY = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def build_slack_app(*, token: str, signing_secret: str | None, api_url: str) -> AsyncApp:
    """A bolt AsyncApp whose Web API client talks to `api_url` (slack.com or a test fake).
    Without a signing secret (Socket Mode) bolt has no HTTP requests to verify."""
    client = AsyncWebClient(token=token, base_url=_api_root(api_url))
    return AsyncApp(
        client=client,
        signing_secret=signing_secret or "",
        request_verification_enabled=bool(signing_secret),
        raise_error_for_unhandled_request=False,
    )


def _api_root(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def channel_of(destination: str) -> str:
    """`slack:C0123` -> `C0123`."""
    return destination.partition(":")[2]


def plain_command(text: str) -> str:
    """What the user typed: Slack sends `&`, `<`, `>` as entities and may wrap links,
    channels and users in `<…|…>`; the command language wants the plain words back."""

    def unwrap(found: re.Match[str]) -> str:
        target, label = found.group(1), found.group(2)
        if target.startswith(("@", "#")):
            return target[0] + (label or target[1:])
        if target.startswith("!"):
            return label or target
        return target  # a link: the URL itself, not its label

    return html.unescape(_ENTITY.sub(unwrap, text)).strip()


class SlackChannel:
    """Posts alerts; returns only when Slack accepted the message."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        chat_settings: Callable[[str], Awaitable[Chat]],
        pacer: Pacer | None = None,
    ) -> None:
        self._client = client
        self._chat_settings = chat_settings
        self._pacer = pacer or Pacer()

    async def send(self, alert: Alert) -> str | None:
        """The message's ts, so that it can be updated later."""
        chat = await self._chat_settings(alert.to)
        channel = channel_of(alert.to)
        if alert.kind == "digest":
            await self._send_digest(alert, channel)
            return None
        text, blocks = slack_alert(alert, chat.zone)
        return await self._post(channel, text, blocks, unfurl=alert.previews)

    async def edit(self, alert: Alert, ref: str, also: Sequence[str]) -> None:
        """Add the other outlets to a sent alert (chat.update, within the channel's pace)."""
        chat = await self._chat_settings(alert.to)
        channel = channel_of(alert.to)
        text, blocks = slack_alert(alert, chat.zone, also=also)
        await self._pacer.wait(slack_rules(channel))
        try:
            await self._client.chat_update(channel=channel, ts=ref, text=text, blocks=blocks)
        except SlackApiError as exc:
            error = delivery_error(exc)
            if error.permanent:  # the channel is gone or the message deleted: drop the edit
                raise DeliveryError(str(error), rejected=True) from exc
            raise error from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Slack did not answer: {exc!r}") from exc

    async def _send_digest(self, alert: Alert, channel: str) -> None:
        """The digest's messages, then its chart as a file (weekly digests carry one)."""
        payload = json.loads(alert.payload)
        digest = Digest.from_dict(payload)
        for text, blocks in slack_digest(digest):
            await self._post(channel, text, blocks, unfurl=False)
        png = chart_png(payload, digest.topic, digest.zone)
        if png is not None:
            await self._pacer.wait(slack_rules(channel))
            try:
                await self._client.files_upload_v2(
                    channel=channel,
                    content=png,
                    filename=f"{digest.topic}-trend.png",
                    title=f"{digest.topic}: mentions per day",
                )
            except SlackApiError as exc:
                raise delivery_error(exc) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise DeliveryError(f"Slack did not answer: {exc!r}") from exc

    async def _post(
        self, channel: str, text: str, blocks: list[dict[str, object]], *, unfurl: bool
    ) -> str | None:
        await self._pacer.wait(slack_rules(channel))
        try:
            answer = await self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                unfurl_links=unfurl,
                unfurl_media=unfurl,
                parse="none",
            )
        except SlackApiError as exc:
            raise delivery_error(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Slack did not answer: {exc!r}") from exc
        ts = answer.get("ts")
        return str(ts) if ts else None


def delivery_error(exc: SlackApiError) -> DeliveryError:
    """Slack's answer as the dispatcher's retry / deactivate / drop decision."""
    response = exc.response
    error = str(response.get("error", "") if isinstance(response.data, dict) else "")
    if response.status_code == 429 or error == "ratelimited":
        after = _retry_after(response.headers)
        return DeliveryError(f"Slack rate limit: retry in {after:.0f}s", retry_after=after)
    if error in GONE:
        return DeliveryError(f"Slack says {error}: {GONE[error]}", permanent=True)
    if error in APP_REFUSED:
        log.error("Slack refused the app (%s): check SLACK_BOT_TOKEN and the app's install", error)
        return DeliveryError(f"Slack refused the app: {error}", retry_after=PAUSE)
    if error in REJECTED:
        return DeliveryError(f"Slack rejected the message: {error}", rejected=True)
    return DeliveryError(f"Slack error {response.status_code}: {error or 'no detail'}")


def _retry_after(headers: Any) -> float:
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        if isinstance(value, list):
            value = value[0]
        return max(float(value), 1.0)
    except (TypeError, ValueError, AttributeError):
        return 30.0


class SlackFrontEnd:
    """`/dozor` commands to `bot.commands`, replies through `response_url`."""

    def __init__(
        self,
        app: AsyncApp,
        commands: Commands,
        *,
        chat_settings: Callable[[str], Awaitable[Chat]],
        app_token: str | None = None,
        api_url: str = "https://slack.com/api/",
    ) -> None:
        self.app = app
        self._commands = commands
        self._chat_settings = chat_settings
        self._app_token = app_token
        self._api_host = urlsplit(api_url).hostname
        self._socket: AsyncSocketModeHandler | None = None
        self._admins: dict[str, bool] = {}
        app.command(COMMAND)(self._on_command)

    @property
    def client(self) -> AsyncWebClient:
        return self.app.client

    async def start(self) -> None:
        """Check the token (auth.test), then connect Socket Mode if configured. HTTP mode
        needs nothing more: its route is on the service's HTTP server."""
        who = await self.client.auth_test()
        log.info("Slack app connected to team %s as %s", who.get("team"), who.get("user"))
        if self._app_token:
            self._socket = AsyncSocketModeHandler(self.app, self._app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack Socket Mode connected")

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None

    async def handle_http(self, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        """POST /slack/events: bolt verifies the signature and timestamp (401 otherwise)."""
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()  # within Slack's 3 seconds; the answer follows through response_url
        words = plain_command(str(command.get("text", ""))).lstrip("/")
        text = f"/{words}" if words else "/help"
        caller = self._caller(command)
        try:
            reply = await self._commands.handle(text, caller, None)
        except Exception:  # the command layer answers everything; this is the last guard
            log.exception("command failed", extra={"to": caller.chat})
            reply = Reply("Something went wrong on Dozor's side; nothing was changed.")
        await self._respond(respond, command, reply)

    def _caller(self, command: dict[str, Any]) -> Caller:
        channel = str(command.get("channel_id", ""))
        user = str(command.get("user_id", ""))
        kind: ChatKind = "private" if channel.startswith("D") else "group"
        to = f"slack:{channel}"

        async def may_edit() -> bool:
            """Workspace admins and owners, and the user who first set the channel up."""
            chat = await self._chat_settings(to)
            if chat.owner is None or chat.owner == f"slack:{user}":
                return True
            return await self._is_workspace_admin(user)

        return Caller(
            chat=to, user=f"slack:{user}" if user else None, kind=kind, is_chat_admin=may_edit
        )

    async def _is_workspace_admin(self, user: str) -> bool:
        if user not in self._admins:
            info = await self.client.users_info(user=user)
            profile = info.get("user") or {}
            self._admins[user] = bool(
                profile.get("is_admin")
                or profile.get("is_owner")
                or profile.get("is_primary_owner")
            )
        return self._admins[user]

    async def _respond(self, respond: AsyncRespond, command: dict[str, Any], reply: Reply) -> None:
        if not self._trusted_response_url(str(command.get("response_url", ""))):
            log.warning("refused to answer to an unexpected response_url")
            return
        text, blocks = slack_reply(reply.text)
        for attachment in reply.attachments:
            if attachment.mime.startswith("image/"):
                await self._upload(str(command.get("channel_id", "")), attachment)
                continue
            body = attachment.content.decode("utf-8", errors="replace")
            blocks.append({"type": "section", "text": mrkdwn_text(f"📎 {attachment.filename}")})
            blocks.extend(
                {"type": "section", "text": mrkdwn_text(code)} for code in slack_code(body)
            )
        kind = "in_channel" if reply.public else "ephemeral"
        for start in range(0, len(blocks), 50):
            try:
                answer = await respond(
                    text=text,
                    blocks=blocks[start : start + 50],
                    response_type=kind,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except (aiohttp.ClientError, TimeoutError, SlackApiError) as exc:
                log.error("could not answer a /dozor command: %r", exc)
                return
            if answer.status_code >= 400:
                log.error("Slack refused the answer to a /dozor command: %s", answer.status_code)
                return

    async def _upload(self, channel: str, attachment: Attachment) -> None:
        """A chart for /trend: a file in the channel (answers through response_url cannot
        carry files)."""
        try:
            await self.client.files_upload_v2(
                channel=channel, content=attachment.content, filename=attachment.filename
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.error("could not upload %s: %r", attachment.filename, exc)

    def _trusted_response_url(self, url: str) -> bool:
        """Only Slack's own hooks (or, in tests, the configured API host) get our answers."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "hooks.slack.com" or host.endswith(".slack.com"):
            return parts.scheme == "https"
        return host == self._api_host
