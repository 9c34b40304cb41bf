"""Feed HTML to the plain text that keyword matching reads and that users see.

Tags go, but a block boundary (`<p>`, `<br>`, `<li>`, …) leaves a space so words of adjacent
blocks never fuse; inline tags (`<b>`, `<a>`, …) leave nothing, so `Lukash<b>enko</b>` stays one
word. Attribute values (links, alt texts) never reach the text, and neither do the bodies of
script, style, template and similar elements. Entities are decoded once, whitespace folded.

The tokenizer is a small one of our own, after the HTML5 tokenizer's states, rather than the
stdlib `html.parser`: on Python 3.11.7 that one rescans to the end of the input for every
unterminated `<a x='` or `<!--`, and 120 KB of them took 21 s. Here every construct is scanned
once, so the time is linear in the input whatever it holds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from html import unescape

# Every HTML element name (and some legacy ones): `<Minoru>` in an IRC quote is text, `<p>` is
# markup that was escaped once too often.
HTML_ELEMENTS = frozenset(
    {
        "a", "abbr", "acronym", "address", "applet", "area", "article", "aside", "audio", "b",
        "base", "basefont", "bdi", "bdo", "big", "blink", "blockquote", "body", "br", "button",
        "canvas", "caption", "center", "cite", "code", "col", "colgroup", "data", "datalist", "dd",
        "del", "details", "dfn", "dialog", "dir", "div", "dl", "dt", "em", "embed", "fieldset",
        "figcaption", "figure", "font", "footer", "form", "frame", "frameset", "h1", "h2", "h3",
        "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "i", "iframe", "img", "input",
        "ins", "kbd", "label", "legend", "li", "link", "main", "map", "mark", "marquee", "math",
        "menu", "meta", "meter", "nav", "nobr", "noembed", "noframes", "noscript", "object", "ol",
        "optgroup", "option", "output", "p", "param", "picture", "plaintext", "pre", "progress",
        "q", "rp", "rt", "ruby", "s", "samp", "script", "search", "section", "select", "slot",
        "small", "source", "span", "strike", "strong", "style", "sub", "summary", "sup", "svg",
        "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "time", "title",
        "tr", "track", "tt", "u", "ul", "var", "video", "wbr", "xmp",
    }
)  # fmt: skip
# Elements that sit inside a line of text; every other tag separates words.
INLINE_ELEMENTS = frozenset(
    {
        "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn",
        "em", "font", "i", "ins", "kbd", "mark", "nobr", "q", "rp", "rt", "ruby", "s", "samp",
        "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr",
    }
)  # fmt: skip
# Elements whose content is code, styling or a fallback nobody reads as the article.
HIDDEN_ELEMENTS = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math"}
    | {"noembed", "noframes"}
)
# Elements whose content is not markup: it runs to the matching end tag.
RAW_TEXT_ELEMENTS = frozenset(
    {"script", "style", "iframe", "noembed", "noframes", "xmp", "textarea", "title"}
)
ENTITY_DECODED_RAW_TEXT = frozenset({"textarea", "title"})
# What a tag outside hidden elements leaves in the text, by lower-cased name: nothing for an
# inline element, a space for any other (the default), and None for a hidden or raw-text one,
# whose start tag opens a body that is not simply text.
TAG_PIECES: dict[str, str | None] = dict.fromkeys(INLINE_ELEMENTS, "") | dict.fromkeys(
    HIDDEN_ELEMENTS | RAW_TEXT_ELEMENTS, None
)
# Invisible format characters that split words for matching (soft hyphen, zero-width space,
# word joiner, BOM) are dropped; control characters become spaces.
INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Scanning helpers for the tokenizer (they find the next character that matters, they do not
# match tags): where a tag name ends, the next `>` or `=` inside a tag, the end of an unquoted
# attribute value, whitespace, a comment's end.
TAG_NAME_END = re.compile(r"[\s/>]")
TAG_STOP = re.compile(r"[>=]")
UNQUOTED_VALUE_END = re.compile(r"[\s>]")
SPACES = re.compile(r"\s*")
COMMENT_END = re.compile(r"--!?>")
SEPARATOR = " "
CHARACTER_REFERENCE = re.compile(
    r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});"
)
TAG_LIKE = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)(?:[\s/][^<>]*)?>")
# A tag exactly as the tokenizer ends it (quoted values may hold ">"; an unquoted value runs to
# whitespace or ">"), for the one-regex reading of plain markup. Possessive: linear time.
PLAIN_TAG = re.compile(
    r"<(/?)([A-Za-z][^\s/>]*+)(?:[^>=]|=\s*+(?:\"[^\"]*\"|'[^']*'|(?![\"'])[^\s>]*+))*+>"
)
NOT_PLAIN = r"<[A-Za-z/!?]"  # markup the one-regex reading leaves to the tokenizer
# The next tag, or else the next markup that is no plain tag (group 2 then None); a `<` that is
# neither is text, and the search passes it by.
MARKUP = re.compile(f"{PLAIN_TAG.pattern}|{NOT_PLAIN}")
UNUSUAL_CHARACTERS = re.compile(f"{INVISIBLE.pattern}|{CONTROLS.pattern}")
SPACE_RUN = re.compile("  +")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags removed with spaces kept between blocks, hidden
    elements' bodies dropped, entities decoded, whitespace folded to single spaces."""
    if "<" not in html:
        return fold_whitespace(unescape(html) if "&" in html else html)
    text, stop = _plain_markup_text(html)
    if stop < len(html):
        text += "".join(_Tokenizer(html[stop:]).text())
    return fold_whitespace(text)


def _plain_markup_text(html: str) -> tuple[str, int]:
    """The tokenizer's text of the plain part of `html` (tags, comments and raw-text elements
    such as `<script>` outside other hidden elements: most feed HTML is nothing else), read
    with regular expressions, and where the tokenizer must take over (no hidden element is
    open there, so it may start afresh). Markup that is no plain tag ends the plain part
    (past a comment), so time stays linear."""
    text: list[str] = []
    end = len(html)
    run_start = pos = 0
    while (tag := MARKUP.search(html, pos)) is not None:
        lt, pos = tag.span()
        slash, raw_name = tag.groups()
        if raw_name is None:  # a comment, CDATA, an unterminated tag, …
            if not html.startswith("<!--", lt):
                break
            piece, pos = "", _comment_end(html, lt + 4)
        else:
            name = raw_name.lower()
            kind = TAG_PIECES.get(name, SEPARATOR)
            if kind is not None:
                piece = kind
            elif slash:  # no hidden element is open: an end tag is only a boundary
                piece = SEPARATOR
            elif name in RAW_TEXT_ELEMENTS and pos < end and html[pos - 2 : pos] != "/>":
                pos, piece = _raw_text(html, name, pos)
            else:
                break  # an element whose body is hidden up to its end tag, or a rare one
        run = html[run_start:lt]
        text.append(unescape(run) if "&" in run else run)
        text.append(piece)
        run_start = pos
    else:
        run = html[run_start:]
        text.append(unescape(run) if "&" in run else run)
        return "".join(text), end
    return "".join(text), run_start


def looks_like_markup(text: str) -> bool:
    """Whether plain text still holds a character reference or an HTML tag: the mark of markup
    escaped once more than it was decoded."""
    if "&" in text and CHARACTER_REFERENCE.search(text):
        return True
    if "<" not in text:
        return False
    return any(tag.group(1).lower() in HTML_ELEMENTS for tag in TAG_LIKE.finditer(text))


def fold_whitespace(text: str) -> str:
    """One space between words, none at the ends; invisible and control characters removed."""
    if text.isprintable():  # no whitespace but spaces, no invisible or control characters
        if "  " not in text and text[:1] != " " and text[-1:] != " ":
            return text  # folded already (as html_to_text's output is)
        return SPACE_RUN.sub(" ", text).strip(" ")  # what split() and join() give, sooner
    # Folded first: if what is left is printable (or, more rarely, holds nothing unusual), no
    # invisible or control character was there but the few that split() takes for whitespace
    # (as the general answer does, turning them into spaces first).
    folded = " ".join(text.split())
    if folded.isprintable() or not UNUSUAL_CHARACTERS.search(folded):
        return folded
    return " ".join(CONTROLS.sub(" ", INVISIBLE.sub("", text)).split())


class _Tokenizer:
    """One pass over the markup, yielding text runs and separators outside hidden elements."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.hidden: list[str] = []  # open hidden elements, innermost last
        self.open_count: dict[str, int] = {}  # how many of each are in `hidden`

    def text(self) -> Iterator[str]:
        html, end = self.html, len(self.html)
        pos = 0
        while pos < end:
            lt = html.find("<", pos)
            if lt < 0:
                lt = end
            if lt > pos and not self.hidden:
                yield unescape(html[pos:lt])
            if lt == end:
                break
            pos, piece = self._markup(lt)
            if piece and not self.hidden:
                yield piece

    def _markup(self, lt: int) -> tuple[int, str]:
        """Consume the markup (or lone `<`) at `lt`: where to go on, and text it stands for."""
        html, end = self.html, len(self.html)
        after = html[lt + 1 : lt + 2]
        if html.startswith("<!--", lt):
            return _comment_end(html, lt + 4), ""
        if html.startswith("<![CDATA[", lt):
            close = html.find("]]>", lt + 9)
            close = end if close < 0 else close
            return min(close + 3, end), html[lt + 9 : close]
        if after in ("!", "?"):  # doctype, processing instruction, bogus comment
            return _past(html.find(">", lt + 2), end), SEPARATOR
        if after == "/":
            if html[lt + 2 : lt + 3].isascii() and html[lt + 2 : lt + 3].isalpha():
                name, pos = self._tag_name(lt + 2)
                return _tag_end(html, pos), self._end_tag(name)
            if lt + 2 >= end:
                return end, "</"
            return _past(html.find(">", lt + 2), end), ""  # `</>` or a bogus comment
        if after.isascii() and after.isalpha():
            name, pos = self._tag_name(lt + 1)
            pos = _tag_end(html, pos)
            self_closing = html[pos - 2 : pos] == "/>"
            if name in RAW_TEXT_ELEMENTS and not self_closing and pos < end:
                return _raw_text(html, name, pos)
            return pos, self._start_tag(name, self_closing)
        return lt + 1, "<"

    def _tag_name(self, pos: int) -> tuple[str, int]:
        match = TAG_NAME_END.search(self.html, pos)
        stop = match.start() if match else len(self.html)
        return self.html[pos:stop].lower(), stop

    def _start_tag(self, name: str, self_closing: bool) -> str:
        if name in HIDDEN_ELEMENTS and not self_closing:
            self.hidden.append(name)
            self.open_count[name] = self.open_count.get(name, 0) + 1
            return ""
        return "" if name in INLINE_ELEMENTS else SEPARATOR

    def _end_tag(self, name: str) -> str:
        if self.open_count.get(name):  # close it and whatever was left open inside it
            while (closed := self.hidden.pop()) != name:
                self.open_count[closed] -= 1
            self.open_count[name] -= 1
            return SEPARATOR
        return "" if name in INLINE_ELEMENTS else SEPARATOR


def _comment_end(html: str, pos: int) -> int:
    """Just past the comment whose text starts at `pos`. HTML5 closes `<!-->` and `<!--->` at
    once; an unterminated comment runs to the end."""
    for abrupt in (">", "->"):
        if html.startswith(abrupt, pos):
            return pos + len(abrupt)
    match = COMMENT_END.search(html, pos)
    return match.end() if match else len(html)


def _tag_end(html: str, pos: int) -> int:
    """Index just past the tag's `>`; quoted attribute values may hold `>`. An unterminated
    tag runs to the end of the input (HTML5 drops it)."""
    end = len(html)
    while (match := TAG_STOP.search(html, pos)) is not None:
        pos = match.start()
        if html[pos] == ">":
            return pos + 1
        spaces = SPACES.match(html, pos + 1)
        pos = spaces.end() if spaces else pos + 1
        quote = html[pos : pos + 1]
        if quote in ('"', "'"):
            close = html.find(quote, pos + 1)
            if close < 0:
                return end
            pos = close + 1
        else:
            value_end = UNQUOTED_VALUE_END.search(html, pos)
            if value_end is None:
                return end
            pos = value_end.start()
    return end


def _raw_text(html: str, name: str, pos: int) -> tuple[int, str]:
    """Where the raw-text element `name` whose content starts at `pos` ends (past its end tag,
    or the end of the input), and the text it stands for."""
    close = _closing_tag(html, name, pos)
    after = _tag_end(html, close + 2 + len(name)) if close < len(html) else close
    if name in HIDDEN_ELEMENTS:
        return after, SEPARATOR
    content = html[pos:close]
    if name in ENTITY_DECODED_RAW_TEXT:
        content = unescape(content)
    return after, f" {content} "


@functools.cache
def _end_tag_pattern(name: str) -> re.Pattern[str]:
    """`</name` in any ASCII case (only: as HTML5 compares), then the end of the input,
    whitespace, `/` or `>`. `name` is one of the few raw-text elements."""
    return re.compile(f"(?ai:</{name})(?![^\\s/>])")


def _closing_tag(html: str, name: str, pos: int) -> int:
    """Where the end tag of raw-text element `name` starts, or the end of the input."""
    found = _end_tag_pattern(name).search(html, pos)
    return found.start() if found else len(html)


def _past(index: int, end: int) -> int:
    """Just past a found `>`, or the end of the input when there was none."""
    return end if index < 0 else index + 1
