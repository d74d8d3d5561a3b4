"""A tampered archive: symbolic links and FIFOs planted where the archive keeps its own files are
never followed, never opened to block, and nothing outside the data directory is read or
written through them (issue 22, family 2). One rule, `storage.parquet.open_regular`.

Each case plants something in a copy of a small archive (crawled once from the replica) and
runs what met it: a reparse, the captures a crawl sends validators from, the dedupe index, the
loaders, `report`, metrics, run-log retention, the compacted copy. Whatever might block runs in
a subprocess with a timeout, so a hang fails the test instead of stopping the suite."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from epaper.replica.server import serve
from tests.conftest import CLEAN_CWD, CLEAN_ENV, FAST, run_epaper

DAY = dt.date(2023, 8, 1)
SNAPSHOT = f"articles/source=ahjjb/issue_date={DAY}/part-0.parquet"
PLANTED = "页名来自档案之外"  # a page name only the planted file holds


@pytest.fixture(scope="module")
def archived(replica_sites, tmp_path_factory) -> Path:
    """An archive of DAY (snapshots, WARC, dedupe index, run log), crawled once and copied by each test."""
    site = replica_sites("pc-rmrb", DAY, dt.date(2023, 8, 4))
    data = tmp_path_factory.mktemp("symlinks") / "data"
    with serve(site / "site") as server:
        done = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", server.base_url, "--data", str(data),
                          *FAST)
    assert done.returncode == 0, done.stderr
    return data


def fingerprint(root: Path) -> dict[str, bytes | str]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else "dir")
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


def python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter: a read that blocks on a FIFO times out, never hangs the suite."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=CLEAN_CWD, capture_output=True,
                          text=True, timeout=timeout, env=CLEAN_ENV)


def link_outside(data: Path, name: str, outside: Path) -> Path:
    """Move data/name (a file or folder) outside the archive and leave a symlink to it."""
    target = outside / name.replace("/", "_")
    shutil.move(str(data / name), target)
    (data / name).symlink_to(target)
    return target


def fifo(data: Path, name: str) -> None:
    path = data / name
    path.unlink(missing_ok=True)
    os.mkfifo(path)


# ------------------------------------------------------------------ the cases

def warc_folder_reparse(data: Path, outside: Path):
    """`reparse` of a date whose WARC folder is a link: nothing is replayed from outside."""
    link_outside(data, f"warc/source=ahjjb/issue_date={DAY}", outside)
    before = (data / SNAPSHOT).read_bytes()
    result = run_epaper("reparse", "--date", DAY.isoformat(), "--data", str(data), timeout=120)
    assert result.returncode == 2, result.stderr  # the only date asked has no readable WARC file
    (line,) = result.stderr.splitlines()
    assert f"warc/source=ahjjb/issue_date={DAY} is a symbolic link" in line
    assert (data / SNAPSHOT).read_bytes() == before  # the archived snapshot stays as it was


def warc_folder_validators(data: Path, outside: Path):
    """A crawl takes its validators (ETag, Last-Modified) from the date's captures: none from a link."""
    from epaper.crawler.captures import load_captures

    assert load_captures(data, "ahjjb", DAY).newest_by_url  # the real folder holds captures
    link_outside(data, f"warc/source=ahjjb/issue_date={DAY}", outside)
    captures = load_captures(data, "ahjjb", DAY)
    assert captures.newest_by_url == {}
    assert "symbolic link" in (captures.damaged or "")


def dedupe_sidecar_fifo(data: Path, outside: Path):
    """A FIFO at index/dedupe.npz: the index is rebuilt from the snapshots, the open does not block."""
    fifo(data, "index/dedupe.npz")
    done = python(f"""
        from epaper.storage.dedupe import DuplicateIndex
        print(len(DuplicateIndex.open({str(data)!r}, "ahjjb")))
    """, timeout=60)
    assert done.returncode == 0 and int(done.stdout) > 0, done.stderr


def _planted_snapshot(data: Path, outside: Path) -> None:
    """The articles snapshot of DAY replaced by a link to a file outside with another page name."""
    target = link_outside(data, SNAPSHOT, outside)
    table = pq.read_table(target)
    names = pa.array([PLANTED] * table.num_rows, pa.string())
    pq.write_table(table.set_column(table.column_names.index("page_name"), "page_name", names), target)


def loaders_snapshot_link(data: Path, outside: Path):
    """load_articles never reads a snapshot through a link: the date is warned about as damaged."""
    from epaper.storage.load import DamagedSnapshotWarning, load_articles

    _planted_snapshot(data, outside)
    with pytest.warns(DamagedSnapshotWarning, match="symbolic link"):
        table = load_articles(data)
    assert PLANTED not in table.column("page_name").to_pylist()


def report_snapshot_link(data: Path, outside: Path):
    """`report` prints no page name from a file outside the archive (`status` calls the date DAMAGED)."""
    _planted_snapshot(data, outside)
    status = run_epaper("status", "--data", str(data), timeout=60)
    assert "symbolic link" in status.stdout, status.stdout
    out = data.parent / "report.html"
    result = run_epaper("report", "--data", str(data), "--out", str(out), timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert PLANTED not in out.read_text(encoding="utf-8")


def report_snapshot_fifo(data: Path, outside: Path):
    """A FIFO snapshot: `report` and the loaders go on (the date damaged) instead of blocking."""
    fifo(data, SNAPSHOT)
    out = data.parent / "report.html"
    result = run_epaper("report", "--data", str(data), "--out", str(out), timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    done = python(f"""
        import warnings
        from epaper.storage.load import load_articles
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            print(load_articles({str(data)!r}).num_rows)
        print(*(str(w.message) for w in seen), sep="\\n")
    """)
    assert done.returncode == 0 and "not a regular file" in done.stdout, done.stderr


def metrics_folder_link(data: Path, outside: Path):
    """A metrics/ link: the metrics are not written there (one OSError naming it)."""
    from epaper.metrics import write_metrics
    from epaper.storage.parquet import UnsafePath

    (outside / "metrics").mkdir()
    shutil.rmtree(data / "metrics", ignore_errors=True)  # the crawl wrote its own
    (data / "metrics").symlink_to(outside / "metrics")
    with pytest.raises(UnsafePath, match="symbolic link"):
        write_metrics(data, tz=dt.timezone.utc, window_days=7)
    assert list((outside / "metrics").iterdir()) == []


def retention_temp_link(data: Path, outside: Path):
    """Run-log retention's temp file planted as a link: the file it points to is not overwritten."""
    from epaper.retention import prune_runs

    runs = data / "runs" / "runs.jsonl"
    old = {"run_id": "old", "source": "ahjjb", "started": "2000-01-01T00:00:00+00:00", "ended": "2000-01-01T00:00:01+00:00",
           "status": 0, "outcomes": {}}
    runs.write_text(json.dumps(old) + "\n" + runs.read_text(encoding="utf-8"), encoding="utf-8")
    (outside / "precious").write_text("precious\n")
    (data / "runs" / f".runs.jsonl.tmp-{os.getpid()}").symlink_to(outside / "precious")
    assert prune_runs(data, dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)) == 1
    assert '"old"' not in runs.read_text(encoding="utf-8") and not runs.is_symlink()


def compact_folder_link(data: Path, outside: Path):
    """compact/<dataset> a link: refreshing the copy removes nothing outside (UnsafePath instead).
    (A dataset with no snapshot has no year to write, so only the removal of stale years meets it.)"""
    from epaper.storage import compact
    from epaper.storage.parquet import UnsafePath

    (outside / "compact" / "year=1999").mkdir(parents=True)
    (outside / "compact" / "year=1999" / "keep.txt").write_text("precious\n")
    shutil.rmtree(data / "pages")
    (data / "compact").mkdir(exist_ok=True)
    shutil.rmtree(data / "compact" / "pages", ignore_errors=True)
    (data / "compact" / "pages").symlink_to(outside / "compact")
    with pytest.raises(UnsafePath, match="symbolic link"):
        compact.refresh(data, "ahjjb")


def logs_folder_link(data: Path, outside: Path):
    """logs/ a link: retention deletes no old log outside the archive."""
    from epaper.retention import prune_logs
    from epaper.storage.parquet import UnsafePath

    (outside / "logs").mkdir()
    (outside / "logs" / "old.log").write_text("precious\n")
    os.utime(outside / "logs" / "old.log", (0, 0))
    shutil.rmtree(data / "logs", ignore_errors=True)
    (data / "logs").symlink_to(outside / "logs")
    with pytest.raises(UnsafePath, match="symbolic link"):
        prune_logs(data, dt.datetime.now(dt.timezone.utc))


CASES = [warc_folder_reparse, warc_folder_validators, dedupe_sidecar_fifo,
         loaders_snapshot_link, report_snapshot_link, report_snapshot_fifo, metrics_folder_link,
         retention_temp_link, compact_folder_link, logs_folder_link]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_nothing_is_opened_through_a_link_or_a_fifo(archived, tmp_path, case):
    data, outside = tmp_path / "data", tmp_path / "outside"
    shutil.copytree(archived, data, symlinks=True)
    outside.mkdir()
    case(data, outside)
    after = fingerprint(outside)
    case_outside = {k: v for k, v in after.items()}
    # Nothing outside the archive was written, truncated or removed by what ran.
    for name, content in case_outside.items():
        if name.endswith(("precious", "keep.txt", "old.log")):
            assert content == b"precious\n", name
    assert (outside / "compact" / "year=1999" / "keep.txt").exists() or case is not compact_folder_link
    assert (outside / "logs" / "old.log").exists() or case is not logs_folder_link


RULE = [  # (what is at the path, how it is opened)
    ("fifo", os.O_WRONLY | os.O_CREAT),  # a writer of a FIFO: ENXIO, named as not a regular file
    ("outside", os.O_RDONLY),  # a path outside the data directory given with its root
    ("outside", os.O_WRONLY | os.O_CREAT),
    ("outside", os.O_RDWR | os.O_APPEND | os.O_CREAT),
]


@pytest.mark.parametrize("kind, flags", RULE)
def test_open_regular_refuses_without_blocking(tmp_path, kind, flags):
    from epaper.storage.parquet import UnsafePath, open_regular

    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "target").write_text("precious\n")
    path = root / "sub" / "file"
    if kind == "symlink":
        path.symlink_to(tmp_path / "target")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder_link":
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "file").write_text("precious\n")
        shutil.rmtree(root / "sub")
        (root / "sub").symlink_to(tmp_path / "elsewhere")
    else:
        path = tmp_path / "target"
    with pytest.raises(UnsafePath) as caught:
        open_regular(path, flags, root=root)
    assert len(str(caught.value).splitlines()) == 1 and str(path.parent if kind == "folder_link" else path) \
        in str(caught.value)
    assert (tmp_path / "target").read_text() == "precious\n"
