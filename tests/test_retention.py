"""Retention of logs/ and runs/runs.jsonl (epaper/retention.py): old ones go, the latest
outcome of every date stays; applied at the end of a crawl."""
from __future__ import annotations

import datetime as dt
import os

from epaper.retention import apply_retention
from epaper.runlog import last_outcomes, read_runs, runs_path
from tests.conftest import FAST, run_epaper
from tests.test_state import write_run

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)


def old_log(data, name, days):
    path = data / "logs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("log\n")
    when = (NOW - dt.timedelta(days=days)).timestamp()
    os.utime(path, (when, when))
    return path


def test_old_logs_and_runs_pruned_latest_outcomes_kept(tmp_path):
    old, recent, current = old_log(tmp_path, "a.log", 100), old_log(tmp_path, "b.log", 10), old_log(tmp_path, "c.log", 200)
    write_run(tmp_path, "2025-01-01T00:00:00Z", {"2024-12-28": "no_issue", "2024-12-30": "failed"})
    write_run(tmp_path, "2025-01-02T00:00:00Z", {"2024-12-30": "archived"})  # old, but the latest for 12-30
    write_run(tmp_path, "2025-01-03T00:00:00Z", {"2024-12-30": "archived"})
    write_run(tmp_path, "2026-11-20T00:00:00+08:00", {"2026-11-19": "archived"})
    before = last_outcomes(tmp_path, "ahjjb")
    assert apply_retention(tmp_path, log_days=90, runs_days=365, now=NOW, keep=current) == (1, 1)
    assert not old.exists() and recent.exists() and current.exists()
    assert [r["ended"] for r in read_runs(tmp_path)] == ["2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z",
                                                         "2026-11-20T00:00:00+08:00"]
    assert last_outcomes(tmp_path, "ahjjb") == before  # status, report and the scheduler see the same
    assert not list(runs_path(tmp_path).parent.glob(".*tmp*"))
    assert apply_retention(tmp_path, log_days=0, runs_days=0, now=NOW + dt.timedelta(days=9999)) == (0, 0)


def test_a_crawl_applies_retention(portal, tmp_path):
    server = portal("pc-rmrb", dt.date(2023, 7, 31), dt.date(2023, 8, 6))
    old = old_log(tmp_path / "data", "old.log", 3)
    config = tmp_path / "epaper.toml"
    config.write_text("[storage]\nlog_retention_days = 1\n")
    result = run_epaper("crawl", "--date", "2023-08-01", "--base-url", server.base_url, "--config", str(config),
                        "--data", str(tmp_path / "data"), *FAST)
    assert result.returncode == 0, result.stderr
    assert not old.exists()
    assert len(list((tmp_path / "data" / "logs").glob("*.log"))) == 1  # this run's
