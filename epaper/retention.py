"""Retention of the archive's own logs: ``logs/*.log`` (one Scrapy log per run) and
``runs/runs.jsonl``. Not of ``warc/`` nor of the snapshots: those are the archive.

Applied at the end of every run that writes the archive (``epaper crawl``/``reparse``, each
child crawl of ``schedule`` and ``update``, ``scrapy crawl epaper``), under the papers' locks:
writers of other papers may prune at the same time, so the run log is rewritten under its own
lock (epaper.runlog.locked_runs_file), which appends take too, and a log already removed by
another is no error.

- ``storage.log_retention_days`` (default 90): a log file last written longer ago is deleted.
- ``storage.runs_retention_days`` (default 365): a run that ended longer ago is dropped from
  ``runs.jsonl``, unless it holds the latest outcome of one of its dates. `status`, `report`
  and the scheduler read those outcomes (a date "confirmed without an issue" is one), so they
  stay whatever their age: the file keeps at most one old line per date.

0 keeps everything. The run log is rewritten to a temporary file and renamed over the old one,
by the archive's one rule (storage.parquet: never through a symbolic link, regular files only).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

from epaper.runlog import locked_runs_file, read_runs, run_ended, runs_path
from epaper.storage.parquet import atomic_write, list_files, open_regular

log = logging.getLogger(__name__)


def apply_retention(data: str | Path, *, log_days: int, runs_days: int,
                    now: dt.datetime | None = None, keep: Path | None = None) -> tuple[int, int]:
    """Prune old logs and runs; (log files deleted, run lines dropped). `keep`: a log in use."""
    now = now or dt.datetime.now(dt.timezone.utc)
    removed_logs = prune_logs(Path(data), now - dt.timedelta(days=log_days), keep) if log_days else 0
    dropped_runs = prune_runs(Path(data), now - dt.timedelta(days=runs_days)) if runs_days else 0
    return removed_logs, dropped_runs


def prune_logs(data: Path, before: dt.datetime, keep: Path | None = None) -> int:
    removed = 0
    folder = data / "logs"
    for path in list_files(folder, "*.log", data):  # never through a `logs` link (UnsafePath)
        try:
            if path == keep or path.lstat().st_mtime >= before.timestamp():
                continue
            path.unlink()  # another paper's writer may prune the same file at the same time
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot remove the old log %s: %s", path, exc)
    return removed


def prune_runs(data: Path, before: dt.datetime) -> int:
    path = runs_path(data)
    try:
        # Under the run log's lock: a line another paper's writer appends meanwhile waits for
        # the rename and then goes into the new file (epaper.runlog.locked_runs_file).
        with locked_runs_file(path):
            return _prune_runs(data, path, before)
    except FileNotFoundError:
        return 0


def _prune_runs(data: Path, path: Path, before: dt.datetime) -> int:
    runs = read_runs(data)
    latest: dict[str, int] = {}  # date -> index of the last run holding an outcome for it
    for i, run in enumerate(runs):
        outcomes = run.get("outcomes")
        for day in outcomes if isinstance(outcomes, dict) else ():
            latest[day] = i
    needed = set(latest.values())
    kept = [run for i, run in enumerate(runs)
            if i in needed or (ended := run_ended(run)) is None or ended >= before]
    if len(kept) == len(runs):
        return 0
    text = "".join(json.dumps(run, ensure_ascii=False, separators=(",", ":")) + "\n" for run in kept)

    def write(tmp: Path) -> None:
        # The temp file is created by atomic_write, exclusively and never through a link (a
        # planted `.runs.jsonl.tmp-<pid>` link is removed as a stale temp, its target untouched).
        with os.fdopen(open_regular(tmp, os.O_WRONLY | os.O_TRUNC, root=Path(data)), "w", encoding="utf-8") as fh:
            fh.write(text)

    atomic_write(path, write, root=Path(data))
    return len(runs) - len(kept)
