"""`epaper.state.date_states`: each state of a date and the one "no issue" rule, over small
archives written with the storage writers and run-log lines, and the commands that use it."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from epaper.config import load_config
from epaper.runlog import runs_path
from epaper.state import (
    ARCHIVED,
    DAMAGED,
    INCOMPLETE,
    LOST,
    MISSING,
    NO_ISSUE,
    PENDING,
    DateState,
    date_states,
    no_issue_confirmed,
)
from epaper.status import run_status
from epaper.storage.parquet import snapshot_path, write_snapshot

SHANGHAI = ZoneInfo("Asia/Shanghai")
PARIS = ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc
DAY = dt.date(2026, 11, 26)  # over in Shanghai at 2026-11-26T16:00:00Z
FAIL = {"url": "http://127.0.0.1/a.html", "reason": "HTTP 503"}


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def write_run(data_dir: Path, ended: str, outcomes: dict[str, str],
              failures: list[dict] | None = None) -> None:
    """One run-log line as `epaper crawl` writes it, with the time it ended chosen."""
    path = runs_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"run_id": ended, "command": "epaper crawl", "source": "ahjjb", "started": ended, "ended": ended,
              "dates": sorted(outcomes), "exit_status": 0,
              "outcomes": {d: {"status": s, "articles": 0, "pages": 0, "duplicates": 0,
                               "failures": failures or []} for d, s in outcomes.items()}}
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def _article(day: dt.date, i: int, duplicate: bool) -> dict:
    return {"article_id": f"{day}-{i}", "page_no": "01", "url": f"http://127.0.0.1/{day}/{i}.html",
            "title": f"t{i}", "body": f"body {i}", "images": [], "content_hash": f"h{i}",
            "duplicate_of": f"{day}-0" if duplicate else None,
            "crawled_at": dt.datetime(2026, 11, 27, 1, tzinfo=UTC), "source": "test",
            "page_index": 0, "position": i}


def write_day(data_dir: Path, day: dt.date, *, complete: bool = True, articles: int = 3,
              duplicates: int = 0, failures: list[dict] | None = None, damaged: str | None = None,
              suspect: list[str] | None = None) -> None:
    """A date's snapshot as the snapshot pipeline writes it; `damaged` ("articles" or "pages")
    then overwrites that file with bytes that are not Parquet."""
    rows = [_article(day, i, i < duplicates) for i in range(articles)]
    page = {"page_no": "01", "page_index": 0, "url": f"http://127.0.0.1/{day}/node_01.html",
            "article_count": articles, "crawled_at": dt.datetime(2026, 11, 27, 1, tzinfo=UTC), "source": "test"}
    info = {"complete": complete, "failures": failures or [], "pages": 1, "duplicates": duplicates,
            "crawled_at": "2026-11-27T01:00:00+00:00", "source": "test", "suspect": suspect or []}
    write_snapshot(data_dir, "ahjjb", "pages", day, [page], info)
    write_snapshot(data_dir, "ahjjb", "articles", day, rows, info)
    if damaged:
        snapshot_path(data_dir, "ahjjb", damaged, day).write_bytes(b"not parquet at all\n" * 20)


# ---------------------------------------------------------------------------- one date

# Each case: the snapshot of DAY (write_day's options, or None), the run-log lines about DAY
# (time ended, status, failures), then the state, whether it needs a crawl, and its note.
CASES = {
    "never crawled": (None, [], MISSING, True, "never crawled"),
    "failed, no snapshot": (None, [("2026-11-27T00:00:00Z", "failed", [FAIL])], MISSING, True,
                            "last run: failed (http://127.0.0.1/a.html: HTTP 503)"),
    # a date some run archived, whose snapshot is gone since: lost, whatever came after
    "archived, snapshot gone": (None, [("2026-11-27T00:00:00Z", "archived", [])], LOST, True,
                                "archived by run 2026-11-27T00:00:00Z, ended 2026-11-27T00:00:00Z, its snapshot "
                                "is gone; its WARC files are gone too"),
    "archived, failed since, snapshot gone": (None, [("2026-11-27T00:00:00Z", "archived", []),
                                                     ("2026-11-28T00:00:00Z", "failed", [FAIL])], LOST, True,
                                              "archived by run 2026-11-27T00:00:00Z"),
    "incomplete without rows": (None, [("2026-11-27T00:00:00Z", "incomplete", [FAIL])], MISSING, True,
                                "last run: incomplete"),
    # the no-issue rule: final only from a run that ended once the day was over in the portal's zone
    "no issue, next day": (None, [("2026-11-27T00:00:00Z", "no_issue", [])], NO_ISSUE, False, ""),
    "no issue, at midnight": (None, [("2026-11-26T16:00:00Z", "no_issue", [])], NO_ISSUE, False, ""),
    "no issue, a second early": (None, [("2026-11-26T15:59:59Z", "no_issue", [])], PENDING, True,
                                 "last run: no_issue, before the day was over (not confirmed)"),
    "no issue, at 07:30": (None, [("2026-11-25T23:30:00Z", "no_issue", [])], PENDING, True, "not confirmed"),
    "no issue, unreadable time": (None, [("yesterday", "no_issue", [])], PENDING, True, "not confirmed"),
    "no issue, time without zone": (None, [("2026-11-28T00:00:00", "no_issue", [])], PENDING, True,
                                    "not confirmed"),
    "pending, then confirmed": (None, [("2026-11-26T00:00:00Z", "no_issue", []),
                                       ("2026-11-27T00:00:00Z", "no_issue", [])], NO_ISSUE, False, ""),
    "no issue, then failed": (None, [("2026-11-27T00:00:00Z", "no_issue", []),
                                     ("2026-11-28T00:00:00Z", "failed", [FAIL])], MISSING, True, "last run: failed"),
    "complete": ({}, [], ARCHIVED, False, ""),
    "incomplete": ({"complete": False, "failures": [FAIL, FAIL, {"url": "u", "reason": None}]}, [],
                   INCOMPLETE, True, "3 failed: HTTP 503 ×2, ? ×1"),
    "incomplete, no failure recorded": ({"complete": False}, [], INCOMPLETE, True, "no failure recorded"),
    "damaged articles": ({"damaged": "articles"}, [], DAMAGED, True, "damaged snapshot"),
    "damaged pages": ({"damaged": "pages"}, [], DAMAGED, True, "damaged pages snapshot"),
    # the snapshot is what the archive holds: it wins over a later "no issue"
    "complete, then no issue": ({}, [("2026-11-28T00:00:00Z", "no_issue", [])], ARCHIVED, False, ""),
    "incomplete, then no issue": ({"complete": False, "failures": [FAIL]},
                                  [("2026-11-28T00:00:00Z", "no_issue", [])], INCOMPLETE, True, "1 failed"),
}


@pytest.mark.parametrize(("snapshot", "runs", "state", "needs_crawl", "note"), CASES.values(), ids=CASES.keys())
def test_state_of_one_date(tmp_path: Path, snapshot: dict | None, runs: list, state: str,
                           needs_crawl: bool, note: str) -> None:
    if snapshot is not None:
        write_day(tmp_path, DAY, **snapshot)
    for ended, status, failures in runs:
        write_run(tmp_path, ended, {DAY.isoformat(): status}, failures)
    [got] = date_states(tmp_path, "ahjjb", tz=SHANGHAI, start=DAY, end=DAY)
    assert (got.date, got.state, got.needs_crawl) == (DAY, state, needs_crawl)
    assert note in got.note and (note == "") == (got.note == "")
    assert got.has_snapshot == (snapshot is not None)
    assert got.last_run == (runs[-1][1] if runs else None)
    if state == DAMAGED:
        assert got.error and got.error in got.note
    else:
        assert got.error is None


def test_counts_and_reasons(tmp_path: Path) -> None:
    write_day(tmp_path, DAY, complete=False, articles=5, duplicates=2, failures=[FAIL])
    write_day(tmp_path, DAY + dt.timedelta(1), damaged="pages", articles=4)
    write_run(tmp_path, "2026-11-29T00:00:00Z", {"2026-11-28": "failed"}, [FAIL])
    states = {s.date: s for s in date_states(tmp_path, "ahjjb", tz=SHANGHAI)}
    assert states[DAY] == DateState(DAY, INCOMPLETE, pages=1, articles=5, duplicates=2,
                                    last_crawled="2026-11-27T01:00:00+00:00",
                                    failures=(("http://127.0.0.1/a.html", "HTTP 503"),), source="ahjjb")
    damaged = states[DAY + dt.timedelta(1)]
    assert (damaged.state, damaged.articles, damaged.last_crawled) == (DAMAGED, 4, None)  # the articles file reads
    failed = states[D("2026-11-28")]
    assert (failed.state, failed.last_crawled, failed.failures) == (
        MISSING, "2026-11-29T00:00:00Z", (("http://127.0.0.1/a.html", "HTTP 503"),))


@pytest.mark.parametrize(("ended", "tz", "confirmed"), [
    ("2026-11-26T20:00:00Z", SHANGHAI, True),  # 04:00 on the 27th in Shanghai
    ("2026-11-26T20:00:00Z", PARIS, False),  # 21:00 on the 26th in Paris
    ("2026-11-26T23:00:00Z", PARIS, True),
    ("2026-11-27T00:00:00+08:00", SHANGHAI, True),
    ("2026-11-26T23:59:59+08:00", SHANGHAI, False),
    (None, SHANGHAI, False),
])
def test_no_issue_is_confirmed_in_the_portals_time_zone(ended: str | None, tz: dt.tzinfo,
                                                         confirmed: bool) -> None:
    assert no_issue_confirmed(DAY, ended, tz) is confirmed


# ---------------------------------------------------------------------------- the span

def test_span_is_what_the_archive_knows(tmp_path: Path) -> None:
    assert date_states(tmp_path / "nothing", "ahjjb", tz=SHANGHAI) == []
    write_day(tmp_path, D("2026-11-20"))
    write_run(tmp_path, "2026-11-25T00:00:00Z", {"2026-11-24": "no_issue"})
    states = date_states(tmp_path, "ahjjb", tz=SHANGHAI)
    assert [s.date for s in states] == [D("2026-11-20") + dt.timedelta(i) for i in range(5)]
    assert [s.state for s in states] == [ARCHIVED, MISSING, MISSING, MISSING, NO_ISSUE]
    assert [s.date for s in date_states(tmp_path, "ahjjb", tz=SHANGHAI, start=D("2026-11-23"))] == [
        D("2026-11-23"), D("2026-11-24")]
    assert [s.date for s in date_states(tmp_path, "ahjjb", tz=SHANGHAI, end=D("2026-11-21"))] == [
        D("2026-11-20"), D("2026-11-21")]


@pytest.mark.parametrize(("start", "end", "dates"), [
    ("2026-12-30", "2027-01-01", ["2026-12-30", "2026-12-31", "2027-01-01"]),
    ("2026-11-27", "2026-11-27", ["2026-11-27"]),
    ("2026-11-28", "2026-11-27", []),  # a window of 0 days
])
def test_bounds_given_are_the_span(tmp_path: Path, start: str, end: str, dates: list[str]) -> None:
    states = date_states(tmp_path, "ahjjb", tz=SHANGHAI, start=D(start), end=D(end))
    assert [s.date for s in states] == [D(d) for d in dates]
    assert {s.state for s in states} <= {MISSING}


# The scheduler's choice: the dates of the window that need a crawl.
WINDOWS = {
    "nothing archived": (3, {}, {}, ["2026-11-25", "2026-11-26", "2026-11-27"]),
    "gaps": (5, {"2026-11-23": True, "2026-11-25": True}, {},
             ["2026-11-24", "2026-11-26", "2026-11-27"]),
    "incomplete again": (3, {"2026-11-25": True, "2026-11-26": False, "2026-11-27": True}, {},
                         ["2026-11-26"]),
    "confirmed no issue skipped": (3, {}, {"2026-11-26": "2026-11-27T00:00:00Z"}, ["2026-11-25", "2026-11-27"]),
    "same-day no issue again": (2, {"2026-11-26": True}, {"2026-11-27": "2026-11-26T23:30:00Z"}, ["2026-11-27"]),
    "gap outside the window": (2, {"2026-11-26": True}, {}, ["2026-11-27"]),
    "one day": (1, {}, {}, ["2026-11-27"]),
    "no window": (0, {}, {}, []),
    "all done": (2, {"2026-11-26": True, "2026-11-27": True}, {}, []),
    "done with no issue": (2, {"2026-11-26": True}, {"2026-11-27": "2026-11-28T00:00:00Z"}, []),
}


@pytest.mark.parametrize(("days", "snapshots", "no_issue", "expected"), WINDOWS.values(), ids=WINDOWS.keys())
def test_catchup_window(tmp_path: Path, days: int, snapshots: dict[str, bool], no_issue: dict[str, str],
                        expected: list[str]) -> None:
    for day, complete in snapshots.items():
        write_day(tmp_path, D(day), complete=complete)
    for day, ended in no_issue.items():
        write_run(tmp_path, ended, {day: "no_issue"})
    today = D("2026-11-27")
    states = date_states(tmp_path, "ahjjb", tz=SHANGHAI, start=today - dt.timedelta(days - 1), end=today)
    assert [s.date for s in states if s.needs_crawl] == [D(d) for d in expected]


# ---------------------------------------------------------------------------- the commands

def test_status_lists_what_the_scheduler_would_crawl(tmp_path: Path, capsys) -> None:
    write_day(tmp_path, D("2026-11-23"))
    write_day(tmp_path, D("2026-11-24"), complete=False, failures=[FAIL])
    write_run(tmp_path, "2026-11-26T00:00:00Z", {"2026-11-25": "no_issue"})
    write_run(tmp_path, "2026-11-26T23:30:00Z", {"2026-11-27": "no_issue"})  # 07:30 the same day
    config = load_config(None, env={}, overrides={"storage.data_dir": str(tmp_path),
                                                  "schedule.catchup_days": 5})
    now = dt.datetime(2026, 11, 27, 1, tzinfo=UTC)
    # Something to look at (epaper.health): exit status 1, one "attention:" line per reason.
    assert run_status(config, False, today=D("2026-11-27"), now=now) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["source", "date"]
    assert [line.split()[:6] for line in lines[1:3]] == [["ahjjb", "2026-11-23", "1", "3", "0", "yes"],
                                                         ["ahjjb", "2026-11-24", "1", "3", "0", "no"]]
    assert lines[3] == ("ahjjb: 2 dates archived, 1 incomplete (2026-11-24); missing in the last 5 days: "
                        "2026-11-26, 2026-11-27 (no issue so far)")
    assert lines[4:] == ["attention: ahjjb: incomplete: 2026-11-24 (1 failed: HTTP 503 ×1)",
                         "attention: ahjjb: missing: 2026-11-26 (never crawled)"]
    assert run_status(config, True, today=D("2026-11-27"), now=now) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [(r["source"], r["date"], r["complete"], r["articles"], r["error"]) for r in rows] == [
        ("ahjjb", "2026-11-23", True, 3, None), ("ahjjb", "2026-11-24", False, 3, None)]


def test_report_draws_the_same_states(tmp_path: Path) -> None:
    from epaper import report

    write_day(tmp_path, D("2026-11-23"), articles=4)
    write_day(tmp_path, D("2026-11-24"), damaged="articles")
    write_run(tmp_path, "2026-11-26T00:00:00Z", {"2026-11-25": "no_issue"})
    write_run(tmp_path, "2026-11-26T23:30:00Z", {"2026-11-27": "no_issue"})
    days = report.days_of(date_states(tmp_path, "ahjjb", tz=SHANGHAI))
    assert [(str(d.date), d.state, d.articles) for d in days] == [
        ("2026-11-23", report.COMPLETE, 4), ("2026-11-24", report.INCOMPLETE, 0),
        ("2026-11-25", report.NO_ISSUE, 0), ("2026-11-26", report.MISSING, 0),
        ("2026-11-27", report.MISSING, 0)]
    assert days[1].note.startswith("damaged snapshot")
    assert days[3].note == "never crawled" and "not confirmed" in days[4].note
