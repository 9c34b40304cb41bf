"""The console channel: alerts on stdout, coloured on a terminal, JSON lines with --json."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from rich.console import Console
from rich.style import Style
from rich.text import Text

from bot.digest import Digest, console_digest
from bot.models import Alert
from bot.render import terminal_safe, view


class ConsoleChannel:
    """Prints each alert; accepting an alert means it was written and flushed."""

    def __init__(self, *, as_json: bool = False, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._json = as_json
        self._console = Console(file=self._stream, highlight=False, soft_wrap=True)

    async def send(self, alert: Alert) -> None:
        """Printed lines cannot be edited: no reference is returned."""
        if alert.kind == "digest":
            self._digest(alert)
            return
        if self._json:
            self._stream.write(json.dumps(alert.contract(), ensure_ascii=False) + "\n")
            self._stream.flush()
            return
        self._console.print(styled(alert))
        self._stream.flush()

    def _digest(self, alert: Alert) -> None:
        digest = Digest.from_dict(json.loads(alert.payload))
        if self._json:
            line = {
                "kind": "digest",
                "topic": digest.topic,
                "to": digest.to,
                "start": digest.start.isoformat(),
                "end": digest.end.isoformat(),
                "stories": len(digest.stories),
                "text": console_digest(digest),
            }
            self._stream.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            self._console.print(Text(terminal_safe(console_digest(digest))))
        self._stream.flush()


def styled(alert: Alert) -> Text:
    """The alert as rich Text built from parts: feed text is never read as markup."""
    v = view(alert)
    text = Text()
    text.append(f"[{terminal_safe(v.topic)}] ", style="bold cyan")
    text.append(terminal_safe(v.title), style="bold")
    text.append("\n  ")
    text.append(terminal_safe(v.source), style="magenta")
    if v.when:
        text.append(f" · {v.when}", style="dim")
    text.append(" · matched: ", style="dim")
    text.append(", ".join(terminal_safe(m) for m in v.matched), style="yellow")
    if v.url:
        text.append("\n  ")
        text.append(terminal_safe(v.url), style=Style(underline=True, color="blue", link=v.url))
    if v.excerpt:
        text.append("\n  " + terminal_safe(v.excerpt))
    return text
