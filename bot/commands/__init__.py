"""The chat command language, platform-neutral: parse -> execute -> reply.

The Telegram and Slack front ends build one `Commands` and call `handle(text, caller,
attachment)` for each message, and `menu()` for their command lists. Parsing is pure
(`grammar.parse_command`); each concept's commands live in their own module.
"""

from __future__ import annotations

from bot.commands.handle import Commands
from bot.commands.values import Attachment, Caller, ChatKind, Limits, Reply

__all__ = ["Attachment", "Caller", "ChatKind", "Commands", "Limits", "Reply"]
