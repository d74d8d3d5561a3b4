"""`epaper status`: one row per archived issue date, and the dates of the scheduler's window
that still need a crawl (`epaper.state`); its exit status is the archive's health check
(`epaper.health`): 0 healthy, 1 something to look at (each reason on its own line)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from epaper.config import Config, UsageError


def run_status(config: Config, as_json: bool, today: dt.date | None = None, check: bool = False,
               now: dt.datetime | None = None) -> int:
    from epaper.changes import counts_by_date
    from epaper.health import as_json as health_json
    from epaper.health import check as health_check
    from epaper.health import date_row
    from epaper.state import ARCHIVED, DAMAGED, PENDING, SUSPECT
    from epaper.storage.load import is_archive
    from epaper.timefmt import iso_text

    data = Path(config.storage.data_dir)
    if not data.exists():
        raise UsageError(f"no archive at {data}: the directory does not exist")
    if not data.is_dir():
        raise UsageError(f"data directory {data} is not a directory")
    if not is_archive(data):
        raise UsageError(f"{data} is not an epaper archive (no articles/, pages/, runs/ or warc/ in it)")
    tz = config.schedule.tzinfo
    days = config.schedule.catchup_days
    health = health_check(data, tz=tz, catchup_days=days, today=today, now=now,
                          max_success_age_hours=config.health.max_success_age_hours)
    status = 0 if health.healthy else 1
    if check:
        if as_json:
            print(json.dumps(health_json(health, tz), ensure_ascii=False, indent=1))
        else:
            print("healthy" if health.healthy else "\n".join(health.reasons))
        return status
    archived = health.dates
    changes = counts_by_date(data)  # corrections kept in revisions/, rows marked gone
    if as_json:
        print(json.dumps([{**date_row(s, tz), **changes.get(s.date, {"revised": 0, "gone": 0})} for s in archived],
                         ensure_ascii=False, indent=1))
        return status
    # Incomplete and damaged dates need a crawl too, but are listed as incomplete.
    gaps = [s.date.isoformat() + (" (no issue so far)" if s.state == PENDING else "") for s in health.gaps]
    incomplete = [s.date.isoformat() for s in archived if s.state not in (ARCHIVED, SUSPECT)]
    print(f"{'date':<10}  {'pages':>5}  {'articles':>8}  {'dups':>4}  {'complete':<8}  "
          f"last crawled ({config.schedule.timezone})")
    for s in archived:
        flag = {ARCHIVED: "yes", DAMAGED: "DAMAGED", SUSPECT: "suspect"}.get(s.state, "no")
        print(f"{s.date.isoformat():<10}  {s.pages:>5}  {s.articles:>8}  {s.duplicates:>4}  {flag:<8}  "
              f"{iso_text(s.last_crawled, tz) or '-'}")
    print(f"{len(archived)} dates archived, {len(incomplete)} incomplete"
          + (f" ({', '.join(incomplete[:10])})" if incomplete else "")
          + f"; missing in the last {days} days: {', '.join(gaps) or 'none'}")
    revised, gone = (sum(c[k] for c in changes.values()) for k in ("revised", "gone"))
    if revised or gone:
        print(f"{revised} corrections kept, {gone} articles removed by the portal (epaper changes lists them)")
    for reason in health.reasons:
        print(f"attention: {reason}")
    return status
