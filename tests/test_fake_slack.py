"""The fake Slack, driven by the real slack_sdk and slack_bolt clients (and raw HTTP)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack_api import (  # noqa: F401 - the fixture, until conftest registers it
    APP_TOKEN,
    BOT_ID,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    TOKEN,
    FakeSlack,
    mrkdwn_plain,
    slack_api_fixture,
)

NEWS, PRIVATE, DM_USER, ANNA = "C0NEWS", "G0SECRET", "U0BORIS", "U0ANNA"

# slack_sdk warns when a post has blocks but no notification text: some tests mean to do that
blocks_only = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")


def _client(fake: FakeSlack, token: str = TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.url)


async def _error(call: Awaitable[Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


def _section(text: str, *, verbatim: bool | None = None, kind: str = "mrkdwn") -> dict[str, Any]:
    obj: dict[str, Any] = {"type": kind, "text": text}
    if verbatim is not None:
        obj["verbatim"] = verbatim
    return {"type": "section", "text": obj}


# --- the Web API ---------------------------------------------------------------------------


async def test_auth_test_and_the_tokens_slack_accepts(slack_api: FakeSlack) -> None:
    me = await _client(slack_api).auth_test()
    assert (me["user_id"], me["team_id"], me["bot_id"]) == (BOT_USER_ID, TEAM_ID, BOT_ID)
    assert "chat:write" in me.headers["x-oauth-scopes"]  # bolt reads the scopes from here
    assert slack_api.calls("auth.test")[0].params == {}  # the token is never recorded

    calls = [
        _client(slack_api, "xoxb-wrong").auth_test(),
        AsyncWebClient(base_url=slack_api.url).auth_test(),
        _client(slack_api, APP_TOKEN).auth_test(),
        _client(slack_api).apps_connections_open(app_token=TOKEN),
    ]
    errors = [(await _error(call)).response["error"] for call in calls]
    assert errors == [
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "not_allowed_token_type",
    ]
    opened = await _client(slack_api).apps_connections_open(app_token=APP_TOKEN)
    assert str(opened["url"]).startswith(slack_api.root.replace("http:", "ws:") + "/link/?ticket=")

    slack_api.revoke_token()
    revoked = await _error(_client(slack_api).auth_test())
    assert revoked.response["error"] == "invalid_auth"
    assert [c.error for c in slack_api.calls("auth.test")][-1] == "invalid_auth"


async def test_post_message_is_recorded_as_sent_and_as_read(slack_api: FakeSlack) -> None:
    env = slack_api.env(socket_mode=False)
    assert set(env) == {"SLACK_BOT_TOKEN", "SLACK_API_URL", "SLACK_SIGNING_SECRET"}
    assert set(slack_api.env(socket_mode=True)) == {
        "SLACK_BOT_TOKEN",
        "SLACK_API_URL",
        "SLACK_APP_TOKEN",
    }
    slack_api.add_channel(NEWS, name="news")
    client = AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"])
    blocks = [
        _section(
            "*<https://example.org/a?x=1&amp;y=2|Minsk &amp; Brest &lt;live&gt;>*", verbatim=True
        ),
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "BBC · 12:00", "verbatim": True}],
        },
        _section("_Rain_ in 5*3*2 places, `code` stays ~gone~"),
    ]
    answer = await client.chat_postMessage(
        channel="#news", text="Minsk &amp; Brest", blocks=blocks, unfurl_links=False
    )
    assert answer["channel"] == NEWS and answer["message"]["user"] == BOT_USER_ID
    (posted,) = slack_api.posted(NEWS)
    assert (posted.ts, posted.text, posted.blocks) == (answer["ts"], "Minsk &amp; Brest", blocks)
    assert (posted.unfurl_links, posted.unfurl_media, posted.thread_ts) == (False, None, None)
    assert (
        posted.plain == "Minsk & Brest <live>\nBBC · 12:00\nRain in 5*3*2 places, code stays gone"
    )
    assert posted.mentions == []

    second = await client.chat_postMessage(channel=NEWS, text="plain <https://example.org>")
    assert float(second["ts"]) > float(answer["ts"])  # ts orders messages
    assert slack_api.posted()[-1].plain == "plain https://example.org"


def test_every_body_encoding_is_understood(slack_api: FakeSlack) -> None:
    slack_api.add_channel(NEWS)
    slack_api.add_user(ANNA, name="anna", is_admin=True)
    api = slack_api.url
    blocks = json.dumps([_section("form *blocks*")])
    form = httpx.post(
        f"{api}chat.postMessage",
        data={"token": TOKEN, "channel": NEWS, "blocks": blocks, "unfurl_links": "false"},
    )
    assert form.json()["ok"] is True
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    as_json = httpx.post(
        f"{api}chat.postMessage", json={"channel": NEWS, "text": "json"}, headers=bearer
    )
    assert as_json.json()["ok"] is True
    assert [(p.plain, p.unfurl_links) for p in slack_api.posted()] == [
        ("form blocks", False),
        ("json", None),
    ]
    in_json_body = httpx.post(f"{api}chat.postMessage", json={"token": TOKEN, "text": "x"})
    assert in_json_body.json() == {"ok": False, "error": "not_authed"}  # header only, for JSON
    user = httpx.get(f"{api}users.info", params={"user": ANNA}, headers=bearer).json()
    assert user["user"]["is_admin"] is True and user["user"]["name"] == "anna"
    broken = httpx.post(
        f"{api}chat.postMessage",
        content=b"{",
        headers={**bearer, "Content-Type": "application/json"},
    )
    assert broken.json() == {"ok": False, "error": "invalid_json"}
    assert [c.http_method for c in slack_api.calls("users.info")] == ["GET"]


@blocks_only
async def test_messages_are_checked_as_slack_checks_them(slack_api: FakeSlack) -> None:
    slack_api.add_channel(NEWS)
    client = _client(slack_api)

    async def error(**kwargs: Any) -> str:
        failed = await _error(client.chat_postMessage(channel=NEWS, **kwargs))
        return str(failed.response["error"])

    too_many = [_section(f"block {i}") for i in range(51)]
    assert await error(text="") == "no_text"
    assert await error(text="x" * 40_001) == "msg_too_long"
    assert await error(blocks=too_many) == "invalid_blocks"
    assert await error(blocks=[_section("x" * 3001)]) == "invalid_blocks"
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "e"}] * 11}
    assert await error(blocks=[context]) == "invalid_blocks"
    assert await error(blocks=[{"type": "carousel"}]) == "invalid_blocks"
    assert await error(blocks="not json") == "invalid_blocks_format"
    detail = await _error(client.chat_postMessage(channel=NEWS, blocks=[_section("x" * 3001)]))
    assert detail.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert slack_api.posted() == []

    await client.chat_postMessage(channel=NEWS, text="x" * 40_000)
    await client.chat_postMessage(channel=NEWS, blocks=[_section("x" * 3000)] * 50)
    assert len(slack_api.posted()) == 2


async def test_channels_and_users_answer_from_the_workspace(slack_api: FakeSlack) -> None:
    client = _client(slack_api)
    slack_api.add_channel(NEWS, name="news")
    slack_api.add_channel(PRIVATE, name="secret", is_private=True)
    slack_api.add_user(ANNA, name="anna", is_owner=True)
    slack_api.add_user(DM_USER, name="boris")

    async def post_error(channel: str) -> str:
        failed = await _error(client.chat_postMessage(channel=channel, text="hi"))
        return str(failed.response["error"])

    assert await post_error("C0NOWHERE") == "channel_not_found"
    info = await client.conversations_info(channel=PRIVATE)
    assert (info["channel"]["is_private"], info["channel"]["is_member"]) == (True, True)

    slack_api.kick_bot(PRIVATE)
    assert await post_error(PRIVATE) == "not_in_channel"
    gone = await _error(client.conversations_info(channel=PRIVATE))
    assert gone.response["error"] == "channel_not_found"  # private: invisible from outside

    slack_api.kick_bot(NEWS)
    assert await post_error(NEWS) == "not_in_channel"
    slack_api.scopes.add("chat:write.public")  # a public channel, then, takes the post
    await client.chat_postMessage(channel=NEWS, text="from outside")
    slack_api.archive(NEWS)
    assert await post_error(NEWS) == "is_archived"
    assert (await client.conversations_info(channel=NEWS))["channel"]["is_archived"] is True
    slack_api.delete_channel(NEWS)
    assert await post_error(NEWS) == "channel_not_found"

    dm = await client.chat_postMessage(channel=DM_USER, text="just you")
    assert dm["channel"].startswith("D") and slack_api.posted(DM_USER)[0].text == "just you"
    anna = await client.users_info(user=ANNA)
    assert (anna["user"]["is_owner"], anna["user"]["is_admin"]) == (True, True)
    assert (await client.users_info(user=BOT_USER_ID))["user"]["is_bot"] is True
    nobody = await _error(client.users_info(user="U0NOBODY"))
    assert nobody.response["error"] == "user_not_found"


async def test_failures_on_demand_reach_the_client_as_slack_sends_them(
    slack_api: FakeSlack,
) -> None:
    slack_api.add_channel(NEWS)
    slack_api.add_channel("C0OTHER")
    client = _client(slack_api)
    slack_api.fail("chat.postMessage", status=429, retry_after=3)
    limited = await _error(client.chat_postMessage(channel=NEWS, text="a"))
    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "3"
    assert limited.response["error"] == "ratelimited"

    slack_api.fail("chat.postMessage", error="fatal_error", channel="C0OTHER", times=2)
    await client.chat_postMessage(channel=NEWS, text="not this channel")
    for _ in range(2):
        failed = await _error(client.chat_postMessage(channel="C0OTHER", text="b"))
        assert (failed.response.status_code, failed.response["error"]) == (200, "fatal_error")
    await client.chat_postMessage(channel="C0OTHER", text="third time")

    slack_api.fail("users.info", status=500)
    broken = await _error(client.users_info(user=BOT_USER_ID))
    assert broken.response.status_code == 500 and broken.response["error"] is None

    slack_api.fail("auth.test", delay=0.2)  # a delay alone: a slow success
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.2
    assert [p.text for p in slack_api.posted()] == ["not this channel", "third time"]
    assert [c.status for c in slack_api.calls("chat.postMessage")] == [429, 200, 200, 200, 200]


async def test_limits_answer_429_and_record_violations(slack_api: FakeSlack) -> None:
    slack_api.add_channel(NEWS)
    slack_api.add_channel("C0OTHER")
    slack_api.enforce_limits(per_channel_per_second=1.0, burst=3)
    client = _client(slack_api)
    for i in range(3):
        await client.chat_postMessage(channel=NEWS, text=f"burst {i}")
    refused = await _error(client.chat_postMessage(channel=NEWS, text="one too many"))
    assert refused.response.status_code == 429
    assert refused.response.headers["Retry-After"] == "1"
    await client.chat_postMessage(channel="C0OTHER", text="another channel's budget")
    (violation,) = slack_api.violations
    assert (violation.method, violation.channel, violation.retry_after) == (
        "chat.postMessage",
        NEWS,
        1,
    )
    assert len(slack_api.posted(NEWS)) == 3


@blocks_only
async def test_mentions_are_what_slack_would_notify(slack_api: FakeSlack) -> None:
    slack_api.add_channel(NEWS)
    slack_api.add_user(ANNA, name="anna")
    client = _client(slack_api)
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({"text": "<!channel> flood"}, ["<!channel>"], "@channel flood"),
        ({"text": "&lt;!channel&gt; flood"}, [], "<!channel> flood"),
        ({"text": "@channel is plain text here"}, [], "@channel is plain text here"),
        ({"text": "@everyone", "link_names": True}, ["<!everyone>"], "@everyone"),
        ({"blocks": [_section("@here look")]}, ["<!here>"], "@here look"),
        ({"blocks": [_section("@here look", verbatim=True)]}, [], "@here look"),
        ({"blocks": [_section("<!here> still", verbatim=True)]}, ["<!here>"], "@here still"),
        ({"blocks": [_section("@channel", kind="plain_text")]}, [], "@channel"),
        (
            {"blocks": [_section(f"cc <@{ANNA}> and <!subteam^S0ED|@eds>")]},
            [f"<@{ANNA}>", "<!subteam^S0ED>"],
            "cc @anna and @eds",
        ),
        (
            {
                "text": "fallback",
                "blocks": [
                    {
                        "type": "rich_text",
                        "elements": [
                            {
                                "type": "rich_text_section",
                                "elements": [
                                    {"type": "broadcast", "range": "here"},
                                    {"type": "text", "text": " news"},
                                ],
                            }
                        ],
                    }
                ],
            },
            ["<!here>"],
            "@here news",
        ),
    ]
    for kwargs, _, _ in cases:
        await client.chat_postMessage(channel=NEWS, **kwargs)
    got = [(p.mentions, p.plain) for p in slack_api.posted()]
    assert got == [(mentions, plain) for _, mentions, plain in cases]
    assert mrkdwn_plain("a &amp;lt; b") == "a &lt; b"  # decoded once, as Slack does


async def test_update_ephemeral_and_files(slack_api: FakeSlack) -> None:
    slack_api.add_channel(NEWS)
    client = _client(slack_api)
    first = await client.chat_postMessage(channel=NEWS, text="draft")
    await client.chat_update(channel=NEWS, ts=first["ts"], text="final <!here>")
    (update,) = slack_api.updates()
    assert (update.ts, update.plain, update.mentions) == (first["ts"], "final @here", ["<!here>"])
    missing = await _error(client.chat_update(channel=NEWS, ts="1.000001", text="x"))
    assert missing.response["error"] == "message_not_found"

    await client.chat_postEphemeral(channel=NEWS, user=ANNA, text="only *you*")
    (whisper,) = slack_api.ephemeral(NEWS)
    assert (whisper.user, whisper.plain) == (ANNA, "only you")

    shared = await client.files_upload_v2(
        channel=NEWS, filename="feeds.opml", content="<opml/>", title="Feeds"
    )
    assert shared["file"]["name"] == "feeds.opml"
    (upload,) = slack_api.uploads()
    assert (upload.filename, upload.title, upload.content, upload.channel) == (
        "feeds.opml",
        "Feeds",
        b"<opml/>",
        NEWS,
    )


async def test_unknown_methods_are_refused_unless_not_strict(slack_api: FakeSlack) -> None:
    client = _client(slack_api)
    refused = await _error(client.api_call("reactions.add", params={"name": "eyes"}))
    assert refused.response["error"] == "unknown_method"
    assert slack_api.unknown_methods == ["reactions.add"]
    slack_api.strict = False  # from now on accepted and recorded (and the fixture passes)
    assert (await client.api_call("reactions.add", params={"name": "eyes"}))["ok"] is True
    assert [c.params for c in slack_api.calls("reactions.add")][-1] == {"name": "eyes"}


# --- slash commands: response_url, Socket Mode, HTTP mode ----------------------------------


async def test_response_urls_take_five_messages(slack_api: FakeSlack) -> None:
    payload = slack_api.slash_payload(NEWS, ANNA, "status")
    assert set(payload) == {
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    }
    assert all(isinstance(v, str) for v in payload.values())
    hook = AsyncWebhookClient(payload["response_url"])
    first = await hook.send(text="*All* good &amp; well", response_type="in_channel")
    assert (first.status_code, first.body) == (200, "ok")
    (response,) = await slack_api.wait_for_responses_async(1)
    assert (response.channel, response.user, response.command) == (NEWS, ANNA, "/dozor")
    assert (response.response_type, response.plain) == ("in_channel", "All good & well")
    for _ in range(4):
        assert (await hook.send(text="again", replace_original=True)).status_code == 200
    used = await hook.send(text="sixth")
    assert (used.status_code, used.body) == (404, "used_url")
    assert len(slack_api.responses()) == 5

    other = AsyncWebhookClient(slack_api.slash_payload(NEWS, ANNA, "x")["response_url"])
    assert (await other.send(text="")).body == "no_text"
    slack_api.fail("response_url", status=500)
    assert (await other.send(text="later")).status_code == 500
    stale = AsyncWebhookClient(f"{slack_api.root}/commands/{TEAM_ID}/999/nope")
    assert (await stale.send(text="x")).status_code == 404


async def test_socket_mode_round_trip_with_bolt(slack_api: FakeSlack) -> None:
    slack_api.add_channel(NEWS, name="news")
    slack_api.add_user(ANNA, name="anna")
    with pytest.raises(RuntimeError, match="no Socket Mode client is connected"):
        slack_api.send_slash_command(NEWS, ANNA, "help")
    app = AsyncApp(client=_client(slack_api))
    seen: list[dict[str, Any]] = []

    @app.command("/dozor")
    async def dozor(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        seen.append(command)
        await ack(f"Working on `{command['text']}`…")
        await respond(text="Subscribed &lt;!channel&gt;", response_type="in_channel")

    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        assert await slack_api.wait_for_socket_async() == 1
        envelope_id = slack_api.send_slash_command(NEWS, ANNA, "subscribe minsk")
        (ack,) = await slack_api.wait_for_acks_async(1)
        assert ack.envelope_id == envelope_id and not ack.late
        assert ack.payload == {"text": "Working on `subscribe minsk`…"}
        assert ack.plain == "Working on subscribe minsk…"
        (response,) = await slack_api.wait_for_responses_async(1)
        assert (response.plain, response.mentions) == ("Subscribed <!channel>", [])
        assert (seen[0]["user_name"], seen[0]["channel_name"]) == ("anna", "news")
        assert slack_api.unacked() == [] and slack_api.socket_messages == []

        slack_api.disconnect_socket()  # Slack's periodic refresh: the client reconnects
        await slack_api.wait_for_socket_async(total=2)
        slack_api.send_slash_command(NEWS, ANNA, "again")
        await slack_api.wait_for_acks_async(2)
        assert len(slack_api.calls("apps.connections.open")) == 2

        slack_api.close_sockets()  # dropped by the server: the client reconnects too
        await slack_api.wait_for_socket_async(total=3)
        slack_api.send_slash_command(NEWS, ANNA, "once more")
        await slack_api.wait_for_acks_async(3)
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
    await slack_api.wait_for_call_async("response_url", 3)
    assert [c.error for c in slack_api.calls()] == [None] * len(slack_api.calls())


@pytest.fixture
async def bolt_http_app(slack_api: FakeSlack) -> AsyncIterator[str]:
    """A bolt AsyncApp served over HTTP by aiohttp (bolt's adapter); yields its events URL."""
    app = AsyncApp(client=_client(slack_api), signing_secret=SIGNING_SECRET)

    @app.command("/dozor")
    async def dozor(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack(f"on it: {command['text']}")
        await respond(text=f"done: {command['text']}")

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        await runner.cleanup()


async def test_http_mode_round_trip_with_signatures(
    slack_api: FakeSlack, bolt_http_app: str
) -> None:
    status, body = await slack_api.post_slash_command_async(bolt_http_app, NEWS, ANNA, "help")
    assert (status, body) == (200, "on it: help")
    (response,) = await slack_api.wait_for_responses_async(1)
    assert (response.plain, response.response_type) == ("done: help", None)

    forged = await slack_api.post_slash_command_async(
        bolt_http_app, NEWS, ANNA, "x", secret="not-the-secret"
    )
    stale = await slack_api.post_slash_command_async(
        bolt_http_app, NEWS, ANNA, "x", timestamp=int(time.time()) - 6 * 60
    )
    assert (forged[0], stale[0]) == (401, 401)
    requests = slack_api.slash_requests
    assert [r.status for r in requests] == [200, 401, 401]
    assert not requests[0].late and requests[0].text == "help"
    with pytest.raises(ValueError, match="loopback only"):
        await slack_api.post_slash_command_async("http://example.org/slack", NEWS, ANNA, "x")


def test_signatures_are_what_slack_sdk_verifies(slack_api: FakeSlack) -> None:
    class Then(Clock):
        def now(self) -> float:
            return 1_700_000_000.0

    verifier = SignatureVerifier(SIGNING_SECRET, clock=Then())
    headers = slack_api.sign(b"a=1&b=2", timestamp=1_700_000_000)
    assert headers["X-Slack-Signature"].startswith("v0=")
    assert verifier.is_valid_request(b"a=1&b=2", headers)
    assert not verifier.is_valid_request(b"a=1&b=3", headers)
    forged = slack_api.sign(b"a=1&b=2", timestamp=1_700_000_000, secret="other")
    assert not verifier.is_valid_request(b"a=1&b=2", forged)
    old = slack_api.sign(b"a=1&b=2", timestamp=1_700_000_000 - 301)
    assert not verifier.is_valid_request(b"a=1&b=2", old)


def test_post_slash_command_from_sync_code(slack_api: FakeSlack) -> None:
    """The blocking variant, for a bot in a subprocess or thread: a stdlib server here."""
    verifier = SignatureVerifier(SIGNING_SECRET)
    bodies: list[dict[str, list[str]]] = []

    class Bot(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            good = verifier.is_valid_request(body, dict(self.headers.items()))
            bodies.append(urllib.parse.parse_qs(body.decode()))
            answer = b"ok" if good else b"bad signature"
            self.send_response(200 if good else 401)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Bot) as server:
        serving = threading.Thread(target=server.serve_forever)
        serving.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
            assert slack_api.post_slash_command(url, NEWS, ANNA, "feeds add x") == (200, "ok")
            assert slack_api.post_slash_command(url, NEWS, ANNA, "x", secret="no")[0] == 401
        finally:
            server.shutdown()
            serving.join()
    assert bodies[0]["text"] == ["feeds add x"] and bodies[0]["command"] == ["/dozor"]
    assert bodies[0]["response_url"][0].startswith(slack_api.root)


# --- waiting and stopping ------------------------------------------------------------------


def test_waits_block_until_it_happens_and_explain_a_timeout(slack_api: FakeSlack) -> None:
    slack_api.add_channel(NEWS)

    def post_later() -> None:
        time.sleep(0.1)
        httpx.post(
            f"{slack_api.url}chat.postMessage",
            data={"token": TOKEN, "channel": NEWS, "text": "late"},
        )

    poster = threading.Thread(target=post_later)
    poster.start()
    assert [p.text for p in slack_api.wait_for_posted(1, channel=NEWS, timeout=5)] == ["late"]
    poster.join()
    with pytest.raises(
        AssertionError,
        match=r"expected 2 messages posted to C0NEWS within 0.1s, 1 posted: \['late'\]",
    ):
        slack_api.wait_for_posted(2, channel=NEWS, timeout=0.1)
    with pytest.raises(AssertionError, match=r"no Socket Mode client connected within 0\.1s"):
        slack_api.wait_for_socket(timeout=0.1)
    with pytest.raises(AssertionError, match=r"expected 1 response_url messages within 0\.1s"):
        slack_api.wait_for_responses(1, timeout=0.1)
    with pytest.raises(AssertionError, match=r"0 of 1 calls of users.info within 0.1s"):
        slack_api.wait_for_call("users.info", timeout=0.1)


async def test_stop_closes_sockets_cuts_slow_answers_and_leaves_nothing() -> None:
    before = {t.name for t in threading.enumerate()}
    fake = FakeSlack().start()
    opened = await _client(fake).apps_connections_open(app_token=APP_TOKEN)
    port = fake.port
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(str(opened["url"]))
        hello = await ws.receive_json()
        assert hello["type"] == "hello" and hello["connection_info"]["app_id"]
        with pytest.raises(aiohttp.WSServerHandshakeError):  # a ticket opens one connection
            await session.ws_connect(str(opened["url"]))
        assert fake.calls("socket")[0].error == "invalid_ticket"

        fake.fail("auth.test", delay=30)
        slow = asyncio.ensure_future(_client(fake).auth_test())
        await fake.wait_for_call_async("auth.test")
        started = time.monotonic()
        await asyncio.to_thread(fake.stop)
        assert time.monotonic() - started < 3
        closing = await ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await ws.close()
        await asyncio.gather(slow, return_exceptions=True)
    assert {t.name for t in threading.enumerate()} <= before | {"asyncio_0"}
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
    fake.stop()  # twice is harmless
