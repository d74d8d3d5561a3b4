"""One writer per paper (epaper.lock): writers of two papers share an archive at the same time,
a second writer of the same paper is refused (75, naming the holder), `epaper migrate` runs
alone; the run log, which every paper's writer appends to, loses no line to retention's
rewrite (epaper.runlog.locked_runs_file)."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from epaper.lock import ArchiveLock, LockHeld, archive_lock, held_papers, read_holder
from epaper.replica.papers import plan_papers, portal_tables, serve_papers
from epaper.runlog import _append_line, runs_path
from epaper.storage.parquet import archived_dates
from tests.conftest import CLEAN_CWD, CLEAN_ENV, ROOT, run_epaper

DAY = dt.date(2023, 8, 1)

# Takes the lock of the papers named (none: the whole archive), says so, then sleeps until killed.
HOLDER = textwrap.dedent("""
    import sys, time
    from epaper.lock import ArchiveLock
    lock = ArchiveLock(sys.argv[1], command="epaper crawl", sources=sys.argv[2:] or None).acquire()
    print("locked", flush=True)
    time.sleep(120)
""")


@contextlib.contextmanager
def holding(data: Path, *sources: str):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(data), *sources], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


# ------------------------------------------------------------------ the locks themselves


def test_two_papers_are_locked_apart_and_one_paper_once(tmp_path):
    with ArchiveLock(tmp_path, "epaper crawl", ["aaa"]) as a:
        with ArchiveLock(tmp_path, "epaper crawl", ["bbb"]) as b:  # another paper: side by side
            assert a.held and b.held
            assert read_holder(tmp_path, "aaa")["pid"] == os.getpid()
            assert [s for s, _ in held_papers(tmp_path)] == ["aaa", "bbb"]
        with pytest.raises(LockHeld) as info:
            ArchiveLock(tmp_path, "epaper crawl", ["bbb", "aaa"]).acquire()
        assert str(info.value).startswith(f"archive {tmp_path} (paper aaa) is locked by pid {os.getpid()} since ")
        assert str(info.value).endswith("(epaper crawl)")
        with ArchiveLock(tmp_path, "epaper crawl", ["bbb"]):  # the refused taker let go of bbb
            pass
    assert read_holder(tmp_path, "aaa") == {}


def test_the_whole_archive_excludes_every_paper_and_is_excluded_by_any(tmp_path):
    with ArchiveLock(tmp_path, "epaper migrate"):
        with pytest.raises(LockHeld, match=r"^archive .* is locked by pid \d+ .*\(epaper migrate\)$"):
            ArchiveLock(tmp_path, "epaper crawl", ["aaa"]).acquire()
    with ArchiveLock(tmp_path, "epaper crawl", ["aaa"]):
        with pytest.raises(LockHeld) as info:  # migrate is told which writer keeps it waiting
            ArchiveLock(tmp_path, "epaper migrate").acquire()
        assert f"(paper aaa) is locked by pid {os.getpid()}" in str(info.value)


def test_two_processes_of_two_papers_and_a_third_of_the_same(tmp_path):
    with holding(tmp_path, "aaa") as holder:
        trier = ("import sys\nfrom epaper.lock import archive_lock, LockHeld\n"
                 "try:\n    with archive_lock(sys.argv[1], 'epaper crawl', sources=[sys.argv[2]]):\n"
                 "        print('taken')\nexcept LockHeld as exc:\n    print('held:' + str(exc))\n")
        out = {s: subprocess.run([sys.executable, "-c", trier, str(tmp_path), s], cwd=ROOT, text=True,
                                 capture_output=True, env=CLEAN_ENV, timeout=60).stdout.strip() for s in ("bbb", "aaa")}
        assert out["bbb"] == "taken"
        assert out["aaa"].startswith(f"held:archive {tmp_path} (paper aaa) is locked by pid {holder.pid}")


def test_a_child_inherits_its_papers_lock_and_no_other(tmp_path):
    code = ("import sys\nfrom epaper.lock import archive_lock, LockHeld, read_holder\n"
            "try:\n    with archive_lock(sys.argv[1], 'epaper crawl', sources=[sys.argv[2]]):\n"
            "        print('ran', read_holder(sys.argv[1], sys.argv[2])['parent'])\n"
            "except LockHeld as exc:\n    print('held:' + str(exc))\n")
    with ArchiveLock(tmp_path, "epaper update", ["aaa", "bbb"]) as lock:
        def child(source: str, given: str) -> str:
            return subprocess.run([sys.executable, "-c", code, str(tmp_path), source], cwd=ROOT, text=True,
                                  capture_output=True, timeout=60, pass_fds=lock.child_fds(given),
                                  env={**CLEAN_ENV, **lock.child_env(given)}).stdout.strip()

        assert child("aaa", "aaa") == f"ran {os.getpid()}"
        assert child("bbb", "bbb") == f"ran {os.getpid()}"
        assert child("bbb", "aaa").startswith("held:")  # handed aaa's descriptor: bbb is still the parent's
        assert read_holder(tmp_path, "aaa")["command"] == "epaper update"  # the parent's again
        with pytest.raises(LockHeld):
            ArchiveLock(tmp_path, "epaper migrate").acquire()


# ------------------------------------------------------------------ the commands


def test_crawls_of_two_papers_run_at_the_same_time_and_the_same_paper_is_refused(tmp_path):
    data = tmp_path / "data"
    with serve_papers(tmp_path / "sites", plan_papers(2), start=DAY, end=DAY, delay=0.1) as papers:
        config = tmp_path / "epaper.toml"
        config.write_text(portal_tables(papers, download_delay=0) + f'\n[storage]\ndata_dir = "{data}"\n',
                          encoding="utf-8")
        a, b = (p.id for p in papers)

        def crawl(source: str) -> subprocess.Popen[str]:
            return subprocess.Popen([sys.executable, "-m", "epaper", "crawl", "--config", str(config),
                                     "--source", source, "--date", DAY.isoformat()], cwd=CLEAN_CWD, text=True,
                                    env=CLEAN_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        first = crawl(a)
        deadline = time.monotonic() + 60
        while not read_holder(data, a) and time.monotonic() < deadline:  # the first holds its paper
            time.sleep(0.05)
        second, again = crawl(b), crawl(a)
        results = {name: (proc.wait(timeout=240), *proc.communicate()) for name, proc in
                   (("first", first), ("second", second), ("again", again))}
    assert results["first"][0] == 0, results["first"][2]
    assert results["second"][0] == 0, results["second"][2]  # the old archive-wide lock refused it (75)
    rc, _, err = results["again"]
    assert rc == 75 and len(err.strip().splitlines()) == 1, err
    assert f"(paper {a}) is locked by pid {first.pid}" in err
    assert archived_dates(data, a) == [DAY] and archived_dates(data, b) == [DAY]
    runs = [json.loads(line) for line in runs_path(data).read_text().splitlines()]
    spans = {r["source"]: (r["started"], r["ended"]) for r in runs}
    assert spans[b][0] < spans[a][1] and spans[a][0] < spans[b][1]  # they did overlap


def test_migrate_waits_for_no_writer(tmp_path):
    (tmp_path / "articles" / "issue_date=2023-08-01").mkdir(parents=True)  # an archive in the old layout
    with holding(tmp_path, "ahjjb") as holder:
        done = run_epaper("migrate", "--data", str(tmp_path))
    assert done.returncode == 75, done.stderr
    assert f"(paper ahjjb) is locked by pid {holder.pid}" in done.stderr


# ------------------------------------------------------------------ the shared run log


def test_an_append_racing_retention_loses_no_line(tmp_path, monkeypatch):
    """A line appended between retention's read of the run log and its rename lands in the new
    file: the appender waits for the rewrite and then finds the new file."""
    from epaper import retention

    old = {"run_id": "old", "ended": "2020-01-01T00:00:00Z", "outcomes": {}, "exit_status": 0}
    _append_line(runs_path(tmp_path), old)
    new = {"run_id": "new", "ended": "2026-01-01T00:00:00Z", "outcomes": {}, "exit_status": 0}
    real = retention.atomic_write
    appender = threading.Thread(target=_append_line, args=(runs_path(tmp_path), new))

    def racing(path, write, **kwargs):  # read done, rename to come: another paper's run ends now
        appender.start()
        appender.join(timeout=1.0)  # with the lock it waits for us; without, it is in the old file by now
        return real(path, write, **kwargs)

    monkeypatch.setattr(retention, "atomic_write", racing)
    dropped = retention.prune_runs(tmp_path, dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    appender.join(timeout=30)
    assert dropped == 1
    assert [json.loads(line)["run_id"] for line in runs_path(tmp_path).read_text().splitlines()] == ["new"]


def test_archive_lock_reads_inherited_descriptors_only_when_they_are_the_lock_files(tmp_path):
    other = os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT)
    try:
        env = {"EPAPER_LOCK_FD": str(other), "EPAPER_ARCHIVE_LOCK_FD": str(other)}
        with ArchiveLock(tmp_path / "data", "epaper update", ["aaa"]):
            with pytest.raises(LockHeld):
                with archive_lock(tmp_path / "data", "epaper crawl", sources=["aaa"], env=env):
                    pass
    finally:
        os.close(other)


def test_the_leftover_sweep_leaves_other_papers_alone(tmp_path):
    """A writer removes what killed writers of its own papers left (and of the shared files),
    never another paper's: that writer may be alive on another machine, its PID unknown here."""
    from epaper.storage.leftovers import remove_leftovers

    dead = 2 ** 22 + 12345  # above pid_max's default: no such process
    mine = tmp_path / "warc" / "source=aaa" / "issue_date=2023-08-01" / f".x.warc.gz.tmp-{dead}"
    theirs = tmp_path / "warc" / "source=bbb" / "issue_date=2023-08-01" / f".x.warc.gz.tmp-{dead}"
    index = tmp_path / "index" / "source=bbb" / f".dedupe.npz.tmp-{dead}"
    shared = tmp_path / "runs" / f".runs.jsonl.tmp-{dead}"
    for path in (mine, theirs, index, shared):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert {t.path for t in remove_leftovers(tmp_path, ["aaa"])} == {mine, shared}
    assert theirs.exists() and index.exists()
    assert {t.path for t in remove_leftovers(tmp_path)} == {theirs, index}  # the whole archive's
