"""Thousands of random, hostile command strings against `Commands.handle` on a real SQLite store:
every one must get a non-empty plain reply, quickly, and none may reach the "something went
wrong" apology (that would be a bug caught by the safety net, not handled).

DOZOR_FUZZ_EXAMPLES sets how many (10,000 by default, about 20 s).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import Attachment, Caller, ChatKind, Commands, Limits
from bot.commands.catalog import ALIASES, CATALOG
from bot.commands.replies import APOLOGY, STORAGE_DOWN
from bot.fetch import Fetcher
from bot.store import Store, open_store
from tests.test_commands_support import NOW, loader, make_config

EXAMPLES = int(os.environ.get("DOZOR_FUZZ_EXAMPLES", "10000"))
NAMES = [f"/{entry.name}" for entry in CATALOG] + [f"/{alias}" for alias in ALIASES]
HEADS = [*NAMES, *(n[1:] for n in NAMES), "/subscribe@dozor_bot", "/x", "/", "", "@", "//add"]
TOKENS = [
    "belarus",
    "ukraine",
    "coffee",
    "Belarus",
    "1",
    "2",
    "0",
    "99",
    "#1",
    "-1",
    "|",
    ",",
    "*",
    '"',
    "'",
    "«",
    "<b>",
    "</script>",
    "$(rm -rf /)",
    "; ls",
    "&&",
    "`id`",
    "%s",
    "{0}",
    "\\",
    "instant",
    "digest",
    "both",
    "hourly",
    "daily",
    "weekly",
    "mon",
    "09:00",
    "25:99",
    "Europe/Minsk",
    "europe/minsk",
    "Europe",
    "../etc/passwd",
    "on",
    "off",
    "2h",
    "30d",
    "1e9d",
    "everyone",
    "admins",
    "http://127.0.0.1/x",
    "https://example.org/world/rss.xml",
    "<https://a.example/rss|a>",
    "ftp://x",
    "javascript:alert(1)",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\u200b",
    "\n",
    "\r\n",
    "\t",
    "topics:",
    "subscriptions:",
    "- topic: belarus",
    "  keywords: [a]",
    "&a",
    "*a",
    "{",
    "[",
    "]",
    "}",
    "!!python/object",
    "<?xml",
    "<opml>",
    "<outline xmlUrl='http://a.example/'/>",
    "Лукашенко",
    "Ціханоўская",
    "Łukaszenka",
    "🙂",
    "x" * 101,
    "a|b|c",
    "Беларус*",
    "@channel",
    "<!here>",
]
separators = st.sampled_from([" ", "  ", ",", ", ", "\n", "|", ""])
topics = st.sampled_from(["belarus", "ukraine", "coffee", "tea", "Belarus", "x" * 41])
words = st.lists(
    st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), min_size=1, max_size=5
).map(" ".join)
keyword_lines = st.lists(words, min_size=1, max_size=4).map(", ".join)
schedules = st.sampled_from(
    ["hourly", "daily 09:00", "weekly mon 07:30 America/New_York", "daily 9", "weekly x 09:00"]
)
plausible = st.one_of(
    st.builds("/subscribe {} {}".format, topics, st.sampled_from(["", "digest", "both", "x"])),
    st.builds("/subscribe {} digest {}".format, topics, schedules),
    st.builds("/unsubscribe {}".format, topics),
    st.builds("/add {} {}".format, topics, keyword_lines),
    st.builds("/exclude {} {}".format, topics, keyword_lines),
    st.builds("/new {} {}".format, topics, keyword_lines),
    st.builds("/remove {} {}".format, topics, st.one_of(st.sampled_from(["1", "2", "9"]), words)),
    st.builds("/keywords {}".format, topics),
    st.builds("/previews {} {}".format, topics, st.sampled_from(["on", "off", "maybe"])),
    st.builds("/digest {} {}".format, topics, schedules),
    st.builds("/mute {}".format, st.sampled_from(["2h", "off", "45 minutes", "31d", "-1h"])),
    st.builds("/timezone {}".format, st.sampled_from(["Europe/Minsk", "asia/tokyo", "Mars/X"])),
    st.builds("/test {}".format, words),
    st.builds("/removefeed {}".format, st.sampled_from(["1", "2", "https://x.example/rss"])),
    st.sampled_from(
        [
            "/list",
            "/status",
            "/export",
            "/topics",
            "/feeds",
            "/help",
            "/permissions everyone",
            "/permissions admins",
            "/import",
            "/addfeed https://x.example/rss",
        ]
    ),
)
messages = st.one_of(
    plausible,
    plausible,
    st.builds(
        lambda head, parts, sep: head + " " + sep.join(parts),
        st.sampled_from(HEADS),
        st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=20)), max_size=8),
        separators,
    ),
    st.text(max_size=200),
    st.builds(lambda head, junk: f"{head} {junk}", st.sampled_from(HEADS), st.text(max_size=300)),
)
attachments = st.one_of(
    st.none(),
    st.builds(
        Attachment,
        st.sampled_from(["x.yaml", "x.opml", "x.txt", "", "../../x"]),
        st.one_of(
            st.binary(max_size=300),
            st.sampled_from(
                [
                    b"subscriptions:\n  - topic: belarus\n    mode: digest\n",
                    b"topics:\n  tea: {keywords: [tea, chai | \xd1\x87\xd0\xb0\xd0\xb9]}\n",
                    b"<opml><body><outline xmlUrl='https://x.example/rss'/></body></opml>",
                    b"a: &a [1]\nb: [*a, *a]\n",
                ]
            ),
        ),
        st.sampled_from(["application/yaml", "text/x-opml", "", "too-large"]),
    ),
)
kinds: st.SearchStrategy[ChatKind] = st.sampled_from(["private", "group", "channel"])


async def _loopback(host: str, port: int) -> list[str]:
    """Every host resolves to loopback, which the guarded fetcher refuses: no DNS, no traffic."""
    return ["127.0.0.1"]


def test_random_commands_always_get_a_plain_reply(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        store: Store = runner.run(open_store(None, str(tmp_path / "fuzz.db")))
        fetcher = Fetcher(allow_private=False, resolver=_loopback, total_timeout=2)
        commands = Commands(
            store=store,
            config=make_config(),
            admins=frozenset({"telegram:999"}),
            load_feed=loader(fetcher),
            clock=lambda: NOW,
            limits=Limits(topics=5, lines=20, feeds=3),
        )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            database=None,
        )
        @given(
            text=messages,
            kind=kinds,
            admin=st.booleans(),
            chat=st.sampled_from(["telegram:1", "telegram:-100555", "slack:C0123456"]),
            attachment=attachments,
        )
        def check(
            text: str, kind: ChatKind, admin: bool, chat: str, attachment: Attachment | None
        ) -> None:
            async def is_admin() -> bool:
                return admin

            caller = Caller(chat=chat, user="telegram:42", kind=kind, is_chat_admin=is_admin)
            started = time.perf_counter()
            reply = runner.run(commands.handle(text, caller, attachment))
            assert time.perf_counter() - started < 2.0, text
            assert reply.text.strip(), text
            assert reply.text not in (APOLOGY, STORAGE_DOWN), text
            assert all(isinstance(a, Attachment) for a in reply.attachments)

        try:
            check()
        finally:
            runner.run(fetcher.aclose())
            runner.run(store.close())
