"""One rule for the times a person reads: ISO 8601 with the offset, in the portal's zone
(`schedule.timezone`), in runs.jsonl, log file names and lines, and `status`."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from epaper.runlog import read_runs
from tests.conftest import FAST, run_epaper

WEEK = (dt.date(2023, 7, 31), dt.date(2023, 8, 6))
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


@pytest.mark.slow  # make test-all: a crawl and a schedule run per zone
@pytest.mark.parametrize(("zone", "offset"), [(None, "+08:00"), ("America/Sao_Paulo", "-03:00")])
def test_times_are_iso_with_the_portals_offset(portal, tmp_path, zone, offset):
    server = portal("pc-rmrb", *WEEK)
    config = tmp_path / "epaper.toml"
    config.write_text(f'[schedule]\ntimezone = "{zone}"\n' if zone else "")
    data = tmp_path / "data"
    common = ["--config", str(config), "--data", str(data)]
    result = run_epaper("crawl", "--date", "2023-08-01", "--base-url", server.base_url, *common, *FAST)
    assert result.returncode == 0, result.stderr
    [run] = read_runs(data)
    assert re.fullmatch(ISO + re.escape(offset), run["started"]) and run["ended"].endswith(offset)
    [log] = (data / "logs").glob("*.log")
    assert re.fullmatch(r"\d{8}T\d{6}" + re.escape(offset.replace(":", "")) + r"-crawl-\d+\.log", log.name)
    first = log.read_text(encoding="utf-8").splitlines()[0]
    assert re.match(ISO + re.escape(offset) + " ", first), first
    status = run_epaper("status", *common)
    assert status.returncode == 1, status.stderr  # the catch-up window (the last 7 days) is missing
    assert re.search(r"2023-08-01 .* " + ISO + re.escape(offset), status.stdout), status.stdout
    rows = json.loads(run_epaper("status", "--json", *common).stdout)
    assert rows[0]["last_crawled"].endswith(offset)
    jsonl = run_epaper("crawl", "--date", "2023-08-01", "--base-url", server.base_url, "--log-format", "json",
                       *common, *FAST)
    assert jsonl.returncode == 0, jsonl.stderr
    newest = max((data / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime_ns)
    assert json.loads(newest.read_text(encoding="utf-8").splitlines()[0])["time"].endswith(offset)
