"""The `dozor` command (`python -m bot` too): run, once, scan, check-config, match.

Standard output carries alerts and --json lines only; progress, summaries and errors go to
standard error, so `dozor once --json | jq` stays clean.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from dotenv import dotenv_values
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot import app, logs, scan
from bot.config import Config, ConfigError, load_config
from bot.match import Hit
from bot.models import Alert, Feed, FeedState, iso_utc
from bot.render import console_text, terminal_safe
from bot.routes import build_routing
from bot.settings import Settings, SettingsError
from bot.store.base import StoreError
from bot.timespec import approx_duration

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dozor",
        description="Dozor watches news feeds for your keywords and alerts your chats, once.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log lines as text or JSON"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--config", type=Path, help="feeds file (default: $DOZOR_CONFIG or ./feeds.yaml)"
        )
        return p

    run = command("run", "the service: poll feeds on schedule and deliver alerts until stopped")
    run.add_argument("--json", action="store_true", help="console alerts as JSON lines")
    once = command("once", "one cycle of run (poll every feed, deliver new alerts), then exit")
    once.add_argument("--json", action="store_true", help="one JSON object per delivered alert")
    scan = command("scan", "fetch every feed once and print matching items; remembers nothing")
    scan.add_argument("--json", action="store_true", help="one JSON object per line")
    scan.add_argument("--all", action="store_true", help="print every item, matched or not")
    command("check-config", "validate the feeds file; exit 1 with file:line: problem")
    status = command("status", "each feed's health (last poll, failures, backoff) and the outbox")
    status.add_argument("--json", action="store_true", help="one JSON object per feed")
    match = command("match", "which topics and keywords a text matches, and why")
    match.add_argument("text", help="the text to test, e.g. a headline")
    match.add_argument("--json", action="store_true", help="the explanation as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(logging.DEBUG if args.verbose else logging.INFO, args.log_format)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        err.print(f"dozor: {exc}", markup=False)
        return EXIT_USAGE
    if args.command in ("once", "scan") and not args.verbose:
        logging.getLogger("dozor.poll").setLevel(logging.ERROR)  # the summary names failures
    command: Callable[[argparse.Namespace, Settings, Console], int] = COMMANDS[args.command]
    try:
        return command(args, settings, err)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        return EXIT_FAIL
    except StoreError as exc:
        err.print(f"dozor: store: {exc}", markup=False)
        return EXIT_FAIL
    except KeyboardInterrupt:
        err.print("dozor: interrupted", markup=False)
        return EXIT_INTERRUPTED


def load_settings(config: Path | None) -> Settings:
    """The environment over a `.env` file in the working directory; --config over both."""
    env = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    env.update(os.environ)
    settings = Settings.from_env(env)
    return settings if config is None else replace(settings, config=config)


def _config(settings: Settings, err: Console) -> Config:
    config = load_config(settings.config)
    for warning in config.warnings:
        err.print(f"warning: {warning}", markup=False)
    return config


# --- commands -------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace, settings: Settings, err: Console) -> int:
    config = _config(settings, err)
    subs = len(config.subscriptions)
    print(
        f"{config.path}: OK: {len(config.feeds)} feeds, {len(config.topics)} topics"
        f" ({', '.join(t.name for t in config.topics)}),"
        f" {subs} static subscription{'s' * (subs != 1)}"
    )
    return EXIT_OK


def cmd_match(args: argparse.Namespace, settings: Settings, err: Console) -> int:
    """Explain, topic by topic, which alias matched which words and which exclude line vetoed."""
    config = _config(settings, err)
    routing = build_routing(config.topics, ())
    explanation = routing.matcher.explain(args.text)
    results = [
        {
            "topic": routing.routes[rule_set.id].topic,
            "matched": list(dict.fromkeys(hit.line.label for hit in rule_set.hits)),
            "hits": [_hit_json(hit) for hit in rule_set.hits],
            "vetoed_by": [_hit_json(hit) for hit in rule_set.vetoes],
        }
        for rule_set in explanation.rule_sets
    ]
    if args.json:
        read_as = " ".join(text for _, text in explanation.read_as)
        print(
            json.dumps(
                {"text": args.text, "read_as": read_as, "topics": results}, ensure_ascii=False
            )
        )
        return EXIT_OK
    for rule_set in explanation.rule_sets:
        topic = routing.routes[rule_set.id].topic
        if rule_set.matched:
            labels = ", ".join(dict.fromkeys(hit.line.label for hit in rule_set.hits))
            print(f"{topic}: matches ({labels})")
        else:
            print(f"{topic}: no match (vetoed by an exclude line)")
        for hit in rule_set.hits:
            print(f"  keyword {hit.line.label!r}: alias {hit.alias!r} matched {hit.text!r}")
        for hit in rule_set.vetoes:
            print(f"  exclude {str(hit.line)!r}: alias {hit.alias!r} matched {hit.text!r}")
    if not explanation.rule_sets:
        topics = ", ".join(t.name for t in config.topics)
        print(f"no topic matches (topics: {topics})")
        print(f"  read as: {' '.join(text for _, text in explanation.read_as)}")
    return EXIT_OK


def _hit_json(hit: Hit) -> dict[str, str]:
    return {"keyword": hit.line.label, "alias": hit.alias, "text": hit.text}


def cmd_scan(args: argparse.Namespace, settings: Settings, err: Console) -> int:
    config = _config(settings, err)
    printed = 0

    def emit(line: dict[str, object]) -> None:
        nonlocal printed
        printed += 1
        if args.json:
            print(json.dumps(line, ensure_ascii=False), flush=True)
        elif line["topic"] is None:
            print(
                f"[-] {terminal_safe(str(line['title']))}\n  {line['feed']} · {line['url']}",
                flush=True,
            )
        else:
            print(console_text(_alert_of(line)), flush=True)

    with progress_bar(err, config.feeds, "scanning") as tick:
        failures = asyncio.run(
            scan.run_scan(settings, config, show_all=args.all, emit=emit, progress=tick)
        )
    for failure in failures:
        err.print(f"failed: {failure.feed.name}: {failure.error}", markup=False)
    what = "items" if args.all else "matching items"
    err.print(
        f"scanned {len(config.feeds)} feeds ({len(failures)} failed): {printed} {what}",
        markup=False,
    )
    return EXIT_OK


def cmd_once(args: argparse.Namespace, settings: Settings, err: Console) -> int:
    config = _config(settings, err)
    with progress_bar(err, config.feeds, "polling") as tick:
        result = asyncio.run(app.run_once(settings, config, as_json=args.json, progress=tick))
    failed = [r for r in result.reports if r.outcome == "failed"]
    for report in failed:
        err.print(f"failed: {report.feed.name}: {report.error}", markup=False)
    items = sum(r.items for r in result.reports)
    new = sum(r.new_items for r in result.reports)
    unchanged = sum(r.outcome == "not_modified" for r in result.reports)
    delivery = result.delivery
    err.print(
        f"polled {len(result.reports)} feeds ({unchanged} unchanged, {len(failed)} failed): "
        f"{items} items, {new} new; {len(delivery.sent)} alerts delivered",
        markup=False,
    )
    for platform, count in delivery.waiting.items():
        err.print(
            f"{count} alerts wait in the outbox for {platform}, which is not configured here",
            markup=False,
        )
    return EXIT_OK


def cmd_status(args: argparse.Namespace, settings: Settings, err: Console) -> int:
    config = _config(settings, err)
    status = asyncio.run(app.read_status(settings, config))
    now = time.time()
    if args.json:
        for feed, state in status.feeds:
            print(json.dumps(feed_health(feed, state), ensure_ascii=False))
        return EXIT_OK
    for feed, state in status.feeds:
        print(f"{terminal_safe(feed.name)}: {describe_state(state, now)}")
    failing = sum(state.failures > 0 for _, state in status.feeds)
    print(
        f"{len(status.feeds)} feeds, {failing} failing; "
        f"{status.outbox} alert{'s' * (status.outbox != 1)} waiting in the outbox"
    )
    return EXIT_OK


def feed_health(feed: Feed, state: FeedState) -> dict[str, object]:
    def when(seconds: float | None) -> str | None:
        return iso_utc(datetime.fromtimestamp(seconds, UTC)) if seconds is not None else None

    return {
        "feed": feed.name,
        "url": feed.url,
        "last_poll": when(state.last_poll),
        "last_success": when(state.last_success),
        "failures": state.failures,
        "last_error": state.last_error,
        "retry_at": when(state.retry_at),
        "items_seen": state.items_seen,
    }


def describe_state(state: FeedState, now: float) -> str:
    """One line of feed health in words: "ok, polled 3m ago, 120 items seen"."""
    if state.last_poll is None:
        return "never polled"
    polled = f"polled {ago(now - state.last_poll)}"
    if state.failures:
        retry = ""
        if state.retry_at is not None and state.retry_at > now:
            retry = f", next try in {approx_duration(state.retry_at - now)}"
        return f"FAILING ({state.failures} in a row{retry}): {state.last_error}; {polled}"
    return f"ok, {polled}, {state.items_seen} items seen"


def ago(seconds: float) -> str:
    return "just now" if seconds < 1 else f"{approx_duration(seconds)} ago"


def cmd_run(args: argparse.Namespace, settings: Settings, err: Console) -> int:
    config = _config(settings, err)
    asyncio.run(app.run_service(settings, config, as_json=args.json))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings, Console], int]] = {
    "run": cmd_run,
    "once": cmd_once,
    "scan": cmd_scan,
    "check-config": cmd_check_config,
    "match": cmd_match,
    "status": cmd_status,
}


def _alert_of(line: dict[str, object]) -> Alert:
    return Alert.from_dict({**line, "feed_id": ""})


@contextmanager
def progress_bar(
    err: Console, feeds: Sequence[Feed], verb: str
) -> Iterator[Callable[[Feed], None] | None]:
    """A progress bar on a terminal's stderr; nothing when stderr is a pipe or file."""
    if not err.is_terminal:
        yield None
        return
    columns = (TextColumn(f"{verb} feeds"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(verb, total=len(feeds))
        yield lambda feed: bar.advance(task)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
