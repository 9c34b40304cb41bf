"""/help and /start: what Dozor does, the commands, and examples to copy."""

from __future__ import annotations

from bot.commands.catalog import CATALOG, info, usage_text
from bot.commands.grammar import shorten
from bot.commands.parsed import Help
from bot.commands.replies import answer
from bot.commands.values import Reply

INTRO = (
    "Dozor watches news feeds and tells this chat, once, when an item mentions what you follow.\n"
    "Subscribe to a topic (a list of keyword lines) and its alerts come here instantly, or "
    "together in a digest.\n"
    "A keyword line is one thing and its spellings joined by |, like "
    "Lukashenko | Лукашенко. Matching ignores case and accents, works on whole words and "
    "across scripts; a trailing * matches the start of words (Беларус*). Commas separate "
    "lines: /add belarus Tsikhanouskaya | Ціханоўская, Belavia"
)
EXAMPLES = (
    "/topics",
    "/subscribe belarus",
    "/subscribe belarus digest daily 08:00",
    "/add belarus Tsikhanouskaya | Ціханоўская, Belavia",
    "/test Лукашенко встретился с послом",
    "/mute 2h",
)
RULES = (
    "Global topics and feeds are shared by every chat and cannot be changed from a chat: "
    "/add, /remove and /exclude change this chat's own copy of a topic's keywords, and "
    "/new and /addfeed make topics and feeds of this chat's own. In groups only "
    "administrators change settings, unless an admin allows everyone with /permissions everyone."
)


def help_text(cmd: Help) -> Reply:
    if cmd.command:
        try:
            entry = info(cmd.command)
        except KeyError:
            return answer(f"There is no command /{shorten(cmd.command)}. Try /help.")
        return answer(f"/{entry.name}: {entry.summary}.\n{usage_text(entry.name)}")
    commands = "\n".join(f"{entry.usage}: {entry.summary}" for entry in CATALOG)
    examples = "\n".join(EXAMPLES)
    return answer(
        f"{INTRO}\n\nCommands:\n{commands}\n\nExamples:\n{examples}\n\n{RULES}\n"
        "/help <command> tells more about one command."
    )
