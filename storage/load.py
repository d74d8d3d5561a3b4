"""The analysts' loaders: `load_articles` and `load_pages` (also `from epaper import …`).

They read the per-year copy in compact/ when it is up to date for every year asked for, the
daily snapshots otherwise; a damaged snapshot is skipped with a warning.
"""
from __future__ import annotations

import datetime as dt
import difflib
import functools
import logging
import operator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from epaper.storage import schema as S
from epaper.storage.compact import compact_schema, fresh_copy
from epaper.storage.parquet import DATASETS, archived_dates, snapshot_path

log = logging.getLogger(__name__)


ARCHIVE_MARKERS = ("articles", "pages", "runs", "warc", "compact")


def is_archive(root: str | Path) -> bool:
    """Whether `root` is an archive: a directory holding one of the folders a crawl writes."""
    root = Path(root)
    return root.is_dir() and any((root / name).is_dir() for name in ARCHIVE_MARKERS)


def _valid_files(root: Path, dataset: str, start: dt.date | None, end: dt.date | None) -> list[str]:
    files = []
    for day in archived_dates(root, dataset):
        if (start and day < start) or (end and day > end):
            continue
        path = snapshot_path(root, dataset, day)
        try:
            pq.read_metadata(path)
        except (OSError, pa.ArrowException) as exc:
            log.warning("skipping damaged snapshot %s: %s", path, exc)
            continue
        files.append(str(path))
    return files


def _load(root: Path, dataset: str, start, end, columns, filter_=None) -> pa.Table:
    """Read from the per-year compacted copy when it is up to date (one file a year, not one a
    date: ~30x faster over a long archive), else from the snapshots."""
    schema = pa.unify_schemas([DATASETS[dataset], S.PARTITION])
    copy = fresh_copy(root, dataset, start, end)
    if copy:
        day = ds.field("issue_date")
        keep = [] if filter_ is None else [filter_]
        keep += [day >= start] if start is not None else []
        keep += [day <= end] if end is not None else []
        filter_ = functools.reduce(operator.and_, keep) if keep else None
        data = ds.dataset([str(p) for p in copy], schema=compact_schema(dataset), format="parquet")
        return data.to_table(columns=schema.names if columns is None else columns, filter=filter_)
    files = _valid_files(root, dataset, start, end)
    if not files:
        table = schema.empty_table()
        return table.select(columns) if columns else table
    data = ds.dataset(files, schema=schema, format="parquet",
                      partitioning=ds.partitioning(S.PARTITION, flavor="hive"),
                      partition_base_dir=str(Path(root) / dataset))
    return data.to_table(columns=columns, filter=filter_)


class NotAnArchiveError(FileNotFoundError):
    """The root given to a loader is not an epaper archive (a mistyped path, most often)."""


Day = dt.date | dt.datetime | str | None


def _day(value: Day, name: str) -> dt.date | None:
    """A bound as a date: a date, a datetime (its date) or ISO text ("2023-08-01")."""
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a date: give YYYY-MM-DD") from None
    raise TypeError(f"{name} must be a date or YYYY-MM-DD text, not {type(value).__name__}")


def _check(root: Path, dataset: str, columns: list[str] | None) -> None:
    if not is_archive(root):
        what = "does not exist" if not root.exists() else "holds no articles/, pages/, runs/ or warc/"
        raise NotAnArchiveError(f"{root} is not an epaper archive: it {what}")
    known = pa.unify_schemas([DATASETS[dataset], S.PARTITION]).names
    for name in columns or []:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"no column {name!r} in {dataset}{hint} (epaper schema lists them)")


# What dedupe=True needs to decide, besides the columns asked for.
_DEDUPE_COLUMNS = ["article_id", "duplicate_of", "issue_date", "page_index", "position"]


def _first_occurrences(table: pa.Table) -> pa.Table:
    """The rows that are the first occurrence of their body within `table`: those without
    `duplicate_of`, and, of the rows whose original is not in `table` (it ran before the
    range), the earliest per original (issue date, page, position)."""
    ids = set(table.column("article_id").to_pylist())
    originals = table.column("duplicate_of").to_pylist()
    keys = list(zip(*(table.column(c).to_pylist() for c in ("issue_date", "page_index", "position"))))
    order = sorted(range(table.num_rows), key=keys.__getitem__)
    keep = [False] * table.num_rows
    seen: set[str] = set()
    for i in order:
        original = originals[i]
        if original is None:
            keep[i] = True
        elif original not in ids and original not in seen:
            keep[i] = True
            seen.add(original)
    return table.filter(pa.array(keep, pa.bool_()))


def load_articles(root: str | Path, start: Day = None, end: Day = None,
                  columns: list[str] | None = None, dedupe: bool = False, revisions: bool = False) -> pa.Table:
    """Articles of [start, end] (dates, or ISO text) as a pyarrow Table.

    `dedupe=True` keeps the first occurrence of each body within the result: the rows without
    `duplicate_of`, and a reprint whose original ran before `start` (the earliest such row per
    original). Over the whole archive that is exactly "drop the rows whose `duplicate_of` is
    set"; over a range it keeps every text that appeared in the range once, so the counts of a
    month do not lose the reprints of earlier months. Raises NotAnArchiveError for a root that
    is not an archive, KeyError for an unknown column (naming close matches).

    `revisions=True` adds the history: the earlier versions of corrected articles (the
    `revisions` dataset, storage.revisions) after the current rows, with two more columns,
    `superseded_at` (null for a current row) and `changed_fields`.
    """
    root = Path(root)
    start, end = _day(start, "start"), _day(end, "end")
    _check(root, "articles", columns)
    if not dedupe:
        table = _load(root, "articles", start, end, columns)
    else:
        wanted = None if columns is None else list(dict.fromkeys([*columns, *_DEDUPE_COLUMNS]))
        table = _first_occurrences(_load(root, "articles", start, end, wanted))
        table = table.select(columns) if columns is not None else table
    return _with_history(root, table, start, end) if revisions else table


def _with_history(root: Path, current: pa.Table, start, end) -> pa.Table:
    from epaper.storage.revisions import load_revisions

    extra = [f for f in S.REVISIONS if f.name not in S.ARTICLES.names]
    for f in extra:
        current = current.append_column(f.with_nullable(True), pa.nulls(current.num_rows, f.type))
    history = load_revisions(root, start, end, columns=current.column_names)
    return pa.concat_tables([current, history.cast(current.schema)])


def load_pages(root: str | Path, start: Day = None, end: Day = None,
               columns: list[str] | None = None) -> pa.Table:
    """Pages (版面) of [start, end] (dates, or ISO text) as a pyarrow Table."""
    root = Path(root)
    start, end = _day(start, "start"), _day(end, "end")
    _check(root, "pages", columns)
    return _load(root, "pages", start, end, columns)
