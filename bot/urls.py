"""Item links: resolved to absolute http(s) URLs, and canonical forms for dedup.

A canonical URL is what two copies of the same article link have in common: tracking parameters
and the fragment go, scheme and host are lower-cased, default ports dropped. The path and the
remaining query keep their case, encoding and order, because servers may depend on them.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

WEB_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": "80", "https": "443"}

# Query parameters that only say where a click came from (lower-cased names). Evidence in the
# corpus: utm_* (pcinpact, rt, tut.by), wt_mc (heise), xtor (lemonde), ITO/ns_* (dailymail).
TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset(
    {
        # ad and social click ids
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "yclid", "ysclid", "msclkid",
        "twclid", "ttclid", "li_fat_id", "igshid", "igsh", "ref_src",
        # mail and marketing platforms
        "mc_cid", "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp",
        "hsctatracking", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid",
        # analytics suites: Google, Webtrends, comScore, AT Internet, Adobe, Guardian, MSN, Yahoo
        "_ga", "_gl", "wt_mc", "wt_zmc", "wt.mc_id", "wt.mc_ev", "ns_campaign", "ns_mchannel",
        "ns_source", "ns_linkname", "ns_fee", "ito", "xtor", "at_medium", "at_campaign", "s_cid",
        "cmp", "ocid", "ncid",
    }
)  # fmt: skip
# Parameters that are tracking only when they say "came from the feed": ref=rss (derstandard),
# partner=rss and emc=rss (nytimes); elsewhere ref=… or source=… may select content.
FEED_MARKER_PARAMS = frozenset({"ref", "partner", "emc", "source", "src", "from", "feature", "via"})
FEED_MARKER_VALUE = re.compile(r"rss|^feed|^atom$")
URL_BREAKS = re.compile(r"[\t\r\n]")
URL_PADDING = re.compile(r"^[\s\x00-\x20]+|[\s\x00-\x20]+$")  # whitespace, control characters
# An absolute http(s) URL that `urlsplit` and `urlunsplit` give back unchanged: lower-case
# scheme, a plain host, no path parameters (`;`), no empty `?` or `#`, no spaces. Most feed links
# are like this, and for them the functions below skip the general (slower) parsing.
PLAIN_HTTP_URL = re.compile(
    r"(https?)://([A-Za-z0-9.-]+(?::[0-9]*)?)(/[^?#;\s]*)?(?:\?([^#\s]+))?(?:#\S+)?"
)


def clean_link(link: str) -> str:
    """A link as written in a feed, without the whitespace feeds wrap around and inside it."""
    if link.isprintable() and link[:1] != " " and link[-1:] != " ":
        return link  # no control character or whitespace but inner spaces: nothing to clean
    return URL_PADDING.sub("", URL_BREAKS.sub("", link))


def absolute_http_url(link: str, base: str) -> str:
    """`link` resolved against `base`, or "" unless that gives an http(s) URL with a host."""
    link = clean_link(link)
    if not link:
        return ""
    if PLAIN_HTTP_URL.fullmatch(link) and _joins_plainly(base):
        return link  # what urljoin gives for an absolute URL (and urlsplit accepts)
    try:
        resolved = urljoin(clean_link(base), link)
        parts = urlsplit(resolved)
        host = parts.hostname
    except ValueError:
        return ""
    if parts.scheme.lower() not in WEB_SCHEMES or not host:
        return ""
    return resolved


def web_and_canonical_url(link: str, base: str) -> tuple[str, str]:
    """`absolute_http_url(link, base)`, and its `canonical_url` ("" when there is no URL): a
    plain absolute link (most feed links are) is matched once for both."""
    link = clean_link(link)
    plain = PLAIN_HTTP_URL.fullmatch(link)
    if plain and _joins_plainly(base):
        return link, _plain_canonical(plain)
    url = absolute_http_url(link, base)
    return url, canonical_url(url) if url else ""


def canonical_url(url: str) -> str:
    """`url` without tracking parameters or fragment, scheme and host lower-cased, default
    port dropped. Anything but an http(s) URL with a host comes back only stripped."""
    url = clean_link(url)
    plain = PLAIN_HTTP_URL.fullmatch(url)
    if plain:
        return _plain_canonical(plain)
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES or not parts.netloc:
        return url
    netloc = _canonical_netloc(parts.netloc, scheme)
    query = _without_tracking(parts.query)
    return clean_link(urlunsplit((scheme, netloc, parts.path or "/", query, "")))


def _plain_canonical(plain: re.Match[str]) -> str:
    """`canonical_url` of a URL that PLAIN_HTTP_URL matched."""
    scheme, netloc, path, query = plain.groups()
    query = _without_tracking(query) if query else ""
    canonical = f"{scheme}://{_canonical_netloc(netloc, scheme)}{path or '/'}"
    return f"{canonical}?{query}" if query else canonical


@functools.lru_cache(maxsize=64)
def _joins_plainly(base: str) -> bool:
    """Whether `urljoin(base, url)` gives a plain absolute `url` back unchanged (it does unless
    the base itself fails to parse). Bases are few (one a feed), so the answer is kept."""
    try:
        urljoin(clean_link(base), "http://example.org/")
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _canonical_netloc(netloc: str, scheme: str) -> str:
    """The netloc with its host lower-cased and a default port dropped. A feed's links share a
    few hosts, so answers are kept."""
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal: the port follows the closing bracket
        close = hostport.find("]") + 1 or len(hostport)
        host, rest = hostport[:close], hostport[close:]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    host = host.lower()
    if port and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{userinfo}{at}{host}"


def _without_tracking(query: str) -> str:
    kept = [pair for pair in query.split("&") if pair.strip() and not _is_tracking(pair)]
    return "&".join(kept)


def _is_tracking(pair: str) -> bool:
    raw_name, _, raw_value = pair.partition("=")
    verdict = _tracking_name(raw_name)
    if verdict is not None:
        return verdict
    return bool(FEED_MARKER_VALUE.search(unquote_plus(raw_value).strip().lower()))


@functools.lru_cache(maxsize=512)
def _tracking_name(raw_name: str) -> bool | None:
    """Whether a query parameter so named is tracking: True, False, or None when its value
    decides (a feed marker). Names recur from link to link, so answers are kept."""
    name = unquote_plus(raw_name).strip().lower()
    if name.startswith(TRACKING_PREFIXES) or name in TRACKING_PARAMS:
        return True
    return None if name in FEED_MARKER_PARAMS else False
