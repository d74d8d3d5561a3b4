"""A hostile host: the crawl listens on nothing and writes nothing outside its data directory;
the archive's files are never opened through a symlink; odd archives give one line, no
traceback (issue 13, items 7, 8 and 13)."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from epaper.replica.server import Fault, serve
from tests.conftest import CLEAN_ENV, FAST

DAY = dt.date(2023, 8, 1)


@pytest.fixture(scope="module")
def server(replica_sites):
    site = replica_sites("pc-rmrb", DAY, dt.date(2023, 8, 4))  # the build test_faults uses
    with serve(site / "site") as server:
        yield server


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def _listening_inodes(pid: int) -> set[str]:
    """Socket inodes the process holds that are in the LISTEN state (TCP, IPv4 or IPv6)."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    listening = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                listening.add(fields[9])
    return held & listening


def test_a_crawl_listens_on_nothing_and_writes_only_its_data_dir(server, tmp_path):
    home, tmp, cwd, data = (tmp_path / n for n in ("home", "tmp", "cwd", "data"))
    for folder in (home, tmp, cwd):
        folder.mkdir()
    env = {k: v for k, v in CLEAN_ENV.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    # One article held back for a moment, so the crawl is surely running while it is watched.
    server.faults[:] = [Fault("slow", r"/content_.*\.html$", times=1, seconds=1.5)]
    try:
        proc = subprocess.Popen([sys.executable, "-m", "epaper", "crawl", "--date", DAY.isoformat(),
                                 "--base-url", server.base_url, "--data", str(data), *FAST],
                                cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        listened: set[str] = set()
        while proc.poll() is None:
            try:
                listened |= _listening_inodes(proc.pid)
            except OSError:  # it ended while being read
                break
            time.sleep(0.02)
        out, err = proc.communicate(timeout=120)
    finally:
        server.faults.clear()
    assert proc.returncode == 0, err
    assert server.request_count(r"/content_") > 0
    assert listened == set()
    assert (tree(home), tree(tmp), tree(cwd)) == ([], [], [])
