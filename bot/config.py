"""feeds.yaml: default feeds, topics and static subscriptions, validated with `file:line` errors.

YAML is composed once into nodes (for line numbers and duplicate keys), turned into plain data,
validated by pydantic models, then converted into the frozen values of `bot.models`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.match import KeywordError, parse_keyword_line
from bot.models import CONSOLE, Feed, KeywordLine, Subscription, Topic
from bot.timespec import TimeSpecError, parse_digest_schedule, parse_duration

TOPIC_NAME = re.compile(r"^[\w-]{1,40}$")
DESTINATION = re.compile(r"^(console|telegram:-?\d{1,20}|telegram:@\w{4,64}|slack:[A-Z0-9]{6,20})$")
DEFAULT_DIGEST = "daily 09:00 UTC"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    """feeds.yaml cannot be used; `problems` holds every `file:line: what is wrong`."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    feeds: tuple[Feed, ...]
    topics: tuple[Topic, ...]
    subscriptions: tuple[Subscription, ...]
    warnings: tuple[Problem, ...] = ()


# --- schema ---------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            f"{value!r} is not a duration: write it with a unit, like 30s, 5m, 1h or 2d"
        )
    try:
        return parse_duration(value)
    except TimeSpecError as exc:
        raise ValueError(str(exc)) from None


class _Defaults(_Strict):
    interval: str = "5m"
    backfill: int = Field(default=0, ge=0, le=1000)
    dedup_days: int = Field(default=30, ge=1, le=3650)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        _duration(value)
        return value


class _Feed(_Strict):
    url: str
    name: str | None = Field(default=None, min_length=1, max_length=200)
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    tags: tuple[str, ...] = ()
    interval: str | None = None
    backfill: int | None = Field(default=None, ge=0, le=1000)
    dedup_days: int | None = Field(default=None, ge=1, le=3650)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not a feed URL: it must start with http:// or https://")
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            _duration(value)
        return value


def _keyword_line(line: str) -> str:
    try:
        parse_keyword_line(line)
    except KeywordError as exc:
        raise ValueError(str(exc)) from None
    return line


_KeywordText = Annotated[str, AfterValidator(_keyword_line)]


class _Topic(_Strict):
    keywords: tuple[_KeywordText, ...] = Field(min_length=1)
    exclude: tuple[_KeywordText, ...] = ()


class _Subscription(_Strict):
    topic: str
    to: str
    mode: Literal["instant", "digest", "both"] = "instant"
    digest: str | None = None

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        if not DESTINATION.match(value):
            raise ValueError(
                f"{value!r} is not a destination: use console, telegram:<chat_id> or "
                "slack:<channel_id> (like telegram:-1001234567890 or slack:C0123456789)"
            )
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_digest_schedule(value)
            except TimeSpecError as exc:
                raise ValueError(str(exc)) from None
        return value


class _File(_Strict):
    defaults: _Defaults = _Defaults()
    feeds: tuple[_Feed, ...] = ()
    topics: dict[str, _Topic] = {}
    subscriptions: tuple[_Subscription, ...] = ()


# --- loading --------------------------------------------------------------------------------


def load_config(path: Path) -> Config:
    """Read and validate feeds.yaml; raise ConfigError naming every problem with its line."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, 0, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, 0, f"cannot read: {exc}")]) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    name = str(path)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError([Problem(name, line, f"YAML error: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, 0, f"YAML error: {exc}")]) from None
    if root is None:
        raise ConfigError([Problem(name, 1, "the file is empty: it needs feeds and topics")])
    problems = [Problem(name, line, msg) for line, msg in _duplicate_keys(root)]
    if not isinstance(root, yaml.MappingNode):
        problems.append(Problem(name, root.start_mark.line + 1, "the top level must be a mapping"))
    if problems:
        raise ConfigError(problems)
    try:
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, root.start_mark.line + 1, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    try:
        model = _File.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            [Problem(name, _line_of(root, err["loc"]), _message(err)) for err in exc.errors()]
        ) from None
    return _build(model, root, path)


def _build(model: _File, root: yaml.Node, path: Path) -> Config:
    name = str(path)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    default_interval = parse_duration(model.defaults.interval)
    feeds: list[Feed] = []
    seen_urls: dict[str, int] = {}
    for index, spec in enumerate(model.feeds):
        line = _line_of(root, ("feeds", index))
        if spec.url in seen_urls:
            problems.append(
                Problem(
                    name,
                    line,
                    f"feed {spec.url} is listed twice (first on line {seen_urls[spec.url]})",
                )
            )
            continue
        seen_urls[spec.url] = line
        interval = parse_duration(spec.interval) if spec.interval else default_interval
        if interval < 60:
            warnings.append(
                Problem(name, line, f"interval under a minute ({interval:g}s) for {spec.url}")
            )
        feeds.append(
            Feed(
                url=spec.url,
                name=spec.name or spec.url,
                lang=spec.lang,
                tags=spec.tags,
                interval=interval,
                backfill=model.defaults.backfill if spec.backfill is None else spec.backfill,
                dedup_days=model.defaults.dedup_days
                if spec.dedup_days is None
                else spec.dedup_days,
            )
        )
    topics: list[Topic] = []
    for topic_name, spec_topic in model.topics.items():
        if not TOPIC_NAME.match(topic_name):
            problems.append(
                Problem(
                    name,
                    _line_of(root, ("topics", topic_name)),
                    f"topic name {topic_name!r}: use letters, digits, - or _ (at most 40)",
                )
            )
            continue
        topics.append(
            Topic(
                name=topic_name,
                keywords=_lines(spec_topic.keywords),
                exclude=_lines(spec_topic.exclude),
            )
        )
    by_name = {t.name: t for t in topics}
    subs: list[Subscription] = []
    seen_subs: set[tuple[str, str]] = set()
    for index, spec_sub in enumerate(model.subscriptions):
        line = _line_of(root, ("subscriptions", index))
        topic = by_name.get(spec_sub.topic)
        if topic is None:
            known = ", ".join(sorted(by_name)) or "none defined"
            problems.append(
                Problem(name, line, f"unknown topic {spec_sub.topic!r} (topics: {known})")
            )
            continue
        if (spec_sub.to, spec_sub.topic) in seen_subs:
            problems.append(
                Problem(name, line, f"{spec_sub.to} is subscribed to {spec_sub.topic} twice")
            )
            continue
        seen_subs.add((spec_sub.to, spec_sub.topic))
        if spec_sub.mode == "instant" and spec_sub.digest is not None:
            warnings.append(
                Problem(name, line, "digest schedule set but mode is instant: it is ignored")
            )
        subs.append(
            Subscription(
                topic=topic.name,
                to=spec_sub.to,
                keywords=topic.keywords,
                exclude=topic.exclude,
                mode=spec_sub.mode,
                digest=spec_sub.digest or (None if spec_sub.mode == "instant" else DEFAULT_DIGEST),
            )
        )
    if not feeds:
        problems.append(
            Problem(name, _line_of(root, ("feeds",)), "no feeds: add at least one under feeds:")
        )
    if not topics:
        problems.append(
            Problem(name, _line_of(root, ("topics",)), "no topics: add at least one under topics:")
        )
    if problems:
        raise ConfigError(problems)
    return Config(path, tuple(feeds), tuple(topics), tuple(subs), tuple(warnings))


def _lines(lines: Sequence[str]) -> tuple[KeywordLine, ...]:
    return tuple(parse_keyword_line(line) for line in lines)


def _message(err: Any) -> str:
    where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"]).replace(
        ".[", "["
    )
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check its spelling)"
    elif err["type"] == "missing":
        msg = "required field is missing"
    return f"{where}: {msg}" if where else msg


def _line_of(root: yaml.Node, loc: Sequence[int | str]) -> int:
    """The 1-based line of the node at `loc`, or of its deepest existing ancestor."""
    node = root
    for step in loc:
        child = _child(node, step)
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1


def _child(node: yaml.Node, step: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == step:
                found: yaml.Node = key if _is_blank(value) else value
                return found
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(step, int)
        and 0 <= step < len(node.value)
    ):
        child: yaml.Node = node.value[step]
        return child
    return None


def _is_blank(node: yaml.Node) -> bool:
    """An empty value (`key:` alone) points at its key's line rather than the next one."""
    return isinstance(node, yaml.ScalarNode) and node.value == ""


def _duplicate_keys(node: yaml.Node) -> Iterator[tuple[int, str]]:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    yield (
                        line,
                        f"{key.value!r} appears twice in one mapping"
                        f" (first on line {seen[key.value]})",
                    )
                seen.setdefault(key.value, line)
            yield from _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)


__all__ = ["CONSOLE", "Config", "ConfigError", "Problem", "load_config", "parse_config"]
