"""The fake Telegram Bot API, driven by the real python-telegram-bot (and raw HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import threading
import time

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from tests.fakes.telegram_api import (  # noqa: F401 - the fixture, until conftest registers it
    BOT_USERNAME,
    TOKEN,
    FakeTelegram,
    telegram_api_fixture,
)

PRIVATE, GROUP, CHANNEL = 42, -100500, -100600

# PTB 22 itself warns, on every RetryAfter, that retry_after will become a timedelta
pytestmark = pytest.mark.filterwarnings(
    "ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning"
)


def _retry_after(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def test_get_me_and_wrong_token(telegram_api: FakeTelegram) -> None:
    async with telegram_api.bot() as bot:
        me = await bot.get_me()
    assert (me.username, me.is_bot, me.can_join_groups) == (BOT_USERNAME, True, True)
    assert me.id == telegram_api.bot_id == 123456

    wrong = Bot("999:WRONG", base_url=telegram_api.bot_base_url)
    with pytest.raises(InvalidToken):
        await wrong.get_me()
    assert len(telegram_api.calls("getMe")) == 2  # initialize() and get_me(); not the wrong one


async def test_send_message_is_recorded_and_answered(telegram_api: FakeTelegram) -> None:
    env = telegram_api.env()  # the way the bot builds its URL from TELEGRAM_API_URL
    async with Bot(env["TELEGRAM_BOT_TOKEN"], base_url=f"{env['TELEGRAM_API_URL']}/bot") as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Open", url="https://example.org")]])
        first = await bot.send_message(
            PRIVATE,
            "<b>Minsk</b> &lt;news&gt; https://example.org",
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=markup,
        )
        second = await bot.send_message(GROUP, "plain", message_thread_id=7)
        third = await bot.send_message(PRIVATE, "again", disable_web_page_preview=False)

    assert (first.message_id, first.text, first.chat.type) == (
        1,
        "Minsk <news> https://example.org",
        "private",
    )
    assert first.from_user is not None and first.from_user.username == BOT_USERNAME
    assert first.reply_markup == markup
    assert (second.message_id, second.chat.type, third.message_id) == (1, "supergroup", 2)

    private = telegram_api.sent(chat_id=PRIVATE)
    assert [m.text for m in private] == ["<b>Minsk</b> &lt;news&gt; https://example.org", "again"]
    assert private[0].plain == "Minsk <news> https://example.org"
    assert (private[0].parse_mode, private[0].disable_preview) == ("HTML", True)
    assert private[0].reply_markup == markup.to_dict()
    assert private[1].disable_preview is False
    assert telegram_api.sent(GROUP)[0].message_thread_id == 7
    assert [c.method for c in telegram_api.calls()] == ["getMe"] + ["sendMessage"] * 3


async def test_commands_are_recorded_per_scope(telegram_api: FakeTelegram) -> None:
    commands = [BotCommand("subscribe", "Follow a topic"), BotCommand("status", "What I watch")]
    async with telegram_api.bot() as bot:
        assert await bot.set_my_commands(commands)
        await bot.set_my_commands(commands[:1], scope=BotCommandScopeAllGroupChats())
        assert telegram_api.commands == [{"command": "subscribe", "description": "Follow a topic"}]
        assert tuple(await bot.get_my_commands()) == tuple(commands)
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()
        groups = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats())
        assert [c.command for c in groups] == ["subscribe"]
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Name", "no")])


async def test_documents_and_photos_keep_their_bytes(telegram_api: FakeTelegram) -> None:
    payload = b"line\r\n--not-a-boundary\x00\xff"
    async with telegram_api.bot() as bot:
        message = await bot.send_document(
            PRIVATE,
            payload,
            filename='digest "May" ✓.txt',
            caption="<i>Digest</i>",
            parse_mode="HTML",
        )
        photo = await bot.send_photo(GROUP, b"\x89PNG fake", filename="chart.png", caption="chart")
        again = await bot.send_document(PRIVATE, "EXISTING_FILE_ID")

    assert message.document is not None and message.document.file_name == 'digest "May" ✓.txt'
    assert message.caption == "Digest" and photo.photo and again.document is not None
    document, by_id = telegram_api.sent(PRIVATE)
    assert document.file is not None
    assert (document.file.filename, document.file.content) == ('digest "May" ✓.txt', payload)
    assert (document.method, document.text, document.plain) == (
        "sendDocument",
        "<i>Digest</i>",
        "Digest",
    )
    assert (by_id.file, by_id.file_ref) == (None, "EXISTING_FILE_ID")
    sent_photo = telegram_api.sent(GROUP)[0]
    assert sent_photo.method == "sendPhoto" and sent_photo.file is not None
    assert (sent_photo.file.content, sent_photo.file.mime_type) == (b"\x89PNG fake", "image/png")


async def test_chat_members_follow_the_admin_table(telegram_api: FakeTelegram) -> None:
    telegram_api.set_admins(GROUP, [7], creator=8)
    telegram_api.send_text(GROUP, "hello", user_id=9, chat_type="supergroup", title="Newsroom")
    async with telegram_api.bot() as bot:
        members = {uid: await bot.get_chat_member(GROUP, uid) for uid in (7, 8, 9, 10)}
        admins = await bot.get_chat_administrators(GROUP)
        me = await bot.get_chat_member(GROUP, telegram_api.bot_id)
        chat = await bot.get_chat(GROUP)
        private = await bot.get_chat_member(PRIVATE, PRIVATE)
        with pytest.raises(BadRequest, match=r"(?i)private chat"):
            await bot.get_chat_administrators(PRIVATE)

    assert isinstance(members[7], ChatMemberAdministrator) and members[7].status == "administrator"
    assert isinstance(members[8], ChatMemberOwner) and members[8].status == "creator"
    assert isinstance(members[9], ChatMemberMember)
    assert isinstance(members[10], ChatMemberLeft)
    assert [m.user.id for m in admins] == [8, 7]
    assert me.status == "member" and me.user.username == BOT_USERNAME
    assert (chat.type, chat.title) == ("supergroup", "Newsroom")
    assert private.status == "member"


async def test_membership_updates_and_usernames_agree_with_later_calls(
    telegram_api: FakeTelegram,
) -> None:
    telegram_api.add_chat(CHANNEL, "channel", title="Dozor News", username="dozor_news")
    telegram_api.my_chat_member(GROUP, "administrator")
    async with telegram_api.bot() as bot:
        me = await bot.get_chat_member(GROUP, telegram_api.bot_id)
        assert me.status == "administrator"
        posted = await bot.send_message("@dozor_news", "to the channel by name")
        assert (posted.chat.id, posted.sender_chat and posted.sender_chat.title) == (
            CHANNEL,
            "Dozor News",
        )
        telegram_api.my_chat_member(GROUP, "left", old_status="administrator")
        with pytest.raises(Forbidden, match=r"(?i)kicked from the supergroup"):
            await bot.send_message(GROUP, "gone")
        assert (await bot.get_chat_member(GROUP, telegram_api.bot_id)).status == "left"
        updates = await bot.get_updates()
    assert [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member] == [
        "administrator",
        "left",
    ]
    assert [m.chat_id for m in telegram_api.sent()] == [CHANNEL]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ({"error_code": 429, "retry_after": 7}, RetryAfter),
        ({"error_code": 403}, Forbidden),
        ({"migrate_to_chat_id": -100777}, ChatMigrated),
        ({"error_code": 500}, NetworkError),
        ({"error_code": 400, "description": "Bad Request: chat not found"}, BadRequest),
    ],
    ids=["429", "403", "migrated", "500", "400"],
)
async def test_injected_errors_map_to_ptb_exceptions(
    telegram_api: FakeTelegram, failure: dict[str, int | str], expected: type[TelegramError]
) -> None:
    telegram_api.fail("sendMessage", **failure)  # type: ignore[arg-type]
    async with telegram_api.bot() as bot:
        with pytest.raises(expected) as caught:
            await bot.send_message(PRIVATE, "first")
        await bot.send_message(PRIVATE, "second: the failure was used up")

    error = caught.value
    if isinstance(error, RetryAfter):
        assert _retry_after(error) == 7
    if isinstance(error, ChatMigrated):
        assert error.new_chat_id == -100777
    if isinstance(error, Forbidden):
        assert "bot was blocked by the user" in error.message
    if expected is NetworkError:
        assert type(error) is NetworkError
    assert [m.text for m in telegram_api.sent()] == ["second: the failure was used up"]
    assert telegram_api.calls("sendMessage")[0].status == (failure.get("error_code") or 400)


async def test_failures_scoped_repeated_and_slow(telegram_api: FakeTelegram) -> None:
    telegram_api.fail("sendMessage", times=2, error_code=502, chat_id=GROUP)
    telegram_api.fail("getChat", delay=0.4)  # a slow success
    async with telegram_api.bot() as bot:
        await bot.send_message(PRIVATE, "other chats are unaffected")
        for _ in range(2):
            with pytest.raises(NetworkError):
                await bot.send_message(GROUP, "lost")
        await bot.send_message(GROUP, "through")
        started = time.monotonic()
        await bot.get_chat(PRIVATE)
        assert time.monotonic() - started >= 0.4
    assert [m.text for m in telegram_api.sent()] == ["other chats are unaffected", "through"]


async def test_blocked_migrated_and_deleted_chats_fail_every_time(
    telegram_api: FakeTelegram,
) -> None:
    telegram_api.blocked(PRIVATE)
    telegram_api.blocked(-100900)
    telegram_api.migrate(-500, GROUP)
    telegram_api.delete_chat(-100901)
    async with telegram_api.bot() as bot:
        for _ in range(2):
            with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
                await bot.send_message(PRIVATE, "x")
            with pytest.raises(ChatMigrated) as migrated:
                await bot.send_message(-500, "x")
            assert migrated.value.new_chat_id == GROUP
        with pytest.raises(Forbidden, match=r"(?i)kicked from the supergroup"):
            await bot.send_message(-100900, "x")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(-100901, "x")
        await bot.send_message(GROUP, "the new supergroup works")
        telegram_api.unblock(PRIVATE)
        await bot.send_message(PRIVATE, "unblocked")
    assert [m.chat_id for m in telegram_api.sent()] == [GROUP, PRIVATE]


async def test_telegram_checks_html_length_and_edits(telegram_api: FakeTelegram) -> None:
    async with telegram_api.bot() as bot:
        for bad in ("<div>x</div>", "<b>x", "a < b", "<b><i>x</b></i>"):
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                await bot.send_message(PRIVATE, bad, parse_mode=ParseMode.HTML)
        await bot.send_message(PRIVATE, "a < b", parse_mode=None)  # fine without HTML
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(PRIVATE, "x" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)text is empty"):
            await bot.send_message(PRIVATE, "<b></b>", parse_mode=ParseMode.HTML)
        sent = await bot.send_message(PRIVATE, "x" * 4096)

        edited = await bot.edit_message_text(
            "<b>new</b>", PRIVATE, sent.message_id, parse_mode="HTML"
        )
        assert not isinstance(edited, bool) and edited.text == "new"
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("<b>new</b>", PRIVATE, sent.message_id, parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", PRIVATE, 999)
    assert [(e.message_id, e.text) for e in telegram_api.edits()] == [(2, "<b>new</b>")]


async def test_limits_answer_429_and_record_violations(telegram_api: FakeTelegram) -> None:
    telegram_api.enforce_limits(per_chat_per_second=1, per_group_per_minute=2, overall_per_second=4)
    async with telegram_api.bot() as bot:
        await bot.send_message(PRIVATE, "one")
        with pytest.raises(RetryAfter) as too_fast:
            await bot.send_message(PRIVATE, "two")
        assert _retry_after(too_fast.value) == 1
        for chat in (-1, -2, -3):
            await bot.send_message(chat, "fan out")
        with pytest.raises(RetryAfter):
            await bot.send_message(-4, "the fifth in a second")
    assert [(v.rule, v.chat_id) for v in telegram_api.violations] == [
        ("per_chat", PRIVATE),
        ("overall", -4),
    ]
    assert len(telegram_api.sent()) == 4


async def test_group_budget_is_per_minute(telegram_api: FakeTelegram) -> None:
    telegram_api.enforce_limits(per_chat_per_second=None, per_group_per_minute=2)
    async with telegram_api.bot() as bot:
        await bot.send_message(GROUP, "1")
        await bot.send_message(GROUP, "2")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(GROUP, "3")
        for n in range(3):
            await bot.send_message(PRIVATE, f"private chats have no group budget {n}")
    assert 55 <= _retry_after(caught.value) <= 60
    assert [v.rule for v in telegram_api.violations] == ["per_group"]


async def test_get_updates_long_polls_confirms_and_limits(telegram_api: FakeTelegram) -> None:
    async with telegram_api.bot() as bot:
        started = time.monotonic()
        waiting = asyncio.create_task(bot.get_updates(timeout=5))
        (poll,) = await telegram_api.wait_for_call_async("getUpdates")
        assert poll.status is None  # the fake holds it
        first = telegram_api.send_text(PRIVATE, "hello")
        updates = await waiting
        assert time.monotonic() - started < 2
        assert [u.update_id for u in updates] == [first]
        assert updates[0].message is not None and updates[0].message.text == "hello"

        more = [telegram_api.send_text(PRIVATE, f"m{n}") for n in range(3)]
        assert [u.update_id for u in await bot.get_updates(offset=first + 1, limit=2)] == more[:2]
        assert [u["update_id"] for u in telegram_api.pending_updates()] == more
        assert [u.update_id for u in await bot.get_updates(offset=more[1] + 1)] == more[2:]
        assert [u["update_id"] for u in telegram_api.pending_updates()] == more[2:]

        started = time.monotonic()
        assert await bot.get_updates(offset=more[2] + 1, timeout=dtm.timedelta(seconds=0.5)) == ()
        assert time.monotonic() - started >= 0.5
        assert telegram_api.pending_updates() == []


async def test_a_newer_poll_or_a_webhook_conflicts(telegram_api: FakeTelegram) -> None:
    async with telegram_api.bot() as bot, telegram_api.bot() as other:
        waiting = asyncio.create_task(bot.get_updates(timeout=5))
        await telegram_api.wait_for_call_async("getUpdates")
        assert await other.get_updates() == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await waiting

        assert await bot.set_webhook("https://example.invalid/hook")
        assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
        assert telegram_api.webhook is not None
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        telegram_api.send_text(PRIVATE, "dropped with the webhook")
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates() == ()


async def test_allowed_updates_and_service_updates(telegram_api: FakeTelegram) -> None:
    async with telegram_api.bot() as bot:
        await bot.get_updates(allowed_updates=["message", "my_chat_member"])
        telegram_api.send_text(CHANNEL, "/start", chat_type="channel")
        telegram_api.blocked(PRIVATE, notify=True)
        telegram_api.migrate(-500, GROUP, notify=True)
        updates = await bot.get_updates()

    assert [u["channel_post"]["text"] for u in telegram_api.dropped_updates] == ["/start"]
    kicked, moved_out, moved_in = updates
    assert kicked.my_chat_member is not None
    assert kicked.my_chat_member.new_chat_member.status == "kicked"
    assert moved_out.message is not None and moved_out.message.migrate_to_chat_id == GROUP
    assert moved_in.message is not None and moved_in.message.migrate_from_chat_id == -500


async def test_unknown_methods_answer_404_and_are_noticed(telegram_api: FakeTelegram) -> None:
    async with telegram_api.bot() as bot:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("frobnicate_chat")
    assert telegram_api.unknown_methods == ["frobnicateChat"]
    assert telegram_api.calls("frobnicateChat")[0].status == 404
    telegram_api.strict = False  # else the fixture fails this test


def test_every_body_encoding_is_understood(telegram_api: FakeTelegram) -> None:
    api = f"{telegram_api.bot_base_url}{TOKEN}"
    form = httpx.post(f"{api}/sendMessage", data={"chat_id": "42", "text": "form"})
    as_json = httpx.post(
        f"{api}/sendmessage",  # method names are case-insensitive, as on Telegram
        json={"chat_id": 42, "text": "json", "link_preview_options": {"is_disabled": True}},
    )
    query = httpx.get(f"{api}/sendMessage", params={"chat_id": 42, "text": "query"})
    multipart = httpx.post(
        f"{api}/sendDocument",
        data={"chat_id": "42", "caption": "multipart"},
        files={"document": ("a.csv", b"a,b\r\n1,2\r\n", "text/csv")},
    )
    assert [r.status_code for r in (form, as_json, query, multipart)] == [200] * 4
    assert form.json()["ok"] is True and form.json()["result"]["text"] == "form"
    sent = telegram_api.sent(PRIVATE)
    assert [m.text for m in sent] == ["form", "json", "query", "multipart"]
    assert sent[1].disable_preview is True
    assert sent[3].file is not None and sent[3].file.content == b"a,b\r\n1,2\r\n"

    broken = httpx.post(
        f"{api}/sendMessage", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["ok"] is False
    missing = httpx.post(f"{api}/sendMessage", data={"text": "to nobody"})
    assert missing.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat_id is empty",
    }
    assert httpx.get(f"{telegram_api.url}/elsewhere").status_code == 404
    assert httpx.get(f"{telegram_api.url}/bot1:x/getMe").json()["error_code"] == 401


def test_wait_for_sent_blocks_until_sent_and_explains_a_timeout(telegram_api: FakeTelegram) -> None:
    api = f"{telegram_api.bot_base_url}{TOKEN}"

    def send_later() -> None:
        time.sleep(0.2)
        httpx.post(f"{api}/sendMessage", data={"chat_id": "7", "text": "late"})

    sender = threading.Thread(target=send_later)
    sender.start()
    assert [m.text for m in telegram_api.wait_for_sent(1, chat_id=7, timeout=5)] == ["late"]
    sender.join()
    with pytest.raises(AssertionError, match=r"expected 2 messages to 7 within 0.2s, 1 sent.*late"):
        telegram_api.wait_for_sent(2, chat_id=7, timeout=0.2)


def test_a_long_poll_wakes_as_soon_as_a_message_arrives(telegram_api: FakeTelegram) -> None:
    answers: list[dict[str, object]] = []
    url = f"{telegram_api.bot_base_url}{TOKEN}/getUpdates"
    poller = threading.Thread(
        target=lambda: answers.append(httpx.post(url, data={"timeout": "20"}, timeout=30).json())
    )
    poller.start()
    telegram_api.wait_for_call("getUpdates", timeout=5)
    started = time.monotonic()
    update_id = telegram_api.send_text(PRIVATE, "wake up")
    poller.join(timeout=5)
    assert time.monotonic() - started < 1
    (answer,) = answers
    assert answer["ok"] is True
    assert answer["result"] == telegram_api.pending_updates()
    assert telegram_api.wait_for_call("getUpdates", answered=True)[0].status == 200
    assert [u["update_id"] for u in telegram_api.pending_updates()] == [update_id]


def test_stop_is_prompt_during_a_long_poll() -> None:
    fake = FakeTelegram().start()
    answers: list[int] = []

    def poll() -> None:
        url = f"{fake.bot_base_url}{TOKEN}/getUpdates?timeout=30"
        try:
            answers.append(httpx.get(url, timeout=5).status_code)
        except httpx.HTTPError:
            answers.append(0)  # the connection was cut: as good as an answer

    poller = threading.Thread(target=poll)
    poller.start()
    assert fake.wait_for_call("getUpdates", timeout=5)[0].status is None  # held by the fake
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1
    poller.join(timeout=2)
    assert not poller.is_alive()
    assert answers == [200] or answers == [0]
    assert not [t for t in threading.enumerate() if "process_request" in t.name]


async def test_application_answers_commands_in_every_kind_of_chat(
    telegram_api: FakeTelegram,
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, update.effective_message
        assert chat is not None and message is not None
        await context.bot.send_message(chat.id, f"hello {chat.type} {' '.join(context.args or [])}")

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(telegram_api.bot_base_url)
        .base_file_url(telegram_api.file_base_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("start", start, filters=filters.UpdateType.CHANNEL_POSTS))
    telegram_api.send_text(PRIVATE, "/start")
    telegram_api.send_text(GROUP, "/start@other_bot", user_id=7, chat_type="supergroup")
    telegram_api.send_text(GROUP, f"/start@{BOT_USERNAME} belarus", user_id=7)
    telegram_api.send_text(CHANNEL, "/start", chat_type="channel")

    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        sent = await telegram_api.wait_for_sent_async(3, timeout=5)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    assert [(m.chat_id, m.text) for m in sent] == [
        (PRIVATE, "hello private "),
        (GROUP, "hello supergroup belarus"),
        (CHANNEL, "hello channel "),
    ]
    assert telegram_api.pending_updates() == []
    # the cleanup poll confirmed everything; the long poll PTB cancelled was answered to nobody
    statuses = [c.status for c in telegram_api.calls("getUpdates")]
    assert (len(statuses), statuses.count(200), statuses.count(499)) == (3, 2, 1)
    assert telegram_api.calls("deleteWebhook")
