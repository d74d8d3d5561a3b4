"""Files a killed writer left behind: the hidden temporaries `.<name>.tmp-<pid>` that every
archive write goes through (a WARC file being written, a snapshot before its rename, the run
log or the dedupe index being rewritten). No Scrapy imports.

A crawl stopped by SIGKILL (or a power cut) leaves its temporaries where they were: one per
date folder it was writing. They are never read (a reader only sees `*.parquet` and
`*.warc.gz`), but they take disk and say that a crawl of that date was cut short.

- `leftovers(root)`: those whose writer is gone (its PID is not a live process on this
  machine); `status` counts them, `report` and `epaper.state` tell such a date from one never
  crawled.
- `remove_leftovers(root)`: what a run removes once it holds the archive lock; the rule is
  `storage.parquet.stale_temp`, the one every write's own folder sweep uses.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from epaper.storage.parquet import TEMP, dataset_dir, stale_temp

# Not swept: the scratch archive of a history replay (epaper.reparse clears it whole) and the
# per-run logs (many files, never written through a temporary).
SKIP = {".reparse", "logs"}


@dataclass(frozen=True)
class Temp:
    path: Path
    pid: int
    day: dt.date | None  # the issue date whose folder holds it; None outside a date folder
    source: str | None = None  # the paper whose folder holds that date folder
    paper: str | None = None  # the paper whose folder (`source=ID`, at any depth) holds it; None: shared


def temp_files(root: str | Path, source: str | None = None) -> list[Temp]:
    """Every `.<name>.tmp-<pid>` file under the archive root (with `source`, under that paper's
    date folders only: one paper's state never walks the others'), its links not followed."""
    root = Path(root)
    out = []
    tops = [root] if source is None else [dataset_dir(root, source, d) for d in ("articles", "pages", "revisions",
                                                                               "warc")]
    walks = (entry for top in tops for entry in os.walk(top))
    for folder, dirs, files in walks:
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d not in SKIP]
        day = _day(os.path.basename(folder))
        parent = os.path.basename(os.path.dirname(folder))
        source = parent.partition("=")[2] if day and parent.startswith("source=") else None
        paper = next((part.partition("=")[2] for part in Path(folder).relative_to(root).parts
                      if part.startswith("source=")), None)
        for name in files:
            match = TEMP.match(name)
            if match:
                out.append(Temp(Path(folder) / name, int(match.group(1)), day, source, paper))
    return sorted(out, key=lambda t: str(t.path))


def leftovers(root: str | Path, source: str | None = None) -> list[Temp]:
    """The temporaries whose writer is gone (of one paper's date folders, with `source`)."""
    return [t for t in temp_files(root, source) if stale_temp(t.path.name)]


def by_date(temps: list[Temp]) -> Counter:
    """How many of them each paper's issue date's folders hold, by (source, date) ((None, None):
    outside a date folder)."""
    return Counter((t.source, t.day) for t in temps)


def remove_leftovers(root: str | Path, sources: Iterable[str] | None = None) -> list[Temp]:
    """Remove what killed writers left; the ones removed (one that cannot be removed stays
    counted by `status`). `sources`: the papers whose locks the caller holds; only their
    folders' temporaries and the shared ones (run log, metrics) are swept, never another
    paper's: its writer may be alive on another machine seeing the same archive, where its
    PID says nothing here. None: every paper's (the caller holds the whole archive)."""
    mine = None if sources is None else set(sources)
    removed = []
    for temp in leftovers(root):
        if mine is not None and temp.paper is not None and temp.paper not in mine:
            continue
        try:
            temp.path.unlink()
        except OSError:
            continue
        removed.append(temp)
    return removed


def _day(name: str) -> dt.date | None:
    if not name.startswith("issue_date="):
        return None
    try:
        return dt.date.fromisoformat(name.split("=", 1)[1])
    except ValueError:
        return None
