"""The state of each issue date of an archive: the one decision `status`, `report` and
`schedule` share.

Two sources: a date's snapshot, through its footer (`storage.parquet.snapshot_info`), and the
run log (`run_outcomes`: the latest outcome of the date, and whether a run archived it). A
snapshot wins over the run log: it is what the archive holds, and a crawl never replaces it
with less.

- ``archived``: a complete snapshot.
- ``suspect``: a complete snapshot whose extraction health departed sharply from the archive's
  recent issues when it was written (`pipelines.health`: a field that was filled now empty,
  articles per page halved, bodies from the fallback). A crawl again will not change that: it
  needs a person (a parser fix and `epaper reparse`, or a look at the portal).
- ``incomplete``: a snapshot whose crawl had failures (it holds what could be archived).
- ``damaged``: a snapshot (articles or pages) that is not valid Parquet, or whose pages
  snapshot is gone; with ``verify=True`` (`status --check`), also one where a column chunk
  does not decode or a checksum stored when it was written no longer matches
  (`storage.parquet.verify_file`).
- ``no_issue``: no snapshot, and the latest outcome is "no issue" from a run that ended after
  the day was over in the portal's time zone.
- ``pending``: no snapshot, and the latest outcome is "no issue" from a run that ended before
  the day was over: the issue may just not be published yet (the 07:30 run), so it is not
  confirmed and the date is crawled again.
- ``lost``: no snapshot, though a run of the run log archived the date (an ``archived``
  outcome, or an ``incomplete`` one that kept rows): the snapshot was deleted or lost since.
  ``restore`` says how to get it back: `epaper reparse` from its WARC files, when they are
  still there.
- ``missing``: no snapshot and no "no issue": never crawled, or the latest run failed, or a
  crawl of it was killed before any run recorded it (its unfinished files, `leftovers`, say so
  until the next crawl removes them: `storage.leftovers`).

Only ``archived``, ``suspect`` and ``no_issue`` need no further crawl (a ``lost`` or
``damaged`` date is better restored with `epaper reparse` than crawled again: the portal may
have changed since).
"""
from __future__ import annotations

import datetime as dt
import shlex
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from epaper.crawler.outcome import (ARCHIVED, COMPLETE_STATES, DAMAGED, DONE_STATES, INCOMPLETE, LOST, MISSING,  # noqa: F401
                                   NO_ISSUE, PENDING, SNAPSHOT_STATES, STATES, SUSPECT)
from epaper.runlog import read_runs
from epaper.storage.parquet import archived_dates, has_snapshot, partition_dir, snapshot_info, verify_snapshot
from epaper.storage.leftovers import by_date, leftovers
from epaper.storage.runs import archived_by, dated_outcomes, wrote_snapshot


Failure = tuple[str | None, str | None]  # (url, reason)


@dataclass(frozen=True)
class DateState:
    date: dt.date
    state: str  # one of STATES
    pages: int = 0
    articles: int = 0
    duplicates: int = 0
    # The snapshot's crawl time; without a snapshot, when the date's latest run ended.
    last_crawled: str | None = None
    last_run: str | None = None  # the latest run-log status of the date, None if never run
    failures: tuple[Failure, ...] = ()  # the snapshot's, or else the latest outcome's
    error: str | None = None  # why a damaged snapshot is unreadable
    suspect: tuple[str, ...] = ()  # the changes that make a complete snapshot suspect
    health: dict | None = None  # the snapshot's extraction health (pipelines.health)
    # Damaged or lost: the command that rebuilds it from its WARC files, or why none can.
    restore: str | None = None
    archived_by: str | None = None  # lost: the latest run that archived it (run id, when it ended)
    checksummed: bool | None = None  # verified: False when judged by a full decode only (no checksum stored)
    leftovers: int = 0  # unfinished files a killed crawl left in the date's folders (storage.leftovers)
    source: str = ""  # the paper

    @property
    def has_snapshot(self) -> bool:
        return self.state in SNAPSHOT_STATES

    @property
    def needs_crawl(self) -> bool:
        """Not archived completely and not confirmed to have no issue."""
        return self.state not in DONE_STATES

    @property
    def note(self) -> str:
        """One line saying why a date needs a crawl; "" when it does not."""
        if self.state == DAMAGED:
            return (self.error or "damaged snapshot") + (f"; {self.restore}" if self.restore else "")
        if self.state == LOST:
            return f"archived by run {self.archived_by}, its snapshot is gone; {self.restore}"
        if self.state == SUSPECT:
            return "suspect: " + "; ".join(self.suspect)
        if self.state == INCOMPLETE:
            if not self.failures:
                return "incomplete (no failure recorded)"
            reasons = Counter(reason or "?" for _, reason in self.failures)
            return f"{len(self.failures)} failed: " + ", ".join(
                f"{r} ×{n}" for r, n in reasons.most_common(3))
        if self.state == PENDING:
            return "last run: no_issue, before the day was over (not confirmed)"
        if self.state == MISSING:
            if self.last_run is None:
                if self.leftovers:
                    return (f"a crawl was killed before it finished ({_files(self.leftovers)} left unfinished; "
                            f"the next crawl removes them)")
                return "never crawled"
            note = f"last run: {self.last_run}"
            if self.failures:
                url, reason = self.failures[0]
                note += f" ({url}: {reason or '?'})"
            return note
        return ""


def no_issue_confirmed(day: dt.date, ended: object, tz: dt.tzinfo) -> bool:
    """Whether a "no issue" for `day` from a run that ended at `ended` (ISO text, UTC) is
    final: the run ended once `day` was over in `tz`. An unreadable time confirms nothing."""
    try:
        when = dt.datetime.fromisoformat(str(ended).replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        return False
    return when >= dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)


def date_states(data_dir: str | Path, source: str, *, tz: dt.tzinfo, start: dt.date | None = None,
                end: dt.date | None = None, verify: bool = False, runs: list | None = None) -> list[DateState]:
    """One DateState per date of the paper `source` from `start` to `end` (inclusive), oldest first.

    A bound left out is the first (last) date the snapshots or the run log know; [] when one is
    left out and nothing is known, or when start > end. `tz` is the portal's time zone, where
    a day ends (`schedule.timezone`). `verify`: read every snapshot whole (every column chunk
    decoded, its checksums compared) rather than its footer alone.
    """
    root = Path(data_dir)
    snapshots = set(archived_dates(root, source))
    outcomes, archived = run_outcomes(root, source, runs)
    left = Counter({day: n for (paper, day), n in by_date(leftovers(root, source)).items() if paper == source})
    known = snapshots | set(outcomes) | {day for day in left if day is not None}
    if (start is None or end is None) and not known:
        return []
    first = start if start is not None else min(known)
    last = end if end is not None else max(known)
    days = [first + dt.timedelta(i) for i in range((last - first).days + 1)]
    return [replace(s, leftovers=left[s.date]) if left[s.date] else s
            for s in (_state(root, source, day, day in snapshots, outcomes.get(day), tz, archived.get(day), verify)
                      for day in days)]


def run_outcomes(root: Path, source: str,
                 runs: list | None = None) -> tuple[dict[dt.date, dict[str, Any]], dict[dt.date, str]]:
    """From one read of the run log: the latest outcome per date (with its run's ``run_id``
    and ``ended``), and the dates some run archived, each with the latest such run
    ("<run id>, ended <time>"): an ``archived`` outcome, or an ``incomplete`` one with rows,
    wrote a snapshot."""
    latest: dict[dt.date, dict[str, Any]] = {}
    archived: dict[dt.date, str] = {}
    for day, outcome, run in dated_outcomes(read_runs(root) if runs is None else runs, source):
        latest[day] = {**outcome, "run_id": run.get("run_id"), "ended": run.get("ended")}
        if wrote_snapshot(outcome):
            archived[day] = archived_by(run)
    return latest, archived


def restore_command(root: Path, source: str, day: dt.date) -> str:
    """How to get a date's snapshots back: `epaper reparse` when its WARC files are there."""
    warcs = sum(1 for _ in partition_dir(root, source, "warc", day).glob("*.warc.gz"))
    where = f"--source {source} --data {shlex.quote(str(root))}"
    if warcs:
        return (f"restore it from its {warcs} WARC file{'s' if warcs > 1 else ''}: "
                f"epaper reparse --date {day.isoformat()} {where}")
    return (f"its WARC files are gone too: only a new crawl can bring it back, if the portal still "
            f"serves it (epaper crawl --date {day.isoformat()} {where})")


def _state(root: Path, source: str, day: dt.date, present: bool, outcome: Mapping[str, Any] | None,
           tz: dt.tzinfo, archived_by: str | None = None, verify: bool = False) -> DateState:
    run = outcome or {}
    last_run = run.get("status")
    if present:
        info = snapshot_info(root, source, day)
        error, checksummed = info.error, None
        if error is None and info.pages and not has_snapshot(root, source, day, "pages"):
            error = "its pages snapshot is gone"
        if error is None and verify:
            error, checksummed = verify_snapshot(root, source, day)
        state = DAMAGED if error else (SUSPECT if info.suspect else ARCHIVED) if info.complete else INCOMPLETE
        return DateState(day, state, info.pages, info.articles, info.duplicates, info.crawled_at,
                         last_run, _failures(info.failures), error, tuple(info.suspect), info.health,
                         restore=restore_command(root, source, day) if error else None, checksummed=checksummed,
                         source=source)
    if archived_by is not None:
        return DateState(day, LOST, last_crawled=run.get("ended"), last_run=last_run,
                         failures=_failures(run.get("failures")), restore=restore_command(root, source, day),
                         archived_by=archived_by, source=source)
    if last_run == "no_issue":
        state = NO_ISSUE if no_issue_confirmed(day, run.get("ended"), tz) else PENDING
    else:
        state = MISSING
    return DateState(day, state, last_crawled=run.get("ended"), last_run=last_run,
                     failures=_failures(run.get("failures")), source=source)


def _files(n: int) -> str:
    return f"{n} file{'s' if n != 1 else ''}"


def _failures(raw: object) -> tuple[Failure, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple((f.get("url"), f.get("reason")) for f in raw if isinstance(f, dict))


def papers_shown(config: Any, data: Path, sources: list[str] | None = None) -> list[str]:
    """The papers a reading command shows: those asked for (`--source`), else every paper of
    the config and of the archive (one the config no longer names is still shown)."""
    from epaper.storage.layout import archive_papers

    if sources:
        return list(sources)
    return sorted({p.portal.id for p in config.papers()} | set(archive_papers(data, read_runs(data))))
