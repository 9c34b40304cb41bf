"""A fake Telegram Bot API on 127.0.0.1 that python-telegram-bot talks to unchanged.

It runs in a background thread, so sync tests, async tests and `dozor` subprocesses can all
reach it. PTB calls `{base_url}{token}/{method}`; the bot's base_url is f"{TELEGRAM_API_URL}/bot",
so TELEGRAM_API_URL=fake.url is all a subprocess needs (`fake.env()` gives both variables).

    from tests.fakes.telegram_api import TOKEN, FakeTelegram, telegram_api_fixture  # noqa: F401

    async def test_something(telegram_api: FakeTelegram) -> None:
        app = Application.builder().token(TOKEN).base_url(telegram_api.bot_base_url).build()
        bot = telegram_api.bot()   # a telegram.Bot pointed here: `async with bot: ...`

        # what users do (each returns the update id; a waiting getUpdates wakes at once)
        telegram_api.send_text(42, "/start")                         # private chat of user 42
        telegram_api.send_text(-1001, "/subscribe@dozor_test_bot belarus", user_id=7,
                               chat_type="supergroup", title="Newsroom")
        telegram_api.send_text(-1002, "/start", chat_type="channel")  # a channel_post
        telegram_api.my_chat_member(-1001, "administrator")           # the bot was promoted
        telegram_api.inject({"callback_query": {...}})                # any raw update
        telegram_api.set_admins(-1001, [7], creator=8)                # for getChatMember

        # how Telegram misbehaves
        telegram_api.fail("sendMessage", error_code=429, retry_after=3)  # the next call
        telegram_api.fail("sendMessage", times=2, error_code=500, chat_id=42)
        telegram_api.fail("getUpdates", delay=2.0)                       # a slow success
        telegram_api.blocked(42, notify=True)  # sends: 403 blocked by the user, from now on
        telegram_api.migrate(-500, -1009)      # calls naming -500: 400 + migrate_to_chat_id
        telegram_api.delete_chat(-1003)        # calls naming it: 400 chat not found
        telegram_api.enforce_limits()          # 1/s a chat, 20/min a group, 30/s: else 429

        # what the bot did
        sent = telegram_api.wait_for_sent(2, chat_id=42)   # blocks; AssertionError says why
        sent = await telegram_api.wait_for_sent_async(2)   # the same, for async tests
        sent[0].text, sent[0].plain, sent[0].parse_mode, sent[0].disable_preview, sent[0].file
        telegram_api.sent(42), telegram_api.edits(), telegram_api.calls("getUpdates")
        telegram_api.wait_for_call("setMyCommands"), telegram_api.commands
        telegram_api.violations, telegram_api.pending_updates(), telegram_api.dropped_updates

Sends are checked as Telegram checks them: HTML must use supported, balanced tags; text is at
most 4096 characters (captions 1024) once parsed; an edit to the same text is refused. Updates
stay until a getUpdates offset confirms them; allowed_updates filters new ones; a newer
getUpdates ends a waiting one with 409. Every response closes its connection; `stop()` (or the
`with` block, or the fixture) ends long polls and joins every thread. The fixture fails the test
if the bot called a method the fake does not know (`strict = False` allows it) or the fake
itself broke. `python -m tests.fakes.telegram_api` serves by hand: stdin lines `CHAT_ID TEXT`
become messages, and what the bot sends is printed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import itertools
import json
import math
import re
import select
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import telegram

from tests.fakes.waiting import ConditionWaits

TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz"
BOT_USERNAME = "dozor_test_bot"
DEFAULT_USER_ID = 1001  # who speaks in a group when a test does not say

ChatId = int | str
JSON = dict[str, Any]

_SENDS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
_BLOCKABLE = _SENDS | {"editMessageText", "sendChatAction", "deleteMessage"}
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_HTML_TAGS = frozenset(
    [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    ]
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?(?![^\s])")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_FORM_PARAM = re.compile(r';\s*([\w*-]+)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))')
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
_KICKED = {
    "private": "Forbidden: bot was blocked by the user",
    "group": "Forbidden: bot was kicked from the group chat",
    "supergroup": "Forbidden: bot was kicked from the supergroup chat",
    "channel": "Forbidden: bot is not a member of the channel chat",
}
_ADMIN_RIGHTS = [
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_post_messages",
    "can_edit_messages",
    "can_pin_messages",
]


class _Dropped(Exception):
    """The fake hangs up on this request without answering."""


class ApiError(Exception):
    """A Bot API error answer: `{"ok": false, "error_code", "description", "parameters"}`."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code, self.description, self.parameters = code, description, parameters

    def envelope(self) -> JSON:
        out: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content: bytes
    mime_type: str | None


@dataclass(frozen=True)
class SentMessage:
    """One message the bot sent; `time` is time.monotonic() when the fake accepted it.
    `text` is as sent (the caption, for a file); `plain` is what the user reads."""

    method: str
    chat_id: ChatId
    message_id: int
    text: str
    plain: str
    parse_mode: str | None
    disable_preview: bool
    link_preview_options: JSON | None
    reply_markup: JSON | None
    message_thread_id: int | None
    file: UploadedFile | None
    file_ref: str | None  # a file_id or URL sent instead of an upload
    time: float


@dataclass(frozen=True)
class Edit:
    chat_id: ChatId
    message_id: int
    text: str
    parse_mode: str | None
    time: float


@dataclass(frozen=True)
class Call:
    """One request, recorded on arrival: parameters as received (form values are strings),
    time.monotonic() of arrival, and the HTTP status: None while it is being answered (a long
    poll, a slow answer), 499 for a long poll whose client had gone before the answer, 0 for
    a request the fake hung up on (`fail(drop=True)`)."""

    method: str
    params: dict[str, object]
    files: dict[str, UploadedFile]
    status: int | None
    time: float


@dataclass(frozen=True)
class Violation:
    """A send refused by `enforce_limits`: rule is per_chat, per_group or overall."""

    rule: str
    method: str
    chat_id: ChatId
    retry_after: int
    time: float


@dataclass
class _Failure:
    method: str
    times: int
    error: ApiError | None
    chat_id: ChatId | None
    delay: float
    drop: bool = False


@dataclass(frozen=True)
class _Limits:
    per_chat_per_second: int | None
    per_group_per_minute: int | None
    overall_per_second: int | None
    grace: float


@dataclass
class _Chats:
    """What the fake knows about chats and people (guarded by the fake's lock)."""

    chats: dict[ChatId, JSON] = field(default_factory=dict)
    users: dict[int, JSON] = field(default_factory=dict)
    members: dict[ChatId, set[int]] = field(default_factory=dict)
    admins: dict[ChatId, list[int]] = field(default_factory=dict)
    creators: dict[ChatId, int] = field(default_factory=dict)
    blocked: dict[ChatId, str] = field(default_factory=dict)
    bot_status: dict[ChatId, str] = field(default_factory=dict)
    migrated: dict[ChatId, int] = field(default_factory=dict)
    deleted: set[ChatId] = field(default_factory=set)
    last_message_id: dict[ChatId, int] = field(default_factory=dict)
    contents: dict[tuple[ChatId, int], tuple[str, object]] = field(default_factory=dict)


class _Params:
    """Request parameters typed on demand: form values arrive as strings, JSON ones typed."""

    def __init__(self, values: dict[str, object], files: dict[str, UploadedFile]) -> None:
        self.values, self.files = values, files

    def get_chat_id(self, *, required: bool = True) -> ChatId | None:
        value = self.values.get("chat_id")
        if value is None or value == "":
            if required:
                raise ApiError(400, "Bad Request: chat_id is empty")
            return None
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text.startswith("@"):
            return text.lower()
        raise ApiError(400, "Bad Request: chat not found")

    def get_int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return int(str(value)) if not isinstance(value, int) else value
        except ValueError:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def get_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value) if isinstance(value, int | float) else float(str(value))
        except ValueError:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def get_str(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def get_bool(self, name: str) -> bool:
        return self.values.get(name) in (True, "true", "True", "1", 1)

    def get_json(self, name: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None

    def get_file(self, name: str) -> UploadedFile | None:
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value.removeprefix("attach://"))
        return self.files.get(name)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle client cannot hold a thread for long
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def do_POST(self) -> None:
        self.close_connection = True
        with contextlib.suppress(*_GONE):  # the client hung up (a cancelled long poll, say)
            self.server.owner._serve(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `calls()` instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins them: no thread outlives stop()
    block_on_close = True

    def __init__(self, address: tuple[str, int], owner: FakeTelegram) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class FakeTelegram(ConditionWaits):
    """The Bot API for one bot, whose token is `token`, on 127.0.0.1 on a free port."""

    def __init__(
        self, token: str = TOKEN, *, username: str = BOT_USERNAME, host: str = "127.0.0.1"
    ) -> None:
        self.token, self.username, self.host = token, username, host
        head = token.partition(":")[0]
        self.bot_id = int(head) if head.isdigit() else 1
        self.strict = True
        self._changed = threading.Condition(threading.RLock())
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[], None]] = []
        self._world = _Chats()
        self._updates: list[JSON] = []
        self._dropped: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._poll_generation = 0
        self._allowed: frozenset[str] | None = None  # None: Telegram's default set
        self._webhook: JSON | None = None
        self._webhook_answers: list[int] = []
        self._commands: dict[str, list[JSON]] = {}
        self._last_commands: list[JSON] = []
        self._sent: list[SentMessage] = []
        self._edits: list[Edit] = []
        self._calls: list[Call] = []
        self._unknown: list[str] = []
        self._crashes: list[str] = []
        self._failures: list[_Failure] = []
        self._limits: _Limits | None = None
        self._send_times: dict[ChatId, deque[float]] = {}
        self._all_send_times: deque[float] = deque()
        self._violations: list[Violation] = []
        handlers: dict[str, Callable[[_Params], object]] = {
            "getMe": lambda p: self._bot_user(full=True),
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "sendDocument": lambda p: self._send_file(p, "sendDocument", "document"),
            "sendPhoto": lambda p: self._send_file(p, "sendPhoto", "photo"),
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            **dict.fromkeys(
                [
                    "answerCallbackQuery",
                    "sendChatAction",
                    "deleteMessage",
                    "setMyDescription",
                    "setMyShortDescription",
                    "setChatMenuButton",
                    "close",
                    "logOut",
                ],
                lambda p: True,
            ),
        }
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server((self.host, 0), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-telegram"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end long polls and slow answers, cut connections, join threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        httpd.shutdown()
        with self._changed:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API root, what TELEGRAM_API_URL holds (`https://api.telegram.org` in production)."""
        if self._httpd is None:
            raise RuntimeError("the fake Telegram API is not running: call start()")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    @property
    def bot_base_url(self) -> str:
        """For PTB's `base_url`: PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        return f"{self.url}/file/bot"

    def env(self) -> dict[str, str]:
        """Environment for a `dozor` subprocess that should talk to this fake."""
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_API_URL": self.url}

    def bot(self) -> telegram.Bot:
        """A telegram.Bot pointed at this fake (use it as `async with fake.bot() as bot`)."""
        return telegram.Bot(
            self.token, base_url=self.bot_base_url, base_file_url=self.file_base_url
        )

    # --- what users do ---------------------------------------------------------------------

    def add_chat(
        self, chat_id: int, chat_type: str, *, title: str | None = None, username: str | None = None
    ) -> None:
        """Declare a chat's type (else: positive ids are private, -100… supergroups, other
        negative ids groups) and its title or @username."""
        with self._changed:
            self._register_chat(chat_id, chat_type, title=title, username=username)

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        title: str | None = None,
    ) -> int:
        """A user (or, in a channel, the channel) writes `text`; a leading /command carries a
        bot_command entity. In a private chat the user is the chat. Returns the update id."""
        with self._changed:
            chat = self._register_chat(chat_id, chat_type, title=title)
            if chat["type"] == "private" and user_id not in (None, chat_id):
                raise ValueError("in a private chat the user id is the chat id")
            message: JSON = {
                "message_id": self._next_message_id(chat_id),
                "date": int(time.time()),
                "chat": chat,
                "text": text,
            }
            if command := _COMMAND.match(text):
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())}
                ]
            if chat["type"] == "channel":
                message["sender_chat"] = chat
                return self._queue({"channel_post": message})
            if chat["type"] == "private":
                user_id = chat_id
            user = self._register_user(user_id or DEFAULT_USER_ID, username, first_name)
            if chat["type"] == "private":
                chat.update({k: user[k] for k in ("first_name", "username") if k in user})
                self._world.chats[chat_id] = dict(chat)
            self._world.members.setdefault(chat_id, set()).add(user["id"])
            message["from"] = user
            return self._queue({"message": message})

    def my_chat_member(
        self,
        chat_id: int,
        new_status: str,
        *,
        old_status: str | None = None,
        user_id: int | None = None,
        chat_type: str | None = None,
    ) -> int:
        """Inject a my_chat_member update (the bot was added, promoted, removed or blocked)
        and make later calls agree: kicked or left means sends fail 403."""
        with self._changed:
            chat = self._register_chat(chat_id, chat_type)
            self._world.bot_status[chat_id] = new_status
            if new_status in ("kicked", "left"):
                self._world.blocked[chat_id] = _KICKED.get(chat["type"], _KICKED["private"])
            else:
                self._world.blocked.pop(chat_id, None)
            admins = self._world.admins.setdefault(chat_id, [])
            if new_status == "administrator" and self.bot_id not in admins:
                admins.append(self.bot_id)
            elif new_status != "administrator" and self.bot_id in admins:
                admins.remove(self.bot_id)
            actor = chat_id if chat["type"] == "private" else (user_id or DEFAULT_USER_ID)
            old = old_status or ("left" if new_status != "left" else "member")
            bot = self._bot_user()
            return self._queue(
                {
                    "my_chat_member": {
                        "chat": chat,
                        "from": self._register_user(int(actor), None, None),
                        "date": int(time.time()),
                        "old_chat_member": _member_json(bot, old),
                        "new_chat_member": _member_json(bot, new_status),
                    }
                }
            )

    def inject(self, update: Mapping[str, Any]) -> int:
        """Queue a raw update (an update_id is added when missing); returns its id."""
        with self._changed:
            return self._queue(dict(update))

    def set_admins(
        self, chat_id: int, user_ids: Iterable[int], *, creator: int | None = None
    ) -> None:
        """getChatMember answers creator / administrator for these, member for users seen in
        the chat, left for everyone else. Include `bot_id` to make the bot an admin."""
        with self._changed:
            self._world.admins[chat_id] = list(user_ids)
            if creator is not None:
                self._world.creators[chat_id] = creator

    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._changed:
            return list(self._updates)

    @property
    def dropped_updates(self) -> list[JSON]:
        """Injected updates Telegram would not deliver, given the bot's allowed_updates."""
        with self._changed:
            return list(self._dropped)

    # --- how Telegram misbehaves -----------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        times: int = 1,
        error_code: int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        chat_id: ChatId | None = None,
        delay: float | None = None,
        drop: bool = False,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) fail with `error_code`
        (429 when neither it nor `delay` is given), after `delay` seconds if given; a delay
        alone is a slow success. 429 carries retry_after (default 1); migrate_to_chat_id makes
        the 400 a group-upgraded error; drop=True hangs up without any answer (and without
        doing what was asked)."""
        error = None
        if error_code is not None or delay is None or migrate_to_chat_id is not None:
            code = error_code or (400 if migrate_to_chat_id is not None else 429)
            error = _error(code, description, retry_after, migrate_to_chat_id)
        with self._changed:
            self._failures.append(_Failure(method, times, error, chat_id, delay or 0.0, drop))

    def blocked(self, chat_id: int, *, notify: bool = False) -> None:
        """From now on every send to the chat fails 403 (blocked by the user, or kicked, by
        the chat's type); notify=True also delivers the my_chat_member update Telegram sends."""
        with self._changed:
            chat = self._chat_json(chat_id)
            self._world.blocked[chat_id] = _KICKED.get(chat["type"], _KICKED["private"])
            if notify:
                self.my_chat_member(chat_id, "kicked", old_status="member")

    def unblock(self, chat_id: int) -> None:
        with self._changed:
            self._world.blocked.pop(chat_id, None)

    def migrate(self, old: int, new: int, *, notify: bool = False) -> None:
        """The group `old` became supergroup `new`: calls naming `old` fail 400 with
        migrate_to_chat_id; notify=True delivers the two service messages Telegram sends."""
        with self._changed:
            self._world.migrated[old] = new
            old_chat = self._register_chat(old, "group")
            new_chat = self._register_chat(new, "supergroup", title=old_chat.get("title"))
            if notify:
                user = self._register_user(DEFAULT_USER_ID, None, None)
                for chat, key, other in (
                    (old_chat, "migrate_to_chat_id", new),
                    (new_chat, "migrate_from_chat_id", old),
                ):
                    message = {
                        "message_id": self._next_message_id(chat["id"]),
                        "date": int(time.time()),
                        "chat": chat,
                        "from": user,
                        key: other,
                    }
                    self._queue({"message": message})

    def delete_chat(self, chat_id: ChatId) -> None:
        """The chat is gone: every call naming it fails 400 chat not found."""
        with self._changed:
            self._world.deleted.add(chat_id)

    def enforce_limits(
        self,
        per_chat_per_second: int | None = 1,
        per_group_per_minute: int | None = 20,
        overall_per_second: int | None = 30,
        *,
        grace: float = 0.05,
    ) -> None:
        """Refuse sends beyond Telegram's budgets with 429 and record a Violation. Windows are
        shortened by `grace` seconds, so a bot pacing itself exactly is not punished for jitter."""
        with self._changed:
            self._limits = _Limits(
                per_chat_per_second, per_group_per_minute, overall_per_second, grace
            )

    # --- what the bot did ------------------------------------------------------------------

    def sent(self, chat_id: ChatId | None = None) -> list[SentMessage]:
        with self._changed:
            return [m for m in self._sent if chat_id is None or m.chat_id == chat_id]

    def edits(self, chat_id: ChatId | None = None) -> list[Edit]:
        with self._changed:
            return [e for e in self._edits if chat_id is None or e.chat_id == chat_id]

    def calls(self, method: str | None = None) -> list[Call]:
        with self._changed:
            return [c for c in self._calls if method is None or c.method == method]

    @property
    def commands(self) -> list[JSON]:
        """The list given to the last setMyCommands."""
        with self._changed:
            return list(self._last_commands)

    @property
    def webhook(self) -> JSON | None:
        with self._changed:
            return dict(self._webhook) if self._webhook else None

    @property
    def webhook_answers(self) -> list[int]:
        """The HTTP status of every update pushed to the webhook, in order."""
        with self._changed:
            return list(self._webhook_answers)

    def post_webhook(self, update: Mapping[str, Any], *, secret: str | None = None) -> int:
        """POST `update` to the registered webhook as Telegram does, with the registered
        secret token unless `secret` says otherwise; returns the HTTP status."""
        with self._changed:
            hook = dict(self._webhook or {})
        if not hook:
            raise RuntimeError("no webhook is set")
        url = str(hook["url"])
        if not _loopback(url):
            raise RuntimeError(f"the fake posts to loopback only, not {url}")
        token = str(hook.get("secret_token", "")) if secret is None else secret
        request = urllib.request.Request(
            url,
            data=json.dumps(update).encode(),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": token},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status = int(answer.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        with self._changed:
            self._webhook_answers.append(status)
            self._notify()
        return status

    @property
    def violations(self) -> list[Violation]:
        with self._changed:
            return list(self._violations)

    @property
    def unknown_methods(self) -> list[str]:
        with self._changed:
            return list(self._unknown)

    @property
    def crashes(self) -> list[str]:
        """Requests the fake itself failed on (answered 500): a bug here, not in the bot."""
        with self._changed:
            return list(self._crashes)

    def wait_for_sent(
        self, count: int, chat_id: ChatId | None = None, timeout: float = 10.0
    ) -> list[SentMessage]:
        """Block until at least `count` messages were sent (to `chat_id`); return them all."""
        explain = functools.partial(self._sent_shortfall, chat_id=chat_id)
        return self._wait(lambda: self.sent(chat_id), count, timeout, explain)

    async def wait_for_sent_async(
        self, count: int, chat_id: ChatId | None = None, timeout: float = 10.0
    ) -> list[SentMessage]:
        """wait_for_sent for async tests: waits without blocking the event loop."""
        explain = functools.partial(self._sent_shortfall, chat_id=chat_id)
        return await self._wait_async(lambda: self.sent(chat_id), count, timeout, explain)

    def wait_for_call(
        self, method: str, count: int = 1, timeout: float = 10.0, *, answered: bool = False
    ) -> list[Call]:
        """Block until `method` was called `count` times: arrived (a long poll is seen at
        once, its status None while held), or with answered=True, answered."""
        probe = functools.partial(self._calls_of, method, answered=answered)
        return self._wait(probe, count, timeout, self._call_shortfall)

    async def wait_for_call_async(
        self, method: str, count: int = 1, timeout: float = 10.0, *, answered: bool = False
    ) -> list[Call]:
        probe = functools.partial(self._calls_of, method, answered=answered)
        return await self._wait_async(probe, count, timeout, self._call_shortfall)

    def _calls_of(self, method: str, *, answered: bool) -> list[Call]:
        return [c for c in self.calls(method) if not answered or c.status is not None]

    def _call_shortfall(self, got: list[Call], count: int, timeout: float) -> str:
        seen = sorted({c.method for c in self.calls()})
        method = got[0].method if got else "the method"
        return f"{len(got)} of {count} calls within {timeout}s ({method}); methods seen: {seen}"

    def _sent_shortfall(
        self, got: list[SentMessage], count: int, timeout: float, *, chat_id: ChatId | None
    ) -> str:
        where = "" if chat_id is None else f" to {chat_id}"
        failed = [
            (c.method, c.status, c.params.get("chat_id"))
            for c in self.calls()
            if c.status is not None and c.status >= 300
        ]
        return (
            f"expected {count} messages{where} within {timeout}s, {len(got)} sent: "
            f"{[m.text for m in got]}; all sent: {[(m.chat_id, m.text) for m in self.sent()]}; "
            f"failed calls: {failed[-10:]}"
        )

    # --- serving (handler threads) ---------------------------------------------------------

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._changed:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def _serve(self, handler: _Handler) -> None:
        arrived = time.monotonic()
        target = urlsplit(handler.path)
        route = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", target.path)
        if route is None:
            _respond(handler, 404, ApiError(404, "Not Found").envelope())
            return
        if route.group(1) != self.token:
            _respond(handler, 401, ApiError(401, "Unauthorized").envelope())
            return
        try:
            values, files = _read_params(handler, target.query)
        except (ValueError, UnicodeDecodeError) as exc:
            _respond(handler, 400, ApiError(400, f"Bad Request: {exc}").envelope())
            return
        known = self._methods.get(route.group(2).lower())
        name = known[0] if known else route.group(2)
        with self._changed:
            index = len(self._calls)
            self._calls.append(Call(name, values, files, None, arrived))
            if known is None:
                self._unknown.append(name)
            self._notify()
        try:
            if known is None:
                raise ApiError(404, "Not Found")
            status, payload = (
                200,
                {"ok": True, "result": self._answer(name, known[1], values, files)},
            )
        except _Dropped:
            with self._changed:
                self._calls[index] = replace(self._calls[index], status=0)
                self._notify()
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        except ApiError as error:
            status, payload = error.code, error.envelope()
        except Exception as exc:  # a bug in the fake: answered, and failed by the fixture
            broke = ApiError(500, f"Internal Server Error: the fake failed: {exc!r}")
            status, payload = 500, broke.envelope()
            with self._changed:
                self._crashes.append(f"{name}: {exc!r}")
        # a superseded poll whose client just cancelled it may see the hang-up a moment late
        grace = 0.1 if status == 409 else 0.0
        if name == "getUpdates" and _hung_up(handler.connection, grace):
            status = 499  # nobody is listening: a long poll the client cancelled
        with self._changed:
            self._calls[index] = replace(self._calls[index], status=status)
            self._notify()
        if status != 499:
            _respond(handler, status, payload)

    def _answer(
        self,
        name: str,
        handler: Callable[[_Params], object],
        values: dict[str, object],
        files: dict[str, UploadedFile],
    ) -> object:
        params = _Params(values, files)
        chat = params.get_chat_id(required=False)
        with self._changed:
            failure = next(
                (
                    f
                    for f in self._failures
                    if f.method.lower() == name.lower() and f.chat_id in (None, chat)
                ),
                None,
            )
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
        if failure is not None:
            if failure.delay and self._stopping.wait(failure.delay):
                raise ApiError(500, "Internal Server Error: the fake is stopping")
            if failure.drop:
                raise _Dropped
            if failure.error is not None:
                raise failure.error
        if chat is not None:
            with self._changed:
                self._check_chat(name, chat)
        return handler(params)

    def _check_chat(self, method: str, chat: ChatId) -> None:
        if chat in self._world.deleted:
            raise ApiError(400, "Bad Request: chat not found")
        if chat in self._world.migrated:
            raise _error(400, None, None, self._world.migrated[chat])
        if method in _BLOCKABLE and chat in self._world.blocked:
            raise ApiError(403, self._world.blocked[chat])

    def _notify(self) -> None:
        self._changed.notify_all()
        for wake in self._listeners:
            wake()

    # --- methods ---------------------------------------------------------------------------

    def _get_updates(self, p: _Params) -> list[JSON]:
        offset, limit = p.get_int("offset"), min(max(p.get_int("limit") or 100, 1), 100)
        deadline = time.monotonic() + max(p.get_float("timeout") or 0.0, 0.0)
        allowed = p.get_json("allowed_updates")
        if allowed is not None and not isinstance(allowed, list):
            raise ApiError(400, "Bad Request: can't parse allowed updates")
        with self._changed:
            if self._webhook:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if allowed is not None:
                self._allowed = frozenset(allowed) or None
            if offset is not None and offset < 0:
                self._updates = self._updates[offset:]
            elif offset is not None:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._poll_generation += 1
            mine = self._poll_generation
            self._changed.notify_all()  # a waiting older poll ends with 409
            while not self._updates and not self._stopping.is_set():
                if mine != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._updates[:limit]

    def _set_webhook(self, p: _Params) -> bool:
        with self._changed:
            url = p.get_str("url") or ""
            self._webhook = (
                {k: v for k, v in p.values.items() if k != "certificate"} if url else None
            )
            if p.get_bool("drop_pending_updates"):
                self._updates.clear()
        return True

    def _delete_webhook(self, p: _Params) -> bool:
        with self._changed:
            self._webhook = None
            if p.get_bool("drop_pending_updates"):
                self._updates.clear()
        return True

    def _get_webhook_info(self, p: _Params) -> JSON:
        with self._changed:
            url = str(self._webhook.get("url", "")) if self._webhook else ""
            return {
                "url": url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _set_my_commands(self, p: _Params) -> bool:
        commands = p.get_json("commands")
        if not isinstance(commands, list):
            raise ApiError(400, 'Bad Request: field "commands" must be an Array')
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND.fullmatch(
                str(command.get("command", ""))
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description must be non-empty")
        with self._changed:
            self._commands[_commands_key(p)] = commands
            self._last_commands = commands
        return True

    def _get_my_commands(self, p: _Params) -> list[JSON]:
        with self._changed:
            return self._commands.get(_commands_key(p), [])

    def _delete_my_commands(self, p: _Params) -> bool:
        with self._changed:
            self._commands.pop(_commands_key(p), None)
        return True

    def _send_message(self, p: _Params) -> JSON:
        chat = p.get_chat_id()
        assert chat is not None
        text, parse_mode = p.get_str("text") or "", p.get_str("parse_mode")
        plain = _plain_text(text, parse_mode)
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(plain) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._deliver("sendMessage", chat, p, text, plain, {"text": plain}, None, None)

    def _send_file(self, p: _Params, method: str, kind: str) -> JSON:
        chat = p.get_chat_id()
        assert chat is not None
        upload = p.get_file(kind)
        ref = None if upload else p.get_str(kind)
        if upload is None and not ref:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        caption, parse_mode = p.get_str("caption") or "", p.get_str("parse_mode")
        plain = _plain_text(caption, parse_mode)
        if _utf16_len(plain) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        data = upload.content if upload else str(ref).encode()
        file_id = "FAKE" + hashlib.sha256(data).hexdigest()[:24]
        info: JSON = {"file_id": file_id, "file_unique_id": file_id[4:16], "file_size": len(data)}
        if kind == "photo":
            content: JSON = {"photo": [{**info, "width": 100, "height": 100}]}
        else:
            content = {"document": {**info, "file_name": upload.filename if upload else "file"}}
        if plain:
            content["caption"] = plain
        return self._deliver(method, chat, p, caption, plain, content, upload, ref)

    def _deliver(
        self,
        method: str,
        chat: ChatId,
        p: _Params,
        text: str,
        plain: str,
        content: JSON,
        upload: UploadedFile | None,
        ref: str | None,
    ) -> JSON:
        preview, markup = p.get_json("link_preview_options"), p.get_json("reply_markup")
        thread_id = p.get_int("message_thread_id")  # all parsing before anything is counted
        no_preview = p.get_bool("disable_web_page_preview") or bool(
            isinstance(preview, dict) and preview.get("is_disabled")
        )
        with self._changed:
            chat = self._resolve(chat)
            now = self._admit(method, chat)
            message = self._message_json(chat, content)
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self._world.contents[(chat, message["message_id"])] = (text, markup)
            self._sent.append(
                SentMessage(
                    method=method,
                    chat_id=chat,
                    message_id=message["message_id"],
                    text=text,
                    plain=plain,
                    parse_mode=p.get_str("parse_mode"),
                    disable_preview=no_preview,
                    link_preview_options=preview if isinstance(preview, dict) else None,
                    reply_markup=markup if isinstance(markup, dict) else None,
                    message_thread_id=thread_id,
                    file=upload,
                    file_ref=ref,
                    time=now,
                )
            )
            self._notify()
            return message

    def _edit_message_text(self, p: _Params) -> JSON | bool:
        if p.get_str("inline_message_id"):
            return True
        chat, message_id = p.get_chat_id(), p.get_int("message_id")
        assert chat is not None
        text, parse_mode = p.get_str("text") or "", p.get_str("parse_mode")
        plain = _plain_text(text, parse_mode)
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        markup = p.get_json("reply_markup")
        with self._changed:
            chat = self._resolve(chat)
            key = (chat, message_id or 0)
            if key not in self._world.contents:
                raise ApiError(400, "Bad Request: message to edit not found")
            if self._world.contents[key] == (text, markup):
                raise ApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            self._world.contents[key] = (text, markup)
            self._edits.append(Edit(chat, key[1], text, parse_mode, time.monotonic()))
            self._notify()
            message = self._message_json(chat, {"text": plain}, message_id=key[1])
            message["edit_date"] = message["date"]
            return message

    def _get_chat(self, p: _Params) -> JSON:
        chat = p.get_chat_id()
        assert chat is not None
        with self._changed:
            info = self._chat_json(self._resolve(chat))
        gifts = dict.fromkeys(
            [
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ],
            False,
        )
        return {
            **info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _get_chat_member(self, p: _Params) -> JSON:
        chat, user_id = p.get_chat_id(), p.get_int("user_id")
        assert chat is not None
        if user_id is None:
            raise ApiError(400, "Bad Request: PARTICIPANT_ID_INVALID")
        with self._changed:
            chat = self._resolve(chat)
            user = self._bot_user() if user_id == self.bot_id else self._user_json(user_id)
            return _member_json(user, self._status(chat, user_id))

    def _get_chat_administrators(self, p: _Params) -> list[JSON]:
        chat = p.get_chat_id()
        assert chat is not None
        with self._changed:
            chat = self._resolve(chat)
            if self._chat_json(chat)["type"] == "private":
                raise ApiError(400, "Bad Request: there are no administrators in the private chat")
            ids = list(dict.fromkeys([*self._creator(chat), *self._world.admins.get(chat, [])]))
            return [
                _member_json(
                    self._bot_user() if uid == self.bot_id else self._user_json(uid),
                    self._status(chat, uid),
                )
                for uid in ids
            ]

    # --- the world (call with the lock held) -----------------------------------------------

    def _queue(self, update: JSON) -> int:
        update_id = int(update.setdefault("update_id", next(self._update_ids)))
        kind = next((k for k in update if k != "update_id"), "")
        wanted = kind not in _OPT_IN_UPDATES if self._allowed is None else kind in self._allowed
        if wanted and self._webhook and _loopback(str(self._webhook.get("url", ""))):
            # Telegram pushes to the webhook instead of queueing for getUpdates; a hook the
            # fake may not reach (not loopback) keeps its updates pending, as if unreachable
            threading.Thread(target=self.post_webhook, args=(update,), daemon=True).start()
        else:
            (self._updates if wanted else self._dropped).append(update)
        self._notify()
        return update_id

    def _admit(self, method: str, chat: ChatId) -> float:
        """Check a send against the limits (429 + Violation) and count it; returns now."""
        now = time.monotonic()
        limits = self._limits
        if method not in _SENDS or limits is None:
            return now
        chat_times = self._send_times.setdefault(chat, deque())
        for times in (chat_times, self._all_send_times):
            while times and now - times[0] > 60:
                times.popleft()
        rules = [("per_chat", chat_times, 1.0, limits.per_chat_per_second)]
        if self._chat_json(chat)["type"] != "private":
            rules.append(("per_group", chat_times, 60.0, limits.per_group_per_minute))
        rules.append(("overall", self._all_send_times, 1.0, limits.overall_per_second))
        for rule, times, window, limit in rules:
            recent = [t for t in times if now - t < window - limits.grace]
            if limit is not None and len(recent) >= limit:
                retry_after = max(1, math.ceil(recent[-limit] + window - now))
                self._violations.append(Violation(rule, method, chat, retry_after, now))
                raise _error(429, None, retry_after, None)
        chat_times.append(now)
        self._all_send_times.append(now)
        return now

    def _message_json(self, chat: ChatId, content: JSON, *, message_id: int | None = None) -> JSON:
        info = self._chat_json(chat)
        message: JSON = {
            "message_id": message_id or self._next_message_id(chat),
            "date": int(time.time()),
            "chat": info,
        }
        if info["type"] == "channel":
            message["sender_chat"] = info
        else:
            message["from"] = self._bot_user()
        return {**message, **content}

    def _next_message_id(self, chat: ChatId) -> int:
        self._world.last_message_id[chat] = self._world.last_message_id.get(chat, 0) + 1
        return self._world.last_message_id[chat]

    def _register_chat(
        self,
        chat_id: int,
        chat_type: str | None,
        *,
        title: str | None = None,
        username: str | None = None,
    ) -> JSON:
        chat = self._chat_json(chat_id)
        if chat_type is not None and chat_type != chat["type"]:
            chat = _new_chat(chat_id, chat_type)
        if title and chat_type != "private":
            chat["title"] = title
        if username:
            chat["username"] = username.lstrip("@")
        self._world.chats[chat_id] = chat
        return dict(chat)

    def _chat_json(self, chat: ChatId) -> JSON:
        if chat in self._world.chats:
            return dict(self._world.chats[chat])
        if isinstance(chat, str):  # an @username never declared: a channel of that name
            fresh = _new_chat(-1009000000000 - len(self._world.chats), "channel")
            fresh["username"] = chat.lstrip("@")
            self._world.chats[chat] = fresh
            return dict(fresh)
        inferred = (
            "private" if chat > 0 else "supergroup" if str(chat).startswith("-100") else "group"
        )
        return _new_chat(chat, inferred)

    def _resolve(self, chat: ChatId) -> ChatId:
        """An @username names the chat registered under it, if any."""
        if isinstance(chat, int):
            return chat
        for chat_id, info in self._world.chats.items():
            if isinstance(chat_id, int) and f"@{info.get('username', '')}".lower() == chat:
                return chat_id
        return chat

    def _register_user(self, user_id: int, username: str | None, first_name: str | None) -> JSON:
        user = self._user_json(user_id)
        if username:
            user["username"] = username.lstrip("@")
        if first_name:
            user["first_name"] = first_name
        self._world.users[user_id] = user
        return dict(user)

    def _user_json(self, user_id: int) -> JSON:
        known = self._world.users.get(user_id)
        return (
            dict(known)
            if known
            else {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        )

    def _bot_user(self, *, full: bool = False) -> JSON:
        user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Dozor Test",
            "username": self.username,
        }
        if full:
            user.update(
                can_join_groups=True,
                can_read_all_group_messages=False,
                supports_inline_queries=False,
                can_connect_to_business=False,
                has_main_web_app=False,
            )
        return user

    def _creator(self, chat: ChatId) -> list[int]:
        creator = self._world.creators.get(chat)
        return [] if creator is None else [creator]

    def _status(self, chat: ChatId, user_id: int) -> str:
        if user_id in self._creator(chat):
            return "creator"
        if user_id in self._world.admins.get(chat, []):
            return "administrator"
        if user_id == self.bot_id:
            default = "kicked" if chat in self._world.blocked else "member"
            return self._world.bot_status.get(chat, default)
        if chat == user_id or user_id in self._world.members.get(chat, set()):
            return "member"
        return "left"


def _new_chat(chat_id: int, chat_type: str) -> JSON:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
    return {"id": chat_id, "type": chat_type, "title": f"Test {chat_type} {chat_id}"}


def _member_json(user: JSON, status: str) -> JSON:
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(can_be_edited=False, is_anonymous=False, **dict.fromkeys(_ADMIN_RIGHTS, True))
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _error(
    code: int, description: str | None, retry_after: int | None, migrate_to: int | None
) -> ApiError:
    parameters: JSON = {}
    if migrate_to is not None:
        parameters["migrate_to_chat_id"] = migrate_to
        description = description or _UPGRADED
    if code == 429:
        parameters["retry_after"] = retry_after or 1
        description = description or f"Too Many Requests: retry after {parameters['retry_after']}"
    elif retry_after is not None:
        parameters["retry_after"] = retry_after
    text = description or _DEFAULT_DESCRIPTIONS.get(code, f"Error {code}")
    return ApiError(code, text, parameters or None)


def _commands_key(p: _Params) -> str:
    scope = p.get_json("scope") or {"type": "default"}
    return json.dumps([scope, p.get_str("language_code") or ""], sort_keys=True)


def _loopback(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "::1", "localhost")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _plain_text(text: str, parse_mode: str | None) -> str:
    """What the user reads; for HTML, checked the way Telegram checks it (tags only)."""
    if (parse_mode or "").upper() != "HTML":
        return text
    pieces: list[str] = []
    open_tags: list[str] = []
    pos = 0
    while (start := text.find("<", pos)) != -1:
        pieces.append(text[pos:start])
        offset = len(text[:start].encode())
        tag = _TAG.match(text, start)
        name = tag.group(2).lower() if tag else ""
        if tag is None or name not in _HTML_TAGS:
            kind = "end" if tag and tag.group(1) else "start"
            raise _cant_parse(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
        if not tag.group(1):
            open_tags.append(name)
        elif not open_tags:
            raise _cant_parse(f"Unexpected end tag at byte offset {offset}")
        elif open_tags.pop() != name:
            raise _cant_parse(f'Unmatched end tag at byte offset {offset}, found "</{name}>"')
        pos = tag.end()
    pieces.append(text[pos:])
    if open_tags:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return _ENTITY.sub(_entity, "".join(pieces))


def _entity(match: re.Match[str]) -> str:
    if match.group(1):
        return html.unescape(match.group(0))
    code = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
    return chr(code) if code <= sys.maxunicode else match.group(0)


def _cant_parse(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {what}")


def _read_params(
    handler: _Handler, query: str
) -> tuple[dict[str, object], dict[str, UploadedFile]]:
    """Query string, then the body: JSON, multipart/form-data or url-encoded."""
    values: dict[str, object] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    body = _read_body(handler)
    content_type = handler.headers.get_content_type()
    if content_type == "application/json" and body:
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("the JSON body must be an object")
        values.update(decoded)
    elif content_type == "multipart/form-data":
        boundary = handler.headers.get_param("boundary")
        if not isinstance(boundary, str):
            raise ValueError("multipart body without a boundary")
        fields, files = _parse_multipart(body, boundary)
        values.update(fields)
    elif body:
        values.update(parse_qsl(body.decode(), keep_blank_values=True))
    return values, files


def _read_body(handler: _Handler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    body = bytearray()
    while size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
        body += handler.rfile.read(size)
        handler.rfile.readline()
    while handler.rfile.readline().strip():  # trailers
        pass
    return bytes(body)


def _parse_multipart(body: bytes, boundary: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in (b"\r\n" + body).split(b"\r\n--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, found, content = part.partition(b"\r\n\r\n")
        if not found:
            raise ValueError("a multipart part without a blank line after its headers")
        headers: dict[str, str] = {}
        for line in head.decode().split("\r\n"):
            header, _, value = line.partition(":")
            if value:
                headers[header.strip().lower()] = value.strip()
        disposition = {
            key.lower(): _form_unquote(quoted) if quoted or not bare else bare.strip()
            for key, quoted, bare in _FORM_PARAM.findall(headers.get("content-disposition", ""))
        }
        name = disposition.get("name")
        if name is None:
            raise ValueError("a multipart part without a name")
        if "filename" in disposition:
            files[name] = UploadedFile(
                disposition["filename"], content, headers.get("content-type")
            )
        else:
            fields[name] = content.decode()
    return fields, files


def _form_unquote(value: str) -> str:
    """Undo the HTML5 form escaping httpx applies to names and filenames."""
    value = re.sub(r"%(22|[01][0-9A-F])", lambda m: chr(int(m.group(1), 16)), value)
    return value.replace("\\\\", "\\")


def _hung_up(sock: socket.socket, wait: float = 0.0) -> bool:
    """Whether the client closed its end (readable, yet nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], wait)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _respond(handler: _Handler, status: int, payload: JSON) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture(name="telegram_api")
def telegram_api_fixture() -> Iterator[FakeTelegram]:
    """A running FakeTelegram for TOKEN, stopped (threads joined) after the test."""
    with FakeTelegram(TOKEN) as fake:
        yield fake
    if fake.crashes:
        pytest.fail(f"the fake Telegram API failed: {fake.crashes}", pytrace=False)
    if fake.strict and fake.unknown_methods:
        pytest.fail(
            f"the bot called Bot API methods the fake does not know: {fake.unknown_methods}",
            pytrace=False,
        )


def main() -> None:
    """Serve until Ctrl-C: prints the URL, injects stdin lines `CHAT_ID TEXT`, prints sends."""
    with FakeTelegram(TOKEN) as fake:
        print(f"TELEGRAM_API_URL={fake.url} TELEGRAM_BOT_TOKEN={TOKEN}", flush=True)
        done = threading.Event()

        def show() -> None:
            shown = 0
            while not done.is_set():
                with contextlib.suppress(AssertionError):
                    for message in fake.wait_for_sent(shown + 1, timeout=0.5)[shown:]:
                        print(f"-> {message.chat_id}: {message.text}", flush=True)
                        shown += 1

        printer = threading.Thread(target=show, name="fake-telegram-printer")
        printer.start()
        try:
            for line in sys.stdin:
                chat, _, text = line.strip().partition(" ")
                if chat.lstrip("-").isdigit() and text:
                    fake.send_text(int(chat), text)
        except KeyboardInterrupt:
            pass
        finally:
            done.set()
            printer.join()


if __name__ == "__main__":
    main()
