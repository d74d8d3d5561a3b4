"""The one rule for times a person reads (scheduler lines, runs.jsonl, log file names and
lines, status): ISO 8601 with the UTC offset, in the portal's time zone (``schedule.timezone``,
default Asia/Shanghai, ``+08:00``), e.g. ``2026-11-27T07:30:00+08:00``. The Parquet column
``crawled_at`` stays a UTC instant (a timestamp type, not text)."""
from __future__ import annotations

import datetime as dt

DEFAULT_ZONE = "Asia/Shanghai"


def zone(tz: dt.tzinfo | str | None = None) -> dt.tzinfo:
    if tz is None or isinstance(tz, str):
        from zoneinfo import ZoneInfo

        return ZoneInfo(tz or DEFAULT_ZONE)
    return tz


def iso(when: dt.datetime, tz: dt.tzinfo | str | None = None) -> str:
    """`when` (aware) as ISO 8601 with its offset in `tz`, to the second."""
    return when.astimezone(zone(tz)).isoformat(timespec="seconds")


def iso_text(text: str | None, tz: dt.tzinfo | str | None = None) -> str | None:
    """An ISO time read back (any offset, or `Z`) shown by the rule; unreadable text as it is."""
    if not text:
        return text
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return iso(when, tz) if when.tzinfo else text


def now(tz: dt.tzinfo | str | None = None) -> str:
    return iso(dt.datetime.now(dt.timezone.utc), tz)


def stamp(when: dt.datetime, tz: dt.tzinfo | str | None = None) -> str:
    """For file names: ``20261127T073000+0800`` (basic ISO 8601, no colons)."""
    return when.astimezone(zone(tz)).strftime("%Y%m%dT%H%M%S%z")
