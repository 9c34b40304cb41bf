"""`Commands`: the one object the Telegram and Slack front ends talk to.

It parses (pure, `grammar`), checks who may change what, runs the command against the store,
and turns every failure into a short plain-text reply: `handle` never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.commands import feeds, keywords, porting, settings, status, subscriptions
from bot.commands.catalog import CATALOG
from bot.commands.context import Context
from bot.commands.grammar import MAX_TEXT, parse_command
from bot.commands.help import help_text
from bot.commands.parsed import (
    AddFeed,
    AddKeywords,
    Command,
    Digest,
    DigestNow,
    Exclude,
    Export,
    Feeds,
    Help,
    Import,
    Keywords,
    ListSubscriptions,
    Malformed,
    MatchTest,
    Mute,
    NewTopic,
    Permissions,
    Previews,
    Quiet,
    RemoveFeed,
    RemoveKeywords,
    ShowPermissions,
    ShowQuiet,
    ShowTimezone,
    Status,
    Subscribe,
    Timezone,
    TooLong,
    Topics,
    Trend,
    Unknown,
    Unsubscribe,
)
from bot.commands.replies import APOLOGY, ONLY_ADMINS, STORAGE_DOWN, answer, malformed
from bot.commands.values import DEFAULT_LIMITS, Attachment, Caller, Limits, Reply, Summaries
from bot.config import Config
from bot.parse import ParsedFeed
from bot.store import Store, StoreError

log = logging.getLogger("dozor.commands")


class Commands:
    """The chat command language, platform-neutral: text in, plain-text Reply out."""

    def __init__(
        self,
        *,
        store: Store,
        config: Config,
        admins: frozenset[str],
        load_feed: Callable[[str], Awaitable[ParsedFeed]],
        clock: Callable[[], float],
        limits: Limits = DEFAULT_LIMITS,
        on_change: Callable[[], None] | None = None,
        summaries: Summaries | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._admins = admins
        self._load_feed = load_feed
        self._clock = clock
        self._limits = limits
        self._on_change = on_change
        self.summaries = summaries  # set by the service once it is built

    def menu(self) -> list[tuple[str, str]]:
        """(command, short description) for Telegram's setMyCommands and Slack's help."""
        return [(entry.name, entry.summary) for entry in CATALOG]

    async def handle(
        self, text: str, caller: Caller, attachment: Attachment | None = None
    ) -> Reply:
        """Answer one message. Never raises; never answers with an empty text."""
        try:
            command = parse_command(
                text, max_chars=self._limits.chars, max_lines=self._limits.lines
            )
            reply = await self._answer(command, caller, attachment)
        except StoreError:
            log.exception("store failed during a command", extra={"to": caller.chat})
            return Reply(STORAGE_DOWN)
        except Exception:
            log.exception("command failed", extra={"to": caller.chat})
            return Reply(APOLOGY)
        if reply.changed:
            log.info("%s changed settings", type(command).__name__, extra={"to": caller.chat})
            await self._after_change(caller)
        return reply if reply.text.strip() else replace(reply, text="Done.")

    async def _answer(
        self, command: Command, caller: Caller, attachment: Attachment | None
    ) -> Reply:
        match command:
            case TooLong(length=length):
                return answer(
                    f"That message is too long ({length:,} characters): Dozor reads at most "
                    f"{MAX_TEXT:,}. To import a big file, attach it to /import."
                )
            case Unknown(name=name, suggestion=suggestion):
                hint = f" Did you mean /{suggestion}?" if suggestion else ""
                return answer(f"Unknown command /{name}.{hint} Try /help.")
            case Malformed(name=name, reason=reason):
                return malformed(name, reason)
            case Help():
                return help_text(command)
        if command.edits:
            refusal = await self._refusal(command, caller)
            if refusal is not None:
                return refusal
        ctx = Context(
            store=self._store,
            config=self._config,
            caller=caller,
            limits=self._limits,
            now=self._clock(),
            load_feed=self._load_feed,
            summaries=self.summaries,
        )
        return await _run(command, ctx, attachment)

    async def _refusal(self, command: Command, caller: Caller) -> Reply | None:
        """None when the caller may change this chat's settings, else the reply saying no.

        Private chats belong to their user; channel posts come from the channel's admins;
        DOZOR_ADMINS may do anything anywhere; /permissions itself is for admins only.
        """
        if caller.kind in ("private", "channel"):
            return None
        if caller.user is not None and caller.user in self._admins:
            return None
        if not isinstance(command, Permissions):
            chat = await self._store.chat(caller.chat)
            if chat.anyone_can_edit:
                return None
        try:
            admin = await caller.is_chat_admin()
        except Exception:
            log.exception(
                "could not ask whether the caller is a chat admin", extra={"to": caller.chat}
            )
            return answer(
                "Dozor could not check whether you are an administrator of this chat; nothing "
                "was changed. Try again in a minute."
            )
        if admin:
            return None
        if isinstance(command, Permissions):
            return answer("Only this chat's administrators can change who may edit its settings.")
        return answer(ONLY_ADMINS)

    async def _after_change(self, caller: Caller) -> None:
        """Remember who first changed the chat (Slack's ownership rule), then tell the app."""
        try:
            chat = await self._store.chat(caller.chat)
            if chat.owner is None and caller.user is not None:
                await self._store.save_chat(replace(chat, owner=caller.user))
        except StoreError:
            log.exception("could not record the chat's owner", extra={"to": caller.chat})
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:
                log.exception("on_change failed", extra={"to": caller.chat})


async def _run(command: Command, ctx: Context, attachment: Attachment | None) -> Reply:
    """Execute a well-formed command; each concept's module does its own."""
    match command:
        case Topics():
            return await subscriptions.show_topics(ctx)
        case Subscribe():
            return await subscriptions.subscribe(command, ctx)
        case Unsubscribe():
            return await subscriptions.unsubscribe(command, ctx)
        case ListSubscriptions():
            return await subscriptions.list_subscriptions(ctx)
        case NewTopic():
            return await subscriptions.new_topic(command, ctx)
        case Keywords():
            return await keywords.show_keywords(command, ctx)
        case AddKeywords():
            return await keywords.add_keywords(command, ctx)
        case RemoveKeywords():
            return await keywords.remove_keywords(command, ctx)
        case Exclude():
            return await keywords.exclude_keywords(command, ctx)
        case MatchTest():
            return await keywords.test_text(command, ctx)
        case Feeds():
            return await feeds.show_feeds(ctx)
        case AddFeed():
            return await feeds.add_feed(command, ctx)
        case RemoveFeed():
            return await feeds.remove_feed(command, ctx)
        case Mute():
            return await settings.mute(command, ctx)
        case Timezone():
            return await settings.timezone(command, ctx)
        case ShowTimezone():
            return await settings.show_timezone(ctx)
        case Previews():
            return await settings.previews(command, ctx)
        case Digest():
            return await settings.digest(command, ctx)
        case DigestNow():
            return await settings.digest_now(command, ctx)
        case Quiet():
            return await settings.quiet(command, ctx)
        case ShowQuiet():
            return await settings.show_quiet(ctx)
        case Trend():
            return await settings.trend(command, ctx)
        case Permissions():
            return await settings.permissions(command, ctx)
        case ShowPermissions():
            return await settings.show_permissions(ctx)
        case Status():
            return await status.status(ctx)
        case Export():
            return await porting.export(ctx)
        case Import():
            return await porting.import_file(command, ctx, attachment)
    raise TypeError(f"no handler for {type(command).__name__}")
