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
        states = {s.date: s.state for s in date_states(data, tz=SHANGHAI, start=first, end=TODAY)}
        assert {d for d, s in states.items() if s == "archived"} == issues
        no_issue = {first + dt.timedelta(i) for i in range(7)} - issues
        outcomes = read_runs(data)[0]["outcomes"]
        assert {d for d, o in outcomes.items() if o["status"] == "no_issue"} == {d.isoformat() for d in no_issue}
        # days without an issue before today are confirmed, not crawled again
        assert all(states[d] == "no_issue" for d in no_issue if d < TODAY)

        snapshots = {d: snapshot_path(data, "articles", d).stat().st_mtime_ns for d in issues}
        warcs = sorted(p.name for p in (data / "warc").rglob("*.warc.gz"))
        result = run_epaper(*update)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        assert {d: snapshot_path(data, "articles", d).stat().st_mtime_ns for d in issues} == snapshots
        again = sorted(p.name for p in (data / "warc").rglob("*.warc.gz"))
        # at most a recheck of today, when it has no issue so far; no archived issue is fetched again
        assert len(again) - len(warcs) <= (0 if TODAY in issues else 1)

        gone = max(issues)
        snapshot_path(data, "articles", gone).unlink()
        result = run_epaper(*update)
        assert (result.returncode, result.stderr) == (0, "")
        assert snapshot_path(data, "articles", gone).exists()
