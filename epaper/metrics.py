"""`DATA/metrics/epaper.prom`: the archive's figures in the Prometheus text format, for
node_exporter's textfile collector (the convention for cron jobs), rewritten after every run.

Everything comes from the archive's own records, so the file can be rebuilt at any time: the
run log (`runs/runs.jsonl`: the last run, the last successful one, its failures and request
counts; an update's child crawls counted as the update, `runlog.whole_runs`) and the state of each date of the catch-up window (`epaper.state.date_states`).
The file is written under a temporary name and renamed into place by the archive's one rule
(storage.parquet.atomic_write): never through a symbolic link, `metrics/` a link included.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from epaper.crawler.outcome import STATES
from epaper.exits import SUCCESS
from epaper.runlog import read_runs, whole_runs
from epaper.state import date_states
from epaper.storage.layout import archive_papers
from epaper.storage.parquet import atomic_write, open_regular

METRICS_DIR = "metrics"
METRICS_FILE = "epaper.prom"


def metrics_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / METRICS_DIR / METRICS_FILE


def _timestamp(text: object) -> float | None:
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo else None


def _reason_kind(reason: str) -> str:
    """A failure reason without the parts that vary per URL: 'HTTP 503', 'timeout', ..."""
    text = re.sub(r"^(?:calendar|page|article): ", "", reason or "")
    # A URL (a redirect's target), a path or a number names one response, not a kind: each
    # would make a new time series.
    text = _URL.sub("URL", text)
    text = _NUMBER.sub("N", text.split(" (")[0].split(": ")[0])
    return text.strip()[:60] or "?"


_URL = re.compile(r"""(?:[a-z][a-z0-9+.-]*://|/)[^\s'"<>()]*""", re.I)
_NUMBER = re.compile(r"(?<![A-Za-z])\d{4,}(?![A-Za-z])")
MAX_REASONS = 20  # label values of epaper_last_run_failures; the rest add up under "other"


def _bounded(counts: Counter) -> Counter:
    if len(counts) <= MAX_REASONS:
        return counts
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out = Counter(dict(ranked[:MAX_REASONS - 1]))
    out["other"] += sum(n for _, n in ranked[MAX_REASONS - 1:])
    return out


def collect(data_dir: str | Path, *, tz: dt.tzinfo, window_days: int,
            today: dt.date | None = None, sources: tuple[str, ...] | list[str] = ()) -> CollectorRegistry:
    """Every paper's figures, each series labelled with its `source`: the archive's papers and
    `sources` (the configured ones: a paper with nothing archived yet still has its window)."""
    root = Path(data_dir)
    registry = CollectorRegistry()
    gauges: dict[str, Gauge] = {}

    def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> Gauge:
        if name not in gauges:
            gauges[name] = Gauge(name, doc, ["source", *extra], registry=registry)
        return gauges[name]

    all_runs = read_runs(root)
    today = today or dt.datetime.now(tz).date()
    for source in sorted(set(archive_papers(root, all_runs)) | set(sources)):
        _collect_paper(root, source, all_runs, gauge, tz, window_days, today)
    return registry


def _collect_paper(root: Path, source: str, all_runs: list[dict[str, Any]], gauge, tz: dt.tzinfo,
                   window_days: int, today: dt.date) -> None:
    labels = {"source": source}
    # An update (a scheduled run) is one run with its child crawls: their outcomes and figures,
    # its exit status (the worst of theirs), a success only when every child succeeded.
    runs = whole_runs(all_runs, source)
    last: dict[str, Any] = runs[-1] if runs else {}
    # A success archived every requested date (3: one of them is suspect, which the window counts).
    success = next((r for r in reversed(runs) if r.get("exit_status") in SUCCESS), {})
    for name, doc, value in (
        ("epaper_last_run_start_timestamp_seconds", "When the last run started", _timestamp(last.get("started"))),
        ("epaper_last_run_end_timestamp_seconds", "When the last run ended", _timestamp(last.get("ended"))),
        ("epaper_last_run_exit_status", "Exit status of the last run (0 ok, 1 failed, 2 usage, 3 suspect)",
         last.get("exit_status")),
        ("epaper_last_success_timestamp_seconds", "When the last run with exit status 0 or 3 ended",
         _timestamp(success.get("ended"))),
    ):
        if isinstance(value, (int, float)):
            gauge(name, doc).labels(**labels).set(value)

    outcomes = last.get("outcomes") if isinstance(last.get("outcomes"), dict) else {}
    articles = sum(o.get("articles") or 0 for o in outcomes.values() if isinstance(o, dict))
    gauge("epaper_last_run_articles", "Articles archived by the last run").labels(**labels).set(articles)
    stats = last.get("stats") if isinstance(last.get("stats"), dict) else {}
    for key, name, doc in (("requests", "epaper_last_run_requests", "Requests the last run made"),
                           ("response_bytes", "epaper_last_run_response_bytes", "Bytes the last run downloaded"),
                           ("bytes_written", "epaper_last_run_bytes_written",
                            "Bytes of snapshots and WARC files the last run wrote")):
        if isinstance(stats.get(key), (int, float)):
            gauge(name, doc).labels(**labels).set(stats[key])
    failures = Counter(_reason_kind(f.get("reason", "")) for o in outcomes.values() if isinstance(o, dict)
                       for f in o.get("failures") or [] if isinstance(f, dict))
    failed = gauge("epaper_last_run_failures", "Failed URLs of the last run, by reason", ("reason",))
    for reason, count in sorted(_bounded(failures).items()):
        failed.labels(reason=reason, **labels).set(count)
    media = sum(len(o.get("media_failures") or []) for o in outcomes.values() if isinstance(o, dict))
    gauge("epaper_last_run_media_not_captured",
          "Page PDFs, scans and images the last run could not capture (storage.media)").labels(**labels).set(media)

    window = date_states(root, source, tz=tz, start=today - dt.timedelta(days=max(window_days, 1) - 1), end=today,
                         runs=all_runs)
    states = Counter(s.state for s in window)
    dates = gauge("epaper_window_dates", f"Dates of the catch-up window by state ({', '.join(STATES)})",
                  ("state",))
    for state in STATES:
        dates.labels(state=state, **labels).set(states.get(state, 0))




def write_metrics(data_dir: str | Path, **options: Any) -> Path:
    """Rewrite DATA/metrics/epaper.prom atomically; options as for `collect`."""
    path = metrics_path(data_dir)
    # Not prometheus_client's write_to_textfile: it opens its temp file with a plain open(),
    # through any symbolic link `metrics/` or that name is. UnsafePath (an OSError) instead.
    text = generate_latest(collect(data_dir, **options))

    def write(tmp: Path) -> None:
        fd = open_regular(tmp, os.O_WRONLY | os.O_TRUNC, root=Path(data_dir))
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)

    atomic_write(path, write, root=Path(data_dir))
    return path
