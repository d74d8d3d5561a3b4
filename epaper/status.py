"""`epaper status`: one row per archived issue date, and the missing dates of the window."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from epaper.config import Config, UsageError


def run_status(config: Config, as_json: bool) -> int:
    from epaper.runlog import last_outcomes
    from epaper.storage.parquet import archived_dates, snapshot_info

    data = Path(config.storage.data_dir)
    if data.exists() and not data.is_dir():
        raise UsageError(f"data directory {data} is not a directory")
    rows = []
    for day in archived_dates(data):
        info = snapshot_info(data, day)
        rows.append({"date": day.isoformat(), "pages": info.pages, "articles": info.articles,
                     "duplicates": info.duplicates, "complete": info.complete,
                     "last_crawled": info.crawled_at, "error": info.error})
    archived = {r["date"] for r in rows}
    today = dt.datetime.now(config.schedule.tzinfo).date()
    window = [today - dt.timedelta(i) for i in range(config.schedule.catchup_days - 1, -1, -1)]
    outcomes = last_outcomes(data) if data.is_dir() else {}
    no_issue = {d for d, o in outcomes.items() if o.get("status") == "no_issue"}
    gaps = [d.isoformat() for d in window if d.isoformat() not in archived and d not in no_issue]
    incomplete = [r["date"] for r in rows if not r["complete"]]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print(f"{'date':<10}  {'pages':>5}  {'articles':>8}  {'dups':>4}  {'complete':<8}  last crawled")
    for r in rows:
        flag = "yes" if r["complete"] else ("DAMAGED" if r["error"] else "no")
        print(f"{r['date']:<10}  {r['pages']:>5}  {r['articles']:>8}  {r['duplicates']:>4}  {flag:<8}  "
              f"{(r['last_crawled'] or '-')[:19]}")
    print(f"{len(rows)} dates archived, {len(incomplete)} incomplete"
          + (f" ({', '.join(incomplete[:10])})" if incomplete else "")
          + f"; missing in the last {config.schedule.catchup_days} days: {', '.join(gaps) or 'none'}")
    return 0
