"""A compacted copy of the archive for whole-archive queries: one file per dataset and year.

`compact/<dataset>/source=ID/year=YYYY/part-0.parquet` holds every row of that paper's year of
snapshots in archive order (issue date, then page, then position), with `issue_date` as a date
column in the file (`source` is in the path). A query over years of the archive then opens a few files instead of one per issue
date, which is what makes DuckDB, polars or Spark fast over it.

It is derived: the per-date snapshots stay the source of truth. Each compacted file records
the size and modification time of every snapshot it was built from; `refresh` rebuilds a year
whose snapshots changed (replaced, added or removed) and removes a year that has none left,
each file written atomically like a snapshot.

A damaged snapshot (one that does not read whole, its page checksums verified) is left out of
its year's file, never silently: the file records each date left out with the reason
(`epaper_left_out` in its footer), every `refresh` logs a warning naming each such date for as
long as it stays damaged, and the loaders warn about it each time they read that year. The
year is rebuilt once the snapshot is replaced (`epaper reparse --date D` restores it).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from epaper.storage import schema as S
from epaper.storage.parquet import (DATASETS, SNAPSHOT_NAME, archived_dates, atomic_write, list_files, open_regular,
                                    read_snapshot, snapshot_path)

log = logging.getLogger(__name__)

COMPACT = "compact"
SOURCES_KEY = b"epaper_sources"
LEFT_OUT_KEY = b"epaper_left_out"  # {issue date: why its snapshot was left out}
ROW_GROUP_BYTES = 4 << 20  # uncompressed data per row group: memory stays ~3x this


def compact_schema(dataset: str) -> pa.Schema:
    return pa.unify_schemas([pa.schema([S.PARTITION.field("issue_date")]), DATASETS[dataset]])


def paper_dir(root: Path, source: str, dataset: str) -> Path:
    return Path(root) / COMPACT / dataset / f"source={source}"


def compact_path(root: Path, source: str, dataset: str, year: int) -> Path:
    return paper_dir(root, source, dataset) / f"year={year:04d}" / SNAPSHOT_NAME


def _sources(root: Path, source: str, dataset: str) -> dict[int, dict[str, list[int]]]:
    """Year → {issue date: [size, mtime_ns]} of the paper's snapshots of the dataset."""
    years: dict[int, dict[str, list[int]]] = defaultdict(dict)
    for day in archived_dates(root, source, dataset):
        stat = snapshot_path(root, source, dataset, day).lstat()  # a link's own: its target is never read
        years[day.year][day.isoformat()] = [stat.st_size, stat.st_mtime_ns]
    return years


def _recorded(path: Path) -> tuple[dict | None, dict[str, str]]:
    """The sources a compacted file was built from (None when unreadable), and the dates it
    left out, each with the reason."""
    try:
        with os.fdopen(open_regular(path, root=path.parents[4]), "rb") as fh:  # never a symlink or a FIFO
            kv = pq.read_metadata(fh).metadata or {}
        sources = json.loads(kv[SOURCES_KEY])
        left_out = json.loads(kv.get(LEFT_OUT_KEY, b"{}"))
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return None, {}
    return sources, {str(k): str(v) for k, v in left_out.items()} if isinstance(left_out, dict) else {}


def fresh_copy(root: Path, source: str, dataset: str, start: dt.date | None,
               end: dt.date | None) -> dict[Path, dict[str, str]] | None:
    """The compacted files of the years of [start, end] when each is up to date, each with the
    dates it left out (damaged snapshots, with the reason); else None."""
    years = {year: sources for year, sources in _sources(root, source, dataset).items()
             if (start is None or year >= start.year) and (end is None or year <= end.year)}
    copy = {}
    for year, sources in sorted(years.items()):
        path = compact_path(root, source, dataset, year)
        recorded, left_out = _recorded(path)
        if recorded != sources:
            return None
        copy[path] = left_out
    return copy or None


def warn_left_out(dataset: str, iso: str, reason: str, where: Path) -> None:
    log.warning("compact: the %s of %s are left out of %s: its snapshot is damaged (%s); epaper status --check "
                "says how to restore it", dataset, iso, where, reason)


def _write_year(root: Path, source: str, dataset: str, year: int, sources: dict[str, list[int]]) -> Path:
    """Stream the year's snapshots into one file, a row group at a time (memory stays flat)."""
    schema = compact_schema(dataset)
    schema = schema.with_metadata({**(schema.metadata or {}), SOURCES_KEY: json.dumps(sources).encode()})

    path = compact_path(root, source, dataset, year)

    def write(tmp: Path) -> None:
        pending: list[pa.Table] = []
        left_out: dict[str, str] = {}
        with os.fdopen(open_regular(tmp, os.O_WRONLY | os.O_TRUNC, root=Path(root)), "wb") as fh, \
                pq.ParquetWriter(fh, schema, compression="zstd") as writer:
            for iso in sorted(sources):
                day = dt.date.fromisoformat(iso)
                try:
                    table = read_snapshot(root, source, dataset, day)
                except (OSError, pa.ArrowException) as exc:
                    left_out[iso] = str(exc)
                    warn_left_out(dataset, iso, str(exc), path)
                    continue
                dates = pa.array([day] * table.num_rows, pa.date32())
                pending.append(table.add_column(0, "issue_date", dates))
                if sum(t.nbytes for t in pending) >= ROW_GROUP_BYTES:
                    writer.write_table(pa.concat_tables(pending).cast(schema))
                    pending.clear()
            if pending:
                writer.write_table(pa.concat_tables(pending).cast(schema))
            writer.add_key_value_metadata({LEFT_OUT_KEY: json.dumps(left_out).encode()})

    return atomic_write(path, write, root=Path(root))


def refresh(root: str | Path, source: str) -> list[Path]:
    """Bring the paper's compacted copy up to date with its snapshots; the files (re)written.

    Cheap when nothing changed: one stat per snapshot and one footer read per year.
    """
    root = Path(root)
    written = []
    for dataset in DATASETS:
        years = _sources(root, source, dataset)
        for year, sources in sorted(years.items()):
            path = compact_path(root, source, dataset, year)
            recorded, left_out = _recorded(path)
            if recorded != sources:
                written.append(_write_year(root, source, dataset, year, sources))
                continue
            for iso, reason in sorted(left_out.items()):  # still damaged: said on every refresh
                warn_left_out(dataset, iso, reason, path)
        kept = {compact_path(root, source, dataset, year).parent for year in years}
        # Never removes through a symbolic link (compact/ or compact/<dataset> a link would
        # have rmtree empty a folder outside the archive): UnsafePath, an OSError, instead.
        for folder in list_files(paper_dir(root, source, dataset), "year=*", root):
            if folder not in kept:
                if folder.is_symlink() or not folder.is_dir():
                    folder.unlink()  # the link itself, never its target
                else:
                    shutil.rmtree(folder)
    return written
