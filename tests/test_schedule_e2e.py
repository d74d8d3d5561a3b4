"""`epaper schedule` over the replica portal: archives on a per-second cron, catches up a
deleted date, stops cleanly on SIGTERM."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

from epaper.replica.build import build_site
from epaper.replica.server import serve
from epaper.storage.parquet import snapshot_path, snapshot_status
from tests.conftest import ROOT, fast_config

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_schedule_archives_catches_up_and_stops(tmp_path):
    first = TODAY - dt.timedelta(days=6)
    build_site(tmp_path / "replica", start=first, end=TODAY, generation="pc", seed=3)
    data = tmp_path / "data"
    with serve(tmp_path / "replica" / "site") as portal:
        import json

        truth = json.loads((tmp_path / "replica" / "truth.json").read_text(encoding="utf-8"))
        issues = {dt.date.fromisoformat(d) for d in truth["issues"]}
        config = fast_config(tmp_path / "epaper.toml", portal.base_url, 'cron = "*/3 * * * * *"\ncatchup_days = 7',
                             data)
        proc = subprocess.Popen([sys.executable, "-m", "epaper", "schedule", "--config", str(config)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            archived = lambda: {d for d, ok in snapshot_status(data, "ahjjb").items() if ok} >= issues  # noqa: E731
            assert wait_for(archived, 90), "the catch-up on start did not archive the window"
            gone = min(issues)
            snapshot_path(data, "ahjjb", "articles", gone).unlink()
            assert wait_for(lambda: snapshot_path(data, "ahjjb", "articles", gone).exists(), 60), "deleted date not caught up"
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not [p for p in data.rglob("*") if ".tmp-" in p.name]
    assert snapshot_status(data, "ahjjb").keys() >= issues
