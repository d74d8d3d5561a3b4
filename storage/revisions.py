"""Earlier versions of corrected articles: `revisions/source=ID/issue_date=YYYY-MM-DD/*.parquet`.

When a re-crawl finds an article whose archived fields differ, the snapshot holds the new
version and the earlier row goes here, with `superseded_at` (when the newer version was
fetched) and `changed_fields`. A date revised several times gets a file per run that found
corrections, each written atomically under a new name (nothing is ever rewritten), before
the date's snapshot is replaced: a run killed in between leaves the old version in both, and
the next run writes it again, so readers drop a repeat (same `article_id` and `crawled_at`:
the same capture), keeping the earliest `superseded_at`. `epaper reparse` rebuilds a date's
versions from its WARC files and writes them as one file that replaces the date's others,
keeping every version it does not reproduce. No Scrapy imports.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from epaper.storage import schema as S
from epaper.storage.parquet import (_no_pause, atomic_write, check_inside, dataset_dir, fsync_dir, open_regular,
                                    partition_dir, sources_of)

log = logging.getLogger(__name__)

REVISIONS = "revisions"
# The archived fields whose change is a correction (authors and content_hash follow author and
# body; page placement and fetch provenance are not the article's text).
CONTENT_FIELDS = ("column", "intro_title", "title", "subtitle", "author", "body", "images")


def changed_fields(old: dict, new: dict) -> list[str]:
    """The content fields that differ between two rows of one article."""
    return [f for f in CONTENT_FIELDS if (old.get(f) or None) != (new.get(f) or None)]


def revision_files(root: Path, source: str, day: dt.date) -> list[Path]:
    folder = partition_dir(root, source, REVISIONS, day)
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def revised_dates(root: Path, source: str) -> list[dt.date]:
    base = dataset_dir(root, source, REVISIONS)
    out = []
    for folder in base.glob("issue_date=*") if base.is_dir() else []:
        try:
            day = dt.date.fromisoformat(folder.name.split("=", 1)[1])
        except ValueError:
            continue
        if any(folder.glob("*.parquet")):
            out.append(day)
    return sorted(out)


def write_revisions(root: Path, source: str, day: dt.date, rows: list[dict], pause=_no_pause) -> Path | None:
    """A new file of earlier versions for one date, atomically; None when there are none."""
    if not rows:
        return None
    table = pa.Table.from_pylist(rows, schema=S.REVISIONS)
    folder = partition_dir(root, source, REVISIONS, day)
    now = dt.datetime.now(dt.timezone.utc)
    while True:  # never onto an earlier file: each run's revisions are added
        path = folder / f"{now:%Y%m%dT%H%M%S}-{os.getpid()}.parquet"
        if not path.exists() and not path.is_symlink():
            break
        now += dt.timedelta(seconds=1)

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
            writer.write_table(table)
            pause("write", path)

    return atomic_write(path, write, pause, root=Path(root))


def _read(root: Path, path: Path) -> pa.Table:
    with os.fdopen(open_regular(path, root=root), "rb") as fh, pq.ParquetFile(fh) as file:
        table = file.read(use_threads=False)
    return pa.Table.from_arrays([table.column(f.name) if f.name in table.column_names
                                 else pa.nulls(table.num_rows, f.type) for f in S.REVISIONS], schema=S.REVISIONS)


def _key(row: dict) -> tuple:
    return row["article_id"], row["crawled_at"]  # one capture of one article


def _read_all(root: Path, source: str, day: dt.date) -> tuple[list[dict], list[Path]]:
    """The date's earlier versions, each capture once, and the files they were read from."""
    seen: dict[tuple, dict] = {}
    read = []
    for path in revision_files(root, source, day):
        try:
            rows = _read(root, path).to_pylist()
        except (OSError, pa.ArrowException) as exc:
            log.warning("skipping damaged revisions file %s: %s", path, exc)
            continue
        read.append(path)
        for row in rows:  # the earliest supersession; of equal ones, the newer file's (a rebuild's)
            if _key(row) not in seen or row["superseded_at"] <= seen[_key(row)]["superseded_at"]:
                seen[_key(row)] = row
    return sorted(seen.values(), key=lambda r: (r["page_index"], r["position"], r["crawled_at"])), read


def read_revisions(root: str | Path, source: str, day: dt.date) -> list[dict]:
    """The date's earlier versions, oldest capture first, each capture once; a damaged file is
    skipped with a warning."""
    return _read_all(Path(root), source, day)[0]


def rebuild_revisions(root: Path, source: str, day: dt.date, rows: list[dict], pause=_no_pause) -> tuple[list[dict], list[Path]]:
    """The date's earlier versions as a history replay rebuilt them, written as one new file
    with every archived version the rebuild does not reproduce; (the versions the archive did
    not hold, the files the new one replaces: remove them once the snapshot is written). When
    the rebuild finds none, the archived files stay as they are."""
    if not rows:
        return [], []
    archived, files = _read_all(root, source, day)
    rebuilt = {_key(r) for r in rows}
    write_revisions(root, source, day, rows + [r for r in archived if _key(r) not in rebuilt], pause)
    known = {_key(r) for r in archived}
    return [r for r in rows if _key(r) not in known], files


def remove_files(root: Path, files: list[Path]) -> None:
    """Remove revisions files another file has replaced (rebuild_revisions)."""
    for path in files:
        check_inside(path, root)
        path.unlink(missing_ok=True)
    if files:
        fsync_dir(files[0].parent)


def load_revisions(root: str | Path, start: dt.date | None = None, end: dt.date | None = None,
                   columns: list[str] | None = None, sources: list[str] | None = None) -> pa.Table:
    """The earlier versions of [start, end] (of the papers `sources`, default all) as a pyarrow
    Table with `source` and `issue_date`."""
    schema = pa.unify_schemas([S.PARTITION, S.REVISIONS])
    rows = []
    for source in sources_of(Path(root), REVISIONS) if sources is None else sources:
        for day in revised_dates(Path(root), source):
            if (start and day < start) or (end and day > end):
                continue
            rows += [{"source": source, "issue_date": day, **row} for row in read_revisions(root, source, day)]
    table = pa.Table.from_pylist(rows, schema=schema)
    return table.select(columns) if columns is not None else table
