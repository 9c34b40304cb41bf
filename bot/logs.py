"""Structured logs: one event per line with its context (feed, to), as text or JSON, no tokens."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Literal

CONTEXT_FIELDS = ("feed", "to", "chat", "entry")
# Telegram bot tokens (123456:AA…), Slack tokens (xoxb-, xapp-…), and URL passwords.
_SECRETS = re.compile(
    r"(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}"  # a Telegram token, also inside /bot<token>/
    r"|x(?:ox[abposr]|app)-[A-Za-z0-9-]{8,}"
    r"|(?<=://)[^/\s:@]*:[^/\s@]+(?=@)"
)


def redact(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


class PlainError(Exception):
    """An operational failure whose message says all there is (Redis unreachable, a disk
    full): logged as its one line, without a traceback, wherever it is logged."""


def _exception_text(formatter: logging.Formatter, exc_info: object) -> str:
    if isinstance(exc_info, tuple) and isinstance(exc_info[1], PlainError):
        return f"{type(exc_info[1]).__name__}: {exc_info[1]}"
    return formatter.formatException(exc_info)  # type: ignore[arg-type]


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        )
        when = self.formatTime(record, "%H:%M:%S")
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if context:
            line += f" [{context}]"
        if record.exc_info:
            line += "\n" + _exception_text(self, record.exc_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        event.update(
            (name, getattr(record, name)) for name in CONTEXT_FIELDS if hasattr(record, name)
        )
        if record.exc_info:
            event["exception"] = _exception_text(self, record.exc_info)
        return redact(json.dumps(event, ensure_ascii=False, default=str))


def configure(level: int = logging.INFO, fmt: Literal["text", "json"] = "text") -> None:
    """Logs go to stderr (stdout is for alerts and --json lines)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler warns each time a slow poll makes it skip that feed's next turn; the poller
    # says what matters about a slow feed itself (its timeout, its backoff)
    logging.getLogger("apscheduler").setLevel(max(level, logging.ERROR))
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
