"""What the run log (`runs/runs.jsonl`, written by `epaper.runlog`) says was archived, read
by the storage layer itself: the loaders warn about a date a run archived whose snapshot is
gone (`lost`, as `epaper.state` calls it). One rule, `wrote_snapshot`, shared with
`epaper.state`."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from epaper.storage.parquet import open_regular

RUNS = Path("runs") / "runs.jsonl"
PARTS = Path("runs") / "parts"  # an archive on an object store: a run's line per object

log = logging.getLogger(__name__)


def wrote_snapshot(outcome: Mapping[str, Any]) -> bool:
    """Whether a run-log outcome means a snapshot was written: ``archived``, or ``incomplete``
    with rows kept."""
    status = outcome.get("status")
    kept = any(isinstance(outcome.get(k), int) and outcome[k] > 0 for k in ("articles", "pages"))
    return status == "archived" or (status == "incomplete" and kept)


def dated_outcomes(runs: Iterable[Any], source: str) -> Iterator[tuple[dt.date, dict, Mapping[str, Any]]]:
    """(date, outcome, run) of every dated outcome of the paper's runs (a run records one
    paper, its `source`), in run order; what is not a run, a date or an outcome is skipped."""
    for run in runs:
        if not isinstance(run, dict) or run.get("source") != source:
            continue
        outcomes = run.get("outcomes")
        if not isinstance(outcomes, dict):
            continue
        for day_text, outcome in outcomes.items():
            try:
                day = dt.date.fromisoformat(day_text)
            except (TypeError, ValueError):
                continue
            if isinstance(outcome, dict):
                yield day, outcome, run


def archived_by(run: Mapping[str, Any]) -> str:
    return f"{run.get('run_id')}, ended {run.get('ended')}"


def read_runs(root: str | Path) -> list[dict[str, Any]]:
    """All finished runs, oldest first: the run log's lines and, in an archive on an object
    store (storage.objectstore), the runs published as `runs/parts/<run_id>.json` (a run in
    both is read once); unreadable (torn) lines and parts are skipped."""
    runs = read_run_log(root)
    parts = _read_parts(root, {r.get("run_id") for r in runs})
    if not parts:
        return runs
    return sorted(runs + parts, key=_ended)


def _ended(run: dict[str, Any]) -> float:
    try:
        return dt.datetime.fromisoformat(str(run.get("ended")).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError, OverflowError):
        return float("-inf")


def _read_parts(root: str | Path, known: set) -> list[dict[str, Any]]:
    folder = Path(root) / PARTS
    if not folder.is_dir() or folder.is_symlink():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        if path.stem in known:
            continue
        try:
            with os.fdopen(open_regular(path, root=Path(root)), "rb") as fh:
                record = json.loads(fh.read())
        except (OSError, ValueError, RecursionError) as exc:
            log.warning("%s: not read: %s", path, exc)
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def read_run_log(root: str | Path) -> list[dict[str, Any]]:
    """The lines of the run log `runs/runs.jsonl`, oldest first; unreadable (torn) lines are skipped."""
    path = Path(root) / RUNS
    try:
        with os.fdopen(open_regular(path, root=Path(root)), "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return []
    except OSError as exc:  # a symlink, a FIFO, a folder: read as no run log, with a warning
        log.warning("%s: not read: %s", path, exc)
        return []
    runs: list[dict[str, Any]] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # torn, or nested past the parser's depth
            log.warning("%s: skipping unreadable line %d", path, number)
            continue
        if isinstance(record, dict):
            runs.append(record)
    return runs


def archived_by_runs(root: Path, source: str, runs: list[dict[str, Any]] | None = None) -> dict[dt.date, str]:
    """Each date some run archived of the paper, with the latest such run ("<run id>, ended
    <time>"); `runs` as read_runs gives them (read here when None)."""
    runs = read_runs(root) if runs is None else runs
    return {day: archived_by(run) for day, outcome, run in dated_outcomes(runs, source) if wrote_snapshot(outcome)}
