"""Crash safety: `epaper crawl` killed with SIGKILL at chosen and at random moments.

Phases: during the fetch (random times over a slowed portal), while a snapshot file is being
written (rows written, footer not: `SNAPSHOT_PAUSE_AT=write:N`), just before its rename onto
`part-0.parquet` (`rename:N`) and just after it (`renamed:N`). The crawl holds there until
killed. After every kill: no `.parquet` a reader sees as broken or partial, no date's earlier
snapshot gone or shrunk, a stale lock naming the dead process that does not block the next run;
every few kills a healthy run completes the archive and it equals the replica's truth.

The last test takes one archive through faults, kills and damage, re-crawls it once with the
portal healthy and compares it with the archive of a clean run.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from epaper.lock import read_holder
from epaper.replica.server import Fault, serve
from epaper.storage.parquet import DATASETS, archived_dates, snapshot_info, snapshot_path
from epaper.storage.load import load_articles, load_pages
from tests.conftest import CLEAN_CWD, FAST, run_epaper, tally_fixture
from tests.truth import diff_archive

START, END = dt.date(2023, 8, 1), dt.date(2023, 8, 3)  # three issues: six snapshot files per run
DAYS = [START + dt.timedelta(i) for i in range(3)]
DATES = ("--from", START.isoformat(), "--to", END.isoformat())
SLOW = [*FAST, "-s", "CONCURRENT_REQUESTS=4", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "DOWNLOAD_TIMEOUT=5"]

# 24 kills: 8 at random times, 16 at chosen points of the snapshot write (N: the Nth file of the
# run); the first 6 (two random, and every stage of the write) in make test, all in make test-all
TRIALS = ["random", "write:1", "rename:2", "random", "renamed:1", "write:4", "random", "rename:5",
          "write:6", "random", "renamed:3", "rename:1", "random", "write:3", "rename:6", "random",
          "renamed:5", "write:2", "random", "rename:4", "write:5", "random", "rename:3", "renamed:6"]
RECOVER_EVERY = 6
COUNTS: Counter = Counter()


_tally = tally_fixture("kill", COUNTS)


@pytest.fixture(scope="module")
def server(replica_sites):
    site = replica_sites("pc-rmrb", START, dt.date(2023, 8, 4))  # the build test_faults uses
    with serve(site / "site") as server:
        server.truth_path = site / "truth.json"
        yield server


def spawn(server, data: Path, *extra: str, command: tuple[str, ...] = ()) -> subprocess.Popen:
    """The real command line (a crawl of DATES unless `command` says otherwise), in its own
    process group (so the kill reaches only what we started)."""
    command = command or ("crawl", *DATES, "--base-url", server.base_url)
    return subprocess.Popen([sys.executable, "-m", "epaper", *command, "--data", str(data), *SLOW, *extra],
                            cwd=CLEAN_CWD, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the crawl's process group; False when it had already finished."""
    if proc.poll() is not None:
        return False
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.returncode == -signal.SIGKILL


def wait_for_pause(proc: subprocess.Popen, data: Path, timeout: float = 60) -> None:
    """Until the crawl's log says it holds at the chosen point of the snapshot write."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for log in (data / "logs").glob(f"*-{proc.pid}.log"):
            if "SNAPSHOT_PAUSE_AT: holding" in log.read_text(encoding="utf-8", errors="replace"):
                return
        assert proc.poll() is None, f"the crawl ended (status {proc.returncode}) before reaching the pause"
        time.sleep(0.05)
    kill(proc)
    pytest.fail("the crawl never reached the pause")


def state(data: Path) -> dict[dt.date, set[str]]:
    """Archived date → article URLs, reading every snapshot whole (a partial file would raise)."""
    out = {}
    for day in archived_dates(data, "ahjjb"):
        table = pq.read_table(snapshot_path(data, "ahjjb", "articles", day), schema=DATASETS["articles"])
        out[day] = set(table.column("url").to_pylist())
    return out


def assert_readers_see_no_broken_file(data: Path) -> None:
    for folder, schema in [*((data / name, schema) for name, schema in DATASETS.items()), (data / "compact", None)]:
        for path in folder.rglob("*.parquet") if folder.is_dir() else []:
            assert path.name == "part-0.parquet", f"a file readers would pick up: {path}"
            pq.read_table(path, schema=schema)  # whole: a partial file has no footer and raises
    duckdb = pytest.importorskip("duckdb")
    if list((data / "articles").glob("source=*/*/*.parquet")):
        glob = (data / "articles" / "**" / "*.parquet").as_posix()
        duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true)").fetchone()


def assert_complete_and_true(server, data: Path) -> None:
    problems = diff_archive(data, server.truth_path, server.base_url, dates=DAYS)
    COUNTS["rows lost"] += sum(p.endswith(": missing") for p in problems)
    assert problems == []
    assert all(snapshot_info(data, "ahjjb", d).complete for d in DAYS)
    leftovers = [p for p in data.rglob("*.tmp-*")]
    assert leftovers == []  # a healthy run clears what killed writers left behind


def recover(server, data: Path) -> None:
    delay, server.delay = server.delay, 0.0
    try:
        result = run_epaper("crawl", *DATES, "--base-url", server.base_url, "--data", str(data), *FAST)
    finally:
        server.delay = delay
    assert result.returncode == 0, result.stderr  # the stale lock did not block it
    assert result.stderr == ""
    COUNTS["recoveries"] += 1
    assert_complete_and_true(server, data)


@pytest.mark.parametrize("trials", [pytest.param([TRIALS[i] for i in (0, 1, 2, 4)], id="4"),
                                    pytest.param(TRIALS, marks=pytest.mark.slow, id="all-24")])
def test_sigkill_at_random_moments_never_breaks_the_archive(server, tmp_path, trials):
    data = tmp_path / "data"
    rng = random.Random(20231127)
    server.delay = 0.02  # a slow portal spreads the fetch over a second or two
    kills = Counter()
    try:
        for n, trial in enumerate(trials, 1):
            before = state(data)
            if trial == "random":
                proc = spawn(server, data)
                time.sleep(rng.uniform(0.6, 3.0))
            else:
                proc = spawn(server, data, "-s", f"SNAPSHOT_PAUSE_AT={trial}")
                wait_for_pause(proc, data)
            if not kill(proc):
                kills["finished before the kill"] += 1
                continue
            kills[trial.split(":")[0]] += 1

            assert_readers_see_no_broken_file(data)
            after = state(data)
            for day, urls in before.items():  # never removed, never shrunk
                assert day in after, f"{trial}: the snapshot of {day} disappeared"
                assert urls <= after[day], f"{trial}: {day} lost {len(urls - after[day])} articles"
            if list((data / "logs").glob(f"*-crawl-{proc.pid}.log")):  # it got as far as taking the lock
                # the dead holder is still named there (or the lock was released just before the kill) ...
                assert read_holder(data).get("pid") in (proc.pid, None)
            if n % RECOVER_EVERY == 0:
                recover(server, data)  # ... and does not block the next run
    finally:
        server.delay = 0.0
        COUNTS["kills survived"] += sum(v for k, v in kills.items() if k != "finished before the kill")
    recover(server, data)
    assert sum(v for k, v in kills.items() if k != "finished before the kill") >= len(trials) * 2 // 3, kills
    assert {"random", "write", "rename", "renamed"} <= set(kills), kills


def test_a_killed_write_keeps_the_previous_snapshot_byte_for_byte(server, tmp_path):
    """Killed after the new file is written but before the rename: the old file is untouched."""
    data = tmp_path / "data"
    recover(server, data)
    path = snapshot_path(data, "ahjjb", "articles", START)
    old = path.read_bytes()
    proc = spawn(server, data, "-s", "SNAPSHOT_PAUSE_AT=rename:2")  # file 2: the first date's articles
    wait_for_pause(proc, data)
    tmp = list(path.parent.glob(".part-0.parquet.tmp-*"))
    assert len(tmp) == 1 and tmp[0].stat().st_size > 0  # the new snapshot, complete, under its hidden name
    assert kill(proc)
    COUNTS["kills survived"] += 1
    assert path.read_bytes() == old
    recover(server, data)
    assert not list(path.parent.glob(".*.tmp-*"))


# ------------------------------------------------------------------ everything at once, then one healthy run


def rows(table, drop: tuple[str, ...]) -> list[dict]:
    keep = [c for c in table.column_names if c not in drop]
    return sorted(table.select(keep).to_pylist(), key=lambda r: json.dumps(r, default=str, sort_keys=True))


@pytest.mark.slow
def test_an_archive_through_faults_kills_and_damage_equals_a_clean_run(server, tmp_path):
    clean, tried = tmp_path / "clean", tmp_path / "tried"
    recover(server, clean)

    # faults: a page, an article, a truncated calendar retried; the run ends incomplete
    server.faults[:] = [Fault("status", r"202308/02/node_02\.html$"), Fault("truncate", r"202308/01/content_\d+1\.html$",
                                                                          with_length=False),
                        Fault("status", r"/period\.xml$", times=1)]
    result = run_epaper("crawl", *DATES, "--base-url", server.base_url, "--data", str(tried), *FAST)
    COUNTS["faults injected"] += sum(f.hits for f in server.faults)
    server.faults.clear()
    assert result.returncode == 1
    # kills: in the fetch, in a write, before and after a rename
    server.delay = 0.02
    try:
        for trial in ("write:2", "rename:3", "renamed:5", "random"):
            proc = spawn(server, tried, *(["-s", f"SNAPSHOT_PAUSE_AT={trial}"] if trial != "random" else []))
            if trial == "random":
                time.sleep(1.2)
            else:
                wait_for_pause(proc, tried)
            COUNTS["kills survived"] += kill(proc)
            assert_readers_see_no_broken_file(tried)
    finally:
        server.delay = 0.0
    # damage: one snapshot garbage, one cut short
    for day, dataset in ((DAYS[0], "articles"), (DAYS[2], "pages")):
        path = snapshot_path(tried, "ahjjb", dataset, day)
        if path.exists():
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])

    # one healthy re-crawl
    result = run_epaper("crawl", *DATES, "--base-url", server.base_url, "--data", str(tried), *FAST)
    assert result.returncode == 0, result.stderr
    assert_complete_and_true(server, tried)
    # the same rows as the clean run; only when they were fetched (and into which WARC file) differ
    volatile = ("crawled_at", "warc_file", "warc_record_id")
    assert rows(load_articles(tried), volatile) == rows(load_articles(clean), volatile)
    assert rows(load_pages(tried), volatile) == rows(load_pages(clean), volatile)
    assert re.fullmatch(r"\d{8}T\d{6}-\d+\.warc\.gz", Path(load_articles(tried).column("warc_file")[0].as_py()).name)


# ------------------------------------------------------------------ the writes of a re-crawl that finds corrections


@pytest.mark.slow
def test_kills_in_a_revising_recrawl_lose_nothing(server, tmp_path):
    """A re-crawl that finds a correction (and a removal) writes, per date, the pages snapshot,
    the revisions file, the articles snapshot, and appends a WARC file. Killed at each of those
    writes and at random moments: every earlier WARC file stays byte for byte, every file a reader
    sees is whole, no snapshot shrinks; the next healthy run keeps the earlier version exactly
    once, the removed article marked, and every capture replays."""
    from epaper.crawler.captures import load_captures
    from epaper.storage import revisions
    from tests.revise import correction, removal

    data = tmp_path / "data"
    recover(server, data)
    first = {r["article_id"]: r for r in load_articles(data).to_pylist()}
    on_first_day = sorted((r for r in first.values() if r["issue_date"] == START),
                          key=lambda r: (r["page_index"], r["position"]))
    fixed, gone = on_first_day[1], on_first_day[3]
    fault, _, new_text = correction(server, fixed)
    server.faults[:] = [fault, removal(server, gone)]
    try:
        # file 1: the first date's pages, 2: its revisions, 3: its articles
        server.delay = 0.02
        for trial in ("write:2", "rename:2", "renamed:2", "rename:3", "random", "random"):
            warcs = {p: p.read_bytes() for p in (data / "warc").rglob("*.warc.gz")}
            before = state(data)
            proc = spawn(server, data, *(["-s", f"SNAPSHOT_PAUSE_AT={trial}"] if trial != "random" else []))
            if trial == "random":
                time.sleep(1.5)
            else:
                wait_for_pause(proc, data)
            COUNTS["kills survived"] += kill(proc)
            assert all(p.read_bytes() == raw for p, raw in warcs.items()), f"{trial}: an earlier WARC file changed"
            assert_readers_see_no_broken_file(data)
            for path in (data / "revisions").rglob("*.parquet") if (data / "revisions").is_dir() else []:
                pq.read_table(path)  # whole
            after = state(data)
            assert all(urls <= after[day] for day, urls in before.items()), trial
        server.delay = 0.0
        result = run_epaper("crawl", *DATES, "--base-url", server.base_url, "--data", str(data), *FAST)
        assert result.returncode == 0, result.stderr
    finally:
        server.delay = 0.0
        server.faults.clear()
    now = {r["article_id"]: r for r in load_articles(data).to_pylist()}
    assert set(now) == set(first)
    assert new_text in now[fixed["article_id"]]["body"]
    assert now[gone["article_id"]]["gone_since"] is not None
    kept = [r for r in revisions.read_revisions(data, "ahjjb", START) if r["article_id"] == fixed["article_id"]]
    assert [r["body"] for r in kept] == [fixed["body"]]  # the earlier version, once
    for day in DAYS:
        assert load_captures(data, "ahjjb", day).damaged is None
    assert not list(data.rglob("*.tmp-*"))

    # a reparse rebuilding that history, killed while it replays the first crawls (into .reparse/)
    # and at random moments, then one that finishes: the archive as the crawls left it
    archived = (load_articles(data), load_pages(data), {d: revisions.read_revisions(data, "ahjjb", d) for d in DAYS})
    for trial in ("rename:2", "random"):
        proc = spawn(server, data, *(["-s", f"SNAPSHOT_PAUSE_AT={trial}"] if trial != "random" else []),
                     command=("reparse", "--all"))
        if trial == "random":
            time.sleep(random.uniform(0.5, 2.0))
        else:
            wait_for_pause(proc, data)
        COUNTS["kills survived"] += kill(proc)
        assert_readers_see_no_broken_file(data)
    result = run_epaper("reparse", "--all", "--data", str(data))
    assert result.returncode == 0, result.stderr
    # The same rows and versions. A crawl killed after its WARC file was saved, before its
    # snapshot was written, is replayed as the crawl that first saw the change: a removal or a
    # correction may date from that earlier capture.
    assert load_pages(data).equals(archived[1])
    now = {r["article_id"]: r for r in load_articles(data).to_pylist()}
    for old in archived[0].to_pylist():
        new = now.pop(old["article_id"])
        assert (new["gone_since"] is None) == (old["gone_since"] is None)
        assert new["gone_since"] is None or new["gone_since"] <= old["gone_since"]
        assert {**new, "gone_since": None} == {**old, "gone_since": None}
    assert now == {}
    for day in DAYS:
        rebuilt, kept = revisions.read_revisions(data, "ahjjb", day), archived[2][day]
        assert [{**r, "superseded_at": None} for r in rebuilt] == [{**r, "superseded_at": None} for r in kept]
        assert all(r["superseded_at"] <= k["superseded_at"] for r, k in zip(rebuilt, kept))
    assert not (data / ".reparse").exists() and not list(data.rglob("*.tmp-*"))  # nothing of any paper's scratch
