"""What the run log (`runs/runs.jsonl`, written by `epaper.runlog`) says was archived, read
by the storage layer itself: the loaders warn about a date a run archived whose snapshot is
gone (`lost`, as `epaper.state` calls it). One rule, `wrote_snapshot`, shared with
`epaper.state`."""
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from epaper.storage.parquet import open_regular

RUNS = Path("runs") / "runs.jsonl"


def wrote_snapshot(outcome: Mapping[str, Any]) -> bool:
    """Whether a run-log outcome means a snapshot was written: ``archived``, or ``incomplete``
    with rows kept."""
    status = outcome.get("status")
    kept = any(isinstance(outcome.get(k), int) and outcome[k] > 0 for k in ("articles", "pages"))
    return status == "archived" or (status == "incomplete" and kept)


def archived_by_runs(root: Path) -> dict[dt.date, str]:
    """Each date some run archived, with the latest such run ("<run id>, ended <time>").
    No run log, or one that cannot be read: {} (the ops commands report that)."""
    path = Path(root) / RUNS
    try:
        with os.fdopen(open_regular(path, root=Path(root)), "rb") as fh:
            raw = fh.read()
    except OSError:
        return {}
    archived: dict[dt.date, str] = {}
    for line in raw.split(b"\n"):
        try:
            run = json.loads(line) if line.strip() else None
        except (ValueError, RecursionError):  # a torn line
            continue
        outcomes = run.get("outcomes") if isinstance(run, dict) else None
        if not isinstance(outcomes, dict):
            continue
        for day_text, outcome in outcomes.items():
            try:
                day = dt.date.fromisoformat(day_text)
            except (TypeError, ValueError):
                continue
            if isinstance(outcome, dict) and wrote_snapshot(outcome):
                archived[day] = f"{run.get('run_id')}, ended {run.get('ended')}"
    return archived
