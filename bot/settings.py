"""Settings from the environment (and a `.env` file): the table in DESIGN §3, validated once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.timespec import TimeSpecError, parse_duration

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class SettingsError(ValueError):
    """An environment variable holds something Dozor cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    config: Path = Path("feeds.yaml")
    redis_url: str | None = None
    db_path: Path = Path("dozor.db")
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_url: str | None = None
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    http_port: int = 8080
    allow_private_networks: bool = False
    admins: frozenset[str] = frozenset()
    story_distance: int = 10  # SimHash bits two items of one story may differ in
    story_window: float = 48 * 3600.0  # how long a story stays open to more outlets
    outbox_lease: float = 30.0  # how long a dead replica's claimed alerts wait to go again
    fetch_timeout: float = 60.0  # one fetch, redirects included, from connect to last byte

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read the DOZOR_*, REDIS_URL, TELEGRAM_* and SLACK_* variables; blanks mean unset."""

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        port_text = get("DOZOR_HTTP_PORT") or "8080"
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise SettingsError(f"DOZOR_HTTP_PORT={port_text!r} is not a port number (0-65535)")
        private = (get("DOZOR_ALLOW_PRIVATE_NETWORKS") or "").lower()
        if private not in _TRUE | _FALSE:
            raise SettingsError(f"DOZOR_ALLOW_PRIVATE_NETWORKS={private!r}: use 1 or 0")
        admins = frozenset((get("DOZOR_ADMINS") or "").replace(",", " ").split())
        for admin in admins:
            platform, _, user = admin.partition(":")
            if platform not in ("telegram", "slack") or not user:
                raise SettingsError(
                    f"DOZOR_ADMINS: {admin!r} is not a user id like telegram:123 or slack:U123"
                )
        slack_token, app_token = get("SLACK_BOT_TOKEN"), get("SLACK_APP_TOKEN")
        if slack_token and not (app_token or get("SLACK_SIGNING_SECRET")):
            raise SettingsError(
                "SLACK_BOT_TOKEN is set but Slack cannot reach Dozor: set SLACK_APP_TOKEN "
                "(Socket Mode, no public URL) or SLACK_SIGNING_SECRET (HTTP mode, /slack/events)"
            )
        if app_token and not app_token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN is an app-level token and starts with xapp-")
        if slack_token and not slack_token.startswith("xoxb-"):
            raise SettingsError("SLACK_BOT_TOKEN is the bot token and starts with xoxb-")
        distance = get("DOZOR_STORY_DISTANCE") or "10"
        if not distance.isdigit() or not 0 <= int(distance) <= 31:
            raise SettingsError(f"DOZOR_STORY_DISTANCE={distance!r}: a number of bits, 0-31")
        window = _duration(get, "DOZOR_STORY_WINDOW", "48h")
        lease = _duration(get, "DOZOR_OUTBOX_LEASE", "30s", (3, 3600, "3s and 1h"))
        fetch_timeout = _duration(get, "DOZOR_FETCH_TIMEOUT", "60s", (1, 600, "1s and 10m"))
        return cls(
            config=Path(get("DOZOR_CONFIG") or "feeds.yaml"),
            redis_url=get("REDIS_URL"),
            db_path=Path(get("DOZOR_DB") or "dozor.db"),
            telegram_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_api_url=get("TELEGRAM_API_URL") or "https://api.telegram.org",
            telegram_webhook_url=get("TELEGRAM_WEBHOOK_URL"),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_api_url=get("SLACK_API_URL") or "https://slack.com/api/",
            http_port=int(port_text),
            allow_private_networks=private in _TRUE,
            admins=admins,
            story_distance=int(distance),
            story_window=window,
            outbox_lease=lease,
            fetch_timeout=fetch_timeout,
        )


def _duration(
    get: Callable[[str], str | None],
    name: str,
    default: str,
    bounds: tuple[float, float, str] | None = None,
) -> float:
    """A duration setting ("30s", "2m", "48h") in seconds, within `bounds` (low, high, said)."""
    try:
        seconds = parse_duration(get(name) or default)
    except TimeSpecError as exc:
        raise SettingsError(f"{name}: {exc}") from None
    if bounds is not None and not bounds[0] <= seconds <= bounds[1]:
        raise SettingsError(f"{name}: between {bounds[2]}")
    return seconds
