"""`epaper reparse`: the archive rebuilt from its WARC files alone, offline, through the same
spider, parser and pipelines as a crawl.

A date's WARC files are its crawls, in time order. The reparse replays them one run of the
spider each (WARC_REPLAY_CRAWL k: the date as its k-th crawl left it) into the scratch archive
`.reparse/` (`storage.archive.HISTORY`), each read against the one before, so that the
corrections and removals between crawls are found again; then one run writes every date from
its newest captures into the archive (WARC_REPLAY_CRAWL 0). Dates go REPLAY_BATCH at a time, in
date order, so that duplicates resolve against the rebuilt dates before them and the captures
held in memory are bounded by a batch. The runs share one `crawler.captures.ReplaySession`
(each WARC file read once per reparse).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

from epaper.config import UsageError

REPLAY_BATCH = 31  # dates one run of the spider replays: their captures are held in memory until they are written

# Offline: no robots.txt, no politeness, and nothing captured again.
SETTINGS = {"ROBOTSTXT_OBEY": False, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
            "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "WARC_ENABLED": False}

Round = tuple[dict, dict, "set | None"]  # (settings, spider arguments, dates shown: None all, set() none)


def plan(data: Path, source: str, dates: list[dt.date] | None) -> tuple[list[dt.date], str, str]:
    """The dates to reparse (default: every date with WARC files), and the e-paper root and
    layout their WARC files were crawled from; UsageError when there is nothing to replay."""
    from epaper.crawler.warc import replay_source
    from epaper.storage.parquet import archived_dates

    if dates is None:
        dates = archived_dates(data, source, "warc")
        if not dates:
            raise UsageError(f"no WARC files of {source} under {data / 'warc'}")
    try:
        base_url, layout = replay_source(data, source, dates)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    return dates, base_url, layout


def rounds(data: Path, source: str, dates: list[dt.date], spider_args: dict) -> list[Round]:
    """The runs of the spider (the `rounds` of epaper.crawl.run_spider). For each batch, run k
    replays the dates as their k-th crawl (WARC file) left them, for every date crawled more
    than k times, into the scratch archive, printing nothing; then one run writes every date of
    the batch from its newest captures, in date order, and prints them. Only the last run
    refreshes `compact/`."""
    from epaper.crawler.captures import warc_files

    crawls = {day: len(warc_files(data, source, day)) for day in dates}
    args = {key: value for key, value in spider_args.items() if key not in ("start", "end")}
    out: list[Round] = []

    def run(k: int, todo: list[dt.date], shown: set | None) -> None:
        out.append(({"WARC_REPLAY_CRAWL": k, "SNAPSHOT_COMPACT": False},
                    {**args, "dates": ",".join(d.isoformat() for d in todo)}, shown))

    for at in range(0, len(dates), REPLAY_BATCH):
        batch = dates[at:at + REPLAY_BATCH]
        for k in range(1, max(crawls[day] for day in batch)):
            run(k, [day for day in batch if crawls[day] > k], set())
        run(0, batch, None)
    del out[-1][0]["SNAPSHOT_COMPACT"]  # compact/ is refreshed once, by the last run, as configured
    return out


def clear_scratch(data: Path, source: str | None = None) -> None:
    """Remove the scratch archive of a paper's history replay (one that was stopped leaves
    it), or of every paper's."""
    from epaper.storage.archive import HISTORY

    path = data / HISTORY if source is None else data / HISTORY / source
    if path.is_symlink() or (path.exists() and not path.is_dir()):  # a link, a file, a FIFO…
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)  # removes links inside, never what they point to
    if source is not None:
        with contextlib.suppress(OSError):  # another paper's reparse still holds a folder there
            (data / HISTORY).rmdir()


@contextlib.contextmanager
def session(data: Path, source: str, dates: list[dt.date], spider_args: dict,
            limit: int) -> Iterator[list[Round]]:
    """One paper's reparse, under the archive lock: its runs, each with the replay settings
    and the paper's one `ReplaySession`; the scratch of a stopped reparse removed first, this
    one's once the runs end (whatever ended them)."""
    from epaper.crawler.captures import ReplaySession

    runs = rounds(data, source, dates, spider_args)  # read under the lock: no crawl adds a WARC file meanwhile
    try:
        clear_scratch(data, source)
    except OSError as exc:  # a reparse would take what is left there for a date's earlier crawls
        raise UsageError(f"cannot remove the scratch of a stopped reparse: {exc}") from None
    replay = ReplaySession(data, source, limit)
    for overrides, _, _ in runs:
        overrides["WARC_REPLAY_SESSION"] = replay
    try:
        yield runs
    finally:
        replay.forget()  # what a date cut off by a stop still holds
        with contextlib.suppress(OSError):  # the next crawl or reparse removes it
            clear_scratch(data, source)
