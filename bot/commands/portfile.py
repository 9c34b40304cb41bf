"""The settings file of /export and /import: a chat's subscriptions and own topics as YAML.

Reading is strict and says where each problem is ("line 7: subscriptions[2].mode: …"). Every
scalar is read as the text written (YAML's BaseLoader), so a keyword such as `No` or `2025`
stays a word; anchors and aliases are refused, which also rules out "billion laughs" files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import yaml

from bot.commands.grammar import MODES
from bot.commands.schedules import default_schedule, schedule_in_zone
from bot.config import TOPIC_NAME
from bot.match import KeywordError, parse_keyword_line
from bot.models import KeywordLine, Mode, Subscription, Topic
from bot.timespec import TimeSpecError

_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})
_TOP_KEYS = ("topics", "subscriptions")
_SUB_KEYS = ("topic", "mode", "digest", "previews", "keywords", "exclude")
_TOPIC_KEYS = ("keywords", "exclude")
_PROBLEMS_SHOWN = 10


class FileProblems(ValueError):
    """The file cannot be imported; `problems` holds each "line N: what is wrong"."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        shown = list(self.problems[:_PROBLEMS_SHOWN])
        if len(self.problems) > _PROBLEMS_SHOWN:
            shown.append(f"…and {len(self.problems) - _PROBLEMS_SHOWN} more")
        super().__init__("\n".join(shown))


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    keywords: tuple[KeywordLine, ...]
    exclude: tuple[KeywordLine, ...]
    line: int


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """A subscription as the file gives it; None means "not given": keep or default."""

    topic: str
    mode: Mode | None
    digest: str | None
    previews: bool | None
    keywords: tuple[KeywordLine, ...] | None
    exclude: tuple[KeywordLine, ...] | None
    line: int


@dataclass(frozen=True, slots=True)
class SettingsFile:
    topics: tuple[TopicSpec, ...]
    subscriptions: tuple[SubscriptionSpec, ...]


def write_settings(
    chat: str, exported: str, own: Sequence[Topic], subscriptions: Sequence[Subscription]
) -> str:
    """The file /import reads back: own topics first, then subscriptions, lines as typed."""
    data: dict[str, object] = {}
    if own:
        data["topics"] = {
            topic.name: _lines_of({"keywords": topic.keywords, "exclude": topic.exclude})
            for topic in own
        }
    data["subscriptions"] = [
        {
            "topic": sub.topic,
            "mode": sub.mode,
            **({"digest": sub.digest} if sub.mode != "instant" and sub.digest else {}),
            "previews": sub.previews,
            **_lines_of({"keywords": sub.keywords, "exclude": sub.exclude}),
        }
        for sub in subscriptions
    ]
    header = (
        f"# Dozor settings of {chat}, exported {exported}.\n"
        "# Send this file with /import (here or in another chat) to restore or copy them.\n"
    )
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=4096)
    return header + body


def _lines_of(groups: dict[str, tuple[KeywordLine, ...]]) -> dict[str, list[str]]:
    return {key: [str(line) for line in lines] for key, lines in groups.items() if lines}


def read_settings(text: str, *, zone: str, max_chars: int, max_lines: int) -> SettingsFile:
    """Parse and validate the whole file; FileProblems lists everything wrong with it."""
    try:
        root = yaml.compose(text, Loader=yaml.BaseLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise FileProblems([f"{where}not valid YAML: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise FileProblems([f"not valid YAML: {exc}"]) from None
    except RecursionError:
        raise FileProblems(["the YAML is nested too deeply"]) from None
    reader = _Reader(zone=zone, max_chars=max_chars, max_lines=max_lines)
    found = reader.file(root)
    if reader.problems:
        raise FileProblems([text for _, text in sorted(reader.problems, key=lambda p: p[0])])
    if not found.topics and not found.subscriptions:
        raise FileProblems(["the file has no topics and no subscriptions: nothing to import"])
    return found


class _Reader:
    """Walks the YAML nodes along the schema, collecting every problem with its line."""

    def __init__(self, *, zone: str, max_chars: int, max_lines: int) -> None:
        self.zone = zone
        self.max_chars = max_chars
        self.max_lines = max_lines
        self.problems: list[tuple[int, str]] = []  # (line, "line N: …"), sorted when shown
        self._seen: set[int] = set()

    def problem(self, node: yaml.Node, where: str, message: str) -> None:
        line = node.start_mark.line + 1
        self.problems.append((line, f"line {line}: {where}: {message}"))

    def _visit(self, node: yaml.Node, where: str) -> bool:
        """False for a node met twice: the file used an alias (*name)."""
        if id(node) in self._seen:
            self.problem(node, where, "anchors and aliases (&name, *name) are not supported")
            return False
        self._seen.add(id(node))
        return True

    def _mapping(
        self, node: yaml.Node, where: str, keys: Sequence[str]
    ) -> Iterator[tuple[str, yaml.Node]]:
        if not self._visit(node, where):
            return
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "expected a mapping (key: value lines)")
            return
        seen: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else ""
            if name in seen:
                self.problem(key, where, f"'{name[:40]}' appears twice")
            elif keys and name not in keys:
                self.problem(key, where, f"unknown key '{name[:40]}' (expected: {', '.join(keys)})")
            else:
                seen.add(name)
                yield name, value

    def _scalar(self, node: yaml.Node, where: str) -> str | None:
        if not self._visit(node, where):
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, where, "expected a single value")
            return None
        return str(node.value)

    def _lines(self, node: yaml.Node, where: str) -> tuple[KeywordLine, ...] | None:
        if not self._visit(node, where):
            return None
        if _blank(node):
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, where, "expected a list of keyword lines (- one per line)")
            return None
        if len(node.value) > self.max_lines:
            self._count(node, where, len(node.value))
            return None
        lines: list[KeywordLine] = []
        for index, item in enumerate(node.value):
            text = self._scalar(item, f"{where}[{index}]")
            if text is None:
                continue
            try:
                lines.append(parse_keyword_line(text, max_chars=self.max_chars))
            except KeywordError as exc:
                self.problem(item, f"{where}[{index}]", str(exc))
        return tuple(lines)

    def _count(self, node: yaml.Node, where: str, lines: int) -> None:
        if lines > self.max_lines:
            self.problem(node, where, f"{lines} keyword lines, the limit is {self.max_lines}")

    def file(self, root: yaml.Node | None) -> SettingsFile:
        topics: list[TopicSpec] = []
        subs: list[SubscriptionSpec] = []
        if root is None:
            return SettingsFile((), ())
        for key, value in self._mapping(root, "file", _TOP_KEYS):
            if key == "topics":
                topics += self._topics(value)
            elif _blank(value) or not self._visit(value, "subscriptions"):
                continue
            elif not isinstance(value, yaml.SequenceNode):
                self.problem(value, "subscriptions", "expected a list (- topic: … per item)")
            else:
                for index, item in enumerate(value.value):
                    found = self._subscription(item, f"subscriptions[{index}]")
                    if found is not None:
                        subs.append(found)
        counts = Counter(sub.topic for sub in subs)
        for sub in subs:
            if counts[sub.topic] > 1:
                text = f"line {sub.line}: subscription to '{sub.topic[:40]}' is listed twice"
                self.problems.append((sub.line, text))
        return SettingsFile(tuple(topics), tuple(subs))

    def _topics(self, node: yaml.Node) -> Iterator[TopicSpec]:
        if _blank(node):
            return
        for name, value in self._mapping(node, "topics", ()):
            where = f"topics.{name[:40]}"
            if not TOPIC_NAME.fullmatch(name):
                self.problem(value, where, "a topic name is letters, digits, - and _ (at most 40)")
                continue
            fields = dict(self._mapping(value, where, _TOPIC_KEYS))
            keywords = (
                self._lines(fields["keywords"], f"{where}.keywords")
                if "keywords" in fields
                else None
            )
            exclude = (
                self._lines(fields["exclude"], f"{where}.exclude") if "exclude" in fields else ()
            )
            if not keywords:
                if keywords is not None or "keywords" not in fields:
                    self.problem(value, where, "a topic needs at least one keyword line")
                continue
            self._count(value, where, len(keywords) + len(exclude or ()))
            yield TopicSpec(name, keywords, exclude or (), value.start_mark.line + 1)

    def _subscription(self, node: yaml.Node, where: str) -> SubscriptionSpec | None:
        fields = dict(self._mapping(node, where, _SUB_KEYS))
        topic = self._scalar(fields["topic"], f"{where}.topic") if "topic" in fields else None
        if topic is None:
            if "topic" not in fields and isinstance(node, yaml.MappingNode):
                self.problem(node, where, "which topic? (topic: is missing)")
            return None
        mode = self._mode(fields.get("mode"), f"{where}.mode")
        digest = self._digest(fields.get("digest"), f"{where}.digest")
        previews = self._switch(fields.get("previews"), f"{where}.previews")
        keywords = (
            self._lines(fields["keywords"], f"{where}.keywords") if "keywords" in fields else None
        )
        exclude = (
            self._lines(fields["exclude"], f"{where}.exclude") if "exclude" in fields else None
        )
        if keywords is not None and not keywords and "keywords" in fields:
            self.problem(fields["keywords"], f"{where}.keywords", "needs at least one keyword line")
        self._count(node, where, len(keywords or ()) + len(exclude or ()))
        if mode is not None and mode != "instant" and digest is None:
            digest = default_schedule(self.zone)
        return SubscriptionSpec(
            topic, mode, digest, previews, keywords, exclude, node.start_mark.line + 1
        )

    def _mode(self, node: yaml.Node | None, where: str) -> Mode | None:
        text = self._scalar(node, where) if node is not None else None
        if text is None or node is None:
            return None
        mode = next((mode for mode in MODES if mode == text.lower()), None)
        if mode is None:
            self.problem(node, where, f"'{text[:40]}' is not a mode: instant, digest or both")
        return mode

    def _digest(self, node: yaml.Node | None, where: str) -> str | None:
        text = self._scalar(node, where) if node is not None else None
        if text is None or node is None:
            return None
        try:
            return str(schedule_in_zone(text, self.zone))
        except TimeSpecError as exc:
            self.problem(node, where, str(exc))
            return None

    def _switch(self, node: yaml.Node | None, where: str) -> bool | None:
        text = self._scalar(node, where) if node is not None else None
        if text is None or node is None:
            return None
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        self.problem(node, where, f"'{text[:40]}' is not true or false")
        return None


def _blank(node: yaml.Node) -> bool:
    """`key:` with nothing after it: an empty list, as people leave it."""
    return isinstance(node, yaml.ScalarNode) and node.value == ""
