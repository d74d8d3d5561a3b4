"""What a SIGKILLed crawl leaves: its hidden `.…tmp-PID` files. `status` counts them, `report`
does not call their dates "never crawled", and the next run holding the archive lock removes
them (issue 25, item 3). A child crawl under its parent's lock removes only dead PIDs' files."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from epaper.storage.leftovers import leftovers, remove_leftovers, temp_files
from epaper.storage.parquet import partition_dir, remove_stale_temps
from tests.conftest import CLEAN_CWD, FAST, run_epaper

D1, D2, D3 = dt.date(2023, 8, 1), dt.date(2023, 8, 2), dt.date(2023, 8, 3)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def temp(root: Path, day: dt.date, pid: int) -> Path:
    folder = partition_dir(root, "ahjjb", "warc", day)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".20230801T000000-{pid}.warc.gz.tmp-{pid}"
    path.write_bytes(b"partial")
    return path


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_only_the_files_of_writers_that_are_gone_are_removed(tmp_path, sleeper):
    """A live writer's temporary stays, whoever holds the lock (an orphaned child crawl still
    writing); the per-folder sweep of every write follows the same rule."""
    kept = {"own", "live"}
    files = {"own": temp(tmp_path, D1, os.getpid()), "live": temp(tmp_path, D2, sleeper),
             "dead": temp(tmp_path, D3, dead_pid())}
    snapshot_tmp = tmp_path / "runs" / f".runs.jsonl.tmp-{dead_pid()}"
    snapshot_tmp.parent.mkdir()
    snapshot_tmp.write_text("x")
    # status counts only the files whose writer is gone: a running crawl's are not leftovers
    assert {t.path for t in leftovers(tmp_path)} == {files["dead"], snapshot_tmp}
    removed = remove_leftovers(tmp_path)
    assert {t.path for t in removed} == {p for k, p in files.items() if k not in kept} | {snapshot_tmp}
    assert {t.path for t in temp_files(tmp_path)} == {files[k] for k in kept}
    remove_stale_temps(files["live"].parent)  # as a snapshot or WARC write of that date does
    assert files["live"].exists()


def test_no_file_but_a_temporary_is_touched(tmp_path):
    folder = partition_dir(tmp_path, "ahjjb", "warc", D1)
    folder.mkdir(parents=True)
    keep = [folder / "20230801T000000-1.warc.gz", folder / ".hidden", folder / "x.tmp-1", folder / ".x.tmp-"]
    for path in keep:
        path.write_bytes(b"k")
    # a paper's history-replay scratch (an archive root of its own): epaper.reparse clears it whole
    scratch = partition_dir(tmp_path / ".reparse" / "ahjjb", "ahjjb", "articles", D1) / f".part-0.parquet.tmp-{dead_pid()}"
    scratch.parent.mkdir(parents=True)
    scratch.write_bytes(b"s")
    assert remove_leftovers(tmp_path) == []
    assert all(p.exists() for p in [*keep, scratch])


@pytest.fixture
def server(portal):
    return portal("pc-rmrb", D1, dt.date(2023, 8, 4))


@pytest.mark.slow  # make test-all; the sweep alone is tested in make test
def test_a_killed_crawl_is_counted_told_apart_and_cleaned_by_the_next(server, tmp_path):
    data = tmp_path / "data"
    first = run_epaper("crawl", "--date", D1.isoformat(), "--base-url", server.base_url, "--data", str(data), *FAST)
    assert first.returncode == 0, first.stderr
    server.delay = 0.3  # slow enough to kill the next crawl while it writes its WARC files
    proc = subprocess.Popen([sys.executable, "-m", "epaper", "crawl", "--from", D1.isoformat(), "--to",
                             D2.isoformat(), "--base-url", server.base_url, "--data", str(data), *FAST],
                            cwd=CLEAN_CWD, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not all(any(partition_dir(data, "ahjjb", "warc", d).glob(".*.tmp-*")) for d in (D1, D2)):
        assert proc.poll() is None, "the crawl ended before it was killed"
        assert time.monotonic() < deadline, "the crawl never opened its WARC files"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    server.delay = 0.0
    left = list(data.rglob(".*.tmp-*"))
    assert {p.parent.name for p in left} >= {f"issue_date={D1}", f"issue_date={D2}"}

    status = run_epaper("status", "--data", str(data))
    line = f"{len(left)} unfinished files left by a killed crawl in the folders of ahjjb {D1}, ahjjb {D2}; "
    assert line in status.stdout, status.stdout
    rows = {row["date"]: row for row in json.loads(run_epaper("status", "--data", str(data), "--json").stdout)
            if row["source"] == "ahjjb"}
    assert rows[D1.isoformat()]["leftovers"] >= 1
    check = json.loads(run_epaper("status", "--check", "--json", "--data", str(data)).stdout)
    assert check["leftovers"] == {"files": len(left), "dates": [f"ahjjb {D1}", f"ahjjb {D2}"]}

    from epaper import report

    note = {d.date: d.note for d in report.collect(data, "ahjjb", "t", SHANGHAI).days}[D2]
    assert note.startswith("a crawl was killed before it finished") and "never crawled" not in note

    # The next run holding the lock, whatever its dates, removes them (and says nothing of them).
    other = run_epaper("crawl", "--date", D3.isoformat(), "--base-url", server.base_url, "--data", str(data), *FAST)
    assert other.returncode == 0, other.stderr
    assert list(data.rglob(".*.tmp-*")) == []
    assert "unfinished" not in run_epaper("status", "--data", str(data)).stdout
    assert {d.date: d.note for d in report.collect(data, "ahjjb", "t", SHANGHAI).days}[D2] == "never crawled"
