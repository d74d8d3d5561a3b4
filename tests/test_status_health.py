"""`epaper status` as a health check (epaper.health): exit status 0 when healthy, 1 with the
reasons for each unhealthy state, and `--check --json` with every fact."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from epaper.config import load_config
from epaper.status import run_status
from tests.conftest import run_epaper
from tests.test_state import FAIL, SHANGHAI, UTC, write_day, write_run

TODAY = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 3, tzinfo=UTC)  # 11:00 in Shanghai
WINDOW = [TODAY - dt.timedelta(days=i) for i in range(4, -1, -1)]  # catchup_days = 5


def healthy(data: Path) -> None:
    """Every date of the window archived, the last run a success an hour ago."""
    for day in WINDOW:
        write_day(data, day)
    write_run(data, "2026-11-27T02:00:00Z", {d.isoformat(): "archived" for d in WINDOW})


def config(data: Path, **keys):
    return load_config(None, env={}, overrides={"storage.data_dir": str(data), "schedule.catchup_days": 5, **keys})


def status(data: Path, capsys, *flags: str, **keys) -> tuple[int, str]:
    code = run_status(config(data, **keys), "json" in flags, today=TODAY, now=NOW, check="check" in flags)
    return code, capsys.readouterr().out


def test_healthy(tmp_path, capsys):
    healthy(tmp_path)
    assert status(tmp_path, capsys, "check") == (0, "healthy\n")
    code, out = status(tmp_path, capsys)
    assert code == 0 and "attention" not in out
    code, out = status(tmp_path, capsys, "check", "json")
    (facts,) = json.loads(out)["papers"]
    assert code == 0 and facts["healthy"] and facts["reasons"] == []
    assert facts["window"] == {"start": "2026-11-23", "end": "2026-11-27"}
    assert facts["last_success_age_hours"] == 1.0 and facts["last_success"]["exit_status"] == 0


def today_not_crawled_yet(data: Path) -> None:
    for day in WINDOW[:-1]:
        write_day(data, day)
    write_run(data, "2026-11-26T02:00:00Z", {d.isoformat(): "archived" for d in WINDOW[:-1]})


def older_success(data: Path) -> None:
    """The window archived by a run three days ago; every run since failed (exit status 1)."""
    path = data / "runs" / "runs.jsonl"
    runs = [json.loads(line) for line in path.read_text().splitlines()]
    runs[0]["ended"] = "2026-11-24T02:00:00Z"
    runs.append({**runs[0], "ended": "2026-11-27T02:30:00Z", "exit_status": 1, "outcomes": {}})
    path.write_text("".join(json.dumps(r) + "\n" for r in runs))


def never_archived(data: Path, day: dt.date) -> None:
    """The date's snapshots gone, and no run ever archived it."""
    import shutil

    for dataset in ("articles", "pages"):
        shutil.rmtree(data / dataset / "source=ahjjb" / f"issue_date={day}")
    path = data / "runs" / "runs.jsonl"
    runs = [json.loads(line) for line in path.read_text().splitlines()]
    for run in runs:
        run["outcomes"].pop(day.isoformat(), None)
    path.write_text("".join(json.dumps(r) + "\n" for r in runs))


def archived_long_ago(data: Path, day: str) -> None:
    """A run-log line of long ago (the file's first) that archived `day`; no snapshot of it."""
    path = data / "runs" / "runs.jsonl"
    later = path.read_text()
    path.unlink()
    write_run(data, f"{day}T02:00:00Z", {day: "archived"})
    path.write_text(path.read_text() + later)


# Each: how the healthy archive is spoilt, then the start of the one reason it gives.
UNHEALTHY = {
    "damaged": (lambda d: write_day(d, WINDOW[1], damaged="articles"), "damaged: 2026-11-24 (damaged snapshot"),
    "damaged outside the window": (lambda d: write_day(d, dt.date(2025, 1, 6), damaged="pages"),
                                   "damaged: 2025-01-06 (damaged pages snapshot"),
    "incomplete": (lambda d: write_day(d, WINDOW[2], complete=False, failures=[FAIL]),
                   "incomplete: 2026-11-25 (1 failed: HTTP 503 ×1)"),
    "missing": (lambda d: never_archived(d, WINDOW[0]), "missing: 2026-11-23 (never crawled)"),
    # archived by a run of the run log, its snapshot deleted since: in the window or long before
    "lost": (lambda d: __import__("shutil").rmtree(d / "articles" / "source=ahjjb" / f"issue_date={WINDOW[0]}"),
             "lost: 2026-11-23 (archived by run 2026-11-27T02:00:00Z, ended 2026-11-27T02:00:00Z, its snapshot is "
             "gone; its WARC files are gone too"),
    "lost outside the window": (lambda d: archived_long_ago(d, "2025-01-06"),
                                "lost: 2025-01-06 (archived by run 2025-01-06T02:00:00Z"),
    "suspect": (lambda d: write_day(d, WINDOW[3], suspect=["author in 0% of articles (median of the last 30 issues: 60%)"]),
                "suspect: 2026-11-26 (author in 0% of articles"),
    "last success too old": (lambda d: older_success(d), "last successful run ended 73 hours ago"),
}


@pytest.mark.parametrize(("spoil", "reason"), UNHEALTHY.values(), ids=UNHEALTHY.keys())
def test_each_unhealthy_state_exits_1_with_its_reason(tmp_path, capsys, spoil, reason):
    healthy(tmp_path)
    spoil(tmp_path)
    code, out = status(tmp_path, capsys, "check")
    assert code == 1
    assert len(out.splitlines()) == 1 and out.startswith(f"ahjjb: {reason}"), out
    code, out = status(tmp_path, capsys)  # the table says the same, below the rows
    assert code == 1 and f"attention: ahjjb: {reason}" in out
    code, out = status(tmp_path, capsys, "json")  # the rows, a JSON list as before
    assert code == 1 and isinstance(json.loads(out), list)


def test_no_successful_run_is_unhealthy(tmp_path, capsys):
    for day in WINDOW:
        write_day(tmp_path, day)
    assert status(tmp_path, capsys, "check") == (1, "ahjjb: no successful run recorded\n")


def test_today_before_its_run_is_not_missing_yet(tmp_path, capsys):
    today_not_crawled_yet(tmp_path)
    code, out = status(tmp_path, capsys, "check", "json")
    (facts,) = json.loads(out)["papers"]
    assert code == 0, facts["reasons"]
    assert facts["missing"] == [{"date": "2026-11-27", "state": "missing", "note": "never crawled",
                                 "last_run": None, "failures": []}]


def test_the_age_limit_is_in_the_config(tmp_path, capsys):
    healthy(tmp_path)
    assert status(tmp_path, capsys, "check", **{"health.max_success_age_hours": 0.5})[0] == 1


def test_check_json_holds_every_fact_with_its_reasons(tmp_path, capsys):
    healthy(tmp_path)
    write_day(tmp_path, WINDOW[2], complete=False, failures=[FAIL])
    write_day(tmp_path, WINDOW[3], suspect=["images in 0% of articles (median of the last 30 issues: 40%)"])
    import shutil

    shutil.rmtree(tmp_path / "articles" / "source=ahjjb" / f"issue_date={WINDOW[1]}")
    write_run(tmp_path, "2026-11-27T02:30:00Z", {WINDOW[1].isoformat(): "failed"},
              failures=[{"url": "http://127.0.0.1/node_01.html", "reason": "page: timeout"}])
    code, out = status(tmp_path, capsys, "check", "json")
    (facts,) = json.loads(out)["papers"]
    assert code == 1 and not facts["healthy"] and len(facts["reasons"]) == 3
    assert facts["incomplete"] == [{"date": "2026-11-25", "failures": [FAIL]}]
    # archived by the first run, failed in the second, its snapshot gone: lost, not missing
    assert facts["missing"] == []
    assert facts["lost"] == [{"date": "2026-11-24", "archived_by": "2026-11-27T02:00:00Z, ended 2026-11-27T02:00:00Z",
                              "restore": "its WARC files are gone too: only a new crawl can bring it back, if the "
                                         f"portal still serves it (epaper crawl --date 2026-11-24 --source ahjjb --data {tmp_path})"}]
    assert facts["suspect"] == [{"date": "2026-11-26",
                                 "changes": ["images in 0% of articles (median of the last 30 issues: 40%)"]}]
    assert facts["last_run"]["exit_status"] == 0 and facts["damaged"] == []
    rows = {r["date"]: r for r in facts["dates"]}
    assert rows["2026-11-26"]["state"] == "suspect" and rows["2026-11-26"]["complete"]
    assert rows["2026-11-25"]["failures"] == [FAIL]


def test_the_command_line_exit_status(tmp_path):
    """The real CLI, against the real clock: a window archived an hour ago is healthy."""
    today = dt.datetime.now(SHANGHAI).date()
    days = [today - dt.timedelta(days=i) for i in range(6, -1, -1)]
    for day in days:
        write_day(tmp_path, day)
    ended = (dt.datetime.now(UTC) - dt.timedelta(hours=1)).isoformat()
    write_run(tmp_path, ended, {d.isoformat(): "archived" for d in days})
    result = run_epaper("status", "--data", str(tmp_path), "--check")
    assert (result.returncode, result.stdout, result.stderr) == (0, "healthy\n", "")
    write_day(tmp_path, days[3], damaged="articles")
    result = run_epaper("status", "--data", str(tmp_path), "--check", "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["papers"][0]["damaged"][0]["date"] == days[3].isoformat()
