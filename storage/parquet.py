"""Atomic Parquet snapshots per issue date, and reading one back. No Scrapy imports.

Layout under the data directory: `<dataset>/issue_date=YYYY-MM-DD/part-0.parquet`. A snapshot
is written to a hidden temporary name in the same folder, fsynced, then renamed onto the
fixed name, so a reader sees the old snapshot or the new one, never a partial file.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from epaper.storage import schema as S

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "part-0.parquet"
META_KEY = b"epaper"
DATASETS = {"articles": S.ARTICLES, "pages": S.PAGES}


def partition_dir(root: Path, dataset: str, day: dt.date) -> Path:
    if dataset not in DATASETS and dataset != "warc":
        raise ValueError(f"unknown dataset {dataset!r}")
    # `day` is a date object, never text from a page: nothing a page says names a path.
    return Path(root) / dataset / f"issue_date={dt.date.isoformat(day)}"


def snapshot_path(root: Path, dataset: str, day: dt.date) -> Path:
    return partition_dir(root, dataset, day) / SNAPSHOT_NAME


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(folder: Path) -> None:
    """Temporary files left by a killed writer (the archive lock makes them all stale)."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp-*"):
            tmp.unlink(missing_ok=True)


def _no_pause(stage: str, path: Path) -> None:
    pass


def atomic_write(path: Path, write, pause=_no_pause) -> Path:
    """Call write(tmp_path), fsync it, rename it onto path. The tmp name never ends in .parquet.

    `pause(stage, path)` is called before the rename ("rename") and right after it
    ("renamed"): crash tests hold the writer there to kill it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        pause("rename", path)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    pause("renamed", path)
    fsync_dir(path.parent)
    return path


def write_snapshot(root: Path, dataset: str, day: dt.date, rows: list[dict],
                   info: dict | None = None, pause=_no_pause) -> Path:
    """Write the whole snapshot of one date atomically; `info` goes into the file's metadata.

    `pause` as for `atomic_write`, plus "write": the rows are written, the footer is not.
    """
    schema = DATASETS[dataset]
    if info is not None:
        schema = schema.with_metadata({**(schema.metadata or {}), META_KEY: json.dumps(info).encode()})
    table = pa.Table.from_pylist(rows, schema=schema)
    path = snapshot_path(root, dataset, day)

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
            writer.write_table(table)
            pause("write", path)

    return atomic_write(path, write, pause)


def read_snapshot(root: Path, dataset: str, day: dt.date) -> pa.Table | None:
    """The date's snapshot in the dataset's schema (a column it predates comes back null), or
    None when absent; raises on a damaged file.

    Read without the dataset layer and its threads, whose buffers pile up when thousands of
    snapshots are read in a row (as `storage.compact` does)."""
    path = snapshot_path(root, dataset, day)
    if not path.exists():
        return None
    schema = DATASETS[dataset]
    with pq.ParquetFile(path) as file:
        table = file.read(use_threads=False)
    return pa.Table.from_arrays([table.column(f.name) if f.name in table.column_names
                                 else pa.nulls(table.num_rows, f.type) for f in schema], schema=schema)


def archived_dates(root: Path, dataset: str = "articles") -> list[dt.date]:
    out = []
    base = Path(root) / dataset
    if not base.is_dir():
        return out
    for folder in base.glob("issue_date=*"):
        try:
            day = dt.date.fromisoformat(folder.name.split("=", 1)[1])
        except ValueError:
            continue
        if (folder / SNAPSHOT_NAME).exists() if dataset != "warc" else any(folder.glob("*.warc.gz")):
            out.append(day)
    return sorted(out)


@dataclass
class SnapshotInfo:
    date: dt.date
    complete: bool
    pages: int
    articles: int
    duplicates: int
    crawled_at: str | None
    failures: list[dict]
    error: str | None = None  # set when the file is damaged


def snapshot_info(root: Path, day: dt.date) -> SnapshotInfo:
    """What the articles snapshot of a date says of itself (reads the footer only)."""
    path = snapshot_path(root, "articles", day)
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException) as exc:
        return SnapshotInfo(day, False, 0, 0, 0, None, [], error=f"damaged snapshot: {exc}")
    pages = snapshot_path(root, "pages", day)
    if pages.exists():
        try:
            pq.read_metadata(pages)
        except (OSError, pa.ArrowException) as exc:
            return SnapshotInfo(day, False, 0, meta.num_rows, 0, None, [], error=f"damaged pages snapshot: {exc}")
    kv = meta.metadata or {}
    try:
        info = json.loads(kv.get(META_KEY, b"{}"))
    except ValueError as exc:
        return SnapshotInfo(day, False, 0, meta.num_rows, 0, None, [], error=f"damaged snapshot metadata: {exc}")
    return SnapshotInfo(day, bool(info.get("complete")), int(info.get("pages", 0)), meta.num_rows,
                        int(info.get("duplicates", 0)), info.get("crawled_at"), info.get("failures", []))


def snapshot_status(root: Path) -> dict[dt.date, bool]:
    """Archived date → complete (a damaged snapshot counts as incomplete)."""
    return {day: snapshot_info(root, day).complete for day in archived_dates(root)}


COMMON_METADATA = "_common_metadata"


def write_common_metadata(root: str | Path) -> list[Path]:
    """Write `<dataset>/_common_metadata` (the schema, no rows) for each dataset present.

    Spark takes a dataset's schema from `_common_metadata` when there is one, else from a
    single data file: with it, columns added later show up even when that file is older.
    pyarrow, pandas, DuckDB's and polars' `*.parquet` globs skip the file. Idempotent.
    """
    written = []
    for dataset, schema in DATASETS.items():
        folder = Path(root) / dataset
        if folder.is_dir():
            written.append(atomic_write(folder / COMMON_METADATA,
                                        lambda tmp, schema=schema: pq.write_metadata(schema, tmp)))
    return written
