"""Idle runs cost one request: `crawl --latest` when the newest issue is archived complete
fetches the latest page only and says so; `--force` fetches it again."""
from __future__ import annotations

import datetime as dt

from epaper.runlog import read_runs
from epaper.storage.parquet import snapshot_path
from tests.conftest import FAST, run_epaper

WEEK = (dt.date(2023, 8, 1), dt.date(2023, 8, 7))


def portal_requests(server) -> int:
    """Requests to the e-paper (robots.txt, fetched once at the start of every crawl, aside)."""
    return server.request_count(r"^/(?!robots\.txt)")


def test_a_second_latest_makes_one_request_and_force_fetches_again(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    latest = ("crawl", "--latest", "--base-url", server.base_url, "--data", str(tmp_path), *FAST)
    first = run_epaper(*latest)
    assert first.returncode == 0, first.stderr
    newest = max(server.truth["issues"])
    assert first.stdout.startswith(f"ahjjb {newest} archived:")
    snapshot = snapshot_path(tmp_path, "ahjjb", "articles", dt.date.fromisoformat(newest))
    before = snapshot.stat().st_mtime_ns
    warcs = sorted((tmp_path / "warc").rglob("*.warc.gz"))

    server.requests.clear()
    again = run_epaper(*latest)
    assert (again.returncode, again.stdout, again.stderr) == (0, f"ahjjb {newest} already archived\n", "")
    assert portal_requests(server) == 1, server.requests
    assert snapshot.stat().st_mtime_ns == before
    assert sorted((tmp_path / "warc").rglob("*.warc.gz")) == warcs
    outcome = read_runs(tmp_path)[-1]["outcomes"][newest]
    assert outcome["status"] == "archived" and outcome["articles"] > 0

    server.requests.clear()
    forced = run_epaper(*latest, "--force")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith(f"ahjjb {newest} archived:")
    assert portal_requests(server) > 2


def test_an_incomplete_newest_issue_is_fetched_again(portal, tmp_path):
    from epaper.replica.server import Fault

    server = portal("pc-rmrb", *WEEK)
    latest = ("crawl", "--latest", "--base-url", server.base_url, "--data", str(tmp_path), *FAST)
    server.faults[:] = [Fault("status", r"content_\d+\.html$", status=404, times=1)]
    assert run_epaper(*latest).returncode == 1
    server.faults.clear()
    server.requests.clear()
    result = run_epaper(*latest)
    assert result.returncode == 0, result.stderr
    assert "archived:" in result.stdout and portal_requests(server) > 2


def test_no_issue_today_leaves_only_its_line_and_a_past_one_keeps_its_evidence(portal, tmp_path):
    """Today's "no issue so far" is not final (the next run after the day's end confirms it):
    its line is in the run log, but no WARC file and no log file. A past date's "no issue" is
    final: its WARC file keeps the calendar that says so, and the run's log stays."""
    from zoneinfo import ZoneInfo

    server = portal("pc-rmrb", *WEEK)
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    result = run_epaper("crawl", "--date", today.isoformat(), "--base-url", server.base_url,
                        "--data", str(tmp_path), *FAST)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"ahjjb {today} no issue\n", "")
    assert read_runs(tmp_path)[-1]["outcomes"] == {today.isoformat(): {
        "status": "no_issue", "articles": 0, "pages": 0, "duplicates": 0, "failures": []}}
    assert not list((tmp_path / "warc").rglob("*.warc*")) and not list((tmp_path / "logs").glob("*"))

    past = WEEK[0] - dt.timedelta(days=400)
    result = run_epaper("crawl", "--date", past.isoformat(), "--base-url", server.base_url,
                        "--data", str(tmp_path), *FAST)
    assert (result.returncode, result.stdout) == (0, f"ahjjb {past} no issue\n")
    assert len(list((tmp_path / "warc").rglob("*.warc.gz"))) == 1
    [log] = (tmp_path / "logs").glob("*.log")
    assert "Disabled epaper.runext" not in log.read_text(encoding="utf-8")  # one run path: never off
