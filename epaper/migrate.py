"""`epaper migrate`: move an archive of the single-paper layout under the config's one paper.

Before several papers shared an archive, a dataset held its dates directly
(`articles/issue_date=D/part-0.parquet`, `warc/issue_date=D/*.warc.gz`, ...) and every row
carried a `source` column. Now each paper has its folder (`articles/source=ID/issue_date=D`)
and `source` lives only in the path (storage.layout, storage.schema). `migrate(root, source)`
moves an old archive there, keeping every row and every `article_id`:

- the run log: every crawl line without `source` gets `"source": ID` (runs.jsonl rewritten
  to a temporary file and renamed over the old one; a line it cannot read is kept as it is;
  the line of an `update`/`schedule` run that started child crawls stays without one, as
  such lines are written now);
- `warc/`: each WARC file renamed into `warc/source=ID/issue_date=D/` (same file system: the
  bytes never move);
- `revisions/`, `pages/`, `articles/`: each file rewritten into the paper's folder without
  its `source` column (whose values must all be the paper's id, else nothing is done), its
  `warc_file` values naming the WARC file's new place, the snapshot's footer metadata
  (complete, failures, health, ...) kept, checksums written as every snapshot's; the new file
  is read back and compared with the old one before the old one is removed. A file that does
  not read whole (damaged) or is not a regular file is moved as it is: what could not be read
  before still cannot, and nothing is lost;
- derived data last: `compact/` rebuilt for the paper when the old archive had one, then its
  old years removed; the old dedupe index removed (the next crawl rebuilds it from the
  snapshots); `_common_metadata` files and the scratch of a stopped reparse removed.

Every step is atomic and the steps are ordered so that at every moment each row is readable
in its old place or in its new one: a migration killed at any point (even SIGKILL) is finished
by running it again; a file whose new twin exists is simply rewritten again from the old one
(the same rows), then removed. The old layout's markers (storage.layout.old_layout) go last,
so an archive is "migrated" only once everything has moved.

Test hook: `EPAPER_MIGRATE_DIE_AFTER=N` makes the process kill itself (SIGKILL) right after
its N-th step that changes the archive; read only here, by the kill tests.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from epaper.storage import schema as S
from epaper.storage.layout import PARTITIONED, old_layout
from epaper.storage.parquet import (COMMON_METADATA, DATASETS, META_KEY, SNAPSHOT_NAME, SOURCE_ID, TEMP,
                                    atomic_write, fsync_dir, make_dirs, open_regular, partition_dir, read_snapshot,
                                    stale_temp, write_snapshot)

DIE_AFTER_ENV = "EPAPER_MIGRATE_DIE_AFTER"  # test hook: SIGKILL after the N-th step
OLD_WARC = "warc/issue_date="  # how a row named its WARC file in the single-paper layout
PARENT_COMMANDS = ("epaper update", "epaper schedule")  # runs whose line names no paper
# In the order moved: the WARC files first, so that when a row is moved, what it names is there.
DATED = ("warc", "revisions", "pages", "articles")
TABLES = {"articles": S.ARTICLES, "pages": S.PAGES, "revisions": S.REVISIONS}


class MigrationError(ValueError):
    """The archive cannot be migrated as it is; the text is one line saying why."""


@dataclass
class Summary:
    source: str
    dates: Counter = field(default_factory=Counter)  # dataset -> dates moved
    warc_files: int = 0
    runs: int = 0  # run-log lines given the paper's id
    as_is: list[str] = field(default_factory=list)  # files moved as they were (unreadable)
    compact: bool = False  # compact/ rebuilt for the paper

    def line(self, root: Path) -> str:
        parts = [f"{dataset} {self.dates[dataset]} dates" for dataset in ("articles", "pages", "revisions")]
        text = (f"migrated {root} to the folders of paper {self.source}: {', '.join(parts)}, "
                f"{self.warc_files} WARC files moved, {self.runs} run-log lines given source={self.source}")
        if self.compact:
            text += ", compact/ rebuilt"
        if self.as_is:
            text += f"; {len(self.as_is)} unreadable files moved as they were (first {self.as_is[0]})"
        return text


class _Steps:
    """Counts the steps that change the archive; the test hook dies after the N-th."""

    def __init__(self) -> None:
        text = os.environ.get(DIE_AFTER_ENV, "").strip()
        self.die_after = int(text) if text.isdigit() else 0
        self.count = 0

    def done(self) -> None:
        self.count += 1
        if self.count == self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)


# ------------------------------------------------------------------ the plan


def _old_dates(root: Path, dataset: str) -> list[tuple[dt.date, Path]]:
    """The dataset's date folders of the single-paper layout, oldest first."""
    folder = root / dataset
    if not folder.is_dir() or folder.is_symlink():
        return []
    out = []
    for entry in sorted(folder.iterdir()):
        if not entry.name.startswith("issue_date="):
            continue
        try:
            day = dt.date.fromisoformat(entry.name.partition("=")[2])
        except ValueError:
            raise MigrationError(f"{entry} is not a date folder (issue_date=YYYY-MM-DD): "
                                 "rename or remove it, then run epaper migrate again") from None
        out.append((day, entry))
    return out


def _is_table(dataset: str, path: Path) -> bool:
    if dataset in ("articles", "pages"):
        return path.name == SNAPSHOT_NAME
    return dataset == "revisions" and path.suffix == ".parquet" and not TEMP.match(path.name)


def _read_old(root: Path, path: Path) -> tuple[pa.Table, dict] | None:
    """An old file's rows and footer metadata; None when it does not read whole."""
    try:
        with os.fdopen(open_regular(path, root=root), "rb") as fh, \
                pq.ParquetFile(fh, page_checksum_verification=True) as file:
            table = file.read(use_threads=False)
            metadata = dict(file.metadata.metadata or {})
    except (OSError, pa.ArrowException):
        return None
    return table, metadata


def _check_source(path: Path, names: list[str], table: pa.Table, dataset: str, source: str, root: Path) -> None:
    """Refuse a file (its column `names`, `table` holding its `source` column if it has one)
    with another paper's rows, or with a column the current schema does not hold (dropping it
    would lose it)."""
    unknown = [name for name in names if name not in TABLES[dataset].names and name != "source"]
    if unknown:
        raise MigrationError(f"{path.relative_to(root)} has the column {unknown[0]!r}, which the current "
                             "schema does not hold: not migrated")
    if "source" not in names:
        return
    others = sorted({value for value in table.column("source").to_pylist() if value != source}, key=str)
    if others:
        raise MigrationError(f"{path.relative_to(root)} holds rows of paper {others[0]!r}, not of {source!r} "
                             f"(the config's paper): run epaper migrate with a config naming {others[0]}")


def check_plan(root: Path, source: str) -> None:
    """Read what will be moved before anything is: every table's `source` values and columns
    (a damaged file is moved as it is, and is not judged here)."""
    for dataset in ("articles", "pages", "revisions"):
        for _, folder in _old_dates(root, dataset):
            if folder.is_symlink() or not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if not _is_table(dataset, path) or path.is_symlink() or not path.is_file():
                    continue
                try:
                    with os.fdopen(open_regular(path, root=root), "rb") as fh, pq.ParquetFile(fh) as file:
                        names = file.schema_arrow.names
                        table = file.read(columns=["source"] if "source" in names else [], use_threads=False)
                except (OSError, pa.ArrowException):
                    continue
                _check_source(path, names, table, dataset, source, root)


# ------------------------------------------------------------------ moving


def _new_values(table: pa.Table, dataset: str, source: str) -> pa.Table:
    """The old rows as the current layout stores them: without `source`, in the dataset's
    schema (a column the file predates comes back null), WARC files named at their new place."""
    schema = TABLES[dataset]
    columns = []
    for f in schema:
        column = table.column(f.name) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        if f.name == "warc_file":
            column = pa.array([_warc_path(v, source) for v in column.to_pylist()], pa.string())
        columns.append(column.cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _warc_path(value: str | None, source: str) -> str | None:
    if isinstance(value, str) and value.startswith(OLD_WARC):
        return f"warc/source={source}/{value[len('warc/'):]}"
    return value


def _write_revisions(root: Path, path: Path, table: pa.Table, metadata: dict) -> None:
    """A revisions file at its new place, atomically, under its own name (as write_revisions
    writes them), its footer's own keys kept."""
    kept = {k: v for k, v in metadata.items() if k.startswith(b"epaper") and k != b"epaper_sha256"}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **kept})

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, table.schema, compression="zstd", write_page_checksum=True) as writer:
            writer.write_table(table)

    atomic_write(path, write, root=root)


def _move_as_is(root: Path, old: Path, new: Path, steps: _Steps) -> None:
    """Rename an entry into its new folder as it is (never onto another file)."""
    if os.path.lexists(new):
        raise MigrationError(f"{new.relative_to(root)} exists already, and so does "
                             f"{old.relative_to(root)}: move one of them away, then run epaper migrate again")
    os.rename(old, new)
    fsync_dir(new.parent)
    fsync_dir(old.parent)
    steps.done()


def _move_table(root: Path, dataset: str, day: dt.date, old: Path, new: Path, source: str,
                summary: Summary, steps: _Steps) -> None:
    """Rewrite one old table at its new place, check it there, then remove the old one."""
    read = None if old.is_symlink() or not old.is_file() else _read_old(root, old)
    info = None
    if read is not None and dataset != "revisions" and META_KEY in read[1]:
        try:
            info = json.loads(read[1][META_KEY])
        except ValueError:
            read = None  # metadata that does not read: the file stays as damaged as it was
    if read is None:
        summary.as_is.append(str(old.relative_to(root)))
        _move_as_is(root, old, new, steps)
        return
    table, metadata = read
    _check_source(old, table.column_names, table, dataset, source, root)
    expected = _new_values(table, dataset, source)
    if dataset == "revisions":
        _write_revisions(root, new, expected, metadata)
        with os.fdopen(open_regular(new, root=root), "rb") as fh, pq.ParquetFile(fh) as file:
            written = file.read(use_threads=False)
    else:
        write_snapshot(root, source, dataset, day, expected.to_pylist(), info)
        written = read_snapshot(root, source, dataset, day)
    steps.done()
    if written is None or not written.equals(expected):
        raise MigrationError(f"{new.relative_to(root)} does not read back as {old.relative_to(root)}: "
                             "the old file is kept; run epaper migrate again")
    old.unlink()
    fsync_dir(old.parent)
    steps.done()


def _move_date(root: Path, dataset: str, day: dt.date, folder: Path, source: str,
               summary: Summary, steps: _Steps) -> None:
    target = partition_dir(root, source, dataset, day)
    if folder.is_symlink() or not folder.is_dir():  # never followed: moved as it is
        summary.as_is.append(str(folder.relative_to(root)))
        make_dirs(target.parent, root)
        _move_as_is(root, folder, target, steps)
        return
    make_dirs(target, root)
    for entry in sorted(folder.iterdir()):
        if TEMP.match(entry.name) and stale_temp(entry.name):  # a killed writer's, never read
            entry.unlink()
            steps.done()
        elif _is_table(dataset, entry) and not entry.is_dir():
            _move_table(root, dataset, day, entry, target / entry.name, source, summary, steps)
        else:
            _move_as_is(root, entry, target / entry.name, steps)
            if dataset == "warc" and entry.name.endswith(".warc.gz"):
                summary.warc_files += 1
    folder.rmdir()
    fsync_dir(folder.parent)
    summary.dates[dataset] += 1
    steps.done()


def _paper_line(record: dict, parents: set) -> bool:
    """Whether a run-log line of the old layout is a paper's crawl (it gets `source`): not the
    line of a run that started child crawls (`update`, `schedule`)."""
    if "source" in record:
        return False
    if record.get("run_id") in parents:
        return False
    command = str(record.get("command", ""))
    return not any(command == c or command.startswith(c + " ") for c in PARENT_COMMANDS)


def migrate_runs(root: Path, source: str, steps: _Steps) -> int:
    """Give each crawl line of the run log the paper's id; the lines changed."""
    path = root / "runs" / "runs.jsonl"
    if not os.path.lexists(path):
        return 0
    with os.fdopen(open_regular(path, root=root), "rb") as fh:
        raw = fh.read()
    lines = raw.split(b"\n")
    records: list[dict | None] = []
    for line in lines:
        try:
            record = json.loads(line) if line.strip() else None
        except (ValueError, RecursionError):
            record = None
        records.append(record if isinstance(record, dict) else None)
    parents = {r.get("parent") for r in records if r is not None and r.get("parent")}
    changed = 0
    out = []
    for line, record in zip(lines, records):
        if record is not None and _paper_line(record, parents):
            items = list(record.items())
            at = next((i + 1 for i, (k, _) in enumerate(items) if k == "ended"), len(items))
            record = dict(items[:at] + [("source", source)] + items[at:])
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
            changed += 1
        out.append(line)
    if not changed:
        return 0
    text = b"\n".join(out)

    def write(tmp: Path) -> None:
        with os.fdopen(open_regular(tmp, os.O_WRONLY | os.O_TRUNC, root=root), "wb") as fh:
            fh.write(text)

    atomic_write(path, write, root=root)
    steps.done()
    return changed


def _remove(path: Path, steps: _Steps) -> None:
    """Remove a derived file or folder; a link itself, never what it points to."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)
    fsync_dir(path.parent)
    steps.done()


def migrate(root: str | Path, source: str) -> Summary:
    """Move the single-paper archive at `root` under the paper `source`; see the module's text.
    The caller holds the archive lock. MigrationError (one line) when it cannot."""
    root = Path(root)
    if not SOURCE_ID.fullmatch(source):
        raise MigrationError(f"not a paper id: {source!r}")
    steps = _Steps()
    summary = Summary(source)
    check_plan(root, source)
    from epaper.reparse import clear_scratch

    clear_scratch(root)  # a stopped reparse's scratch, in the old layout or not: never read again
    for dataset in DATASETS:
        if (root / dataset / COMMON_METADATA).is_file() and not (root / dataset).is_symlink():
            (root / dataset / COMMON_METADATA).unlink()
            steps.done()
    summary.runs = migrate_runs(root, source, steps)
    for dataset in DATED:
        for day, folder in _old_dates(root, dataset):
            _move_date(root, dataset, day, folder, source, summary, steps)
    # Derived data last: its old places are what marks the archive as not yet migrated.
    old_years = [entry for dataset in DATASETS for entry in sorted((root / "compact" / dataset).glob("year=*"))
                 if not (root / "compact").is_symlink() and not (root / "compact" / dataset).is_symlink()]
    if old_years:
        from epaper.storage.compact import refresh

        refresh(root, source)
        summary.compact = True
        steps.done()
        for entry in old_years:
            _remove(entry, steps)
    index = root / "index" / "dedupe.npz"
    if os.path.lexists(index) and not (root / "index").is_symlink():
        _remove(index, steps)
    left = old_layout(root)
    if left:
        raise MigrationError(f"{left[0].relative_to(root)} is still in the single-paper layout "
                             "and epaper migrate does not know it: move it away, then run epaper migrate again")
    return summary


# ------------------------------------------------------------------ the command


def run_migrate(args) -> int:
    """`epaper migrate [--data DIR] [--config FILE]`: 0 migrated or nothing to migrate, 2 a
    usage error or an archive that cannot be migrated (one line), 75 the archive locked."""
    from epaper.config import ConfigError, UsageError, load_config
    from epaper.exits import LOCKED
    from epaper.lock import LockError, LockHeld, archive_lock
    from epaper.storage.load import is_archive

    if args.data is not None and not args.data.strip():
        raise UsageError("--data must name a directory, got an empty string")
    try:  # not through epaper.cli, which calls this module
        config = load_config(args.config, overrides={"storage.data_dir": args.data} if args.data else {})
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    ids = config.ids
    if len(ids) != 1:
        raise UsageError(f"{len(ids)} papers are configured ({', '.join(ids)}): epaper migrate moves an archive "
                         "of one paper under its id; give it a config naming that one paper (--config FILE)")
    source = ids[0]
    root = Path(config.storage.data_dir)
    if not root.is_dir():
        raise UsageError(f"data directory {root} does not exist" if not root.exists()
                         else f"data directory {root} is not a directory")
    if not old_layout(root):
        if not is_archive(root):
            raise UsageError(f"{root} is not an epaper archive (no articles/, pages/, warc/, runs/ or compact/ in it)")
        print(f"{root}: nothing to migrate (the archive is in the layout of several papers)")
        return 0
    try:
        # The whole archive, exclusive (no paper named): refused while any paper's writer runs,
        # and every writer is refused while it runs (epaper.lock).
        lock = archive_lock(root, "epaper migrate")
        lock.__enter__()
    except LockHeld as exc:
        print(f"epaper: {exc}", file=sys.stderr, flush=True)
        return LOCKED
    except LockError as exc:
        raise UsageError(str(exc)) from None
    try:
        if not old_layout(root):  # migrated meanwhile, by the lock's holder before us
            print(f"{root}: nothing to migrate (the archive is in the layout of several papers)")
            return 0
        summary = migrate(root, source)
    except MigrationError as exc:
        raise UsageError(f"epaper migrate: {exc}") from None
    except OSError as exc:
        raise UsageError(f"epaper migrate: {exc} (nothing is lost: run epaper migrate again once fixed)") from None
    finally:
        lock.__exit__(None, None, None)
    print(summary.line(root))
    sys.stdout.flush()
    return 0
