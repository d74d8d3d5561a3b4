"""The archive's health check (`epaper status`'s exit status and `status --check`): is the
archive being kept, and does it read the portal right?

Unhealthy (exit status 1), each with its reason:

- a damaged snapshot, at any date (not valid Parquet: replaced by the next crawl of its date;
  with `verify`, as `status --check` runs it, every snapshot is read whole: a column chunk that
  does not decode or a checksum that no longer matches makes it damaged too);
- a lost date, at any date: archived by a run of the run log, its snapshot gone since (with the
  `epaper reparse` command that restores it from its WARC files);
- in the catch-up window (`schedule.catchup_days`, today included, in `schedule.timezone`): an
  incomplete date (with its failed URLs and reasons), a missing date (no snapshot and not
  confirmed to have no issue; today is not counted, as its issue may not be out yet), a
  *suspect* date (extraction unlike the archive's recent issues: `pipelines.health`);
- no successful run (every requested date archived: exit status 0 or 3, `epaper.exits.SUCCESS`)
  for longer than `health.max_success_age_hours`, or none recorded. An update (or a scheduled
  run) is one run with its child crawls (`runlog.whole_runs`): it succeeded when they all did.

One decision over `epaper.state.date_states` and the run log, like status, report and the
scheduler's.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epaper.crawler.outcome import DAMAGED, INCOMPLETE, LOST, MISSING, PENDING, SUSPECT
from epaper.exits import SUCCESS
from epaper.runlog import read_runs, run_ended, whole_runs
from epaper.state import DateState, date_states


@dataclass
class Health:
    today: dt.date
    window: tuple[dt.date, dt.date] | None  # None: catchup_days = 0
    dates: list[DateState]  # every archived date (snapshots, and lost ones), oldest first
    gaps: list[DateState]  # missing and pending dates of the window
    reasons: list[str] = field(default_factory=list)
    last_run: dict[str, Any] | None = None
    last_success: dict[str, Any] | None = None
    success_age_hours: float | None = None

    @property
    def healthy(self) -> bool:
        return not self.reasons


def window_start(today: dt.date, days: int) -> dt.date:
    # A window reaching before 1900 (catchup_days = 1000000) holds no e-paper: cut it there
    # rather than fail on a date before year 1.
    return max(dt.date(1900, 1, 1), today - dt.timedelta(min(days, (today - dt.date.min).days + 1) - 1))


def check(data: str | Path, source: str, *, tz: dt.tzinfo, catchup_days: int, max_success_age_hours: float,
          today: dt.date | None = None, now: dt.datetime | None = None, verify: bool = False,
          runs: list | None = None) -> Health:
    """The paper's health; each reason starts with its id. `runs`: the run log as read_runs
    gives it (read here when None; a command checking several papers reads it once)."""
    root = Path(data)
    now = now or dt.datetime.now(dt.timezone.utc)
    today = today or now.astimezone(tz).date()
    dates = [s for s in date_states(root, source, tz=tz, verify=verify, runs=runs) if s.has_snapshot or s.state == LOST]
    window: list[DateState] = []
    span = None
    if catchup_days > 0:
        span = (window_start(today, catchup_days), today)
        window = date_states(root, source, tz=tz, start=span[0], end=span[1], runs=runs)
    health = Health(today, span, dates, [s for s in window if s.state in (MISSING, PENDING)])
    reasons = health.reasons
    for s in dates:
        if s.state in (DAMAGED, LOST):
            reasons.append(f"{s.state}: {s.date} ({s.note})")
    for s in window:
        if s.state == INCOMPLETE:
            reasons.append(f"incomplete: {s.date} ({s.note})")
        elif s.state in (MISSING, PENDING) and s.date < today:
            reasons.append(f"missing: {s.date} ({s.note})")
        elif s.state == SUSPECT:
            reasons.append(f"suspect: {s.date} ({'; '.join(s.suspect)})")
    runs = whole_runs(read_runs(root) if runs is None else runs, source)
    health.last_run = runs[-1] if runs else None
    success = next((r for r in reversed(runs) if r.get("exit_status") in SUCCESS and run_ended(r)), None)
    health.last_success = success
    if success is None:
        reasons.append("no successful run recorded")
    else:
        ended = run_ended(success)
        assert ended is not None
        health.success_age_hours = round((now - ended).total_seconds() / 3600, 2)
        if health.success_age_hours > max_success_age_hours:
            reasons.append(f"last successful run ended {health.success_age_hours:.0f} hours ago "
                           f"({success.get('ended')}), more than {max_success_age_hours:g}")
    health.reasons[:] = [f"{source}: {reason}" for reason in reasons]
    return health


def date_row(s: DateState, tz: dt.tzinfo) -> dict[str, Any]:
    """One date as `status --json` prints it."""
    from epaper.crawler.outcome import COMPLETE_STATES
    from epaper.timefmt import iso_text

    return {"source": s.source, "date": s.date.isoformat(), "pages": s.pages, "articles": s.articles, "duplicates": s.duplicates,
            "complete": s.state in COMPLETE_STATES, "last_crawled": iso_text(s.last_crawled, tz),
            "error": s.error, "state": s.state,
            "failures": [{"url": url, "reason": reason} for url, reason in s.failures],
            "suspect": list(s.suspect), "health": s.health}


def as_json(health: Health, tz: dt.tzinfo) -> dict[str, Any]:
    """Every fact of the check, with the reasons (`status --check --json`)."""
    def run(r: dict[str, Any] | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {k: r.get(k) for k in ("run_id", "command", "started", "ended", "exit_status")}

    def failures(s: DateState) -> list[dict[str, Any]]:
        return [{"url": url, "reason": reason} for url, reason in s.failures]

    window = health.window
    in_window = [s for s in health.dates if window and window[0] <= s.date <= window[1]]
    return {
        "healthy": health.healthy,
        "reasons": health.reasons,
        "today": health.today.isoformat(),
        "window": {"start": window[0].isoformat(), "end": window[1].isoformat()} if window else None,
        "damaged": [{"date": s.date.isoformat(), "error": s.error, "restore": s.restore}
                    for s in health.dates if s.state == DAMAGED],
        "lost": [{"date": s.date.isoformat(), "archived_by": s.archived_by, "restore": s.restore}
                 for s in health.dates if s.state == LOST],
        "incomplete": [{"date": s.date.isoformat(), "failures": failures(s)} for s in in_window
                       if s.state == INCOMPLETE],
        "missing": [{"date": s.date.isoformat(), "state": s.state, "note": s.note, "last_run": s.last_run,
                     "failures": failures(s)} for s in health.gaps],
        "suspect": [{"date": s.date.isoformat(), "changes": list(s.suspect)} for s in in_window
                    if s.state == SUSPECT],
        "last_run": run(health.last_run),
        "last_success": run(health.last_success),
        "last_success_age_hours": health.success_age_hours,
        "dates": [date_row(s, tz) for s in health.dates],
    }
