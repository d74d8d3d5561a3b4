"""DATA/metrics/epaper.prom: parsed back with prometheus_client's own parser."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client.parser import text_string_to_metric_families

from epaper.metrics import metrics_path, write_metrics
from epaper.runlog import runs_path
from tests.test_state import write_day

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 11, 27)


def run_line(data: Path, ended: str, exit_status: int, outcomes: dict, stats: dict | None = None) -> None:
    path = runs_path(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"run_id": ended, "command": "epaper crawl", "started": ended, "ended": ended,
              "dates": sorted(outcomes), "exit_status": exit_status, "outcomes": outcomes, **({"stats": stats} if stats else {})}
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def samples(path: Path) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            out[(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "source")))] = s.value
    return out


def test_metrics_hold_the_last_run_the_last_success_and_the_window(tmp_path):
    write_day(tmp_path, dt.date(2026, 11, 25), articles=4)
    write_day(tmp_path, dt.date(2026, 11, 26), complete=False, articles=2,
              failures=[{"url": "http://127.0.0.1/a", "reason": "HTTP 503"}])
    run_line(tmp_path, "2026-11-26T00:00:00Z", 0, {"2026-11-25": {"status": "archived", "articles": 4}})
    run_line(tmp_path, "2026-11-27T00:00:00Z", 1, {
        "2026-11-26": {"status": "incomplete", "articles": 2, "failures": [
            {"url": "http://127.0.0.1/a", "reason": "article: HTTP 503"},
            {"url": "http://127.0.0.1/b", "reason": "article: HTTP 503"},
            {"url": "http://127.0.0.1/c", "reason": "timeout"}]},
        "2026-11-22": {"status": "no_issue"}}, stats={"requests": 70, "response_bytes": 123456})

    path = write_metrics(tmp_path, source="ahjjb", tz=SHANGHAI, window_days=7, today=TODAY)
    assert path == metrics_path(tmp_path) and not list(path.parent.glob("*.prom.*"))
    got = samples(path)
    assert got[("epaper_last_run_exit_status", ())] == 1
    assert got[("epaper_last_run_end_timestamp_seconds", ())] == dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc).timestamp()
    assert got[("epaper_last_success_timestamp_seconds", ())] == dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc).timestamp()
    assert got[("epaper_last_run_articles", ())] == 2
    assert got[("epaper_last_run_requests", ())] == 70
    assert got[("epaper_last_run_failures", (("reason", "HTTP 503"),))] == 2
    assert got[("epaper_last_run_failures", (("reason", "timeout"),))] == 1
    window = {labels[0][1]: v for (name, labels), v in got.items() if name == "epaper_window_dates"}
    # 11-21..11-27: 25 archived, 26 incomplete, 22 no issue (confirmed: the run ended after it), 4 missing
    assert window == {"archived": 1, "suspect": 0, "incomplete": 1, "damaged": 0, "no_issue": 1, "pending": 0,
                      "missing": 4}


def test_metrics_of_an_empty_archive_parse(tmp_path):
    got = samples(write_metrics(tmp_path, source="ahjjb", tz=SHANGHAI, window_days=3, today=TODAY))
    assert got[("epaper_window_dates", (("state", "missing"),))] == 3
    assert ("epaper_last_run_exit_status", ()) not in got
