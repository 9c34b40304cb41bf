"""/keywords, /add, /remove, /exclude and /test: a chat's copy of a topic's keyword lines.

A subscription carries its own copy of the topic's lines, so edits here change only this
chat's alerts; nobody changes a global topic from a chat.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.commands.context import ChatTopics, Context
from bot.commands.grammar import shorten
from bot.commands.parsed import AddKeywords, Exclude, Keywords, MatchTest, RemoveKeywords
from bot.commands.replies import (
    answer,
    done,
    lines_text,
    not_subscribed,
    numbered,
    plural,
    unknown_topic,
)
from bot.commands.values import Reply
from bot.match import Hit, KeywordError, Matcher, RuleSet, RuleSetExplanation
from bot.models import KeywordLine, Subscription, Topic
from bot.text import normalise

_READ_AS_CHARS = 300


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _spellings(lines: Iterable[KeywordLine]) -> set[str]:
    return {_fold(alias) for line in lines for alias in line.aliases}


async def _subscription(topic: str, ctx: Context) -> tuple[ChatTopics, Subscription | Reply]:
    """The chat's subscription to `topic`, or the reply saying why there is none."""
    topics = await ctx.topics()
    sub = topics.subscription(topic)
    if sub is not None:
        return topics, sub
    found = topics.resolve(topic)
    return topics, unknown_topic(topic, topics) if found is None else not_subscribed(found.name)


async def show_keywords(cmd: Keywords, ctx: Context) -> Reply:
    topics = await ctx.topics()
    sub = topics.subscription(cmd.topic)
    topic = topics.resolve(cmd.topic)
    source: Subscription | Topic
    if sub is not None:
        source, name, whose = sub, sub.topic, "this chat's copy"
    elif topic is not None:
        source, name = topic, topic.name
        whose = f"this chat is not subscribed: /subscribe {name}"
    else:
        return unknown_topic(cmd.topic, topics)
    out = [f"Keywords of {name} ({whose}):", *numbered(source.keywords)]
    if source.exclude:
        out += ["Excluded (an item that mentions one is skipped):"]
        out += numbered(source.exclude, start=len(source.keywords) + 1)
    if sub is not None:
        out += [
            f"Change them with /add {name} <line>, /remove {name} <number>, /exclude {name} <line>."
        ]
    return answer("\n".join(out))


def _new_lines(
    wanted: Sequence[KeywordLine], present: Iterable[KeywordLine]
) -> tuple[list[KeywordLine], list[KeywordLine]]:
    """The lines to add and those skipped because one of their spellings is already there."""
    known = _spellings(present)
    fresh: list[KeywordLine] = []
    skipped: list[KeywordLine] = []
    for line in wanted:
        spellings = _spellings([line])
        if spellings & known:
            skipped.append(line)
        else:
            fresh.append(line)
            known |= spellings
    return fresh, skipped


async def _extend(
    topic: str, wanted: Sequence[KeywordLine], ctx: Context, *, exclude: bool
) -> Reply:
    topics, found = await _subscription(topic, ctx)
    if isinstance(found, Reply):
        return found
    sub = found
    fresh, skipped = _new_lines(wanted, sub.exclude if exclude else sub.keywords)
    already = f"Already there: {lines_text(skipped)}." if skipped else ""
    if not fresh:
        return answer(f"Nothing changed in {sub.topic}. {already}")
    total = len(sub.keywords) + len(sub.exclude) + len(fresh)
    if total > ctx.limits.lines:
        return answer(
            f"{sub.topic} would have {total} keyword lines, and the limit is {ctx.limits.lines} "
            "per subscription (exclusions included). /remove some first."
        )
    if exclude:
        changed = await ctx.save_lines(topics, sub, sub.keywords, (*sub.exclude, *fresh))
        text = (
            f"Excluded from {sub.topic}: {lines_text(fresh)}; an item that mentions one is "
            f"skipped (now {plural(len(changed.exclude), 'exclude line')})."
        )
    else:
        changed = await ctx.save_lines(topics, sub, (*sub.keywords, *fresh), sub.exclude)
        now = plural(len(changed.keywords), "line")
        text = f"Added to {sub.topic}: {lines_text(fresh)} (now {now})."
    return done(f"{text} {already}".rstrip())


async def add_keywords(cmd: AddKeywords, ctx: Context) -> Reply:
    return await _extend(cmd.topic, cmd.lines, ctx, exclude=False)


async def exclude_keywords(cmd: Exclude, ctx: Context) -> Reply:
    return await _extend(cmd.topic, cmd.lines, ctx, exclude=True)


def _find(target: str, lines: Sequence[KeywordLine]) -> int | None:
    """The index of the line a /remove target names: its number in /keywords, a spelling as
    written (any case), or else a spelling as the matcher reads it (accents, `*` aside)."""
    number = target.removeprefix("#")
    if number.isdecimal():
        index = int(number) - 1 if len(number) < 6 else -1
        return index if 0 <= index < len(lines) else None
    wanted = _fold(target)
    for index, line in enumerate(lines):
        if wanted == _fold(str(line)) or wanted in _spellings([line]):
            return index
    loose = normalise(target)
    for index, line in enumerate(lines):
        if loose and loose in {normalise(alias) for alias in line.aliases}:
            return index
    return None


async def remove_keywords(cmd: RemoveKeywords, ctx: Context) -> Reply:
    topics, found = await _subscription(cmd.topic, ctx)
    if isinstance(found, Reply):
        return found
    sub = found
    every = (*sub.keywords, *sub.exclude)
    chosen: dict[int, None] = {}
    missing: list[str] = []
    for target in cmd.targets:
        index = _find(target, every)
        if index is None:
            missing.append(shorten(target))
        else:
            chosen[index] = None
    if missing:
        return answer(
            f"{sub.topic} has no keyword line {', '.join(repr(m) for m in missing)}: "
            f"nothing was removed. /keywords {sub.topic} lists its lines with their numbers."
        )
    keywords = tuple(line for i, line in enumerate(sub.keywords) if i not in chosen)
    exclude = tuple(
        line for i, line in enumerate(sub.exclude, start=len(sub.keywords)) if i not in chosen
    )
    if not keywords:
        return answer(
            f"That would leave {sub.topic} without keyword lines: nothing was removed. "
            f"/unsubscribe {sub.topic} stops its alerts."
        )
    changed = await ctx.save_lines(topics, sub, keywords, exclude)
    removed = lines_text([every[i] for i in sorted(chosen)])
    return done(
        f"Removed from {sub.topic}: {removed} (now {plural(len(changed.keywords), 'line')})."
    )


def _evidence(hits: Sequence[Hit]) -> str:
    """Each line and the words it found, once, by the first alias: Minsk (Минск*): “Минске”."""
    shown: dict[tuple[str, str], str] = {}
    for hit in hits:
        spelling = (
            hit.line.label if hit.alias == hit.line.label else f"{hit.line.label} ({hit.alias})"
        )
        shown.setdefault((hit.line.label, hit.text), f"{spelling}: “{shorten(hit.text)}”")
    return "; ".join(shown.values())


def _verdict(found: RuleSetExplanation) -> str:
    if found.matched:
        return f"✓ {found.id} matches: {_evidence(found.hits)}"
    if found.hits:
        return (
            f"✗ {found.id} would match ({_evidence(found.hits)}) but is excluded by "
            f"{_evidence(found.vetoes)}"
        )
    return f"✗ {found.id}: only exclusions match ({_evidence(found.vetoes)})"


async def test_text(cmd: MatchTest, ctx: Context) -> Reply:
    topics = await ctx.topics()
    if topics.subscriptions:
        rule_sets = [RuleSet(s.topic, s.keywords, s.exclude) for s in topics.subscriptions]
        intro = "Tested against this chat's subscriptions."
    else:
        rule_sets = [RuleSet(t.name, t.keywords, t.exclude) for t in topics.shared]
        intro = "This chat has no subscriptions, so this is tested against the global topics."
    try:
        explanation = Matcher.compile(rule_sets).explain(cmd.text)
    except KeywordError as exc:
        return answer(f"A stored keyword line cannot be used: {exc}.")
    out = [intro, *(_verdict(found) for found in explanation.rule_sets)]
    if not explanation.matched:
        read = shorten(explanation.read_as[0][1], _READ_AS_CHARS) if explanation.read_as else ""
        out += [f"Nothing matches. Dozor reads the text as: {read or '(no words)'}"]
    return answer("\n".join(out))
