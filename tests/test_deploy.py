"""docker-compose.yml and Dockerfile, checked by reading them (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DESIGN_VARIABLES = [
    "DOZOR_CONFIG",
    "REDIS_URL",
    "DOZOR_DB",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "DOZOR_HTTP_PORT",
    "DOZOR_ALLOW_PRIVATE_NETWORKS",
    "DOZOR_ADMINS",
]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def test_redis_persists_with_aof_on_a_named_volume_and_is_health_checked() -> None:
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in compose()["volumes"]
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_bot_waits_for_healthy_redis_and_reads_secrets_from_env_file() -> None:
    bot = compose()["services"]["dozor"]
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert bot["environment"]["REDIS_URL"].startswith("redis://redis:6379")
    assert any(entry["path"] == ".env" for entry in bot["env_file"])
    assert bot["build"] == "."
    for value in bot["environment"].values():
        assert "TOKEN" not in str(value) and "SECRET" not in str(value)


def test_dockerfile_is_slim_multi_stage_and_non_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(stages) == 2 and all(s.endswith("-slim") or " AS " in s for s in stages)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["dozor"\]', text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.MULTILINE)


def test_env_example_lists_every_design_variable() -> None:
    text = (REPO / ".env.example").read_text()
    for name in DESIGN_VARIABLES:
        assert re.search(rf"^#? ?{name}=", text, re.MULTILINE), name


def test_readme_documents_every_chat_command_and_variable() -> None:
    from bot.commands.catalog import CATALOG

    readme = (REPO / "README.md").read_text()
    for command in CATALOG:
        assert f"`/{command.name}" in readme, command.name
    env = (REPO / ".env.example").read_text()
    for name in re.findall(r"^# ?([A-Z_]+)=", env, re.MULTILINE):
        assert f"`{name}`" in readme, name


def test_slack_manifest_creates_the_command_and_the_scopes_dozor_uses() -> None:
    from handlers.slack import COMMAND, EVENTS_PATH

    manifest = yaml.safe_load((REPO / "slack-manifest.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND and command["url"].endswith(EVENTS_PATH)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "users:read"} <= scopes
    assert manifest["settings"]["socket_mode_enabled"] is True
