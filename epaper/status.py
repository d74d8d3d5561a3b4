"""`epaper status`: one row per archived issue date, and the dates of the scheduler's window
that still need a crawl (`epaper.state`)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from epaper.config import Config, UsageError


def run_status(config: Config, as_json: bool, today: dt.date | None = None) -> int:
    from epaper.state import ARCHIVED, DAMAGED, MISSING, PENDING, date_states

    from epaper.storage.load import is_archive

    data = Path(config.storage.data_dir)
    if not data.exists():
        raise UsageError(f"no archive at {data}: the directory does not exist")
    if not data.is_dir():
        raise UsageError(f"data directory {data} is not a directory")
    if not is_archive(data):
        raise UsageError(f"{data} is not an epaper archive (no articles/, pages/, runs/ or warc/ in it)")
    tz = config.schedule.tzinfo
    archived = [s for s in date_states(data, tz=tz) if s.has_snapshot]
    today = today or dt.datetime.now(tz).date()
    days = config.schedule.catchup_days
    # A window reaching before 1900 (catchup_days = 1000000) holds no e-paper: cut it there
    # rather than fail on a date before year 1.
    start = max(dt.date(1900, 1, 1), today - dt.timedelta(min(days, (today - dt.date.min).days + 1) - 1))
    window = date_states(data, tz=tz, start=start, end=today)
    # Incomplete and damaged dates need a crawl too, but are listed as incomplete.
    gaps = [s.date.isoformat() + (" (no issue so far)" if s.state == PENDING else "")
            for s in window if s.state in (MISSING, PENDING)]
    incomplete = [s.date.isoformat() for s in archived if s.state != ARCHIVED]
    from epaper.timefmt import iso_text

    from epaper.changes import counts_by_date

    changes = counts_by_date(data)  # corrections kept in revisions/, rows marked gone
    if as_json:
        rows = [{"date": s.date.isoformat(), "pages": s.pages, "articles": s.articles,
                 "duplicates": s.duplicates, "complete": s.state == ARCHIVED,
                 "last_crawled": iso_text(s.last_crawled, tz), "error": s.error,
                 **changes.get(s.date, {"revised": 0, "gone": 0})} for s in archived]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print(f"{'date':<10}  {'pages':>5}  {'articles':>8}  {'dups':>4}  {'complete':<8}  "
          f"last crawled ({config.schedule.timezone})")
    for s in archived:
        flag = {ARCHIVED: "yes", DAMAGED: "DAMAGED"}.get(s.state, "no")
        print(f"{s.date.isoformat():<10}  {s.pages:>5}  {s.articles:>8}  {s.duplicates:>4}  {flag:<8}  "
              f"{iso_text(s.last_crawled, tz) or '-'}")
    print(f"{len(archived)} dates archived, {len(incomplete)} incomplete"
          + (f" ({', '.join(incomplete[:10])})" if incomplete else "")
          + f"; missing in the last {days} days: {', '.join(gaps) or 'none'}")
    revised, gone = (sum(c[k] for c in changes.values()) for k in ("revised", "gone"))
    if revised or gone:
        print(f"{revised} corrections kept, {gone} articles removed by the portal (epaper changes lists them)")
    return 0
