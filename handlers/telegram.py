"""The Telegram front end (python-telegram-bot 22): chat commands in, alerts out.

`TelegramChannel` delivers alerts for the dispatcher within Telegram's budgets and maps the Bot
API's answers onto retry / deactivate / move. `TelegramFrontEnd` runs the PTB Application on the
service's own event loop (started by hand, never `run_polling`) and hands every command to the
platform-neutral `bot.commands`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from telegram import Bot, BotCommand, InputFile, LinkPreviewOptions, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.commands import Attachment, Caller, ChatKind, Commands, Reply
from bot.digest import Digest, telegram_digest
from bot.dispatch import DeliveryError
from bot.models import Alert, Chat
from bot.ratelimit import Pacer, telegram_rules
from bot.render import TELEGRAM_LIMIT, split_text, telegram_html
from bot.summaries import chart_png

log = logging.getLogger("dozor.telegram")

ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
MAX_IMPORT_BYTES = 1_000_000


def build_application(token: str, api_url: str) -> Application:  # type: ignore[type-arg]
    """A PTB Application pointed at `api_url` (api.telegram.org, a self-hosted Bot API server,
    or a test fake); it does not start anything."""
    root = api_url.rstrip("/")
    return (
        Application.builder()
        .token(token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .concurrent_updates(8)
        # sends to many chats go out in parallel: with PTB's default pool of one connection
        # they would queue after taking their rate budget and reach Telegram bunched up
        .connection_pool_size(32)
        .pool_timeout(30.0)
        .build()
    )


def chat_id_of(destination: str) -> int | str:
    """`telegram:-100123` -> -100123; `telegram:@channel` -> "@channel"."""
    ident = destination.partition(":")[2]
    return ident if ident.startswith("@") else int(ident)


def seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel:
    """Sends alerts; returns only when Telegram accepted the message."""

    def __init__(
        self,
        bot: Bot,
        *,
        chat_settings: Callable[[str], Awaitable[Chat]],
        move: Callable[[str, str], Awaitable[int]],
        pacer: Pacer | None = None,
    ) -> None:
        self._bot = bot
        self._chat_settings = chat_settings
        self._move = move
        self._pacer = pacer or Pacer()

    async def send(self, alert: Alert) -> str | None:
        """The message id of the alert (its first piece), so that it can be edited later."""
        chat = await self._chat_settings(alert.to)
        chat_id = chat_id_of(alert.to)
        if alert.kind == "digest":
            await self._send_digest(alert, chat_id)
            return None
        refs = [
            await self._send_piece(alert, chat_id, piece)
            for piece in split_text(telegram_html(alert, chat.zone))
        ]
        return refs[0] if len(refs) == 1 else None

    async def edit(self, alert: Alert, ref: str, also: Sequence[str]) -> None:
        """Add the other outlets to a sent alert (editMessageText, within the budgets)."""
        chat = await self._chat_settings(alert.to)
        chat_id = chat_id_of(alert.to)
        text = telegram_html(alert, chat.zone, also=also)
        if len(text) > TELEGRAM_LIMIT:
            return
        await self._pacer.wait(telegram_rules(chat_id if isinstance(chat_id, int) else 0))
        try:
            await self._bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=int(ref),
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=not alert.previews),
            )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return
            raise DeliveryError(f"Telegram refused the edit: {exc.message}", rejected=True) from exc
        except Forbidden as exc:
            raise DeliveryError(f"Telegram refused: {exc.message}", rejected=True) from exc
        except RetryAfter as exc:
            raise DeliveryError(str(exc), retry_after=seconds(exc.retry_after)) from exc
        except (NetworkError, TelegramError) as exc:
            raise DeliveryError(f"Telegram did not answer: {exc}") from exc

    async def _send_digest(self, alert: Alert, chat_id: int | str) -> None:
        """The digest's messages, then its chart as a photo (weekly digests carry one)."""
        payload = json.loads(alert.payload)
        digest = Digest.from_dict(payload)
        for piece in telegram_digest(digest):
            await self._send_piece(alert, chat_id, piece)
        png = chart_png(payload, digest.topic, digest.zone)
        if png is not None:
            caption = f"{digest.topic}: mentions per day"
            await self._send_piece(alert, chat_id, caption, photo=png)

    async def _send_piece(
        self, alert: Alert, chat_id: int | str, text: str, *, photo: bytes | None = None
    ) -> str:
        await self._pacer.wait(telegram_rules(chat_id if isinstance(chat_id, int) else 0))
        try:
            if photo is not None:
                sent = await self._bot.send_photo(
                    chat_id, InputFile(photo, filename="trend.png"), caption=text
                )
            else:
                sent = await self._bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=not alert.previews),
                )
            return str(sent.message_id)
        except RetryAfter as exc:
            raise DeliveryError(str(exc), retry_after=seconds(exc.retry_after)) from exc
        except ChatMigrated as exc:
            new = f"telegram:{exc.new_chat_id}"
            moved = await self._move(alert.to, new)
            log.warning(
                "chat migrated to %s; moved %d queued alerts", new, moved, extra={"to": alert.to}
            )
            raise DeliveryError(f"chat moved to {new}", retry_after=0) from exc
        except Forbidden as exc:
            raise DeliveryError(f"Telegram refused: {exc.message}", permanent=True) from exc
        except BadRequest as exc:
            gone = "chat not found" in exc.message.lower() or "deactivated" in exc.message.lower()
            raise DeliveryError(
                f"Telegram rejected the message: {exc.message}", permanent=gone, rejected=not gone
            ) from exc
        except InvalidToken as exc:
            raise DeliveryError("Telegram says the bot token is invalid", retry_after=300) from exc
        except (NetworkError, TelegramError) as exc:
            raise DeliveryError(f"Telegram did not answer: {exc}") from exc


def addressed_elsewhere(text: str, username: str) -> bool:
    """`/cmd@someone_else …`: a command for another bot in the same group."""
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    _, at, target = first.partition("@")
    return bool(at) and target.lower() != username.lower()


def webhook_secret(token: str) -> str:
    """The secret Telegram echoes in X-Telegram-Bot-Api-Secret-Token: derived from the bot token,
    so every replica agrees without another setting, and useless without the token."""
    return hashlib.sha256(f"dozor-webhook:{token}".encode()).hexdigest()[:48]


class TelegramFrontEnd:
    """Commands from chats to `bot.commands`, replies back, on the service's event loop."""

    def __init__(self, application: Application, commands: Commands) -> None:  # type: ignore[type-arg]
        self.application = application
        self._commands = commands
        updates = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        imports = filters.Document.ALL & filters.CaptionRegex(r"^/import(@\w+)?\b")
        application.add_handler(
            MessageHandler(updates & (filters.COMMAND | imports), self._on_command)
        )
        application.add_error_handler(self._on_error)

    async def start(self, *, webhook_url: str | None = None, secret: str | None = None) -> None:
        """Connect, then long-poll (or register the webhook)."""
        await self.connect()
        await self.listen(webhook_url=webhook_url, secret=secret)

    async def connect(self) -> None:
        """Initialise (getMe), publish the command menu and start handling updates; what
        every replica does. Only one of them `listen`s."""
        if not self.application.running:
            await self.application.initialize()
            menu = [BotCommand(name, text[:256]) for name, text in self._commands.menu()]
            await self.application.bot.set_my_commands(menu)
            await self.application.start()

    @property
    def listening(self) -> bool:
        updater = self.application.updater
        return updater is not None and updater.running

    async def listen(self, *, webhook_url: str | None = None, secret: str | None = None) -> None:
        """Receive updates: register the webhook, or long-poll getUpdates."""
        bot = self.application.bot
        if webhook_url:
            await bot.set_webhook(
                webhook_url, secret_token=secret, allowed_updates=["message", "channel_post"]
            )
            log.info("Telegram webhook set to %s", webhook_url)
        elif not self.listening:
            await bot.delete_webhook()
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                timeout=timedelta(seconds=20), allowed_updates=["message", "channel_post"]
            )
        log.info("Telegram bot @%s is listening", bot.username)

    async def stop_listening(self) -> None:
        """Stop long polling (another replica took over); sending goes on."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()

    async def stop(self) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def feed_update(self, data: dict[str, object]) -> None:
        """An update that arrived by webhook."""
        update = Update.de_json(data, self.application.bot)
        await self.application.update_queue.put(update)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        text = message.text or message.caption or ""
        if addressed_elsewhere(text, self.application.bot.username):
            return  # /help@other_bot in a group is another bot's business
        attachment = await self._attachment(message)
        reply = await self._commands.handle(text, self._caller(message), attachment)
        await self._reply(message, reply)

    def _caller(self, message: Message) -> Caller:
        chat = message.chat
        kind: ChatKind = (
            "private"
            if chat.type == ChatType.PRIVATE
            else "channel"
            if chat.type == ChatType.CHANNEL
            else "group"
        )
        user = message.from_user
        anonymous_admin = message.sender_chat is not None and message.sender_chat.id == chat.id
        bot = self.application.bot

        async def is_admin() -> bool:
            if kind != "group" or anonymous_admin:
                return True
            if user is None:
                return False
            member = await bot.get_chat_member(chat.id, user.id)
            return member.status in ADMIN_STATUSES

        return Caller(
            chat=f"telegram:{chat.id}",
            user=f"telegram:{user.id}" if user else None,
            kind=kind,
            is_chat_admin=is_admin,
        )

    async def _attachment(self, message: Message) -> Attachment | None:
        document = message.document
        if document is None:
            return None
        if (document.file_size or 0) > MAX_IMPORT_BYTES:
            return Attachment(document.file_name or "file", b"", "too-large")
        file = await document.get_file()
        content = bytes(await file.download_as_bytearray())
        return Attachment(document.file_name or "file", content, document.mime_type or "")

    async def _reply(self, message: Message, reply: Reply) -> None:
        for piece in split_text(reply.text):
            await message.reply_text(piece, do_quote=False)
        for attachment in reply.attachments:
            upload = InputFile(attachment.content, filename=attachment.filename)
            if attachment.mime.startswith("image/"):
                await message.reply_photo(upload, do_quote=False)
            else:
                await message.reply_document(upload, do_quote=False)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram update failed: %s", context.error, exc_info=context.error)
