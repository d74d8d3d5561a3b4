"""`epaper changes`: what the portal corrected and removed after the archive first took it.

Corrections come from the `revisions` dataset (storage.revisions: each earlier version with
when it was superseded and the fields that changed), shown with a short diff against the
version that replaced it; removals are the snapshot rows marked `gone_since`. The run log
records both per run (`revised`, `gone` in a date's outcome); `status` counts them.
"""
from __future__ import annotations

import datetime as dt
import difflib
import itertools
import json
import logging
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from epaper.config import Config, UsageError
from epaper.storage.parquet import META_KEY, archived_dates, open_regular, read_snapshot, snapshot_path
from epaper.storage.revisions import read_revisions, revised_dates
from epaper.terminal import counted

log = logging.getLogger(__name__)

SNIPPET = 24  # characters of context shown on each side of a change


def _clip(text: str, width: int = SNIPPET) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


MAX_CELLS = 250_000  # the largest len(a) * len(b) handed to difflib (its time grows with the product)


def _common_prefix(a, b) -> int:
    """Length of the common prefix of two strings or lists, by halving (slice compares in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a, b, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b), limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid:len(a) - lo] == b[len(b) - mid:len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def body_edits(old: str, new: str) -> list[tuple[str, int, int, int, int]]:
    """difflib's non-equal opcodes from `old` to `new`, in near-linear time on any input.

    The common prefix and suffix go first (a correction touches a few characters of a long
    article: what is left is small); what is left is diffed by character when difflib can do it
    within MAX_CELLS, else by paragraph (lines), else taken as one replacement."""
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, min(len(old), len(new)) - start)
    a, b = old[start:len(old) - end], new[start:len(new) - end]
    if not a and not b:
        return []
    if len(a) * len(b) <= MAX_CELLS:
        ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    else:
        la, lb = _lines(a), _lines(b)
        if len(la) * len(lb) <= MAX_CELLS:
            ca = [0, *itertools.accumulate(map(len, la))]
            cb = [0, *itertools.accumulate(map(len, lb))]
            ops = [(tag, ca[i1], ca[i2], cb[j1], cb[j2])
                   for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, la, lb, autojunk=False).get_opcodes()]
        else:
            ops = [("replace" if a and b else "delete" if a else "insert", 0, len(a), 0, len(b))]
    return [(tag, i1 + start, i2 + start, j1 + start, j2 + start) for tag, i1, i2, j1, j2 in ops if tag != "equal"]


def field_diff(field: str, old, new) -> str:
    """One short line saying how a field changed."""
    if field == "images":
        old, new = old or [], new or []
        if len(old) != len(new):
            return f"images: {len(old)} → {len(new)}"
        return "images: " + ", ".join(f"#{i + 1} changed" for i, (a, b) in enumerate(zip(old, new)) if a != b)
    old, new = old or "", new or ""
    if field != "body" or (len(old) <= 2 * SNIPPET and len(new) <= 2 * SNIPPET):
        return f"{field}: {json.dumps(old, ensure_ascii=False)} → {json.dumps(new, ensure_ascii=False)}"
    edits = body_edits(old, new)
    if not edits:
        return "body: unchanged"
    added = sum(j2 - j1 for tag, _, _, j1, j2 in edits if tag in ("insert", "replace"))
    removed = sum(i2 - i1 for tag, i1, i2, _, _ in edits if tag in ("delete", "replace"))
    _, i1, i2, j1, j2 = edits[0]
    before = old[max(0, i1 - 8):i1]
    first = f"…{before}[{_clip(old[i1:i2])}→{_clip(new[j1:j2])}]…"
    more = f", {len(edits) - 1} more" if len(edits) > 1 else ""
    return f"body: +{added} −{removed} characters, {first}{more}"


def _gone_count(root: Path, source: str, day: dt.date) -> int | None:
    """Rows marked gone in the date's snapshot, from its footer (None: an older snapshot)."""
    try:
        with os.fdopen(open_regular(snapshot_path(root, source, "articles", day), root=root), "rb") as fh:
            info = json.loads((pq.read_metadata(fh).metadata or {}).get(META_KEY, b"{}"))
    except (OSError, ValueError, pa.ArrowException):
        return None
    return info.get("gone")


def _in(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def list_changes(root: str | Path, source: str, start: dt.date | None = None,
                 end: dt.date | None = None) -> list[dict]:
    """Every correction and removal of the paper's dates in [start, end], by date then time."""
    root = Path(root)
    events: list[dict] = []
    for day in (d for d in revised_dates(root, source) if _in(d, start, end)):
        try:
            table = read_snapshot(root, source, "articles", day) or pa.table({})
            current = {r["article_id"]: r for r in table.to_pylist()}
        except (OSError, pa.ArrowException) as exc:
            log.warning("%s: snapshot unreadable, corrections shown without the current version: %s", day, exc)
            current = {}
        history = read_revisions(root, source, day)
        for i, old in enumerate(history):
            later = [r for r in history[i + 1:] if r["article_id"] == old["article_id"]]
            newer = later[0] if later else current.get(old["article_id"], {})
            events.append({
                "source": source, "date": day.isoformat(), "kind": "corrected", "at": old["superseded_at"],
                "article_id": old["article_id"], "url": old["url"], "title": newer.get("title", old["title"]),
                "fields": list(old["changed_fields"]),
                "diff": [field_diff(f, old.get(f), newer.get(f)) for f in old["changed_fields"] if newer],
            })
    for day in (d for d in archived_dates(root, source) if _in(d, start, end)):
        if not _gone_count(root, source, day):
            continue
        try:
            table = read_snapshot(root, source, "articles", day)
        except (OSError, pa.ArrowException):
            continue
        for row in table.to_pylist() if table is not None else []:
            if row["gone_since"] is not None:
                events.append({"source": source, "date": day.isoformat(), "kind": "removed", "at": row["gone_since"],
                               "article_id": row["article_id"], "url": row["url"], "title": row["title"]})
    return sorted(events, key=lambda e: (e["date"], e["at"], e["kind"], e["article_id"]))


def counts_by_date(root: str | Path, source: str) -> dict[dt.date, dict[str, int]]:
    """The paper's date → {"revised": earlier versions kept, "gone": rows marked gone}, for `status`."""
    root = Path(root)
    out: dict[dt.date, dict[str, int]] = {}
    for day in revised_dates(root, source):
        out.setdefault(day, {"revised": 0, "gone": 0})["revised"] = len(read_revisions(root, source, day))
    for day in archived_dates(root, source):
        gone = _gone_count(root, source, day)
        if gone:
            out.setdefault(day, {"revised": 0, "gone": 0})["gone"] = gone
    return out


def run_changes(config: Config, start: dt.date | None, end: dt.date | None, as_json: bool,
                sources: list[str] | None = None) -> int:
    from epaper.state import papers_shown
    from epaper.storage.load import is_archive
    from epaper.terminal import printable, printable_json
    from epaper.timefmt import iso

    data = Path(config.storage.data_dir)
    if not is_archive(data):
        raise UsageError(f"{data} is not an epaper archive (no articles/, pages/, runs/ or warc/ in it)")
    if start and end and start > end:
        raise UsageError(f"--from {start} is after --to {end}")
    tz = config.schedule.tzinfo
    events = [{**e, "at": iso(e["at"], tz)} for source in papers_shown(config, data, sources)
              for e in list_changes(data, source, start, end)]
    if as_json:
        print(printable_json(json.dumps(events, ensure_ascii=False, indent=1)))
        return 0
    for e in events:  # titles and diffs are the portal's text: nothing in them acts on the terminal
        when = f"at {e['at']}" if e["kind"] == "corrected" else f"since {e['at']}"
        print(printable(f"{e['source']} {e['date']} {e['kind']:<9} {e['title']}  {e['url']}  {when}"))
        for line in e.get("diff", []):
            print(printable(f"    {line}"))
    corrected = sum(e["kind"] == "corrected" for e in events)
    print(f"{counted(corrected, 'correction')}, {len(events) - corrected} removed")
    return 0
