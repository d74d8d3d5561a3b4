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
    record = {"run_id": ended, "command": "epaper crawl", "source": "ahjjb", "started": ended, "ended": ended,
              "dates": sorted(outcomes), "exit_status": exit_status, "outcomes": outcomes, **({"stats": stats} if stats else {})}
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def samples(path: Path, source: str = "ahjjb") -> dict[tuple, float]:
    """The samples of one paper, keyed without their `source` label; every series has one."""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            assert "source" in s.labels, s
            if s.labels["source"] != source:
                continue
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
            {"url": "http://127.0.0.1/c", "reason": "timeout"}],
            "media_failures": [{"url": "http://127.0.0.1/p.pdf", "reason": "pdf: HTTP 404"}]},
        "2026-11-22": {"status": "no_issue"}}, stats={"requests": 70, "response_bytes": 123456})

    path = write_metrics(tmp_path, tz=SHANGHAI, window_days=7, today=TODAY)
    assert path == metrics_path(tmp_path) and not list(path.parent.glob("*.prom.*"))
    got = samples(path)
    assert got[("epaper_last_run_exit_status", ())] == 1
    assert got[("epaper_last_run_end_timestamp_seconds", ())] == dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc).timestamp()
    assert got[("epaper_last_success_timestamp_seconds", ())] == dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc).timestamp()
    assert got[("epaper_last_run_articles", ())] == 2
    assert got[("epaper_last_run_requests", ())] == 70
    assert got[("epaper_last_run_failures", (("reason", "HTTP 503"),))] == 2
    assert got[("epaper_last_run_failures", (("reason", "timeout"),))] == 1
    assert got[("epaper_last_run_media_not_captured", ())] == 1
    window = {labels[0][1]: v for (name, labels), v in got.items() if name == "epaper_window_dates"}
    # 11-21..11-27: 25 archived, 26 incomplete, 22 no issue (confirmed: the run ended after it), 4 missing
    assert window == {"archived": 1, "suspect": 0, "incomplete": 1, "damaged": 0, "no_issue": 1, "pending": 0,
                      "lost": 0, "missing": 4}


def test_metrics_of_an_empty_archive_parse(tmp_path):
    got = samples(write_metrics(tmp_path, sources=("ahjjb",), tz=SHANGHAI, window_days=3, today=TODAY))
    # a configured paper with nothing archived has its window: every date missing
    assert got[("epaper_window_dates", (("state", "missing"),))] == 3
    assert ("epaper_last_run_exit_status", ()) not in got


def test_suspect_dates_are_counted_in_the_window(tmp_path):
    write_day(tmp_path, dt.date(2026, 11, 26), suspect=["author in 0% of articles (median of the last 30 issues: 60%)"])
    write_day(tmp_path, dt.date(2026, 11, 25))
    run_line(tmp_path, "2026-11-27T00:00:00Z", 3, {"2026-11-26": {"status": "archived", "articles": 3}})
    got = samples(write_metrics(tmp_path, tz=SHANGHAI, window_days=3, today=TODAY))
    assert got[("epaper_window_dates", (("state", "suspect"),))] == 1
    assert got[("epaper_window_dates", (("state", "archived"),))] == 1
    assert got[("epaper_last_run_exit_status", ())] == 3
    # a run that archived everything, one date suspect, is a success
    assert got[("epaper_last_success_timestamp_seconds", ())] == dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc).timestamp()


def test_a_real_crawl_leaves_a_metrics_file_that_parses(portal, tmp_path):
    from tests.conftest import FAST, run_epaper

    server = portal("pc-rmrb", dt.date(2023, 8, 1), dt.date(2023, 8, 4))
    result = run_epaper("crawl", "--from", "2023-08-01", "--to", "2023-08-04", "--base-url", server.base_url,
                        "--data", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stderr
    got = samples(metrics_path(tmp_path))  # text_string_to_metric_families, prometheus_client's parser
    [run] = [json.loads(line) for line in runs_path(tmp_path).read_text().splitlines()]
    assert got[("epaper_last_run_exit_status", ())] == 0
    assert got[("epaper_last_run_start_timestamp_seconds", ())] <= got[("epaper_last_run_end_timestamp_seconds", ())]
    assert got[("epaper_last_success_timestamp_seconds", ())] == got[("epaper_last_run_end_timestamp_seconds", ())]
    assert got[("epaper_last_run_articles", ())] == len(server.truth["articles"]) > 0
    # the run's Scrapy figures, from the run log's stats object
    assert got[("epaper_last_run_requests", ())] == run["stats"]["requests"] == server.request_count() >= 40
    assert got[("epaper_last_run_response_bytes", ())] == run["stats"]["response_bytes"] > 100_000
    written = sum(p.stat().st_size for folder in ("articles", "pages", "warc") for p in (tmp_path / folder).rglob("*")
                  if p.is_file() and not p.name.startswith("_"))
    assert got[("epaper_last_run_bytes_written", ())] == run["stats"]["bytes_written"] == written
    assert not any(name == "epaper_last_run_failures" for name, _ in got)
    assert got[("epaper_last_run_media_not_captured", ())] == 0
    window = {labels[0][1]: v for (name, labels), v in got.items() if name == "epaper_window_dates"}
    assert sum(window.values()) == 7 and set(window) >= {"archived", "suspect", "incomplete", "missing"}


def test_update_rewrites_the_metrics_even_when_nothing_ran(tmp_path):
    import sys

    from epaper.config import load_config
    from epaper.schedule import run_update

    config = load_config(None, env={}, overrides={"storage.data_dir": str(tmp_path), "schedule.catchup_days": 2})
    assert run_update(config, tmp_path, crawl_command=[sys.executable, "-c", "raise SystemExit(0)"]) == 0
    got = samples(metrics_path(tmp_path))
    assert sum(v for (name, _), v in got.items() if name == "epaper_window_dates") == 2
