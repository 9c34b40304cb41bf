"""A fake Slack on 127.0.0.1 that slack_sdk and slack_bolt talk to unchanged.

It runs its own aiohttp server and event loop in a background thread, so sync tests, async
tests and `dozor` subprocesses can all reach it. It serves the Web API under `fake.url`
(`http://127.0.0.1:PORT/api/`, what SLACK_API_URL holds: slack_sdk appends the method name),
Socket Mode (apps.connections.open hands out a `ws://` URL on the same port), the
response_url of every slash command it issues, and file uploads. `fake.env(socket_mode=...)`
gives a subprocess everything it needs.

    from tests.fakes.slack_api import APP_TOKEN, TOKEN, FakeSlack, slack_api_fixture  # noqa: F401

    async def test_something(slack_api: FakeSlack) -> None:
        client = AsyncWebClient(token=TOKEN, base_url=slack_api.url)
        app = AsyncApp(client=client)                        # then AsyncSocketModeHandler(
        slack_api.add_channel("C0NEWS", name="news")         #   app, APP_TOKEN).connect_async()
        slack_api.add_user("U0ANNA", name="anna", is_admin=True)

        # what users do
        await slack_api.wait_for_socket_async()                      # the bot connected
        envelope_id = slack_api.send_slash_command("C0NEWS", "U0ANNA", "subscribe belarus")
        status, body = await slack_api.post_slash_command_async(     # HTTP mode: signed POST
            "http://127.0.0.1:8080/slack/events", "C0NEWS", "U0ANNA", "help")
        slack_api.post_slash_command(url, ..., timestamp=int(time.time()) - 360)  # stale: 401

        # how Slack misbehaves
        slack_api.fail("chat.postMessage", status=429, retry_after=3)   # the next call
        slack_api.fail("chat.postMessage", error="fatal_error", channel="C0NEWS", times=2)
        slack_api.fail("chat.postMessage", delay=2.0)                   # a slow success
        slack_api.fail("response_url", status=500)                      # response_urls too
        slack_api.archive("C0NEWS"); slack_api.kick_bot("C0NEWS"); slack_api.delete_channel(...)
        slack_api.revoke_token()                  # every later call: invalid_auth
        slack_api.enforce_limits()                # 1 post/s a channel, bursts of 3: else 429

        # what the bot did
        posted = await slack_api.wait_for_posted_async(2, channel="C0NEWS")  # or wait_for_posted
        posted[0].text, posted[0].blocks, posted[0].plain, posted[0].mentions, posted[0].ts
        slack_api.acks[0].payload, slack_api.acks[0].elapsed    # the envelope's ack, and when
        slack_api.responses()[0].plain                          # what came to the response_url
        slack_api.ephemeral(), slack_api.updates(), slack_api.uploads(), slack_api.calls()
        slack_api.violations, slack_api.unknown_methods, slack_api.slash_requests

Calls are checked as Slack checks them: the bot token (Authorization: Bearer, or a `token`
form field) for the Web API, the app-level token for apps.connections.open only; messages
need text or blocks; blocks are at most 50, section text at most 3000 characters, a context
at most 10 elements, text at most 40,000 characters. `Posted.plain` is what a reader sees
(mrkdwn entities decoded, `<url|label>` shown as its label, formatting marks dropped) and
`Posted.mentions` the notifications Slack would send (`<!channel>`, `<@U…>`, and a bare
@channel in a text object that is not `verbatim`) as canonical tokens: empty when inert.

Every wait blocks on a condition, never on a clock, and its AssertionError says what was
expected and what happened. `stop()` (or the `with` block, or the fixture) closes the
sockets, cuts slow answers short and joins the thread. The fixture fails the test if the bot
called a method the fake does not know (`strict = False` accepts and records them) or the
fake itself broke. `python -m tests.fakes.slack_api` serves by hand in Socket Mode: stdin
lines `CHANNEL USER TEXT` become /dozor commands, and what the bot posts is printed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.waiting import ConditionWaits

TOKEN = "xoxb-1-dozor-test"
APP_TOKEN = "xapp-1-dozor-test"
SIGNING_SECRET = "dozor-test-signing-secret"
VERIFICATION_TOKEN = "dozor-test-verification-token"  # the deprecated `token` of a payload
TEAM_ID = "T0DOZOR"
TEAM_DOMAIN = "dozor-test"
BOT_USER_ID = "U0DOZORBOT"
BOT_ID = "B0DOZORBOT"
APP_ID = "A0DOZOR"
BOT_NAME = "dozor"
DEFAULT_SCOPES = frozenset(
    ["chat:write", "commands", "users:read", "channels:read", "groups:read", "files:write"]
)
ACK_DEADLINE = 3.0  # seconds Slack waits for an ack (or an HTTP answer) before it gives up

MAX_BLOCKS = 50
MAX_TEXT = 40_000
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_HEADER_TEXT = 150
MAX_MARKDOWN_BLOCK = 12_000
MAX_BLOCK_ID = 255
RESPONSE_URL_USES = 5  # a response_url takes this many messages, then answers used_url

JSON = dict[str, Any]
_T = TypeVar("_T")

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_WEB_API = re.compile(r"[a-zA-Z]+(?:\.[a-zA-Z0-9]+)+")
_BLOCK_TYPES = frozenset(
    [
        "section",
        "context",
        "header",
        "divider",
        "image",
        "actions",
        "rich_text",
        "markdown",
        "input",
        "file",
        "video",
        "table",
    ]
)
_ANGLE = re.compile(r"<([^<>\n]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_LIVE = re.compile(
    r"<!(channel|here|everyone)(?:\|[^<>]*)?>"
    r"|<!subteam\^([A-Z0-9]+)(?:\|[^<>]*)?>"
    r"|<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>"
)
_BARE = re.compile(r"(?<![\w@/.&:-])@(channel|here|everyone)(?![\w-])")
_EDGE_BEFORE = r"(?<![^\s(\[{\"'])"
_EDGE_AFTER = r"(?![^\s.,;:!?)\]}\"'])"
_FORMATTING = [
    re.compile(r"```\n?(.*?)\n?```", re.DOTALL),
    re.compile(r"`([^`\n]+)`"),
    *(
        re.compile(f"{_EDGE_BEFORE}{mark}(?!\\s)([^{mark}\\n]+?)(?<!\\s){mark}{_EDGE_AFTER}")
        for mark in (r"\*", "_", "~")
    ),
]


class SlackError(Exception):
    """A Web API error answer: HTTP `status` with `{"ok": false, "error": error, **extra}`."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        extra: JSON | None = None,
    ) -> None:
        super().__init__(error)
        self.error, self.status = error, status
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> JSON:
        return {"ok": False, "error": self.error, **self.extra}


@dataclass(frozen=True)
class Call:
    """One request, recorded on arrival: the Web API method (or `response_url`, `upload`,
    `socket` for those endpoints), its parameters as received (form values are strings, JSON
    ones typed; the token left out), time.monotonic() of arrival, and once answered the HTTP
    status and Slack's error code (None when ok)."""

    method: str
    params: dict[str, object]
    status: int | None
    error: str | None
    time: float
    http_method: str = "POST"


@dataclass(frozen=True)
class Posted:
    """A chat.postMessage Slack accepted. `channel` is the channel id (a user id for a DM);
    `plain` is what a reader sees, `mentions` who gets notified: canonical tokens like
    "<!channel>", "<!here>", "<@U123>", "<!subteam^S1>"; time is time.monotonic()."""

    channel: str
    ts: str
    text: str | None
    blocks: list[JSON] | None
    unfurl_links: bool | None
    unfurl_media: bool | None
    thread_ts: str | None
    plain: str
    mentions: list[str]
    time: float
    params: dict[str, object] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class Ephemeral:
    channel: str
    user: str
    text: str | None
    blocks: list[JSON] | None
    message_ts: str
    plain: str
    mentions: list[str]
    time: float


@dataclass(frozen=True)
class Update:
    channel: str
    ts: str
    text: str | None
    blocks: list[JSON] | None
    plain: str
    mentions: list[str]
    time: float


@dataclass(frozen=True)
class Response:
    """A message POSTed to a response_url, with the slash command it answers."""

    url: str
    channel: str
    user: str
    command: str
    response_type: str | None  # None means ephemeral, as on Slack
    text: str | None
    blocks: list[JSON] | None
    replace_original: bool | None
    delete_original: bool | None
    plain: str
    mentions: list[str]
    time: float


@dataclass(frozen=True)
class Ack:
    """A Socket Mode envelope ack: `elapsed` is seconds since the fake sent the envelope
    (None for an envelope id it never sent)."""

    envelope_id: str
    payload: JSON | None
    elapsed: float | None
    time: float

    @property
    def late(self) -> bool:
        """Slack had given up on it (the user saw an error instead)."""
        return self.elapsed is None or self.elapsed > ACK_DEADLINE

    @property
    def plain(self) -> str:
        """What the user sees of the payload (an ack with a message answers the command)."""
        if not self.payload:
            return ""
        return _message_plain(_opt_str(self.payload.get("text")), _blocks_or_none(self.payload))


@dataclass(frozen=True)
class SlashRequest:
    """One post_slash_command: the bot's answer and how long it took."""

    url: str
    channel: str
    user: str
    text: str
    command: str
    status: int
    body: str
    elapsed: float
    time: float

    @property
    def late(self) -> bool:
        return self.elapsed > ACK_DEADLINE


@dataclass(frozen=True)
class Upload:
    """A file uploaded with files.uploadV2's three steps; channel is None until shared."""

    file_id: str
    filename: str
    title: str | None
    length: int
    content: bytes | None
    channel: str | None
    initial_comment: str | None
    thread_ts: str | None
    time: float


@dataclass(frozen=True)
class Violation:
    """A post refused by `enforce_limits` (answered 429)."""

    method: str
    channel: str
    retry_after: int
    time: float


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool
    is_archived: bool
    bot_member: bool
    deleted: bool = False
    is_im: bool = False


@dataclass
class _User:
    id: str
    name: str
    is_admin: bool
    is_owner: bool
    deleted: bool
    is_bot: bool = False


@dataclass
class _Failure:
    method: str
    times: int
    error: str | None  # None: a slow success
    status: int
    retry_after: int | None
    channel: str | None
    delay: float


@dataclass
class _Hook:
    """An issued response_url."""

    channel: str
    user: str
    command: str
    uses: int = 0


@dataclass
class _PendingUpload:
    file_id: str
    filename: str
    length: int
    content: bytes | None = None


@dataclass(frozen=True)
class _Limits:
    per_second: float
    burst: int


class FakeSlack(ConditionWaits):
    """One Slack workspace with one app (bot token `token`, app-level token `app_token`)."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        app_token: str = APP_TOKEN,
        signing_secret: str = SIGNING_SECRET,
        host: str = "127.0.0.1",
    ) -> None:
        self.token, self.app_token, self.signing_secret, self.host = (
            token,
            app_token,
            signing_secret,
            host,
        )
        self.strict = True
        self.scopes: set[str] = set(DEFAULT_SCOPES)  # add "chat:write.public" to post unjoined
        self._changed = threading.Condition(threading.RLock())
        self._listeners: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._stop_event: asyncio.Event | None = None
        self._revoked: set[str] = set()
        self._users: dict[str, _User] = {
            BOT_USER_ID: _User(BOT_USER_ID, BOT_NAME, False, False, False, is_bot=True)
        }
        self._channels: dict[str, _Channel] = {}
        self._failures: list[_Failure] = []
        self._limits: _Limits | None = None
        self._buckets: dict[str, tuple[float, float]] = {}  # channel: (tokens, as of when)
        self._last_ts = 0
        self._ids = itertools.count(1)
        self._messages: dict[tuple[str, str], Posted] = {}
        self._posted: list[Posted] = []
        self._ephemeral: list[Ephemeral] = []
        self._updates: list[Update] = []
        self._responses: list[Response] = []
        self._uploads: dict[str, _PendingUpload] = {}
        self._shared: list[Upload] = []
        self._calls: list[Call] = []
        self._unknown: list[str] = []
        self._crashes: list[str] = []
        self._violations: list[Violation] = []
        self._hooks: dict[str, _Hook] = {}
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._sockets_opened = 0
        self._envelopes: dict[str, float] = {}
        self._acks: list[Ack] = []
        self._socket_messages: list[str] = []
        self._slash_requests: list[SlashRequest] = []
        self._methods: dict[str, Callable[[dict[str, object]], JSON]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._chat_update,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "apps.connections.open": self._connections_open,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failed: list[BaseException] = []
        thread = threading.Thread(
            target=self._run_loop, args=(loop, ready, failed), name="fake-slack"
        )
        thread.start()
        ready.wait()
        if failed:
            thread.join()
            raise RuntimeError(f"the fake Slack could not start: {failed[0]!r}") from failed[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Close the sockets, cut slow answers short, stop serving and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._loop = self._thread = self._runner = None
        with self._changed:
            self._notify()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._thread is None:
            raise RuntimeError("the fake Slack is not running: call start()")
        return self._port

    @property
    def root(self) -> str:
        """Where everything is served: the Web API, sockets, response_urls, uploads."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The Web API root, what SLACK_API_URL holds (`https://slack.com/api/` in production)."""
        return f"{self.root}/api/"

    def env(self, *, socket_mode: bool) -> dict[str, str]:
        """Environment for a `dozor` subprocess that should talk to this fake."""
        env = {"SLACK_BOT_TOKEN": self.token, "SLACK_API_URL": self.url}
        if socket_mode:
            env["SLACK_APP_TOKEN"] = self.app_token
        else:
            env["SLACK_SIGNING_SECRET"] = self.signing_secret
        return env

    # --- the workspace ---------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        deleted: bool = False,
    ) -> None:
        with self._changed:
            self._users[user_id] = _User(
                user_id, name or user_id.lower(), is_admin or is_owner, is_owner, deleted
            )

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        is_archived: bool = False,
        bot_member: bool = True,
    ) -> None:
        with self._changed:
            self._channels[channel_id] = _Channel(
                channel_id, name or channel_id.lower(), is_private, is_archived, bot_member
            )

    def archive(self, channel_id: str) -> None:
        """Posting answers is_archived from now on."""
        with self._changed:
            self._channel(channel_id).is_archived = True

    def kick_bot(self, channel_id: str) -> None:
        """The bot left (or was removed): posting answers not_in_channel."""
        with self._changed:
            self._channel(channel_id).bot_member = False

    def invite_bot(self, channel_id: str) -> None:
        with self._changed:
            self._channel(channel_id).bot_member = True

    def delete_channel(self, channel_id: str) -> None:
        """Every call naming the channel answers channel_not_found."""
        with self._changed:
            self._channel(channel_id).deleted = True

    def _channel(self, channel_id: str) -> _Channel:
        if channel_id not in self._channels:
            raise KeyError(f"no channel {channel_id!r}: add_channel() it first")
        return self._channels[channel_id]

    # --- how Slack misbehaves --------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        channel: str | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next `times` calls of `method` (naming `channel`, if given) go wrong, after
        `delay` seconds. status 429: HTTP 429 with Retry-After (retry_after, default 1) and
        {"ok": false, "error": "ratelimited"}; 500 and up: a plain HTML error page, no JSON;
        200: {"ok": false, "error": error}; 0: the connection drops without an answer (the
        message is not posted). With no error and no status a delay alone is a
        slow success, and nothing at all means error="ratelimited". `method` may also be
        "response_url" (an HTTP status, or an error for its body) or "upload"."""
        if error is None and (status == 429 or (status == 200 and not delay) or status == 0):
            error = "ratelimited"
        with self._changed:
            self._failures.append(
                _Failure(method, times, error, status, retry_after, channel, delay)
            )

    def revoke_token(self, *, app: bool = False) -> None:
        """Every later Web API call with the bot token (app=True: apps.connections.open with
        the app-level token) answers invalid_auth."""
        with self._changed:
            self._revoked.add(self.app_token if app else self.token)

    def enforce_limits(self, per_channel_per_second: float = 1.0, burst: int = 3) -> None:
        """chat.postMessage beyond `per_channel_per_second` a channel (bursts of `burst`
        allowed) answers 429 with Retry-After and records a Violation."""
        with self._changed:
            self._limits = _Limits(per_channel_per_second, burst)
            self._buckets.clear()

    # --- slash commands, as Slack delivers them --------------------------------------------

    def slash_payload(
        self, channel: str, user: str, text: str, *, command: str = "/dozor"
    ) -> dict[str, str]:
        """Every field Slack sends for a slash command; the response_url is live here."""
        with self._changed:
            number = next(self._ids)
            info = self._channels.get(channel)
            if info is not None:
                channel_name = info.name
            elif channel.startswith("D"):
                channel_name = "directmessage"
            else:
                channel_name = channel.lower()
            person = self._users.get(user)
            path = f"/commands/{TEAM_ID}/{number}/{secrets.token_hex(12)}"
            self._hooks[path] = _Hook(channel, user, command)
            return {
                "token": VERIFICATION_TOKEN,
                "team_id": TEAM_ID,
                "team_domain": TEAM_DOMAIN,
                "channel_id": channel,
                "channel_name": channel_name,
                "user_id": user,
                "user_name": person.name if person else user.lower(),
                "command": command,
                "text": text,
                "api_app_id": APP_ID,
                "is_enterprise_install": "false",
                "response_url": f"{self.root}{path}",
                "trigger_id": f"{number}.{int(time.time())}.{secrets.token_hex(16)}",
            }

    def sign(
        self, body: bytes, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """The headers Slack signs a request with: v0 HMAC-SHA256 of "v0:{ts}:{body}"."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        key = (self.signing_secret if secret is None else secret).encode()
        digest = hmac.new(key, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
        return {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest.hexdigest()}",
        }

    def post_slash_command(
        self,
        events_url: str,
        channel: str,
        user: str,
        text: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        command: str = "/dozor",
        timeout: float = 10.0,
    ) -> tuple[int, str]:
        """POST a signed slash command to the bot's HTTP endpoint (loopback only), as Slack
        does; returns (status, body). For a bot in a subprocess or another thread: a bot on
        the caller's own event loop needs post_slash_command_async."""
        work = self._slash_request(
            events_url, channel, user, text, timestamp, secret, command, timeout
        )
        return self._submit(work).result(timeout=timeout + 5)

    async def post_slash_command_async(
        self,
        events_url: str,
        channel: str,
        user: str,
        text: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        command: str = "/dozor",
        timeout: float = 10.0,
    ) -> tuple[int, str]:
        """post_slash_command for async tests: the caller's loop stays free meanwhile."""
        work = self._slash_request(
            events_url, channel, user, text, timestamp, secret, command, timeout
        )
        return await asyncio.wrap_future(self._submit(work))

    def _slash_request(
        self,
        events_url: str,
        channel: str,
        user: str,
        text: str,
        timestamp: int | None,
        secret: str | None,
        command: str,
        timeout: float,
    ) -> Coroutine[Any, Any, tuple[int, str]]:
        if urllib.parse.urlsplit(events_url).hostname not in _LOOPBACK:
            raise ValueError(f"the fake posts to loopback only, not {events_url}")
        payload = self.slash_payload(channel, user, text, command=command)
        body = urllib.parse.urlencode(payload).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **self.sign(body, timestamp=timestamp, secret=secret),
        }
        what = (channel, user, text, command)
        return self._deliver_slash(events_url, body, headers, what, timeout)

    async def _deliver_slash(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        what: tuple[str, str, str, str],
        timeout: float,
    ) -> tuple[int, str]:
        started = time.monotonic()
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(url, data=body, headers=headers) as answer,
        ):
            status, text = answer.status, await answer.text()
        now = time.monotonic()
        channel, user, said, command = what
        record = SlashRequest(url, channel, user, said, command, status, text, now - started, now)
        with self._changed:
            self._slash_requests.append(record)
            self._notify()
        return status, text

    def send_slash_command(
        self, channel: str, user: str, text: str, *, command: str = "/dozor"
    ) -> str:
        """Socket Mode: push a slash_commands envelope to the connected client; returns the
        envelope id. Raises RuntimeError if no client is connected."""
        payload = self.slash_payload(channel, user, text, command=command)
        return self.send_envelope("slash_commands", payload, accepts_response_payload=True)

    def send_envelope(
        self, kind: str, payload: JSON, *, accepts_response_payload: bool = False
    ) -> str:
        """Any Socket Mode envelope (events_api, interactive, ...); returns its id."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        }
        self._push(envelope, remember=envelope_id)
        return envelope_id

    def disconnect_socket(self, reason: str = "refresh_requested") -> None:
        """Tell the client to reconnect, as Slack does every few hours."""
        self._push({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}})

    def close_sockets(self) -> None:
        """Drop every Socket Mode connection from the server's side (code 1001), without
        waiting for the clients' replies; wait_for_socket(total=...) sees them reconnect."""
        self._submit(self._close_sockets())

    def _push(self, message: JSON, *, remember: str | None = None) -> None:
        with self._changed:
            open_sockets = [ws for ws in self._sockets if not ws.closed]
            if not open_sockets:
                raise RuntimeError(
                    "no Socket Mode client is connected "
                    f"(connections so far: {self._sockets_opened}; "
                    f"apps.connections.open calls: {len(self.calls('apps.connections.open'))})"
                )
            if remember is not None:
                self._envelopes[remember] = time.monotonic()
        self._submit(open_sockets[-1].send_str(json.dumps(message))).result(timeout=10)

    def wait_for_socket(self, timeout: float = 10.0, *, total: int = 1) -> int:
        """Block until a Socket Mode client is connected (it has had its hello) and at least
        `total` connections were ever made; returns how many are open."""
        return len(
            self._wait(functools.partial(self._open_sockets, total), 1, timeout, self._no_socket)
        )

    async def wait_for_socket_async(self, timeout: float = 10.0, *, total: int = 1) -> int:
        probe = functools.partial(self._open_sockets, total)
        return len(await self._wait_async(probe, 1, timeout, self._no_socket))

    @property
    def socket_connections(self) -> int:
        """Open Socket Mode connections."""
        with self._changed:
            return len([ws for ws in self._sockets if not ws.closed])

    @property
    def sockets_opened(self) -> int:
        with self._changed:
            return self._sockets_opened

    def _open_sockets(self, total: int) -> list[web.WebSocketResponse]:
        with self._changed:
            if self._sockets_opened < total:
                return []
            return [ws for ws in self._sockets if not ws.closed]

    @property
    def acks(self) -> list[Ack]:
        with self._changed:
            return list(self._acks)

    @property
    def socket_messages(self) -> list[str]:
        """What clients sent over the socket that was not an envelope ack."""
        with self._changed:
            return list(self._socket_messages)

    def unacked(self) -> list[str]:
        """Envelope ids sent and never acknowledged."""
        with self._changed:
            done = {a.envelope_id for a in self._acks}
            return [e for e in self._envelopes if e not in done]

    @property
    def slash_requests(self) -> list[SlashRequest]:
        with self._changed:
            return list(self._slash_requests)

    # --- what the bot did ------------------------------------------------------------------

    def posted(self, channel: str | None = None) -> list[Posted]:
        with self._changed:
            return [p for p in self._posted if channel is None or p.channel == channel]

    def ephemeral(self, channel: str | None = None) -> list[Ephemeral]:
        with self._changed:
            return [e for e in self._ephemeral if channel is None or e.channel == channel]

    def updates(self, channel: str | None = None) -> list[Update]:
        with self._changed:
            return [u for u in self._updates if channel is None or u.channel == channel]

    def responses(self, channel: str | None = None) -> list[Response]:
        with self._changed:
            return [r for r in self._responses if channel is None or r.channel == channel]

    def uploads(self) -> list[Upload]:
        """Uploads completed with files.completeUploadExternal."""
        with self._changed:
            return list(self._shared)

    def calls(self, method: str | None = None) -> list[Call]:
        with self._changed:
            return [c for c in self._calls if method is None or c.method == method]

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
        """Requests the fake itself failed on: a bug here, not in the bot."""
        with self._changed:
            return list(self._crashes)

    def wait_for_posted(
        self, count: int, channel: str | None = None, timeout: float = 10.0
    ) -> list[Posted]:
        """Block until at least `count` messages were posted (to `channel`); return them all."""
        explain = functools.partial(self._posted_shortfall, channel=channel)
        return self._wait(lambda: self.posted(channel), count, timeout, explain)

    async def wait_for_posted_async(
        self, count: int, channel: str | None = None, timeout: float = 10.0
    ) -> list[Posted]:
        explain = functools.partial(self._posted_shortfall, channel=channel)
        return await self._wait_async(lambda: self.posted(channel), count, timeout, explain)

    def wait_for_responses(self, count: int, timeout: float = 10.0) -> list[Response]:
        return self._wait(self.responses, count, timeout, self._responses_shortfall)

    async def wait_for_responses_async(self, count: int, timeout: float = 10.0) -> list[Response]:
        return await self._wait_async(self.responses, count, timeout, self._responses_shortfall)

    def wait_for_call(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until `method` was called `count` times (counted on arrival)."""
        explain = functools.partial(self._call_shortfall, method=method)
        return self._wait(lambda: self.calls(method), count, timeout, explain)

    async def wait_for_call_async(
        self, method: str, count: int = 1, timeout: float = 10.0
    ) -> list[Call]:
        explain = functools.partial(self._call_shortfall, method=method)
        return await self._wait_async(lambda: self.calls(method), count, timeout, explain)

    def wait_for_acks(self, count: int, timeout: float = 10.0) -> list[Ack]:
        return self._wait(lambda: self.acks, count, timeout, self._acks_shortfall)

    async def wait_for_acks_async(self, count: int, timeout: float = 10.0) -> list[Ack]:
        return await self._wait_async(lambda: self.acks, count, timeout, self._acks_shortfall)

    def _failed_calls(self) -> list[tuple[str, int | None, str | None]]:
        return [
            (c.method, c.status, c.error)
            for c in self.calls()
            if c.error is not None or (c.status is not None and c.status >= 300)
        ][-10:]

    def _posted_shortfall(
        self, got: list[Posted], count: int, timeout: float, *, channel: str | None
    ) -> str:
        where = "" if channel is None else f" to {channel}"
        return (
            f"expected {count} messages posted{where} within {timeout}s, {len(got)} posted: "
            f"{[p.plain for p in got]}; all posted: {[(p.channel, p.plain) for p in self.posted()]}"
            f"; failed calls: {self._failed_calls()}; methods called: "
            f"{sorted({c.method for c in self.calls()})}"
        )

    def _responses_shortfall(self, got: list[Response], count: int, timeout: float) -> str:
        tried = [(c.status, c.error) for c in self.calls("response_url")]
        return (
            f"expected {count} response_url messages within {timeout}s, {len(got)} came: "
            f"{[r.plain for r in got]}; response_url POSTs (status, error): {tried}; "
            f"acks: {[(a.envelope_id, a.payload) for a in self.acks]}; "
            f"slash requests: {[(s.status, s.body) for s in self.slash_requests]}"
        )

    def _call_shortfall(self, got: list[Call], count: int, timeout: float, *, method: str) -> str:
        seen = sorted({c.method for c in self.calls()})
        return f"{len(got)} of {count} calls of {method} within {timeout}s; methods seen: {seen}"

    def _acks_shortfall(self, got: list[Ack], count: int, timeout: float) -> str:
        return (
            f"expected {count} envelope acks within {timeout}s, {len(got)} came: "
            f"{[(a.envelope_id, a.payload) for a in got]}; unacked envelopes: {self.unacked()}; "
            f"open sockets: {self.socket_connections}; other socket messages: "
            f"{self.socket_messages[-5:]}"
        )

    def _no_socket(self, got: list[web.WebSocketResponse], count: int, timeout: float) -> str:
        opens = [(c.status, c.error) for c in self.calls("apps.connections.open")]
        refused = [c.error for c in self.calls("socket")]
        return (
            f"no Socket Mode client connected within {timeout}s: connections so far "
            f"{self.sockets_opened}, open {self.socket_connections}; apps.connections.open "
            f"calls (status, error): {opens}; refused socket connections: {refused}"
        )

    # --- serving (the fake's own event loop) -----------------------------------------------

    def _run_loop(
        self, loop: asyncio.AbstractEventLoop, ready: threading.Event, failed: list[BaseException]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:
                failed.append(exc)
                return
            finally:
                ready.set()
            loop.run_forever()
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _startup(self) -> None:
        self._stop_event = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._web_api)
        app.router.add_get("/link/", self._socket)
        app.router.add_post("/commands/{team}/{number}/{key}", self._response_url)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        listening = socket.create_server((self.host, 0))
        try:
            await web.SockSite(runner, listening).start()
        except BaseException:
            listening.close()
            await runner.cleanup()
            raise
        self._port = int(listening.getsockname()[1])
        self._runner = runner

    async def _shutdown(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()
        await self._close_sockets()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _close_sockets(self) -> None:
        with self._changed:
            open_sockets = list(self._sockets)
        await asyncio.gather(
            *(ws.close(code=aiohttp.WSCloseCode.GOING_AWAY) for ws in open_sockets),
            return_exceptions=True,
        )

    def _submit(self, work: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        loop = self._loop
        if loop is None:
            work.close()
            raise RuntimeError("the fake Slack is not running: call start()")
        return asyncio.run_coroutine_threadsafe(work, loop)

    def _notify(self) -> None:
        self._changed.notify_all()
        for wake in self._listeners:
            wake()

    def _record(self, call: Call) -> int:
        with self._changed:
            self._calls.append(call)
            self._notify()
            return len(self._calls) - 1

    def _answered(self, index: int, status: int, error: str | None) -> None:
        with self._changed:
            self._calls[index] = replace(self._calls[index], status=status, error=error)
            self._notify()

    def _take_failure(self, method: str, channel: object) -> _Failure | None:
        with self._changed:
            for failure in self._failures:
                if failure.method == method and failure.channel in (None, channel):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    async def _pause(self, delay: float) -> None:
        """Answer late; a stop() cuts the wait short."""
        if delay > 0 and self._stop_event is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), delay)

    async def _web_api(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        method = request.match_info["method"]
        try:
            params, token = await _read_params(request)
        except (ValueError, UnicodeDecodeError):
            bad = (
                "invalid_json"
                if request.content_type == "application/json"
                else "invalid_form_data"
            )
            index = self._record(Call(method, {}, None, None, arrived, request.method))
            self._answered(index, 200, bad)
            return web.json_response({"ok": False, "error": bad})
        known = method in self._methods
        index = self._record(Call(method, params, None, None, arrived, request.method))
        if not known:
            with self._changed:
                self._unknown.append(method)
        headers: dict[str, str] = {}
        try:
            failure = self._take_failure(method, params.get("channel", params.get("channel_id")))
            if failure is not None:
                await self._pause(failure.delay)
                if failure.status == 0:  # the connection drops: no answer at all
                    self._answered(index, 0, "connection dropped")
                    assert request.transport is not None
                    request.transport.abort()
                    return web.Response(status=500)  # never reaches the client
                failed = _failure_answer(failure)
                if failed is not None:
                    self._answered(index, failed.status, failure.error)
                    return failed
            with self._changed:
                self._authenticate(method, token)
                if token == self.token:
                    headers["x-oauth-scopes"] = ",".join(sorted(self.scopes))
                if known:
                    body = {"ok": True, **self._methods[method](params)}
                elif self.strict or not _WEB_API.fullmatch(method):
                    raise SlackError("unknown_method", extra={"req_method": method})
                else:
                    body = {"ok": True}
        except SlackError as error:
            self._answered(index, error.status, error.error)
            return web.json_response(error.body(), status=error.status, headers=error.headers)
        except Exception as exc:  # a bug in the fake: answered, and failed by the fixture
            with self._changed:
                self._crashes.append(f"{method}: {exc!r}")
            self._answered(index, 500, "fake_crashed")
            return web.json_response({"ok": False, "error": "fake_crashed"}, status=500)
        self._answered(index, 200, None)
        return web.json_response(body, headers=headers)

    def _authenticate(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed")
        wanted = self.app_token if method == "apps.connections.open" else self.token
        other = self.token if wanted == self.app_token else self.app_token
        if token == other:
            raise SlackError("not_allowed_token_type")
        if token != wanted or token in self._revoked:
            raise SlackError("invalid_auth")

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._changed:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)  # a ticket opens one connection
        if not valid:
            index = self._record(
                Call("socket", dict(request.query), None, None, time.monotonic(), "GET")
            )
            self._answered(index, 401, "invalid_ticket")
            return web.Response(status=401, text="invalid_ticket")
        ws = web.WebSocketResponse(autoping=True, timeout=2.0)
        await ws.prepare(request)
        with self._changed:
            self._sockets_opened += 1
            hello = {
                "type": "hello",
                "num_connections": len([s for s in self._sockets if not s.closed]) + 1,
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        try:
            await ws.send_str(json.dumps(hello))
        except (ConnectionError, RuntimeError):  # the client left at once
            return ws
        with self._changed:
            self._sockets.append(ws)
            self._notify()
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._socket_message(str(message.data))
        finally:
            with self._changed:
                self._sockets.remove(ws)
                self._notify()
        return ws

    def _socket_message(self, raw: str) -> None:
        now = time.monotonic()
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        with self._changed:
            if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
                eid = message["envelope_id"]
                sent = self._envelopes.get(eid)
                payload = message.get("payload")
                self._acks.append(
                    Ack(
                        eid,
                        payload if isinstance(payload, dict) else None,
                        None if sent is None else now - sent,
                        now,
                    )
                )
            else:
                self._socket_messages.append(raw)
            self._notify()

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            index = self._record(Call("response_url", {}, None, None, arrived))
            self._answered(index, 400, "invalid_payload")
            return web.Response(status=400, text="invalid_payload")
        index = self._record(Call("response_url", dict(body), None, None, arrived))
        with self._changed:
            hook = self._hooks.get(request.path)
        failure = self._take_failure("response_url", hook.channel if hook else None)
        if failure is not None:
            await self._pause(failure.delay)
            if failure.status != 200 or failure.error is not None:
                status = failure.status if failure.status != 200 else 400
                self._answered(index, status, failure.error)
                return web.Response(status=status, text=failure.error or "error")
        status, text = self._respond(hook, request.path, body)
        self._answered(index, status, None if status == 200 else text)
        return web.Response(status=status, text=text, content_type="text/html")

    def _respond(self, hook: _Hook | None, path: str, body: JSON) -> tuple[int, str]:
        if hook is None:
            return 404, "expired_url"
        try:
            text, blocks = _content(body, required=not body.get("delete_original"))
        except SlackError as error:
            return 400, error.error
        with self._changed:
            if hook.uses >= RESPONSE_URL_USES:
                return 404, "used_url"
            hook.uses += 1
            plain, mentions = self._render(text, blocks, bare_in_text=False)
            self._responses.append(
                Response(
                    url=f"{self.root}{path}",
                    channel=hook.channel,
                    user=hook.user,
                    command=hook.command,
                    response_type=_opt_str(body.get("response_type")),
                    text=text,
                    blocks=blocks,
                    replace_original=_flag(body.get("replace_original")),
                    delete_original=_flag(body.get("delete_original")),
                    plain=plain,
                    mentions=mentions,
                    time=time.monotonic(),
                )
            )
            self._notify()
        return 200, "ok"

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        file_id = request.match_info["file_id"]
        if request.content_type == "multipart/form-data":
            form = await request.post()
            parts = [v for v in form.values() if isinstance(v, web.FileField)]
            content = parts[0].file.read() if parts else b""
        else:
            content = await request.read()
        index = self._record(
            Call("upload", {"file_id": file_id, "size": len(content)}, None, None, arrived)
        )
        failure = self._take_failure("upload", None)
        if failure is not None:
            await self._pause(failure.delay)
            if failure.status != 200 or failure.error is not None:
                status = failure.status if failure.status != 200 else 500
                self._answered(index, status, failure.error)
                return web.Response(status=status, text=failure.error or "error")
        with self._changed:
            pending = self._uploads.get(file_id)
            if pending is not None:
                pending.content = content
        if pending is None:
            self._answered(index, 404, "file_not_found")
            return web.Response(status=404, text="file_not_found")
        self._answered(index, 200, None)
        return web.Response(text=f"OK - {len(content)}")

    # --- Web API methods (called with the lock held) ---------------------------------------

    def _auth_test(self, params: dict[str, object]) -> JSON:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Dozor Test",
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _connections_open(self, params: dict[str, object]) -> JSON:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return {"url": f"ws://{self.host}:{self._port}/link/?ticket={ticket}&app_id={APP_ID}"}

    def _users_info(self, params: dict[str, object]) -> JSON:
        user = self._users.get(str(params.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {
            "user": {
                "id": user.id,
                "team_id": TEAM_ID,
                "name": user.name,
                "deleted": user.deleted,
                "real_name": user.name.title(),
                "tz": "Europe/Minsk",
                "tz_offset": 10800,
                "is_admin": user.is_admin,
                "is_owner": user.is_owner,
                "is_primary_owner": user.is_owner,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "profile": {"real_name": user.name.title(), "display_name": user.name},
            }
        }

    def _conversations_info(self, params: dict[str, object]) -> JSON:
        ref = str(params.get("channel") or "")
        info = self._channels.get(ref)
        if info is None or info.deleted or (info.is_private and not info.bot_member):
            raise SlackError("channel_not_found")  # a private channel is invisible from outside
        return {
            "channel": {
                "id": info.id,
                "name": info.name,
                "name_normalized": info.name,
                "is_channel": not info.is_private,
                "is_group": info.is_private,
                "is_im": False,
                "is_mpim": False,
                "is_private": info.is_private,
                "is_archived": info.is_archived,
                "is_general": False,
                "is_member": info.bot_member,
                "is_shared": False,
                "is_ext_shared": False,
                "is_org_shared": False,
                "context_team_id": TEAM_ID,
                "created": 1_700_000_000,
                "creator": BOT_USER_ID,
            }
        }

    def _resolve(self, ref: object) -> _Channel:
        """The channel a post names: an id, a #name, or a user id (the bot's DM with them)."""
        key = str(ref or "")
        if not key:
            raise SlackError("channel_not_found")
        info = self._channels.get(key) or next(
            (c for c in self._channels.values() if c.name == key.removeprefix("#") and not c.is_im),
            None,
        )
        if info is None and key in self._users and not self._users[key].deleted:
            info = _Channel(key, key.lower(), True, False, True, is_im=True)
        if info is None or info.deleted:
            raise SlackError("channel_not_found")
        return info

    def _postable(self, ref: object) -> _Channel:
        info = self._resolve(ref)
        if info.is_archived:
            raise SlackError("is_archived")
        if not info.bot_member and (info.is_private or "chat:write.public" not in self.scopes):
            raise SlackError("not_in_channel")
        return info

    def _next_ts(self) -> str:
        micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _admit(self, channel: str) -> None:
        """Token bucket per channel; a refused post costs nothing."""
        limits = self._limits
        if limits is None:
            return
        now = time.monotonic()
        tokens, since = self._buckets.get(channel, (float(limits.burst), now))
        tokens = min(float(limits.burst), tokens + (now - since) * limits.per_second)
        if tokens < 1.0:
            retry_after = max(1, math.ceil((1.0 - tokens) / limits.per_second))
            self._buckets[channel] = (tokens, now)
            self._violations.append(Violation("chat.postMessage", channel, retry_after, now))
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(retry_after)})
        self._buckets[channel] = (tokens - 1.0, now)

    def _render(
        self, text: str | None, blocks: list[JSON] | None, *, bare_in_text: bool
    ) -> tuple[str, list[str]]:
        names = {u.id: u.name for u in self._users.values()}
        channels = {c.id: c.name for c in self._channels.values()}
        plain = _message_plain(text, blocks, names, channels)
        return plain, _message_mentions(text, blocks, bare_in_text=bare_in_text)

    def _post_message(self, params: dict[str, object]) -> JSON:
        info = self._postable(params.get("channel"))
        text, blocks = _content(params)
        self._admit(info.id)
        ts = self._next_ts()
        link_names = _flag(params.get("link_names")) or params.get("parse") == "full"
        plain, mentions = self._render(text, blocks, bare_in_text=link_names)
        posted = Posted(
            channel=info.id,
            ts=ts,
            text=text,
            blocks=blocks,
            unfurl_links=_flag(params.get("unfurl_links")),
            unfurl_media=_flag(params.get("unfurl_media")),
            thread_ts=_opt_str(params.get("thread_ts")),
            plain=plain,
            mentions=mentions,
            time=time.monotonic(),
            params=dict(params),
        )
        self._posted.append(posted)
        self._messages[(info.id, ts)] = posted
        self._notify()
        channel_id = f"D{info.id[1:]}" if info.is_im else info.id
        return {"channel": channel_id, "ts": ts, "message": _message_json(text, blocks, ts)}

    def _post_ephemeral(self, params: dict[str, object]) -> JSON:
        info = self._postable(params.get("channel"))
        text, blocks = _content(params)
        user = str(params.get("user") or "")
        if not user:
            raise SlackError("user_not_in_channel")
        ts = self._next_ts()
        plain, mentions = self._render(text, blocks, bare_in_text=False)
        self._ephemeral.append(
            Ephemeral(info.id, user, text, blocks, ts, plain, mentions, time.monotonic())
        )
        self._notify()
        return {"message_ts": ts}

    def _chat_update(self, params: dict[str, object]) -> JSON:
        info = self._postable(params.get("channel"))
        ts = str(params.get("ts") or "")
        if (info.id, ts) not in self._messages:
            raise SlackError("message_not_found")
        text, blocks = _content(params)
        plain, mentions = self._render(text, blocks, bare_in_text=False)
        self._updates.append(Update(info.id, ts, text, blocks, plain, mentions, time.monotonic()))
        self._notify()
        return {
            "channel": info.id,
            "ts": ts,
            "text": text or "",
            "message": _message_json(text, blocks, ts),
        }

    def _get_upload_url(self, params: dict[str, object]) -> JSON:
        filename = str(params.get("filename") or "")
        try:
            length = int(str(params.get("length")))
        except ValueError:
            length = 0
        if not filename or length <= 0:
            raise SlackError("invalid_arguments")
        file_id = f"F{next(self._ids):010d}"
        self._uploads[file_id] = _PendingUpload(file_id, filename, length)
        return {"upload_url": f"{self.root}/upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: dict[str, object]) -> JSON:
        files = params.get("files")
        try:
            items = json.loads(files) if isinstance(files, str) else files
        except ValueError:
            items = None
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments")
        channel_ref = params.get("channel_id") or str(params.get("channels") or "").split(",")[0]
        info = self._postable(channel_ref) if channel_ref else None
        done: list[tuple[_PendingUpload, str | None]] = []
        for item in items:
            pending = self._uploads.get(str(item.get("id") if isinstance(item, dict) else item))
            if pending is None or pending.content is None:
                raise SlackError("file_not_found")
            done.append((pending, _opt_str(item.get("title")) if isinstance(item, dict) else None))
        now = time.monotonic()
        out = []
        for pending, title in done:
            self._shared.append(
                Upload(
                    file_id=pending.file_id,
                    filename=pending.filename,
                    title=title,
                    length=pending.length,
                    content=pending.content,
                    channel=info.id if info else None,
                    initial_comment=_opt_str(params.get("initial_comment")),
                    thread_ts=_opt_str(params.get("thread_ts")),
                    time=now,
                )
            )
            out.append(
                {
                    "id": pending.file_id,
                    "name": pending.filename,
                    "title": title or pending.filename,
                    "size": len(pending.content or b""),
                    "user": BOT_USER_ID,
                    "channels": [info.id] if info and not info.is_private else [],
                    "groups": [info.id] if info and info.is_private else [],
                }
            )
        self._notify()
        return {"files": out}


# --- parsing ---------------------------------------------------------------------------------


async def _read_params(request: web.Request) -> tuple[dict[str, object], str | None]:
    """Query string, then the body (JSON, url-encoded or multipart); the token from the
    Authorization header, or for form requests from a `token` field (not from JSON)."""
    values: dict[str, object] = dict(request.query.items())
    content_type = request.content_type
    if content_type == "application/json":
        raw = await request.read()
        decoded = json.loads(raw) if raw.strip() else {}
        if not isinstance(decoded, dict):
            raise ValueError("the JSON body must be an object")
        decoded.pop("token", None)  # Slack reads a JSON request's token from the header only
        values.update(decoded)
    elif content_type == "multipart/form-data":
        form = await request.post()
        for key, value in form.items():
            values[key] = value.filename if isinstance(value, web.FileField) else value
    else:
        raw = await request.read()
        values.update(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
    field_token = values.pop("token", None)
    return values, token or (str(field_token) if field_token else None)


def _failure_answer(failure: _Failure) -> web.Response | None:
    if failure.status == 429:
        return web.json_response(
            {"ok": False, "error": failure.error or "ratelimited"},
            status=429,
            headers={"Retry-After": str(failure.retry_after or 1)},
        )
    if failure.status >= 500:
        page = f"<html><body><h1>{failure.status} Server Error</h1></body></html>"
        return web.Response(status=failure.status, text=page, content_type="text/html")
    if failure.error is None and failure.status == 200:
        return None  # a slow success
    headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else None
    body = {"ok": False, "error": failure.error or "invalid_request"}
    return web.json_response(body, status=failure.status, headers=headers)


def _flag(value: object) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes")


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _blocks_or_none(params: Mapping[str, object]) -> list[JSON] | None:
    value = params.get("blocks")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if isinstance(value, list) and all(isinstance(b, dict) for b in value):
        return value
    return None


def _content(
    params: Mapping[str, object], *, required: bool = True
) -> tuple[str | None, list[JSON] | None]:
    """A message's text and blocks, checked as Slack checks them."""
    text = _opt_str(params.get("text"))
    if text is None and params.get("markdown_text") is not None:
        text = str(params["markdown_text"])
    blocks: list[JSON] | None = None
    raw = params.get("blocks")
    if raw is not None and raw != "":
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise SlackError("invalid_blocks_format") from None
        if not isinstance(raw, list):
            raise SlackError("invalid_blocks_format")
        problems = _block_problems(raw)
        if problems:
            raise SlackError(
                "invalid_blocks",
                extra={
                    "errors": problems,
                    "response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]},
                },
            )
        blocks = raw
    if required and not (text or "").strip() and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    if text is not None and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    return text, blocks


def _block_problems(blocks: list[Any]) -> list[str]:
    """What Slack's Block Kit validation would say, in its words: "[what] [json-pointer:…]"."""
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(_at("/blocks", f"must be less than {MAX_BLOCKS + 1} items"))
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.append(_at(where, "must provide an object with a type"))
            continue
        block_id = block.get("block_id")
        if block_id is not None and (not isinstance(block_id, str) or len(block_id) > MAX_BLOCK_ID):
            problems.append(_at(f"{where}/block_id", f"must be at most {MAX_BLOCK_ID} characters"))
        check = _BLOCK_CHECKS.get(block["type"])
        if check is None and block["type"] not in _BLOCK_TYPES:
            problems.append(_at(f"{where}/type", "must be a valid enum value"))
        elif check is not None:
            problems += check(block, where)
    return problems


def _at(where: str, what: str) -> str:
    return f"{what} [json-pointer:{where}]"


def _section_problems(block: JSON, where: str) -> list[str]:
    text, fields = block.get("text"), block.get("fields")
    problems: list[str] = []
    if text is None and not fields:
        problems.append(_at(where, "must provide either text or fields"))
    if text is not None:
        problems += _text_problems(text, f"{where}/text", MAX_SECTION_TEXT)
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
            problems.append(_at(f"{where}/fields", f"must be at most {MAX_SECTION_FIELDS} items"))
        else:
            for j, item in enumerate(fields):
                problems += _text_problems(item, f"{where}/fields/{j}", MAX_FIELD_TEXT)
    return problems


def _context_problems(block: JSON, where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [_at(f"{where}/elements", "must provide a list of elements")]
    if len(elements) > MAX_CONTEXT_ELEMENTS:
        return [_at(f"{where}/elements", f"must be less than {MAX_CONTEXT_ELEMENTS + 1} items")]
    problems: list[str] = []
    for j, element in enumerate(elements):
        if not (isinstance(element, dict) and element.get("type") == "image"):
            problems += _text_problems(element, f"{where}/elements/{j}", MAX_SECTION_TEXT)
    return problems


def _header_problems(block: JSON, where: str) -> list[str]:
    return _text_problems(block.get("text"), f"{where}/text", MAX_HEADER_TEXT, plain_only=True)


def _markdown_problems(block: JSON, where: str) -> list[str]:
    text = block.get("text")
    if isinstance(text, str) and 0 < len(text) <= MAX_MARKDOWN_BLOCK:
        return []
    return [_at(f"{where}/text", f"must be a string of 1 to {MAX_MARKDOWN_BLOCK} characters")]


def _image_problems(block: JSON, where: str) -> list[str]:
    problems: list[str] = []
    if not block.get("image_url") and not block.get("slack_file"):
        problems.append(_at(where, "must provide image_url or slack_file"))
    if not isinstance(block.get("alt_text"), str):
        problems.append(_at(f"{where}/alt_text", "must provide alt_text"))
    return problems


_BLOCK_CHECKS: dict[str, Callable[[JSON, str], list[str]]] = {
    "section": _section_problems,
    "context": _context_problems,
    "header": _header_problems,
    "markdown": _markdown_problems,
    "image": _image_problems,
}


def _text_problems(obj: object, where: str, limit: int, *, plain_only: bool = False) -> list[str]:
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [_at(where, f"must be a text object of type {' or '.join(kinds)}")]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [_at(f"{where}/text", "must be more than 0 characters")]
    if len(text) > limit:
        return [_at(f"{where}/text", f"must be less than {limit + 1} characters")]
    return []


def _message_json(text: str | None, blocks: list[JSON] | None, ts: str) -> JSON:
    message: JSON = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": TEAM_ID,
        "text": text or "",
        "ts": ts,
    }
    if blocks is not None:
        message["blocks"] = blocks
    return message


# --- what a reader sees, and who gets notified -----------------------------------------------


def mrkdwn_plain(
    text: str,
    names: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
) -> str:
    """Slack mrkdwn as a reader sees it: `<url|label>` as the label, `<@U1>` as @name,
    `<!here>` as @here, formatting marks dropped, &amp; &lt; &gt; decoded."""
    names, channels = names or {}, channels or {}

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return "@" + (label or names.get(target[1:], target[1:]))
        if target.startswith("#"):
            return "#" + (label or channels.get(target[1:], target[1:]))
        if target.startswith("!"):
            special = target[1:]
            if special in ("channel", "here", "everyone"):
                return "@" + special
            if special.startswith("subteam^"):
                return label or "@" + special.partition("^")[2]
            return label or special
        return label or target

    out = _ANGLE.sub(token, text)
    for pattern in _FORMATTING:
        out = pattern.sub(r"\1", out)
    return _ENTITY.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], out)


def _text_object_plain(obj: object, names: Mapping[str, str], channels: Mapping[str, str]) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn_plain(obj["text"], names, channels)
    return str(obj["text"])


def _rich_text_plain(element: object, names: Mapping[str, str], channels: Mapping[str, str]) -> str:
    if isinstance(element, list):
        return "".join(_rich_text_plain(e, names, channels) for e in element)
    if not isinstance(element, dict):
        return ""
    kind = element.get("type")
    if kind == "text":
        return str(element.get("text", ""))
    if kind == "link":
        return str(element.get("text") or element.get("url", ""))
    if kind == "user":
        return "@" + names.get(str(element.get("user_id")), str(element.get("user_id")))
    if kind == "channel":
        return "#" + channels.get(str(element.get("channel_id")), str(element.get("channel_id")))
    if kind == "broadcast":
        return "@" + str(element.get("range", ""))
    if kind == "usergroup":
        return "@" + str(element.get("usergroup_id", ""))
    if kind == "emoji":
        return f":{element.get('name', '')}:"
    if kind == "rich_text_list":
        return "\n".join(_rich_text_plain(e, names, channels) for e in element.get("elements", []))
    return _rich_text_plain(element.get("elements", []), names, channels)


def _block_plain(block: JSON, names: Mapping[str, str], channels: Mapping[str, str]) -> str:
    kind = block.get("type")
    if kind == "section":
        parts = [_text_object_plain(block.get("text"), names, channels)]
        parts += [_text_object_plain(f, names, channels) for f in block.get("fields") or []]
        return "\n".join(p for p in parts if p)
    if kind == "header":
        return _text_object_plain(block.get("text"), names, channels)
    if kind == "context":
        elements = block.get("elements") or []
        return " ".join(p for e in elements if (p := _text_object_plain(e, names, channels)))
    if kind == "markdown":
        return mrkdwn_plain(str(block.get("text", "")), names, channels)
    if kind == "rich_text":
        return _rich_text_plain(block.get("elements", []), names, channels)
    return ""


def _message_plain(
    text: str | None,
    blocks: list[JSON] | None,
    names: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
) -> str:
    """Blocks rendered when there are any (the text is then only the notification), else
    the text as mrkdwn."""
    names, channels = names or {}, channels or {}
    if blocks:
        return "\n".join(p for b in blocks if (p := _block_plain(b, names, channels)))
    return mrkdwn_plain(text or "", names, channels)


def mrkdwn_mentions(text: str, *, bare: bool) -> list[str]:
    """The notifications a mrkdwn string triggers, as canonical tokens; `bare`: whether a
    plain @channel/@here/@everyone counts (a text object that is not verbatim)."""
    found: list[str] = []
    for match in _LIVE.finditer(text):
        special, team, user = match.groups()
        found.append(f"<!{special}>" if special else f"<!subteam^{team}>" if team else f"<@{user}>")
    if bare:
        found += [f"<!{m.group(1)}>" for m in _BARE.finditer(_ANGLE.sub(" ", text))]
    return found


def _message_mentions(
    text: str | None, blocks: list[JSON] | None, *, bare_in_text: bool
) -> list[str]:
    found = mrkdwn_mentions(text or "", bare=bare_in_text)

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "mrkdwn" and isinstance(node.get("text"), str):
            found.extend(mrkdwn_mentions(node["text"], bare=node.get("verbatim") is not True))
        elif kind == "markdown" and isinstance(node.get("text"), str):
            found.extend(mrkdwn_mentions(node["text"], bare=True))
        elif kind == "broadcast":
            found.append(f"<!{node.get('range')}>")
        elif kind == "user" and "user_id" in node:
            found.append(f"<@{node['user_id']}>")
        elif kind == "usergroup" and "usergroup_id" in node:
            found.append(f"<!subteam^{node['usergroup_id']}>")
        for value in node.values():
            if isinstance(value, dict | list):
                walk(value)

    walk(blocks or [])
    return list(dict.fromkeys(found))


@pytest.fixture(name="slack_api")
def slack_api_fixture() -> Iterator[FakeSlack]:
    """A running FakeSlack, stopped (sockets closed, thread joined) after the test."""
    with FakeSlack() as fake:
        yield fake
    if fake.crashes:
        pytest.fail(f"the fake Slack failed: {fake.crashes}", pytrace=False)
    if fake.strict and fake.unknown_methods:
        pytest.fail(
            f"the bot called Web API methods the fake does not know: {fake.unknown_methods}",
            pytrace=False,
        )


def main() -> None:
    """Serve until Ctrl-C in Socket Mode: prints the environment, turns stdin lines
    `CHANNEL USER TEXT` into /dozor commands, prints what the bot posts and responds."""
    with FakeSlack() as fake:
        print(" ".join(f"{k}={v}" for k, v in fake.env(socket_mode=True).items()), flush=True)
        done = threading.Event()

        def said() -> list[tuple[str, str]]:
            out = [(p.channel, p.plain) for p in fake.posted()]
            return out + [(r.channel, r.plain) for r in fake.responses()]

        def show() -> None:
            shown = 0
            while not done.is_set():
                with contextlib.suppress(AssertionError):
                    fake._wait(said, shown + 1, 0.5, lambda *_: "")
                for channel, plain in said()[shown:]:
                    print(f"-> {channel}: {plain}", flush=True)
                    shown += 1

        printer = threading.Thread(target=show, name="fake-slack-printer")
        printer.start()
        known: set[str] = set()
        try:
            for line in sys.stdin:
                channel, user, text = [*line.split(maxsplit=2), "", ""][:3]
                if not (channel and user):
                    continue
                if channel not in known:
                    fake.add_channel(channel)
                    known.add(channel)
                try:
                    fake.send_slash_command(channel, user, text.strip())
                except RuntimeError as exc:
                    print(f"!! {exc}", flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            done.set()
            printer.join()


if __name__ == "__main__":
    main()
