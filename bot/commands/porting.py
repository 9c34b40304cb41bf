"""/export and /import: a chat's settings out as files, and back in (here or in another chat).

YAML carries subscriptions and own topics and is imported all or nothing: the whole file is
validated against the limits and the known topics before anything is written. OPML carries
own feeds; a few are fetched once like /addfeed, a long list is checked by form only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from bot.commands.context import ChatTopics, Context
from bot.commands.feeds import feed_name, feed_problem, normalised
from bot.commands.grammar import shorten
from bot.commands.opml import OutlineFeed, read_opml, write_opml
from bot.commands.parsed import Import
from bot.commands.portfile import FileProblems, SettingsFile, read_settings, write_settings
from bot.commands.replies import answer, done, malformed, plural
from bot.commands.schedules import default_schedule
from bot.commands.values import Attachment, Reply
from bot.fetch import FetchError, check_url
from bot.models import Feed, Subscription, Topic

log = logging.getLogger("dozor.commands")

MAX_FILE_BYTES = 1_000_000
FETCHED_AT_MOST = 5  # an OPML import fetches its feeds only when it has this many or fewer
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")


def file_stem(chat: str) -> str:
    """The chat id made safe as a file name: dozor-telegram_-100123."""
    return "dozor-" + _UNSAFE_FILENAME.sub("_", chat.replace(":", "_"))[:80]


async def export(ctx: Context) -> Reply:
    topics = await ctx.topics()
    feeds = await ctx.own_feeds()
    stamp = datetime.fromtimestamp(ctx.now, UTC).strftime("%Y-%m-%d %H:%M UTC")
    stem = file_stem(ctx.to)
    settings = write_settings(ctx.to, stamp, topics.own, topics.subscriptions)
    files = (
        Attachment(f"{stem}.yaml", settings.encode("utf-8"), "application/yaml"),
        Attachment(f"{stem}.opml", write_opml(f"Dozor feeds of {ctx.to}", feeds), "text/x-opml"),
    )
    return Reply(
        f"This chat's settings: {plural(len(topics.subscriptions), 'subscription')} and "
        f"{plural(len(topics.own), 'own topic')} in {stem}.yaml, "
        f"{plural(len(feeds), 'own feed')} in {stem}.opml. Send either file back with /import, "
        "here or in another chat.",
        attachments=files,
    )


def _content(cmd: Import, attachment: Attachment | None) -> tuple[str, bytes] | Reply:
    """(file name, bytes) to import, or the reply saying what is missing or wrong."""
    if cmd.text.strip():
        return "", cmd.text.encode("utf-8")
    if attachment is None:
        return malformed(
            "import", "Attach the file /export made (.yaml or .opml), or paste it after /import."
        )
    if attachment.mime == "too-large" or len(attachment.content) > MAX_FILE_BYTES:
        return answer(
            "That file is too big to import: Dozor reads files up to "
            f"{MAX_FILE_BYTES // 1_000_000} MB."
        )
    if not attachment.content.strip():
        return answer(
            f"{shorten(attachment.filename, 60) or 'The file'} is empty: nothing to import."
        )
    return attachment.filename, attachment.content


async def import_file(cmd: Import, ctx: Context, attachment: Attachment | None) -> Reply:
    found = _content(cmd, attachment)
    if isinstance(found, Reply):
        return found
    name, content = found
    looks_opml = content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    if name.lower().endswith((".opml", ".xml")) or looks_opml:
        return await _import_feeds(content, ctx)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return answer("That file is not UTF-8 text: /import reads the YAML /export makes, or OPML.")
    return await _import_settings(text, ctx)


# --- YAML: subscriptions and own topics ------------------------------------------------------


async def _import_settings(text: str, ctx: Context) -> Reply:
    chat = await ctx.chat()
    try:
        spec = await asyncio.to_thread(  # a big file takes a while: not on the event loop
            partial(
                read_settings,
                text,
                zone=chat.zone,
                max_chars=ctx.limits.chars,
                max_lines=ctx.limits.lines,
            )
        )
    except FileProblems as exc:
        return answer(f"Nothing was imported; the file has problems:\n{exc}")
    topics = await ctx.topics()
    problems = _conflicts(spec, topics, ctx)
    if problems:
        return answer("Nothing was imported:\n" + str(FileProblems(problems)))
    writes, summary = _plan(spec, topics, ctx, chat.zone)
    await _write_all(writes)
    return done(f"Imported {summary}.")


def _conflicts(spec: SettingsFile, topics: ChatTopics, ctx: Context) -> list[str]:
    """What the file asks for that this chat cannot have: global names, unknown topics, limits."""
    problems: list[str] = []
    own = {t.name for t in spec.topics}
    for topic in spec.topics:
        shared = topics.shared_topic(topic.name)
        if shared is not None and topics.own_topic(topic.name) is None:
            problems.append(
                f"line {topic.line}: {topic.name} is the name of a global topic; "
                "subscribe to it instead"
            )
    for sub in spec.subscriptions:
        if sub.topic not in own and topics.resolve(sub.topic) is None:
            problems.append(
                f"line {sub.line}: there is no topic '{sub.topic[:40]}' "
                f"(topics: {topics.known_names()})"
            )
    in_use = topics.names_in_use() | own | {s.topic for s in spec.subscriptions}
    if len(in_use) > ctx.limits.topics:
        problems.append(
            f"this chat would have {len(in_use)} topics, and the limit is {ctx.limits.topics} "
            "(own topics and subscriptions together)"
        )
    return problems


Write = Callable[[], Awaitable[object]]


def _plan(
    spec: SettingsFile, topics: ChatTopics, ctx: Context, zone: str
) -> tuple[list[tuple[Write, Write]], str]:
    """The store writes the file asks for, each with the write that undoes it, and what they
    do in words."""
    store = ctx.store
    writes: list[tuple[Write, Write]] = []
    own: dict[str, Topic] = {t.name: t for t in topics.own}

    def put_topic(topic: Topic) -> None:
        old = topics.own_topic(topic.name)
        undo = (
            partial(store.save_topic, old)
            if old
            else partial(store.delete_topic, ctx.to, topic.name)
        )
        writes.append((partial(store.save_topic, topic), undo))

    for item in spec.topics:
        own[item.name] = Topic(item.name, item.keywords, item.exclude, owner=ctx.to)
        put_topic(own[item.name])
    new: list[str] = []
    changed: list[str] = []
    for wanted in spec.subscriptions:
        topic = own.get(wanted.topic) or topics.resolve(wanted.topic)
        assert topic is not None  # _conflicts said every topic is known
        old = topics.subscription(topic.name) or topics.former(topic.name)
        base = old or Subscription(
            topic.name, ctx.to, topic.keywords, topic.exclude, created=ctx.now
        )
        mode = wanted.mode or base.mode
        digest = wanted.digest or base.digest
        sub = replace(
            base,
            keywords=wanted.keywords or (base.keywords if old else topic.keywords),
            exclude=base.exclude if wanted.exclude is None else wanted.exclude,
            mode=mode,
            digest=default_schedule(zone) if mode != "instant" and digest is None else digest,
            previews=base.previews if wanted.previews is None else wanted.previews,
            active=True,
        )
        (changed if topics.subscription(topic.name) else new).append(topic.name)
        undo = (
            partial(store.save_subscription, old)
            if old
            else partial(store.delete_subscription, ctx.to, topic.name)
        )
        writes.append((partial(store.save_subscription, sub), undo))
        if topic.name in own:
            put_topic(replace(own[topic.name], keywords=sub.keywords, exclude=sub.exclude))
    parts = []
    if spec.topics:
        names = ", ".join(t.name for t in spec.topics)
        parts.append(f"{plural(len(spec.topics), 'own topic')} ({names})")
    if new:
        parts.append(f"{plural(len(new), 'new subscription')} ({', '.join(new)})")
    if changed:
        parts.append(f"{plural(len(changed), 'subscription')} updated ({', '.join(changed)})")
    return writes, "; ".join(parts)


async def _write_all(writes: list[tuple[Write, Write]]) -> None:
    """All or nothing, as far as the store allows: the checks already passed, so only the
    store can fail here, and then what was written is undone before the error goes on."""
    done_so_far: list[Write] = []
    try:
        for write, undo in writes:
            await write()
            done_so_far.append(undo)
    except Exception:
        for undo in reversed(done_so_far):
            try:
                await undo()
            except Exception:
                log.exception("import: could not undo a write after a failure")
        raise


# --- OPML: own feeds ------------------------------------------------------------------------


async def _import_feeds(content: bytes, ctx: Context) -> Reply:
    try:
        listed = await asyncio.to_thread(read_opml, content)
    except FileProblems as exc:
        return answer(f"Nothing was imported: {exc}.")
    own = await ctx.own_feeds()
    have = {normalised(feed.url) for feed in (*own, *ctx.config.feeds)}
    fresh: dict[str, OutlineFeed] = {}
    bad: list[str] = []
    present = 0
    for entry in listed:
        try:
            url = check_url(entry.url)
        except FetchError as exc:
            bad.append(f"{entry.url[:80]}: {exc}")
            continue
        if url in have:
            present += 1
        else:
            fresh.setdefault(url, OutlineFeed(url, entry.title))
    if bad:
        return answer("Nothing was imported; these are not feed URLs:\n" + "\n".join(bad[:10]))
    new = list(fresh.values())
    if not new:
        return answer(f"Nothing to import: Dozor already reads all {plural(present, 'feed')} here.")
    if len(own) + len(new) > ctx.limits.feeds:
        return answer(
            f"Nothing was imported: this chat would have {len(own) + len(new)} feeds of its "
            f"own, and the limit is {ctx.limits.feeds}."
        )
    if len(new) > FETCHED_AT_MOST:
        feeds = [Feed(e.url, feed_name(e.title, e.url), owner=ctx.to) for e in new]
        refused: list[str] = []
        note = (
            f" They were not fetched now (more than {FETCHED_AT_MOST}): each is checked when it "
            "is first read, and /status shows any that fail."
        )
    else:
        feeds, refused = await _fetched(new, ctx)
        note = ""
    for feed in feeds:
        await ctx.store.save_feed(feed)
    text = f"Imported {plural(len(feeds), 'feed')}: {', '.join(f.name for f in feeds) or 'none'}."
    if present:
        text += f" {plural(present, 'feed')} already read here."
    if refused:
        text += " Refused:\n" + "\n".join(refused)
    return done(text + note) if feeds else answer(text + note)


async def _fetched(entries: list[OutlineFeed], ctx: Context) -> tuple[list[Feed], list[str]]:
    """Fetch and parse each feed once, like /addfeed: the ones that work, and why others not."""

    async def load(entry: OutlineFeed) -> tuple[OutlineFeed, Feed | str]:
        try:
            parsed = await ctx.load_feed(entry.url)
        except FetchError as exc:
            return entry, str(exc)
        problem = feed_problem(parsed)
        if problem is not None:
            return entry, problem
        return entry, Feed(
            entry.url, feed_name(parsed.title or entry.title, entry.url), owner=ctx.to
        )

    results = await asyncio.gather(*(load(entry) for entry in entries))
    feeds = [found for _, found in results if isinstance(found, Feed)]
    refused = [f"{entry.url}: {found}" for entry, found in results if isinstance(found, str)]
    return feeds, refused
