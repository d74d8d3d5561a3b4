"""`epaper update`, the cron command: one scheduled run over the replica portal, quiet unless
something is wrong; days without an issue recorded, archived issues not fetched again, a
missing date caught up."""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from epaper.replica.build import build_site
from epaper.replica.server import serve
from epaper.runlog import read_runs
from epaper.state import date_states
from epaper.storage.parquet import snapshot_path
from tests.conftest import fast_config, run_epaper

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.datetime.now(SHANGHAI).date()


def test_update_catches_up_quietly_and_fetches_nothing_twice(tmp_path):
    first = TODAY - dt.timedelta(days=6)
    build_site(tmp_path / "replica", start=first, end=TODAY, generation="pc", seed=3)
    truth = json.loads((tmp_path / "replica" / "truth.json").read_text(encoding="utf-8"))
    issues = {dt.date.fromisoformat(d) for d in truth["issues"]}
    data = tmp_path / "data"
    with serve(tmp_path / "replica" / "site") as portal:
        config = fast_config(tmp_path / "epaper.toml", portal.base_url, "catchup_days = 7", data)
        update = ("update", "--config", str(config))
        result = run_epaper(*update)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        states = {s.date: s.state for s in date_states(data, "ahjjb", tz=SHANGHAI, start=first, end=TODAY)}
        assert {d for d, s in states.items() if s == "archived"} == issues
        no_issue = {first + dt.timedelta(i) for i in range(7)} - issues
        outcomes = read_runs(data)[0]["outcomes"]
        assert {d for d, o in outcomes.items() if o["status"] == "no_issue"} == {d.isoformat() for d in no_issue}
        # days without an issue before today are confirmed, not crawled again
        assert all(states[d] == "no_issue" for d in no_issue if d < TODAY)

        snapshots = {d: snapshot_path(data, "ahjjb", "articles", d).stat().st_mtime_ns for d in issues}
        warcs = sorted(p.name for p in (data / "warc").rglob("*.warc.gz"))
        result = run_epaper(*update)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        assert {d: snapshot_path(data, "ahjjb", "articles", d).stat().st_mtime_ns for d in issues} == snapshots
        again = sorted(p.name for p in (data / "warc").rglob("*.warc.gz"))
        # at most a recheck of today, when it has no issue so far; no archived issue is fetched again
        assert len(again) - len(warcs) <= (0 if TODAY in issues else 1)

        gone = max(issues)
        snapshot_path(data, "ahjjb", "articles", gone).unlink()
        result = run_epaper(*update)
        assert (result.returncode, result.stderr) == (0, "")
        assert snapshot_path(data, "ahjjb", "articles", gone).exists()


# A child crawl as epaper.runext records one: a run-log line (naming its parent, the update,
# from the environment the update gives it, and its paper, from --source), exit statuses in
# turn from EXITS.
CHILD = """
import os, sys
from epaper.runext import ArchiveRun
calls = os.environ["CALLS"]
n = len(open(calls).read().splitlines()) if os.path.exists(calls) else 0
open(calls, "a").write(" ".join(sys.argv[1:]) + "\\n")
status = int(os.environ["EXITS"].split(",")[n])
run = ArchiveRun(sys.argv[sys.argv.index("--data") + 1], "epaper crawl " + " ".join(sys.argv[1:3]), [],
                 source=sys.argv[sys.argv.index("--source") + 1])
run.finish(status)
sys.exit(status)
"""


def test_the_metrics_after_update_describe_the_whole_update(tmp_path, monkeypatch):
    """An update whose catch-up fails and whose recheck then succeeds exited 1: so do the
    metrics of the last run, and the last success stays the earlier run's."""
    import sys

    from epaper.config import load_config
    from epaper.metrics import metrics_path
    from epaper.runlog import runs_path, whole_runs
    from epaper.schedule import run_update
    from epaper.storage.parquet import write_snapshot
    from tests.test_metrics import samples

    data, today = tmp_path / "data", dt.date(2026, 11, 27)
    # archived on its day: its recheck falls due the day after; the two days after it are missing
    write_snapshot(data, "ahjjb", "articles", dt.date(2026, 11, 25), [], {"complete": True,
                                                                 "crawled_at": "2026-11-25T07:30:00+08:00"})
    runs_path(data).parent.mkdir(parents=True)
    runs_path(data).write_text(json.dumps({"run_id": "earlier", "command": "epaper crawl", "source": "ahjjb", "dates": [],
                                           "started": "2026-11-20T08:00:00+08:00", "outcomes": {},
                                           "ended": "2026-11-20T08:00:00+08:00", "exit_status": 0}) + "\n")
    (tmp_path / "epaper.toml").write_text("[schedule]\ncatchup_days = 3\nrecheck_days = [1]\n")
    config = load_config(tmp_path / "epaper.toml", env={}, overrides={"storage.data_dir": str(data)})
    monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
    command = [sys.executable, "-c", CHILD]

    monkeypatch.setenv("EXITS", "1,0")
    assert run_update(config, data, crawl_command=command, today=today) == 1
    assert [c.split()[:2] for c in (tmp_path / "calls").read_text().splitlines()] == [
        ["--from", "2026-11-26"], ["--date", "2026-11-25"]]  # the catch-up, then the recheck
    got = samples(metrics_path(data))
    assert got[("epaper_last_run_exit_status", ())] == 1
    earlier = dt.datetime(2026, 11, 20, tzinfo=SHANGHAI).replace(hour=8).timestamp()
    assert got[("epaper_last_success_timestamp_seconds", ())] == earlier
    update = whole_runs(read_runs(data), "ahjjb")[-1]
    assert update["command"] == "epaper update" and len(update["children"]) == 2

    (tmp_path / "calls").unlink()
    monkeypatch.setenv("EXITS", "0,0")
    assert run_update(config, data, crawl_command=command, today=today) == 0
    got = samples(metrics_path(data))
    assert got[("epaper_last_run_exit_status", ())] == 0
    ended = dt.datetime.fromisoformat(read_runs(data)[-1]["ended"]).timestamp()
    assert read_runs(data)[-1]["command"] == "epaper update"
    assert got[("epaper_last_success_timestamp_seconds", ())] == ended
