"""`epaper status`: one row per archived issue date, and the dates of the scheduler's window
that still need a crawl (`epaper.state`); its exit status is the archive's health check
(`epaper.health`): 0 healthy, 1 something to look at (each reason on its own line).

`status` reads each snapshot's footer; `status --check` reads every snapshot whole (every
column chunk decoded, the checksums stored when it was written compared), and says how many
were judged by a full decode alone (written before checksums were stored).

Both count the unfinished files a killed crawl left (`storage.leftovers`), which the next run
holding the archive lock removes: a line, and `"leftovers"` in the JSON (per date row; with
`--check`, `{"files", "dates"}` at the top)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from epaper.config import Config, UsageError
from epaper.terminal import counted


def run_status(config: Config, as_json: bool, today: dt.date | None = None, check: bool = False,
               now: dt.datetime | None = None, sources: list[str] | None = None) -> int:
    from epaper.changes import counts_by_date
    from epaper.health import as_json as health_json
    from epaper.health import check as health_check
    from epaper.health import date_row
    from epaper.runlog import read_runs
    from epaper.state import ARCHIVED, DAMAGED, INCOMPLETE, LOST, PENDING, SUSPECT, papers_shown
    from epaper.storage.leftovers import by_date, leftovers
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
    shown = papers_shown(config, data, sources)
    runs = read_runs(data)  # once for every paper
    healths = {source: health_check(data, source, tz=tz, catchup_days=days, today=today, now=now, runs=runs,
                                    max_success_age_hours=config.health.max_success_age_hours, verify=check)
               for source in shown}
    reasons = [reason for health in healths.values() for reason in health.reasons]
    status = 1 if reasons else 0
    left = by_date(leftovers(data))
    if check:
        unchecked = [f"{s.source} {s.date}" for h in healths.values() for s in h.dates if s.checksummed is False]
        if as_json:
            facts = {"healthy": not reasons, "reasons": reasons, "papers": []}
            for source, health in healths.items():
                paper = {"source": source, **health_json(health, tz)}
                mine = [s for s in health.dates if s.checksummed is False]
                paper["verified"] = {"snapshots": sum(s.checksummed is not None for s in health.dates),
                                     "decode_only": [s.date.isoformat() for s in mine]}
                facts["papers"].append(paper)
            facts["leftovers"] = {"files": sum(left.values()),
                                  "dates": [f"{src} {d}" for src, d in sorted(k for k in left if k[1] is not None)]}
            print(json.dumps(facts, ensure_ascii=False, indent=1))
        else:
            print("healthy" if not reasons else "\n".join(reasons))
            if unchecked:
                print(f"note: {len(unchecked)} date{'s' if len(unchecked) > 1 else ''} written before checksums "
                      f"were stored, judged by a full decode alone ({_dates(unchecked)}); epaper reparse "
                      f"rewrites them with checksums")
            _say_leftovers(left)
        return status
    changes = {source: counts_by_date(data, source) for source in shown}  # corrections kept, rows marked gone
    if as_json:
        print(json.dumps([{**date_row(s, tz), **changes[source].get(s.date, {"revised": 0, "gone": 0}),
                           "leftovers": left[(source, s.date)]}
                          for source, health in healths.items() for s in health.dates],
                         ensure_ascii=False, indent=1))
        return status
    width = max([len("source"), *map(len, shown)])
    print(f"{'source':<{width}}  {'date':<10}  {'pages':>5}  {'articles':>8}  {'dups':>4}  {'complete':<8}  "
          f"last crawled ({config.schedule.timezone})")
    for source, health in healths.items():
        for s in health.dates:
            flag = {ARCHIVED: "yes", DAMAGED: "DAMAGED", LOST: "LOST", SUSPECT: "suspect"}.get(s.state, "no")
            print(f"{source:<{width}}  {s.date.isoformat():<10}  {s.pages:>5}  {s.articles:>8}  {s.duplicates:>4}  "
                  f"{flag:<8}  {iso_text(s.last_crawled, tz) or '-'}")
    for source, health in healths.items():
        archived = health.dates
        gaps = [s.date.isoformat() + (" (no issue so far)" if s.state == PENDING else "") for s in health.gaps]
        incomplete, damaged, lost = ([s.date.isoformat() for s in archived if s.state == state]
                                     for state in (INCOMPLETE, DAMAGED, LOST))
        print(f"{source}: {counted(len(archived) - len(lost), 'date')} archived, {len(incomplete)} incomplete"
              + (f" ({_dates(incomplete)})" if incomplete else "")
              + (f", {len(damaged)} damaged ({_dates(damaged)})" if damaged else "")
              + (f", {len(lost)} lost ({_dates(lost)})" if lost else "")
              + f"; missing in the last {days} days: {', '.join(gaps) or 'none'}")
        revised, gone = (sum(c[k] for c in changes[source].values()) for k in ("revised", "gone"))
        if revised or gone:
            print(f"{source}: {counted(revised, 'correction')} kept, {counted(gone, 'article')} removed by the "
                  f"portal (epaper changes lists them)")
    _say_leftovers(left)
    for reason in reasons:
        print(f"attention: {reason}")
    return status


def _say_leftovers(left) -> None:
    files = sum(left.values())
    if not files:
        return
    days = [f"{source} {day}" for source, day in sorted(k for k in left if k[1] is not None)]
    where = f" in the folders of {_dates(days)}" if days else ""
    print(f"{files} unfinished file{'s' if files != 1 else ''} left by a killed crawl{where}; "
          f"the next crawl removes them")


def _dates(days: list[str], most: int = 10) -> str:
    return ", ".join(days[:most]) + (f" and {len(days) - most} more" if len(days) > most else "")
