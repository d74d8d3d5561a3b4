"""The spider's arguments and the media kinds, checked once: the spider, the media capture and
the command line all use these.

Every function raises ValueError with a one-line message naming the bad value.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

LAYOUTS = ("auto", "pc", "html")


def parse_date(text: str | None) -> dt.date:
    """A date written YYYY-MM-DD."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
        raise ValueError(f"not a valid date (YYYY-MM-DD): {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a valid date (YYYY-MM-DD): {text!r}") from None


def check_base_url(url: str | None) -> str:
    """The e-paper root as an http(s) URL ending in "/"."""
    if not url:
        raise ValueError("no base URL: pass --base-url or set portal.base_url in epaper.toml")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() or ord(c) < 32 for c in url)):
        raise ValueError(f"base URL must be an http(s) URL, got {url!r}")
    return url if url.endswith("/") else url + "/"


def date_range(first: dt.date, last: dt.date) -> list[dt.date]:
    if first > last:
        raise ValueError(f"start {first} is after end {last}")
    return [first + dt.timedelta(d) for d in range((last - first).days + 1)]


@dataclass(frozen=True)
class CrawlArguments:
    root: str  # the e-paper root, ending in "/"
    dates: tuple[dt.date, ...]  # empty with latest
    latest: bool
    layout: str | None  # None: the EPAPER_LAYOUT setting decides


def crawl_arguments(base_url: str | None, date: str | None = None, start: str | None = None,
                    end: str | None = None, latest: str | None = None, layout: str | None = None,
                    dates: str | None = None) -> CrawlArguments:
    """The spider's `-a` arguments: `base_url`, and `date`, or `start`/`end`, or `dates` (dates
    separated by commas, in any order), or `latest=1`."""
    root = check_base_url(base_url)
    wants_latest = bool(latest) and latest not in ("0", "false", "no")
    if dates:
        days = sorted({parse_date(d.strip()) for d in dates.split(",")})
    elif date:
        days = [parse_date(date)]
    elif start or end:
        days = date_range(parse_date(start or end), parse_date(end or start))
    elif wants_latest:
        days = []
    else:
        raise ValueError("give date=, start=/end=, dates= or latest=1")
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"layout must be auto, pc or html, got {layout!r}")
    return CrawlArguments(root, tuple(days), wants_latest and not days, layout)


MEDIA_KINDS = ("pdf", "scan", "images")  # MEDIA_CAPTURE's kinds (crawler.media)


def media_kinds(value: Iterable[str] | str) -> tuple[str, ...]:
    """The media kinds named (a list, or comma-separated text), checked: MEDIA_CAPTURE."""
    names = value.split(",") if isinstance(value, str) else list(value)
    kinds = [str(n).strip().lower() for n in names if str(n).strip()]
    wrong = [k for k in kinds if k not in MEDIA_KINDS]
    if wrong:
        raise ValueError(f"unknown media kind {wrong[0]!r} (expected {', '.join(MEDIA_KINDS)})")
    return tuple(dict.fromkeys(kinds))


# What a media record may hold besides the body (WARC and HTTP headers), read back on replay.
RECORD_HEADROOM = 64 * 1024


def check_media_maxsize(media_maxsize: int, record_maxsize: int) -> None:
    """MEDIA_MAXSIZE against WARC_RECORD_MAXSIZE: every media record captured must replay."""
    if media_maxsize <= 0 or media_maxsize + RECORD_HEADROOM > record_maxsize:
        raise ValueError(f"MEDIA_MAXSIZE ({media_maxsize:,}) must be more than 0 and at least {RECORD_HEADROOM:,} "
                         f"bytes below WARC_RECORD_MAXSIZE ({record_maxsize:,}): every capture must replay")
