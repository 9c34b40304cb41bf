from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_match_design() -> None:
    s = Settings.from_env({})
    assert s.config == Path("feeds.yaml") and s.redis_url is None and s.db_path == Path("dozor.db")
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.slack_api_url == "https://slack.com/api/"
    assert (s.http_port, s.allow_private_networks, s.admins) == (8080, False, frozenset())
    assert (s.outbox_lease, s.fetch_timeout) == (30.0, 60.0)


def test_values_are_read_and_secrets_stay_out_of_repr() -> None:
    s = Settings.from_env(
        {
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "TELEGRAM_BOT_TOKEN": "123456:secret-token-value",
            "DOZOR_ALLOW_PRIVATE_NETWORKS": "1",
            "DOZOR_ADMINS": "telegram:1, slack:U2",
            "DOZOR_HTTP_PORT": "9000",
            "DOZOR_OUTBOX_LEASE": "2m",
            "DOZOR_FETCH_TIMEOUT": "15s",
        }
    )
    assert (s.outbox_lease, s.fetch_timeout) == (120.0, 15.0)
    assert (
        s.allow_private_networks and s.admins == {"telegram:1", "slack:U2"} and s.http_port == 9000
    )
    assert "secret-token-value" not in repr(s)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOZOR_HTTP_PORT": "http"}, "DOZOR_HTTP_PORT"),
        ({"DOZOR_ALLOW_PRIVATE_NETWORKS": "maybe"}, "use 1 or 0"),
        ({"DOZOR_ADMINS": "root"}, "not a user id"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "set SLACK_APP_TOKEN .* or SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "starts with xapp-"),
        ({"SLACK_BOT_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s"}, "starts with xoxb-"),
        ({"DOZOR_OUTBOX_LEASE": "1s"}, "DOZOR_OUTBOX_LEASE: between 3s and 1h"),
        ({"DOZOR_OUTBOX_LEASE": "soon"}, "DOZOR_OUTBOX_LEASE"),
        ({"DOZOR_FETCH_TIMEOUT": "1h"}, "DOZOR_FETCH_TIMEOUT: between 1s and 10m"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


# --- quiet hours and digest times (bot.timespec) --------------------------------------------
def _at(text: str, zone: str = "Europe/Minsk") -> float:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_quiet_hours_across_midnight_end_at_the_local_morning() -> None:
    from bot.timespec import quiet_until

    window = "22:00-07:00"
    assert quiet_until(window, "Europe/Minsk", _at("2025-09-12T21:59")) is None
    assert quiet_until(window, "Europe/Minsk", _at("2025-09-12T22:00")) == _at("2025-09-13T07:00")
    assert quiet_until(window, "Europe/Minsk", _at("2025-09-13T03:10")) == _at("2025-09-13T07:00")
    assert quiet_until(window, "Europe/Minsk", _at("2025-09-13T07:00")) is None
    assert quiet_until("12:00-13:00", "Europe/Minsk", _at("2025-09-13T12:30")) == _at(
        "2025-09-13T13:00"
    )
    assert quiet_until("garbage", "Europe/Minsk", _at("2025-09-13T12:30")) is None


def test_quiet_hours_over_a_dst_change_end_at_the_local_time() -> None:
    from bot.timespec import quiet_until

    # Warsaw leaves summer time at 03:00 on 2025-10-26: that night is 25 hours long
    start = _at("2025-10-25T23:00", "Europe/Warsaw")
    assert quiet_until("22:00-07:00", "Europe/Warsaw", start) == _at(
        "2025-10-26T07:00", "Europe/Warsaw"
    )
    assert _at("2025-10-26T07:00", "Europe/Warsaw") - start == 9 * 3600


@pytest.mark.parametrize("text", ["22:00", "22:00-22:00", "25:00-07:00", "late-early"])
def test_bad_quiet_hours_are_explained(text: str) -> None:
    from bot.timespec import TimeSpecError, parse_quiet_hours

    with pytest.raises(TimeSpecError):
        parse_quiet_hours(text)


def test_previous_and_next_digest_bracket_now() -> None:
    from bot.commands.schedules import next_digest
    from bot.timespec import parse_digest_schedule, previous_digest

    daily = parse_digest_schedule("daily 09:00 Europe/Minsk")
    now = _at("2025-09-12T10:30")
    assert previous_digest(daily, now) == _at("2025-09-12T09:00")
    assert next_digest(daily, now) == _at("2025-09-13T09:00")
    weekly = parse_digest_schedule("weekly mon 09:00 Europe/Minsk")  # 2025-09-12 is a Friday
    assert previous_digest(weekly, now) == _at("2025-09-08T09:00")
    hourly = parse_digest_schedule("hourly")
    assert previous_digest(hourly, now) == (now // 3600) * 3600
    assert previous_digest(daily, _at("2025-09-12T09:00")) == _at("2025-09-12T09:00")


@pytest.mark.parametrize(
    "line",
    [
        "HTTP Request: POST http://127.0.0.1:8081/bot123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz/getMe",
        "Authorization: Bearer xoxb-1-dozor-test-token",
        "app token xapp-1-A0-1234567890-abcdef",
        "redis://user:s3cret@127.0.0.1:6379/0",
    ],
)
def test_logs_never_carry_a_token(line: str) -> None:
    from bot.logs import redact

    shown = redact(line)
    assert "[redacted]" in shown
    for secret in ("TEST-TOKEN", "xoxb-1", "xapp-1", "s3cret"):
        assert secret not in shown
