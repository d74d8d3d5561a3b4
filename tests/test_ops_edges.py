"""JSON mode end to end, and the paths and dates that used to pass silently: a URL as --data,
status of a missing archive, a date not yet published, SIGTERM before the crawl starts."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
from zoneinfo import ZoneInfo

import pytest

from epaper.runlog import read_runs
from tests.conftest import CLEAN_CWD, FAST, run_epaper

WEEK = (dt.date(2023, 7, 31), dt.date(2023, 8, 6))


@pytest.mark.slow  # make test-all
def test_json_mode_every_line_is_json(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    data = str(tmp_path / "data")
    usage = run_epaper("crawl", "--date", "2023-08-01", "--to", "2023-08-02", "--log-format", "json", "--data", data)
    assert usage.returncode == 2
    assert json.loads(usage.stderr)["event"] == "usage_error"
    bad = run_epaper("crawl", "--dat", "2023-08-01", "--log-format=json")
    assert bad.returncode == 2 and json.loads(bad.stderr)["event"] == "usage_error"

    quiet = run_epaper("crawl", "--from", "2023-07-31", "--to", "2023-08-02", "--base-url", server.base_url,
                       "--data", data, "--log-format", "json", "--quiet", *FAST)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")  # --quiet honoured
    loud = run_epaper("crawl", "--date", "2023-08-01", "--base-url", server.base_url, "--data", data,
                      "--log-format", "json", *FAST)
    [issue] = [json.loads(line) for line in loud.stdout.splitlines()]
    assert issue["status"] == "archived" and issue["time"].endswith("+08:00")  # when, in the portal's zone
    newest = max((tmp_path / "data" / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime_ns)
    events = [json.loads(line) for line in newest.read_text(encoding="utf-8").splitlines()]
    [dump] = [e for e in events if "stats" in e]
    stats = dump["stats"]
    assert stats["finish_reason"] == "finished"
    assert isinstance(stats["item_scraped_count"], int)
    assert stats["start_time"].endswith("+08:00")  # a time, not datetime.datetime(...)
    assert "datetime.datetime" not in newest.read_text(encoding="utf-8")


@pytest.mark.parametrize("url", ["gs://b/x", "file:///tmp/x"])  # s3:// is an archive root (tests/test_s3.py)
def test_a_url_as_data_is_refused(url):
    result = run_epaper("crawl", "--date", "2023-08-01", "--base-url", "http://127.0.0.1:9/", "--data", url)
    assert result.returncode == 2
    assert result.stderr.strip() == f"epaper: --data must be a local directory or s3://bucket/prefix, not a URL: {url}"
    assert not list(CLEAN_CWD.glob(url.split(":")[0] + "*"))


def test_status_of_a_missing_or_foreign_directory_is_an_error(tmp_path):
    missing = run_epaper("status", "--data", str(tmp_path / "nonexistent"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    (tmp_path / "notes").mkdir()
    foreign = run_epaper("status", "--data", str(tmp_path / "notes"))
    assert foreign.returncode == 2 and "not an epaper archive" in foreign.stderr


def test_a_future_date_is_not_yet_published_and_not_recorded(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    future = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=30)
    result = run_epaper("crawl", "--date", future.isoformat(), "--base-url", server.base_url,
                        "--data", str(tmp_path), *FAST)
    assert result.returncode == 1
    assert result.stderr.startswith(f"ahjjb {future} not yet published")
    assert "no issue" not in result.stdout + result.stderr
    # nothing archived, nothing recorded: no WARC file, no run-log line, no metrics, no log
    assert read_runs(tmp_path) == []
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [".lock", ".locks/ahjjb.lock"]


def test_sigterm_before_the_crawl_starts_is_logged(tmp_path, monkeypatch, capsys):
    # The first second of a crawl is Scrapy's import and set-up, before its own SIGTERM
    # handler: a SIGTERM there used to end the process (143) without a run-log line.
    from epaper import cli, crawl

    def new_process(settings):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the command")

    monkeypatch.setattr(crawl, "new_process", new_process)
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("EPAPER_")]:
        monkeypatch.delenv(name)
    before = signal.getsignal(signal.SIGTERM)
    status = cli.main(["crawl", "--date", "2023-08-01", "--base-url", "http://127.0.0.1:9/",
                       "--data", str(tmp_path / "data")])
    assert status == 143
    assert signal.getsignal(signal.SIGTERM) == before  # restored
    assert "terminated" in capsys.readouterr().err
    [run] = read_runs(tmp_path / "data")
    assert run["exit_status"] == 143 and run["dates"] == ["2023-08-01"]
    from epaper.lock import ArchiveLock

    ArchiveLock(tmp_path / "data").acquire().release()  # released
