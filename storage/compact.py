"""A compacted copy of the archive for whole-archive queries: one file per dataset and year.

`compact/<dataset>/year=YYYY/part-0.parquet` holds every row of that year's snapshots in
archive order (issue date, then page, then position), with `issue_date` as a date column in
the file. A query over years of the archive then opens a few files instead of one per issue
date, which is what makes DuckDB, polars or Spark fast over it.

It is derived: the per-date snapshots stay the source of truth. Each compacted file records
the size and modification time of every snapshot it was built from; `refresh` rebuilds a year
whose snapshots changed (replaced, added or removed) and removes a year that has none left,
each file written atomically like a snapshot.
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
from epaper.storage.parquet import (DATASETS, SNAPSHOT_NAME, archived_dates, atomic_write, open_regular, read_snapshot,
                                    snapshot_path)

log = logging.getLogger(__name__)

COMPACT = "compact"
SOURCES_KEY = b"epaper_sources"
ROW_GROUP_BYTES = 4 << 20  # uncompressed data per row group: memory stays ~3x this


def compact_schema(dataset: str) -> pa.Schema:
    return pa.unify_schemas([S.PARTITION, DATASETS[dataset]])


def compact_path(root: Path, dataset: str, year: int) -> Path:
    return Path(root) / COMPACT / dataset / f"year={year:04d}" / SNAPSHOT_NAME


def _sources(root: Path, dataset: str) -> dict[int, dict[str, list[int]]]:
    """Year → {issue date: [size, mtime_ns]} of the dataset's snapshots."""
    years: dict[int, dict[str, list[int]]] = defaultdict(dict)
    for day in archived_dates(root, dataset):
        stat = snapshot_path(root, dataset, day).stat()
        years[day.year][day.isoformat()] = [stat.st_size, stat.st_mtime_ns]
    return years


def _recorded(path: Path) -> dict | None:
    try:
        with os.fdopen(open_regular(path, root=path.parents[3]), "rb") as fh:  # never a symlink or a FIFO
            return json.loads((pq.read_metadata(fh).metadata or {})[SOURCES_KEY])
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return None


def fresh_copy(root: Path, dataset: str, start: dt.date | None, end: dt.date | None) -> list[Path] | None:
    """The compacted files of the years of [start, end] when each is up to date, else None."""
    years = {year: sources for year, sources in _sources(root, dataset).items()
             if (start is None or year >= start.year) and (end is None or year <= end.year)}
    paths = {year: compact_path(root, dataset, year) for year in sorted(years)}
    if years and all(_recorded(paths[year]) == sources for year, sources in years.items()):
        return list(paths.values())
    return None


def _write_year(root: Path, dataset: str, year: int, sources: dict[str, list[int]]) -> Path:
    """Stream the year's snapshots into one file, a row group at a time (memory stays flat)."""
    schema = compact_schema(dataset)
    schema = schema.with_metadata({**(schema.metadata or {}), SOURCES_KEY: json.dumps(sources).encode()})

    def write(tmp: Path) -> None:
        pending: list[pa.Table] = []
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for iso in sorted(sources):
                day = dt.date.fromisoformat(iso)
                try:
                    table = read_snapshot(root, dataset, day)
                except (OSError, pa.ArrowException) as exc:
                    log.warning("compact: leaving out the damaged %s snapshot of %s: %s", dataset, iso, exc)
                    continue
                dates = pa.array([day] * table.num_rows, pa.date32())
                pending.append(table.add_column(0, "issue_date", dates))
                if sum(t.nbytes for t in pending) >= ROW_GROUP_BYTES:
                    writer.write_table(pa.concat_tables(pending).cast(schema))
                    pending.clear()
            if pending:
                writer.write_table(pa.concat_tables(pending).cast(schema))

    return atomic_write(compact_path(root, dataset, year), write, root=Path(root))


def refresh(root: str | Path) -> list[Path]:
    """Bring the compacted copy up to date with the snapshots; the files (re)written.

    Cheap when nothing changed: one stat per snapshot and one footer read per year.
    """
    root = Path(root)
    written = []
    for dataset in DATASETS:
        years = _sources(root, dataset)
        for year, sources in sorted(years.items()):
            if _recorded(compact_path(root, dataset, year)) != sources:
                written.append(_write_year(root, dataset, year, sources))
        kept = {compact_path(root, dataset, year).parent for year in years}
        for folder in (root / COMPACT / dataset).glob("year=*"):
            if folder not in kept:
                shutil.rmtree(folder)
    return written
