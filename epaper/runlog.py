"""The run log: ``<data_dir>/runs/runs.jsonl``, one JSON line per finished run.

Append-only. Each line is written by one ``os.write`` of the whole line on an
``O_APPEND`` descriptor, then ``fsync``, under an exclusive ``flock`` of the file, which
retention's rewrite also takes (:func:`locked_runs_file`: writers of several papers share the
file); a crash can at worst leave a torn last line,
which readers skip (and the next writer starts on a fresh line). A line::

    {"run_id": "20261127T033000Z-1a2b3c4d", "command": "epaper crawl --date 2026-11-27",
     "started": "2026-11-27T11:30:00+08:00", "ended": "2026-11-27T11:31:12+08:00",
     "source": "ahjjb", "dates": ["2026-11-27"],
     "outcomes": {"2026-11-27": {"status": "archived", "articles": 42, "pages": 8,
                                 "duplicates": 1, "failures": []}},
     "exit_status": 0}

An archived date's outcome also holds its extraction health (``"health"``, see
:mod:`epaper.pipelines.health`) and, when it is suspect, the changes (``"suspect"``); a
crawl's line holds its figures under ``"stats"`` (``requests``, ``response_bytes``,
``bytes_written``, ``suspect_dates``), which :mod:`epaper.metrics` reads.

Times are ISO 8601 with the offset, in the portal's zone (:mod:`epaper.timefmt`); lines
written before that rule end in ``Z`` (UTC) and read the same. ``status`` is one of
``archived``, ``no_issue``, ``incomplete``, ``failed`` (`crawler.outcome.RUN_OUTCOMES`); each
failure is ``{"url": ..., "reason": ...}``.

A crawl's line records one paper (``"source"``: its id): a command over several papers writes
a line per paper. A run made of child crawls (``epaper update``, each run of ``epaper
schedule``) writes its own line after theirs, with the worst of their exit statuses
(`epaper.exits.worst`), no outcomes and no ``source``; each child's line names it
(``"parent": <its run_id>``). :func:`whole_runs` folds a paper's children into it, so that
"the last run" and "the last successful run" of a paper (metrics, health) are the update as a
whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from epaper.crawler.outcome import RUN_OUTCOMES
from epaper.storage.parquet import UnsafePath, make_dirs, open_regular
from epaper.storage.runs import dated_outcomes, read_runs  # noqa: F401 - read_runs is this module's too

logger = logging.getLogger(__name__)

RUNS_DIR = "runs"
RUNS_FILE = "runs.jsonl"
# The run_id of the run that started this one as a child (epaper.schedule sets it).
PARENT_RUN_ENV = "EPAPER_PARENT_RUN"


def runs_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / RUNS_DIR / RUNS_FILE


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(ts: datetime, tz: Any = None) -> str:
    from epaper.timefmt import iso

    return iso(ts, tz)


@dataclass
class RunRecord:
    """One run in progress; :meth:`finish` appends it to the log (once)."""

    data_dir: Path
    command: str
    dates: list[date]
    run_id: str
    started: datetime
    outcomes: dict[date, dict[str, Any]] = field(default_factory=dict)
    finished: bool = False
    tz: Any = None  # the zone of `started` and `ended` (epaper.timefmt: the portal's)
    stats: dict[str, Any] | None = None  # the crawl's figures (requests, response_bytes, bytes_written)
    parent: str | None = None  # the run_id of the run that started this one (an update's)
    source: str | None = None  # the paper crawled (None: a parent run over child crawls)

    def date_outcome(
        self,
        day: date,
        status: str,
        articles: int = 0,
        pages: int = 0,
        duplicates: int = 0,
        failures: Iterable[Mapping[str, Any]] = (),
        health: Mapping[str, Any] | None = None,
        suspect: Iterable[str] = (),
        revised: int = 0,
        gone: int = 0,
        media_failures: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Record (or replace) the outcome of one issue date; `health` (the snapshot's
        extraction health), `suspect` (its sharp changes), `revised` (articles corrected),
        `gone` (articles no longer found) and `media_failures` (page PDFs, scans and images not
        captured, which leave the date complete) only when there are some."""
        if status not in RUN_OUTCOMES:
            raise ValueError(f"unknown run outcome {status!r} (one of {', '.join(RUN_OUTCOMES)})")
        self.outcomes[day] = {
            "status": status,
            "articles": int(articles),
            "pages": int(pages),
            "duplicates": int(duplicates),
            "failures": [
                {"url": f.get("url"), "reason": f.get("reason")} for f in failures
            ],
        }
        if health:
            self.outcomes[day]["health"] = dict(health)
        if suspect:
            self.outcomes[day]["suspect"] = list(suspect)
        media = [{"url": f.get("url"), "reason": f.get("reason")} for f in media_failures]
        if media:
            self.outcomes[day]["media_failures"] = media
        for key, count in (("revised", revised), ("gone", gone)):
            if count:
                self.outcomes[day][key] = int(count)

    def exit_status(self, *, fatal: bool = False, error: bool = False) -> int:
        """The run's exit status over the requested dates' outcomes (epaper.exits.exit_status)."""
        from epaper.exits import exit_status

        outcomes = [self.outcomes.get(day) for day in self.dates]
        return exit_status([o["status"] if o else None for o in outcomes], fatal=fatal, error=error,
                           suspect=any(o.get("suspect") for o in outcomes if o))

    def finish(self, exit_status: int) -> dict[str, Any]:
        """Append this run's line to the log; returns the record written."""
        if self.finished:
            raise RuntimeError(f"run {self.run_id} already finished")
        record = {
            "run_id": self.run_id,
            "command": self.command,
            "started": _iso(self.started, self.tz),
            "ended": _iso(_utc_now(), self.tz),
            **({"source": self.source} if self.source else {}),
            "dates": [d.isoformat() for d in self.dates],
            "outcomes": {d.isoformat(): o for d, o in sorted(self.outcomes.items())},
            "exit_status": int(exit_status),
        }
        if self.stats:
            record["stats"] = dict(self.stats)
        if self.parent:
            record["parent"] = self.parent
        _append_line(runs_path(self.data_dir), record)
        self.finished = True
        return record

    def __enter__(self) -> RunRecord:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A run that ends without an explicit finish() is still logged: by its outcomes,
        # or as failed (130 for Ctrl-C) when an exception escapes.
        if self.finished:
            return
        if exc_type is None:
            self.finish(self.exit_status())
        elif issubclass(exc_type, KeyboardInterrupt):
            from epaper.exits import INTERRUPTED

            self.finish(INTERRUPTED)
        else:
            self.finish(1)


class RunLog:
    @staticmethod
    def start(data_dir: str | Path, command: str, dates: Iterable[date], tz: Any = None,
              parent: str | None = None, source: str | None = None) -> RunRecord:
        """Begin a run; nothing is written until :meth:`RunRecord.finish`. `tz`: the zone its
        times are written in (default the portal's default, Asia/Shanghai); `parent`: the
        run_id of the run that started this one; `source`: the paper it crawls."""
        check_writable(Path(data_dir))
        started = _utc_now()
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        return RunRecord(
            data_dir=Path(data_dir),
            command=command,
            dates=list(dates),
            run_id=run_id,
            started=started,
            tz=tz,
            parent=parent,
            source=source,
        )


def check_writable(data_dir: Path) -> None:
    """Refuse, before a run starts, a run log it could not append to: `runs` a file or a
    symlink, `runs.jsonl` a symlink, a FIFO or a folder (one line, never a traceback)."""
    from epaper.config import UsageError

    path = runs_path(data_dir)
    try:
        for p in (path.parent, path):
            if p.is_symlink():
                raise UnsafePath(f"{p} is a symbolic link: archive files are never opened through one")
        if path.parent.exists() and not path.parent.is_dir():
            raise UnsafePath(f"{path.parent} is not a directory")
        if path.exists() and not path.is_file():
            raise UnsafePath(f"{path} is not a regular file")
    except OSError as exc:
        raise UsageError(f"cannot keep the run log: {exc}") from None


def _append_line(path: Path, record: Mapping[str, Any]) -> None:
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    make_dirs(path.parent, path.parent.parent)
    with locked_runs_file(path, os.O_RDWR | os.O_APPEND | os.O_CREAT) as fd:
        size = os.fstat(fd).st_size
        if size:
            # A torn last line (crash mid-write) must not swallow this one.
            if os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
        written = os.write(fd, line)
        while written < len(line):  # regular files write whole; this is belt and braces
            written += os.write(fd, line[written:])
        os.fsync(fd)


@contextlib.contextmanager
def locked_runs_file(path: Path, flags: int = os.O_RDONLY) -> Iterator[int]:
    """The run log open (`flags`) and ``flock``-ed exclusive, for as long as the context lasts.

    Writers of several papers share the run log. Appends alone would not need it (``O_APPEND``
    writes whole lines), but retention (epaper.retention) rewrites the file by a rename: an
    append between its read and its rename would land in the replaced file and be lost. Both
    take this lock; as the rename puts a new file (a new inode) under the name, whoever gets
    the lock checks that the descriptor is still the file the name leads to, and opens it
    again if not. Never through a symlink, never a FIFO (storage.parquet.open_regular);
    FileNotFoundError when it does not exist and `flags` do not create it.
    """
    root = path.parent.parent
    while True:
        fd = open_regular(path, flags, root=root)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for a few milliseconds by each taker
            try:
                same = os.path.samestat(os.fstat(fd), os.lstat(path))
            except FileNotFoundError:
                same = False
            if same:
                yield fd
                return
        finally:
            os.close(fd)  # drops the lock


def last_outcomes(data_dir: str | Path, source: str) -> dict[date, dict[str, Any]]:
    """Latest outcome per issue date of the paper, with the ``run_id`` and ``ended`` of its run."""
    return {day: {**outcome, "run_id": run.get("run_id"), "ended": run.get("ended")}
            for day, outcome, run in dated_outcomes(read_runs(data_dir), source)}


def run_ended(run: Mapping[str, Any]) -> datetime | None:
    """When a run-log line's run ended (aware), or None when its time is unreadable."""
    try:
        when = datetime.fromisoformat(str(run.get("ended")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


def whole_runs(runs: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """The paper's runs as they were started, oldest first: each of its child crawls' lines
    (``parent``) folded into its parent's (its outcomes merged in order, its figures summed),
    the parent keeping its own times and exit status; a parent with no child of the paper is
    not the paper's run. A child whose parent left no line (killed, or still running) stands
    alone."""
    parents = {r.get("run_id") for r in runs if not r.get("parent") and not r.get("source")}
    children: dict[Any, list[dict[str, Any]]] = {}
    runs = [r for r in runs if r.get("source") == source or r.get("run_id") in parents]
    for run in runs:
        if run.get("parent") in parents:
            children.setdefault(run["parent"], []).append(run)
    out = []
    for run in runs:
        if run.get("parent") in parents:
            continue
        kids = children.get(run.get("run_id")) if not run.get("parent") else None
        if run.get("run_id") in parents and not kids:
            continue
        if kids:
            outcomes: dict[str, Any] = {}
            stats: dict[str, Any] = {}
            for part in [*kids, run]:
                if isinstance(part.get("outcomes"), dict):
                    outcomes.update(part["outcomes"])
                for key, value in (part.get("stats") or {}).items() if isinstance(part.get("stats"), dict) else ():
                    if isinstance(value, (int, float)):
                        stats[key] = stats.get(key, 0) + value
            from epaper.exits import worst

            statuses = [k.get("exit_status") for k in kids]
            own = worst(statuses) if all(isinstance(x, int) for x in statuses) else run.get("exit_status")
            run = {**run, "outcomes": outcomes, **({"stats": stats} if stats else {}),
                   "children": [k.get("run_id") for k in kids], "exit_status": own}
        out.append(run)
    return out
