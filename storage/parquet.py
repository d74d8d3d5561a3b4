"""Atomic Parquet snapshots per issue date, and reading one back. No Scrapy imports.

Layout under the data directory: `<dataset>/source=ID/issue_date=YYYY-MM-DD/part-0.parquet`. A snapshot
is written to a hidden temporary name in the same folder, fsynced, then renamed onto the
fixed name, so a reader sees the old snapshot or the new one, never a partial file.

Checksums, stored when a snapshot is written and checked by `verify_file` (`status --check`):

- a CRC32 in every page header (Parquet's own page checksum, `write_page_checksum`), which
  every read of this package verifies (`page_checksum_verification`): a damaged page is an
  error naming its column, never wrong values;
- the SHA-256 of every byte before the footer, in the footer's key-value metadata
  (`epaper_sha256`: "<bytes>:<hex>"), which also covers the page headers and tells a file
  with checksums from one written before them (judged by a full decode only).
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import json
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from epaper.storage import schema as S

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "part-0.parquet"
META_KEY = b"epaper"
CHECKSUM_KEY = b"epaper_sha256"  # "<bytes before the footer>:<their SHA-256 in hex>"
DATASETS = {"articles": S.ARTICLES, "pages": S.PAGES}


SOURCE_ID = re.compile(r"[a-z0-9_-]+")  # a paper's id: the contract's, and safe as a folder name


def dataset_dir(root: Path, source: str, dataset: str) -> Path:
    """One paper's part of a dataset: `<dataset>/source=ID`."""
    if dataset not in DATASETS and dataset not in ("warc", "revisions"):
        raise ValueError(f"unknown dataset {dataset!r}")
    if not isinstance(source, str) or not SOURCE_ID.fullmatch(source):
        raise ValueError(f"not a paper id: {source!r}")
    return Path(root) / dataset / f"source={source}"


def sources_of(root: Path, dataset: str = "articles") -> list[str]:
    """The papers with a folder in the dataset (`<dataset>/source=ID`), sorted."""
    base = Path(root) / dataset
    if not base.is_dir() or base.is_symlink():
        return []
    names = (entry.name.partition("=")[2] for entry in base.iterdir() if entry.name.startswith("source="))
    return sorted(name for name in names if SOURCE_ID.fullmatch(name))


def partition_dir(root: Path, source: str, dataset: str, day: dt.date) -> Path:
    # `day` is a date object and `source` an id from the config, never text from a page:
    # nothing a page says names a path.
    return dataset_dir(root, source, dataset) / f"issue_date={dt.date.isoformat(day)}"


def snapshot_path(root: Path, source: str, dataset: str, day: dt.date) -> Path:
    return partition_dir(root, source, dataset, day) / SNAPSHOT_NAME


class UnsafePath(OSError):
    """An archive file that is a symbolic link, not a regular file, or outside the data
    directory: never opened. Its text is one readable line naming it."""


# The one rule for every file the project opens in the archive (snapshots, WARC files, the
# dedupe index, the run log, metrics, the lock): no symbolic link followed, neither the file's
# own name nor a folder on the way from the data directory; regular files only (a FIFO or a
# device is refused without blocking); nothing outside the data directory. `open_regular`
# opens by it, `check_inside` checks the folders, `real_dir` / `make_dirs` / `list_files`
# walk folders by it.


def check_inside(path: Path, root: Path | None) -> None:
    """`path` lies under `root` (the data directory) and no folder between them is a symbolic
    link (the data directory itself may be one: it is the user's choice). UnsafePath if not."""
    if root is None:
        return
    root, path = Path(root), Path(path)
    try:
        rel = path.parent.relative_to(root)
    except ValueError:
        raise UnsafePath(f"{path} is outside the data directory {root}: refused") from None
    if ".." in rel.parts:
        raise UnsafePath(f"{path} is outside the data directory {root}: refused")
    folder = root
    for part in rel.parts:
        folder = folder / part
        if folder.is_symlink():
            raise UnsafePath(f"{folder} is a symbolic link: archive files are never opened through one")
        if folder.exists() and not folder.is_dir():
            raise UnsafePath(f"{folder} is not a folder: refused")


def real_dir(folder: Path, root: Path | None) -> bool:
    """Whether `folder` is a folder of the archive: False when absent, UnsafePath when it or a
    folder on the way from `root` is a symbolic link or not a folder."""
    check_inside(Path(folder) / "x", root)
    return Path(folder).is_dir()


def make_dirs(folder: Path, root: Path | None) -> Path:
    """mkdir -p `folder`, never through (or into) a symbolic link below `root`."""
    check_inside(Path(folder) / "x", root)  # before anything is created on the way
    Path(folder).mkdir(parents=True, exist_ok=True)
    check_inside(Path(folder) / "x", root)  # a link planted meanwhile
    return Path(folder)


def list_files(folder: Path, pattern: str, root: Path | None) -> list[Path]:
    """The names in a folder of the archive matching `pattern`, sorted; [] when the folder is
    absent; UnsafePath when it is reached through a symbolic link. Entries are not judged
    here: each is opened by `open_regular`, which refuses a link or a FIFO among them."""
    return sorted(Path(folder).glob(pattern)) if real_dir(folder, root) else []


def open_regular(path: Path, flags: int = os.O_RDONLY, mode: int = 0o644, root: Path | None = None) -> int:
    """os.open for an archive file: never through a symbolic link (the file's own name, or a
    folder below `root`), never anything but a regular file (a FIFO would block the reader),
    never outside `root`. Raises UnsafePath (an OSError) with one readable line."""
    check_inside(path, root)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EWOULDBLOCK):
            kind = "a symbolic link" if Path(path).is_symlink() else "not a regular file"
            raise UnsafePath(f"{path} is {kind}: refused") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePath(f"{path} is not a regular file: refused")
    os.set_blocking(fd, True)
    return fd


def read_regular(path: Path, root: Path | None) -> bytes:
    """The whole of an archive file, opened by the rule (`open_regular`)."""
    with os.fdopen(open_regular(path, root=root), "rb") as fh:
        return fh.read()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TEMP = re.compile(r"^\..+\.tmp-(\d+)$")  # `.<name>.tmp-<pid>`: every archive write goes through one


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def stale_temp(name: str) -> bool:
    """A temporary file name whose writer is gone: not this process, its PID not alive. A
    live writer's file is never stale, whoever holds the lock (an orphaned child crawl)."""
    match = TEMP.match(name)
    return bool(match) and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1)))


def remove_stale_temps(folder: Path) -> None:
    """Temporary files a killed writer left in `folder` (`stale_temp`); never in a folder that is
    a symbolic link (unlinking there would remove files outside)."""
    if folder.is_dir() and not folder.is_symlink():
        for tmp in folder.glob(".*.tmp-*"):
            if tmp.is_symlink() or stale_temp(tmp.name):  # a link is no writer's: it goes, never its target
                tmp.unlink(missing_ok=True)


def _no_pause(stage: str, path: Path) -> None:
    pass


def atomic_write(path: Path, write, pause=_no_pause, root: Path | None = None) -> Path:
    """Call write(tmp_path), fsync it, rename it onto path. The tmp name never ends in .parquet.

    `pause(stage, path)` is called before the rename ("rename") and right after it
    ("renamed"): crash tests hold the writer there to kill it. With `root` (the data
    directory), no folder below it on the way to `path` may be a symbolic link.
    """
    make_dirs(path.parent, root)  # before anything is created or removed on the way
    remove_stale_temps(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        # Created here, exclusively and not through a symlink; `write` then writes into it.
        os.close(open_regular(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, root=root))
        write(tmp)
        fd = open_regular(tmp)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        pause("rename", path)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    pause("renamed", path)
    fsync_dir(path.parent)
    return path


def write_snapshot(root: Path, source: str, dataset: str, day: dt.date, rows: list[dict],
                   info: dict | None = None, pause=_no_pause) -> Path:
    """Write the whole snapshot of one date atomically; `info` goes into the file's metadata.

    `pause` as for `atomic_write`, plus "write": the rows are written, the footer is not.
    """
    schema = DATASETS[dataset]
    if info is not None:
        schema = schema.with_metadata({**(schema.metadata or {}), META_KEY: json.dumps(info).encode()})
    table = pa.Table.from_pylist(rows, schema=schema)
    path = snapshot_path(root, source, dataset, day)

    def write(tmp: Path) -> None:
        with os.fdopen(open_regular(tmp, os.O_WRONLY | os.O_TRUNC, root=root), "wb") as fh:
            sink = _Digesting(fh)
            with pq.ParquetWriter(sink, table.schema, compression="zstd", write_page_checksum=True) as writer:
                writer.write_table(table)
                pause("write", path)
                # Every row group is in the file by now; only the footer follows.
                writer.add_key_value_metadata({CHECKSUM_KEY: sink.checksum()})

    return atomic_write(path, write, pause, root=root)


class _Digesting(io.RawIOBase):
    """A write-only file that passes every byte on to `fh` and hashes it on the way."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = memoryview(data)
        self.fh.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.fh.flush()

    def checksum(self) -> bytes:
        return f"{self.size}:{self.sha.hexdigest()}".encode()


def read_snapshot(root: Path, source: str, dataset: str, day: dt.date) -> pa.Table | None:
    """The date's snapshot in the dataset's schema (a column it predates comes back null), or
    None when absent; raises on a damaged file.

    Read without the dataset layer and its threads, whose buffers pile up when thousands of
    snapshots are read in a row (as `storage.compact` does)."""
    path = snapshot_path(root, source, dataset, day)
    if not path.exists() and not path.is_symlink():
        return None
    schema = DATASETS[dataset]
    with os.fdopen(open_regular(path, root=root), "rb") as fh, \
            pq.ParquetFile(fh, page_checksum_verification=True) as file:
        table = file.read(use_threads=False)
    return pa.Table.from_arrays([table.column(f.name) if f.name in table.column_names
                                 else pa.nulls(table.num_rows, f.type) for f in schema], schema=schema)


def has_snapshot(root: Path, source: str, day: dt.date, dataset: str = "articles") -> bool:
    """Whether the date has a snapshot file (whole or damaged: a symbolic link or a FIFO
    there counts, as a damaged one): one stat, not a folder scan."""
    return os.path.lexists(snapshot_path(root, source, dataset, day))


def archived_dates(root: Path, source: str, dataset: str = "articles") -> list[dt.date]:
    out = []
    base = dataset_dir(root, source, dataset)
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


@dataclass(frozen=True)
class Verdict:
    """What a full check of one file found: `error` None when every column chunk of every row
    group decodes and the checksums stored with it (if any) match."""
    error: str | None
    checksummed: bool  # False: written before checksums were stored, judged by a full decode only


def verify_file(path: Path, root: Path | None = None) -> Verdict:
    """Read the whole file: every column chunk decoded (page CRCs verified where present),
    and the SHA-256 of the bytes before the footer compared with the one stored in it.
    Linear in the file's size; one column chunk in memory at a time."""
    checksummed = False
    try:
        with os.fdopen(open_regular(path, root=root), "rb") as fh, \
                pq.ParquetFile(fh, page_checksum_verification=True) as file:
            recorded = (file.metadata.metadata or {}).get(CHECKSUM_KEY)
            checksummed = recorded is not None
            names = file.schema_arrow.names
            for group in range(file.metadata.num_row_groups):
                for name in names:
                    try:
                        file.read_row_group(group, columns=[name], use_threads=False)
                    except (OSError, pa.ArrowException) as exc:
                        return Verdict(f"column {name} (row group {group}) does not decode: {exc}", checksummed)
            if recorded is not None:
                return Verdict(_digest_mismatch(fh.fileno(), recorded), True)
    except (OSError, pa.ArrowException) as exc:
        return Verdict(f"unreadable: {exc}", checksummed)
    return Verdict(None, False)


def _digest_mismatch(fd: int, recorded: bytes) -> str | None:
    size = os.fstat(fd).st_size
    footer = int.from_bytes(os.pread(fd, 4, size - 8), "little") if size >= 12 else -1
    try:
        count_text, expected = recorded.decode().split(":")
        count = int(count_text)
    except ValueError:
        return f"its stored checksum is unreadable: {recorded[:80]!r}"
    if count != size - 8 - footer:
        return f"{size - 8 - footer} bytes before the footer, {count} when it was written"
    sha, done = hashlib.sha256(), 0
    while done < count:
        chunk = os.pread(fd, min(1 << 20, count - done), done)
        if not chunk:
            return f"{done} bytes before the footer, {count} when it was written"
        sha.update(chunk)
        done += len(chunk)
    if sha.hexdigest() != expected:
        return "checksum mismatch: its bytes changed since it was written"
    return None


def verify_snapshot(root: Path, source: str, day: dt.date) -> tuple[str | None, bool]:
    """Both snapshots of a date, fully (`verify_file`): (the first error naming its dataset, or
    None; whether every file present carries checksums)."""
    checksummed = True
    for dataset in ("articles", "pages"):
        path = snapshot_path(root, source, dataset, day)
        if not path.exists() and not path.is_symlink():
            continue
        verdict = verify_file(path, root)
        checksummed = checksummed and verdict.checksummed
        if verdict.error:
            return f"damaged {dataset} snapshot: {verdict.error}", checksummed
    return None, checksummed


def _footer(path: Path, root: Path):
    with os.fdopen(open_regular(path, root=root), "rb") as fh:
        return pq.read_metadata(fh)


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
    health: dict | None = None  # the date's extraction health (pipelines.health), None before it was kept
    suspect: list[str] = field(default_factory=list)  # its sharp changes against the archive's history


def snapshot_info(root: Path, source: str, day: dt.date) -> SnapshotInfo:
    """What the articles snapshot of a date says of itself (reads the footer only)."""
    path = snapshot_path(root, source, "articles", day)
    try:
        meta = _footer(path, root)
    except (OSError, pa.ArrowException) as exc:
        return SnapshotInfo(day, False, 0, 0, 0, None, [], error=f"damaged snapshot: {exc}")
    pages = snapshot_path(root, source, "pages", day)
    if pages.exists() or pages.is_symlink():
        try:
            _footer(pages, root)
        except (OSError, pa.ArrowException) as exc:
            return SnapshotInfo(day, False, 0, meta.num_rows, 0, None, [], error=f"damaged pages snapshot: {exc}")
    kv = meta.metadata or {}
    try:
        info = json.loads(kv.get(META_KEY, b"{}"))
    except ValueError as exc:
        return SnapshotInfo(day, False, 0, meta.num_rows, 0, None, [], error=f"damaged snapshot metadata: {exc}")
    health = info.get("health")
    suspect = info.get("suspect")
    return SnapshotInfo(day, bool(info.get("complete")), int(info.get("pages", 0)), meta.num_rows,
                        int(info.get("duplicates", 0)), info.get("crawled_at"), info.get("failures", []),
                        health=health if isinstance(health, dict) else None,
                        suspect=[str(x) for x in suspect] if isinstance(suspect, list) else [])


def snapshot_status(root: Path, source: str) -> dict[dt.date, bool]:
    """Archived date → complete (a damaged snapshot counts as incomplete)."""
    return {day: snapshot_info(root, source, day).complete for day in archived_dates(root, source)}


COMMON_METADATA = "_common_metadata"


def remove_common_metadata(root: str | Path) -> None:
    """Remove the `<dataset>/_common_metadata` files (the schema, no rows) earlier versions
    wrote: polars refuses a dataset folder holding one, and every snapshot has the whole schema."""
    for dataset in DATASETS:
        path = Path(root) / dataset / COMMON_METADATA
        if path.is_file() and not path.is_symlink() and not path.parent.is_symlink():
            path.unlink(missing_ok=True)  # another paper's writer may have removed it meanwhile
