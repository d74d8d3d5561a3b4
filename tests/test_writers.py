"""One writer per archive (issue 22, family 3): a child crawl of `epaper update` holds the
archive lock itself (it inherits the locked descriptor), so killing the update with SIGKILL
leaves no crawl running without the lock; a WARC file that cannot be committed fails its date
instead of leaving rows that name a file that does not exist."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
import pytest_twisted

from epaper.lock import ArchiveLock, LockHeld, read_holder
from epaper.replica.build import build_site
from epaper.replica.server import serve
from epaper.storage.parquet import archived_dates, snapshot_path
from tests.conftest import CLEAN_CWD, CLEAN_ENV, fast_config, run_epaper

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.datetime.now(SHANGHAI).date()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _lock_free(data: Path) -> bool:
    try:
        ArchiveLock(data).acquire().release()
    except LockHeld:
        return False
    return True


def test_killed_update_leaves_its_child_holding_the_lock(tmp_path):
    first = TODAY - dt.timedelta(days=2)
    build_site(tmp_path / "replica", start=first, end=TODAY, generation="pc", seed=3)
    data = tmp_path / "data"
    # A slow portal: the child crawl is still fetching when its parent is killed.
    with serve(tmp_path / "replica" / "site", delay=0.15) as portal:
        config = fast_config(tmp_path / "epaper.toml", portal.base_url, "catchup_days = 3", data)
        update = subprocess.Popen([sys.executable, "-m", "epaper", "update", "--config", str(config)],
                                  cwd=CLEAN_CWD, env=CLEAN_ENV, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        child = 0
        try:
            # The child is fetching once its WARC file is open (named after its pid).
            temp = _wait(lambda: next((data / "warc").rglob("*.tmp-*"), None) if (data / "warc").is_dir() else None,
                         60, "the update's child crawl to fetch")
            child = int(temp.name.rsplit("-", 1)[1])
            assert child != update.pid
            holder = read_holder(data, "ahjjb")
            assert holder["pid"] == child and holder["parent"] == update.pid, holder
            assert f"started by pid {update.pid} epaper update" in holder["command"]
            os.kill(update.pid, signal.SIGKILL)  # only the update: its child runs on in its own session
            update.wait(timeout=30)
            assert _alive(child), "the child finished before its parent was killed: make the portal slower"

            # A second writer is refused while the orphan runs, naming it.
            result = run_epaper("crawl", "--date", first.isoformat(), "--base-url", portal.base_url,
                                "--data", str(data), "-s", "DOWNLOAD_DELAY=0")
            assert result.returncode == 75, result.stderr
            assert f"pid {child}" in result.stderr and len(result.stderr.strip().splitlines()) == 1
            _wait(lambda: not _alive(child), 180, "the orphan crawl to end")
        finally:
            if child and _alive(child):
                os.kill(child, signal.SIGKILL)
    assert _lock_free(data)  # the orphan's end released it
    archived = archived_dates(data, "ahjjb")
    assert archived  # the orphan archived its issues
    for day in archived:
        table = pq.read_table(snapshot_path(data, "ahjjb", "articles", day), columns=["warc_file"])
        files = {f for f in table.column("warc_file").to_pylist() if f}
        assert files, day
        for name in files:  # every row's raw page is in a WARC file that exists
            assert (data / name).is_file(), f"{day}: {name} does not exist"
    assert not list(data.rglob("*.tmp-*"))


def test_lock_descriptor_in_env_must_be_the_archive_lock(tmp_path):
    """A stray EPAPER_LOCK_FD naming another file does not switch locking off."""
    code = ("import sys\nfrom epaper.lock import archive_lock, LockHeld\n"
            "try:\n    with archive_lock(sys.argv[1], 'epaper crawl'):\n        print('ran')\n"
            "except LockHeld as exc:\n    print('held:', exc)\n")
    other = os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT)
    try:
        with ArchiveLock(tmp_path / "data", command="epaper update"):
            proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "data")], capture_output=True,
                                  text=True, pass_fds=(other,), timeout=60,
                                  env={**CLEAN_ENV, "EPAPER_LOCK_FD": str(other),
                                       "EPAPER_LOCK_HELD_BY_PARENT": str(os.getpid())})
            assert proc.stdout.startswith("held:"), proc.stdout + proc.stderr
    finally:
        os.close(other)


@pytest_twisted.ensureDeferred
async def test_a_warc_file_that_cannot_be_committed_fails_its_date(portal, tmp_path, monkeypatch):
    """Its temporary file removed before the commit (as a second writer's stale-file sweep
    did): the date fails and no snapshot names a WARC file that does not exist."""
    from epaper.crawler import warc
    from tests.conftest import crawl_in_process

    day = dt.date(2023, 8, 3)
    server = portal("pc-rmrb", day, day)
    commit = warc._DateWarc.commit

    def swept(self):
        self.tmp.unlink()
        commit(self)

    monkeypatch.setattr(warc._DateWarc, "commit", swept)
    ledger = await crawl_in_process(tmp_path, server.base_url, date=day)
    result = ledger.results[day]
    assert result.status == "incomplete", result
    assert any("WARC file" in f["reason"] and "not written" in f["reason"] for f in result.failures), result.failures
    assert not snapshot_path(tmp_path, "ahjjb", "articles", day).exists()
    assert not list((tmp_path / "warc").rglob("*.warc.gz")) and not list(tmp_path.rglob("*.tmp-*"))
