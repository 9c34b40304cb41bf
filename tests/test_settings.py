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


def test_values_are_read_and_secrets_stay_out_of_repr() -> None:
    s = Settings.from_env(
        {
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "TELEGRAM_BOT_TOKEN": "123456:secret-token-value",
            "DOZOR_ALLOW_PRIVATE_NETWORKS": "1",
            "DOZOR_ADMINS": "telegram:1, slack:U2",
            "DOZOR_HTTP_PORT": "9000",
        }
    )
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
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
