"""The analysts' loaders: `load_articles` and `load_pages` (also `from epaper import …`).

They read the per-year copy in compact/ when it is up to date for every year asked for, the
daily snapshots otherwise (their page checksums verified).

A loader never crashes on one damaged date, and never leaves one out silently: each time it
runs, it issues a `DamagedSnapshotWarning` (a UserWarning, shown every time, not once per
session) for each date of the range whose rows it cannot return: a snapshot that does not
read whole, a date compact/ left out for that reason, or a date the run log says was archived
whose snapshot is gone (`lost`). `warnings.simplefilter("error", DamagedSnapshotWarning)`
turns them into errors; `epaper status --check` lists them with the command that restores each.
"""
from __future__ import annotations

import datetime as dt
import difflib
import functools
import logging
import operator
import os
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from epaper.storage import schema as S
from epaper.storage.compact import compact_schema, fresh_copy
from epaper.storage.layout import check_layout
from epaper.storage.parquet import DATASETS, archived_dates, dataset_dir, open_regular, snapshot_path, sources_of
from epaper.storage.runs import archived_by_runs, read_runs

log = logging.getLogger(__name__)


class DamagedSnapshotWarning(UserWarning):
    """A date of the range asked for whose rows a loader cannot return (damaged or lost)."""


# Every time, not once per call site and text (the default): a notebook that loads again must
# hear again that a date is missing from what it got. A user's own filter still wins.
warnings.filterwarnings("always", category=DamagedSnapshotWarning, append=True)

# Every read verifies the page CRCs a snapshot carries (storage.parquet): a damaged page is an
# error naming the file, never wrong values.
CHECKED = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(
    page_checksum_verification=True))


def _warn(dataset: str, day: dt.date | str, why: str) -> None:
    warnings.warn(DamagedSnapshotWarning(
        f"epaper: the {dataset} of {day} are not in the result: {why} "
        f"(epaper status --check says how to restore it)"), stacklevel=2)


ARCHIVE_MARKERS = ("articles", "pages", "runs", "warc", "compact")


def is_archive(root: str | Path) -> bool:
    """Whether `root` is an archive: a directory holding one of the folders a crawl writes."""
    root = Path(root)
    return root.is_dir() and any((root / name).is_dir() for name in ARCHIVE_MARKERS)


def _valid_files(root: Path, source: str, dataset: str, start: dt.date | None,
                 end: dt.date | None) -> dict[str, dt.date]:
    """The snapshot files of the range whose footer reads, each with its date. A snapshot that
    is a symbolic link (or reached through one), a FIFO or a device is refused by the archive's
    rule (storage.parquet.open_regular) without blocking, and warned about as damaged."""
    files = {}
    for day in archived_dates(root, source, dataset):
        if (start and day < start) or (end and day > end):
            continue
        path = snapshot_path(root, source, dataset, day)
        try:
            with os.fdopen(open_regular(path, root=root), "rb") as fh:
                pq.read_metadata(fh)
        except (OSError, pa.ArrowException) as exc:
            _warn(dataset, f"{source} {day}", f"its snapshot is damaged ({exc})")
            continue
        files[str(path)] = day
    return files


def _warn_lost(root: Path, source: str, dataset: str, start: dt.date | None, end: dt.date | None,
               runs: list[dict]) -> None:
    """A warning for each date of the range the run log says was archived, whose snapshot of
    `dataset` is gone."""
    have = set(archived_dates(root, source, dataset))
    for day, run in sorted(archived_by_runs(root, source, runs).items()):
        if day not in have and not (start and day < start) and not (end and day > end):
            _warn(dataset, f"{source} {day}", f"archived by run {run}, its snapshot is gone (lost)")


def _papers(root: Path, sources: list[str] | None) -> list[str]:
    """The papers to read: `sources` (each checked), default every paper of the archive."""
    if sources is None:
        return sorted(set(sources_of(root, "articles")) | set(sources_of(root, "pages")))
    if isinstance(sources, str):
        raise TypeError(f"sources must be a list of paper ids, not the text {sources!r}")
    for source in sources:
        dataset_dir(root, source, "articles")  # ValueError for what is not a paper id
    return list(dict.fromkeys(sources))


def _load(root: Path, dataset: str, start, end, columns, sources: list[str] | None, filter_=None) -> pa.Table:
    """Every paper's rows, paper after paper (see `_load_paper`)."""
    schema = pa.unify_schemas([DATASETS[dataset], S.PARTITION])
    runs = read_runs(root)
    tables = [_load_paper(root, source, dataset, start, end, columns, runs, filter_)
              for source in _papers(root, sources)]
    if not tables:
        table = schema.empty_table()
        return table.select(columns) if columns else table
    return pa.concat_tables(tables)


def _load_paper(root: Path, source: str, dataset: str, start, end, columns, runs, filter_=None) -> pa.Table:
    """Read from the paper's per-year compacted copy when it is up to date (one file a year,
    not one a date: ~30x faster over a long archive), else from the snapshots."""
    schema = pa.unify_schemas([DATASETS[dataset], S.PARTITION])
    _warn_lost(root, source, dataset, start, end, runs)
    copy = fresh_copy(root, source, dataset, start, end)
    if copy:
        day = ds.field("issue_date")
        keep = [] if filter_ is None else [filter_]
        keep += [day >= start] if start is not None else []
        keep += [day <= end] if end is not None else []
        where = functools.reduce(operator.and_, keep) if keep else None
        data = ds.dataset([str(p) for p in copy], schema=compact_schema(dataset), format=CHECKED)
        wanted = schema.names if columns is None else columns
        try:
            table = data.to_table(columns=[c for c in wanted if c != "source"], filter=where)
        except (OSError, pa.ArrowException) as exc:  # the copy itself is damaged: the snapshots hold it all
            log.warning("compact/ copy of %s unreadable (%s): reading the snapshots", dataset, exc)
        else:
            for left_out in copy.values():
                for iso, reason in sorted(left_out.items()):
                    if (start is None or iso >= start.isoformat()) and (end is None or iso <= end.isoformat()):
                        _warn(dataset, f"{source} {iso}", f"its snapshot is damaged ({reason})")
            if "source" in wanted:  # in the path, as in the snapshots' folders
                table = table.add_column(wanted.index("source"), schema.field("source"),
                                         pa.array([source] * table.num_rows, pa.string()))
            return table
    files = _valid_files(root, source, dataset, start, end)
    if not files:
        table = schema.empty_table()
        return table.select(columns) if columns else table

    def read(paths) -> pa.Table:
        data = ds.dataset(list(paths), schema=schema, format=CHECKED,
                          partitioning=ds.partitioning(S.PARTITION, flavor="hive"),
                          partition_base_dir=str(Path(root) / dataset))  # source=ID/issue_date=D
        return data.to_table(columns=columns, filter=filter_)

    try:
        return read(files)
    except (OSError, pa.ArrowException):
        pass
    # A file whose footer reads but whose pages do not: read them one by one to name it.
    tables = []
    for path, day in files.items():
        try:
            tables.append(read([path]))
        except (OSError, pa.ArrowException) as exc:
            _warn(dataset, f"{source} {day}", f"its snapshot is damaged ({exc})")
    if not tables:
        table = schema.empty_table()
        return table.select(columns) if columns else table
    return pa.concat_tables(tables)


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
    check_layout(root)
    known = pa.unify_schemas([DATASETS[dataset], S.PARTITION]).names
    for name in columns or []:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"no column {name!r} in {dataset}{hint} (epaper schema lists them)")


# What dedupe=True needs to decide, besides the columns asked for.
_DEDUPE_COLUMNS = ["article_id", "duplicate_of", "issue_date", "page_index", "position"]


def _local(root: str | Path) -> Path:
    """An s3://bucket/prefix root is read from its reading copy, pulled first (storage.objectstore;
    the copy lives under $EPAPER_STORAGE_CACHE_DIR, else ~/.cache/epaper)."""
    from epaper.storage import objectstore

    if not objectstore.is_s3(root):
        return Path(root)
    copy = objectstore.WorkingCopy.open(str(root), os.environ.get("EPAPER_STORAGE_CACHE_DIR") or None, role="read")
    copy.pull(["articles/", "pages/", "revisions/", f"{objectstore.RUN_PARTS}/"])
    return copy.local


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


def load_articles(root: str | Path, start: Day = None, end: Day = None, columns: list[str] | None = None,
                  dedupe: bool = False, sources: list[str] | None = None, revisions: bool = False) -> pa.Table:
    """Articles of [start, end] (dates, or ISO text) as a pyarrow Table, of the papers
    `sources` (ids; default every paper), with `source` as a plain string column.

    `dedupe=True` keeps the first occurrence of each body within the result: the rows without
    `duplicate_of`, and a reprint whose original ran before `start` (the earliest such row per
    original; duplicates never link two papers). Over the whole archive that is exactly "drop the rows whose `duplicate_of` is
    set"; over a range it keeps every text that appeared in the range once, so the counts of a
    month do not lose the reprints of earlier months. Raises NotAnArchiveError for a root that
    is not an archive, KeyError for an unknown column (naming close matches).

    `revisions=True` adds the history: the earlier versions of corrected articles (the
    `revisions` dataset, storage.revisions) after the current rows, with two more columns,
    `superseded_at` (null for a current row) and `changed_fields`.
    """
    root = _local(root)
    start, end = _day(start, "start"), _day(end, "end")
    _check(root, "articles", columns)
    if not dedupe:
        table = _load(root, "articles", start, end, columns, sources)
    else:
        wanted = None if columns is None else list(dict.fromkeys([*columns, *_DEDUPE_COLUMNS]))
        table = _first_occurrences(_load(root, "articles", start, end, wanted, sources))
        table = table.select(columns) if columns is not None else table
    return _with_history(root, table, start, end, sources) if revisions else table


def _with_history(root: Path, current: pa.Table, start, end, sources: list[str] | None) -> pa.Table:
    from epaper.storage.revisions import load_revisions

    extra = [f for f in S.REVISIONS if f.name not in S.ARTICLES.names]
    for f in extra:
        current = current.append_column(f.with_nullable(True), pa.nulls(current.num_rows, f.type))
    history = load_revisions(root, start, end, columns=current.column_names,
                             sources=None if sources is None else _papers(root, sources))
    return pa.concat_tables([current, history.cast(current.schema)])


def load_pages(root: str | Path, start: Day = None, end: Day = None,
               columns: list[str] | None = None, sources: list[str] | None = None) -> pa.Table:
    """Pages (版面) of [start, end] (dates, or ISO text) of the papers `sources` (default every
    paper) as a pyarrow Table."""
    root = _local(root)
    start, end = _day(start, "start"), _day(end, "end")
    _check(root, "pages", columns)
    return _load(root, "pages", start, end, columns, sources)
