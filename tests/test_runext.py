"""`scrapy crawl epaper` takes the archive lock and logs the run, as `epaper crawl` does
(epaper/runext.py); `epaper crawl` takes the lock once."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from epaper.config import own_settings
from epaper.lock import ArchiveLock
from epaper.runext import ArchiveLocked, ArchiveRunExtension
from epaper.runlog import read_runs
from epaper.storage.parquet import archived_dates
from tests.conftest import CLEAN_ENV, FAST, ROOT, run_epaper

WEEK = (dt.date(2023, 7, 31), dt.date(2023, 8, 6))


def scrapy_crawl(data, *args):
    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", "epaper", *args, "-s", f"SNAPSHOT_DIR={data}",
                           "-s", f"EPAPER_CONFIG={os.devnull}", *FAST],  # not a ./epaper.toml of the checkout
                          cwd=ROOT, capture_output=True, text=True, timeout=240, env=CLEAN_ENV)


def test_scrapy_crawl_logs_the_run_and_respects_the_lock(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    day = dt.date.fromisoformat(sorted(server.truth["issues"])[0])
    args = ["-a", f"date={day}", "-a", f"base_url={server.base_url}"]
    with ArchiveLock(tmp_path, command="epaper crawl"):
        locked = scrapy_crawl(tmp_path, *args)
    assert locked.returncode == 1
    assert f"archive {tmp_path} is locked by pid {os.getpid()}" in locked.stderr
    assert archived_dates(tmp_path, "ahjjb") == [] and read_runs(tmp_path) == []  # nothing fetched or written

    result = scrapy_crawl(tmp_path, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    [run] = read_runs(tmp_path)
    assert run["command"].startswith("scrapy crawl epaper -a date=")
    assert run["dates"] == [day.isoformat()]
    assert run["outcomes"][day.isoformat()]["status"] == "archived"
    assert run["exit_status"] == 0
    assert ArchiveLock(tmp_path).acquire().release() is None  # released at the end


def test_epaper_crawl_takes_the_lock_once_and_logs_once(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    day = sorted(server.truth["issues"])[0]
    result = run_epaper("crawl", "--date", day, "--base-url", server.base_url, "--data", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stderr
    assert [r["command"].split()[:2] for r in read_runs(tmp_path)] == [["epaper", "crawl"]]


def test_the_addon_turns_it_on_for_scrapy_crawl():
    from epaper.addon import ConfigAddon
    from epaper.config import project_settings

    settings = project_settings()
    settings.set("EPAPER_CONFIG", os.devnull)
    assert settings.getbool("RUNLOG_ENABLED") is False
    ConfigAddon.update_pre_crawler_settings(settings)
    assert settings.getbool("RUNLOG_ENABLED") is True


def test_extension_settings(tmp_path):
    base = {**own_settings(), "SNAPSHOT_DIR": str(tmp_path), "RUNLOG_ENABLED": True}
    with pytest.raises(NotConfigured):  # the default: a component test's crawler takes no lock
        ArchiveRunExtension.from_crawler(get_crawler(settings_dict=own_settings()))
    with ArchiveLock(tmp_path, command="other"):
        with pytest.raises(ArchiveLocked, match="is locked by pid"):
            ArchiveRunExtension.from_crawler(get_crawler(settings_dict=base))
    ext = ArchiveRunExtension.from_crawler(get_crawler(settings_dict=base))
    with pytest.raises(Exception):
        ArchiveLock(tmp_path).acquire()
    ext.release()
    ArchiveLock(tmp_path).acquire().release()
