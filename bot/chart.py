"""Trend charts for digests: mentions per day per keyword line as a small PNG.

Drawn with matplotlib's Agg canvas on a `Figure` of its own, never through pyplot, so no global
figure registry or backend switch is involved and charts can be drawn from any thread. Importing
this module costs the matplotlib import (a few hundred milliseconds), which is why the digest
module does not import it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

MAX_LINES = 8  # more lines than this are unreadable: the smallest are summed as "other"
MAX_DAYS = 366  # a longer span is cut to its most recent days
WIDTH, HEIGHT, DPI = 8.0, 4.0, 100  # 800 x 400 pixels
FONT = "DejaVu Sans"  # ships with matplotlib and covers Latin, Cyrillic and Greek
OTHER = "other"
LABEL_CHARS = 18  # in the legend, right of the plot
TITLE_CHARS = 80
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Colour-blind-safe (Okabe-Ito), in a fixed order so a keyword keeps its colour across charts
# with the same ranking.
_COLOURS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)


def trend_chart(mentions: Mapping[date, Mapping[str, int]], *, title: str) -> bytes:
    """A PNG line chart of `mentions` (as `daily_mentions` gives them): one line per keyword
    line, every day of the span shown (a day without mentions at 0). Identical input gives
    identical bytes: the PNG carries no timestamp or software version."""
    days = _days(mentions)
    series = _series(mentions, days)
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    # Fixed margins with the legend on the right: a layout solver costs more than the drawing.
    figure.subplots_adjust(left=0.08, right=0.76, top=0.9, bottom=0.1)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    font = FontProperties(family=FONT, size=9)
    positions = list(range(len(days)))
    for (label, values), colour in zip(series, _COLOURS, strict=False):
        axes.plot(
            positions,
            values,
            label=_short(label),
            color=colour,
            linewidth=1.8,
            marker="o",
            markersize=3,
        )
    figure.suptitle(
        _short(title, TITLE_CHARS),
        x=0.02,
        ha="left",
        fontproperties=FontProperties(family=FONT, size=11, weight="bold"),
    )
    axes.set_ylabel("stories per day", fontproperties=font)
    axes.set_ylim(bottom=0, top=max([1, *(max(v) for _, v in series)]) * 1.1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    step = max(1, -(-len(days) // 10))  # at most ~10 dates under the axis
    axes.set_xticks(positions[::step], [_day(d) for d in days[::step]])
    axes.set_xlim(-0.5, max(len(days) - 0.5, 0.5))
    for tick in (*axes.get_xticklabels(), *axes.get_yticklabels()):
        tick.set_fontproperties(font)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    if series:
        axes.legend(prop=font, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        axes.text(
            0.5, 0.5, "no mentions", transform=axes.transAxes, ha="center", fontproperties=font
        )
    out = io.BytesIO()
    # zlib level 3: about half the default's encoding time, for a file ~7% larger
    figure.savefig(out, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    return out.getvalue()


def _days(mentions: Mapping[date, Mapping[str, int]]) -> list[date]:
    """Every day from the first to the last with data (at most MAX_DAYS, the latest)."""
    if not mentions:
        return []
    first, last = min(mentions), max(mentions)
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _series(
    mentions: Mapping[date, Mapping[str, int]], days: Sequence[date]
) -> list[tuple[str, list[int]]]:
    """Lines ranked by total mentions; past MAX_LINES the smallest are summed as "other"."""
    totals: dict[str, int] = {}
    for day in days:
        for label, count in mentions.get(day, {}).items():
            totals[label] = totals.get(label, 0) + count
    ranked = sorted(totals, key=lambda label: (-totals[label], label))
    kept = ranked if len(ranked) <= MAX_LINES else ranked[: MAX_LINES - 1]
    series = [(label, [mentions.get(d, {}).get(label, 0) for d in days]) for label in kept]
    folded = ranked[len(kept) :]
    if folded:
        other = [sum(mentions.get(d, {}).get(label, 0) for label in folded) for d in days]
        series.append((OTHER if OTHER not in kept else f"{OTHER} ({len(folded)})", other))
    return series


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    """Text cut to fit its place (a legend entry must leave the plot most of the width), with
    `$` escaped, since matplotlib reads `$…$` as a formula (and fails on a bad one), and a
    leading `_` spaced, since the legend hides such labels."""
    text = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return (" " if text.startswith("_") else "") + text.replace("$", r"\$")


def _day(day: date) -> str:
    """`12 Sep`, whatever the process locale."""
    return f"{day.day} {_MONTHS[day.month - 1]}"
