"""Recording a run of the archive: one extension for every way a crawl starts (``epaper
crawl``, ``epaper reparse``, ``scrapy crawl epaper``).

:class:`ArchiveRun` is one run: the dates' outcomes as they settle (`crawler.outcome`), then
one line in the run log (``runs/runs.jsonl``), old logs pruned (`epaper.retention`) and the
metrics rewritten (`epaper.metrics`). :class:`ArchiveRunExtension` records a crawl into it on
the crawl's signals (``issue_done``, ``spider_closed``).

- ``scrapy crawl epaper`` (and a scrapyd job): the extension takes the paper's lock (and the
  archive's, shared: epaper.lock) when the crawler is built (a paper being written by another
  process raises :class:`ArchiveLocked`, one line naming the holder, before anything
  is fetched or written; ``scrapy crawl`` exits with status 1), starts the run when the spider
  opens and finishes it when it closes. On an s3:// archive (``SNAPSHOT_REMOTE``, set by the
  add-on, which points ``SNAPSHOT_DIR`` at the local working copy: epaper.addon.working_copy)
  it does what ``epaper crawl`` does: the working copy's local lock, then the paper's lease in
  the store (held elsewhere: :class:`ArchiveLocked` naming the holder; a store it cannot use:
  :class:`ArchiveUnavailable`), the paper's state pulled before the engine is built, each date
  published as it is written (``SNAPSHOT_PUBLISH``), the rest and the run's line published
  when the spider closes, then the lease released (epaper.remote).
- ``epaper crawl`` / ``epaper reparse`` take the lock and start the run themselves (a SIGTERM
  before the crawl starts still leaves a line; a reparse is several crawls in a row) and hand
  it over in ``RUNLOG_RUN``: the extension records each crawl into it and takes no lock; the
  command finishes the run. Its reporter (epaper.crawl) only prints.
- A child crawl of ``epaper schedule`` / ``epaper update`` finds its paper's lock held by its
  parent (it inherits the locked descriptors, ``EPAPER_LOCK_FD``: :func:`epaper.lock.archive_lock`) and its line names the
  parent's run (``EPAPER_PARENT_RUN``); the parent writes the metrics of the whole run.

What is not written: a run whose every date is after today and had no issue records nothing
(no line, no metrics, no log file); an idle run (exit status 0, only today's "no issue so
far" and issues archived already) leaves its line but not its log file.

Settings: ``RUNLOG_ENABLED`` (false in crawler/settings.py, so that a component test's crawler
takes no lock; the add-on :class:`epaper.addon.ConfigAddon` turns it on for every crawl it
configures; false: ``NotConfigured``), ``RUNLOG_RUN`` (the :class:`ArchiveRun` a command
started; unset: the extension starts its own), ``SNAPSHOT_DIR`` (the archive; of an s3:// one,
its working copy), ``SNAPSHOT_REMOTE`` (the s3:// root; "" or unset: a local archive).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from epaper.crawler.ledger import Ledger
from epaper.crawler.outcome import ARCHIVED, NO_ISSUE, NO_ISSUE_YET, NOT_YET_PUBLISHED, PENDING, date_outcome
from epaper.crawler.signals import issue_done
from epaper.lock import LockError, archive_lock
from epaper.runlog import PARENT_RUN_ENV, RunLog

logger = logging.getLogger(__name__)


class ArchiveLocked(Exception):
    """Another process holds the archive lock (or, in an s3:// archive, the paper's lease);
    ``str()`` is one line."""


class ArchiveUnavailable(Exception):
    """An s3:// archive that cannot be used (unreachable, refused); ``str()`` is one line."""


class ArchiveRun:
    """One run of the archive: what each date came to, then its run-log line, retention and
    metrics (:meth:`finish`). `config`: the epaper Config (zone, retention, metrics; None: no
    retention or metrics). `log`: the run's own log file (kept by retention; removed when the
    run wrote nothing)."""

    def __init__(self, data: Path, command: str, dates: list[dt.date], config: Any = None,
                 log: Path | None = None, source: str | None = None):
        self.data, self.config, self.log = Path(data), config, log
        self.source = source or (config.portal.id if config else None)
        self.record = RunLog.start(data, command, dates, tz=config.schedule.tzinfo if config else None,
                                   parent=os.environ.get(PARENT_RUN_ENV) or None, source=self.source)
        self.started = time.time()
        self.stats: dict[str, int] = {}
        self.shown: set[dt.date] | None = None  # the dates the current crawl records (None: all)
        self.unpublished: set[dt.date] = set()  # after today, no issue: not recorded
        self.idle = True  # nothing written so far: only today's "no issue" and issues archived already
        self.last = True  # the last paper's run of its command to finish: it rewrites the metrics
        self.recorded = False  # its line appended to the run log ("not yet published" alone: none)

    def __deepcopy__(self, memo: dict) -> ArchiveRun:
        return self  # a handle in the settings: every crawler's copy of them records into this run

    @property
    def finished(self) -> bool:
        return self.record.finished

    def on_issue_done(self, date: dt.date, result: Any) -> None:
        """Record a date's outcome, once (`crawler.outcome.date_outcome`)."""
        if self.shown is not None and date not in self.shown:
            return
        if date in self.record.outcomes or date in self.unpublished:
            return
        outcome = date_outcome(result)
        if outcome == NOT_YET_PUBLISHED:
            self.unpublished.add(date)
            return
        if not (result.status == NO_ISSUE_YET or (result.status == ARCHIVED and result.unchanged)):
            self.idle = False
        record = self.record.date_outcome
        if outcome == NO_ISSUE:
            record(date, NO_ISSUE)
        elif outcome == ARCHIVED and result.unchanged:
            record(date, ARCHIVED, result.articles, result.pages, result.duplicates)
        elif outcome == ARCHIVED:
            record(date, ARCHIVED, result.articles, result.pages, result.duplicates, health=result.health,
                   suspect=result.suspect, media_failures=result.media_failures, revised=result.revised,
                   gone=result.gone)
        else:
            record(date, outcome, result.articles, result.pages, result.duplicates, result.failures,
                   media_failures=result.media_failures)

    def add_stats(self, stats: dict[str, Any]) -> None:
        """A crawl's Scrapy stats, summed over the crawls of the run."""
        for key, value in stats.items():
            if isinstance(value, int) and not isinstance(value, bool):
                self.stats[key] = self.stats.get(key, 0) + value

    def exit_status(self, ledger: Ledger | None = None) -> int:
        """The run's exit status (epaper.exits.exit_status) over its dates' outcomes."""
        fatal = bool(ledger and ledger.fatal)
        error = bool(ledger and ledger.error and not ledger.dates)
        return self.record.exit_status(fatal=fatal, error=error)

    def finish(self, status: int) -> None:
        """Append the run's line, prune old logs, rewrite the metrics (once)."""
        record = self.record
        if record.finished:
            return
        if record.dates and not record.outcomes and set(record.dates) <= self.unpublished:
            record.finished = True  # "nothing archived, nothing recorded": not a line, not a file
            self._drop_log()
            return
        record.stats = self._figures()
        record.finish(status)
        self.recorded = True
        if self.idle and status == 0 and record.outcomes:
            self._drop_log()  # the line says it all: an idle run leaves no file a year of cron piles up
        if self.config is None or record.parent is not None:  # a child's parent prunes, once its children end
            return
        from epaper.retention import apply_retention

        try:
            apply_retention(self.data, log_days=self.config.storage.log_retention_days,
                            runs_days=self.config.storage.runs_retention_days, keep=self.log)
        except OSError as exc:  # housekeeping: the next run tries again
            logger.warning("retention not applied: %s", exc)
        if self.last:
            write_metrics(self.data, self.config)

    def _figures(self) -> dict[str, int]:
        """The run's figures for the run log (and so the metrics): requests made, bytes
        downloaded, bytes written (snapshots, and the WARC files of the run's dates written
        since it started)."""
        from epaper.storage.parquet import partition_dir

        warc = 0
        for day in self.record.dates or sorted(self.record.outcomes):
            for path in partition_dir(self.data, self.source, "warc", day).glob("*.warc.gz"):
                with contextlib.suppress(OSError):
                    info = path.stat()
                    if info.st_mtime >= self.started:
                        warc += info.st_size
        stats = self.stats
        return {"requests": int(stats.get("downloader/request_count", 0)),
                "response_bytes": int(stats.get("downloader/response_bytes", 0)),
                "bytes_written": int(stats.get("epaper/bytes_written", 0)) + warc,
                "suspect_dates": int(stats.get("epaper/health/suspect_dates", 0))}

    def _drop_log(self) -> None:
        if self.log is not None:
            with contextlib.suppress(OSError):
                self.log.unlink()


def write_metrics(data: Path, config: Any) -> None:
    """Rewrite DATA/metrics/epaper.prom (epaper.metrics); a failure is a warning."""
    from epaper.metrics import write_metrics as write

    try:
        write(data, tz=config.schedule.tzinfo, window_days=config.schedule.catchup_days,
              sources=config.ids)
    except (OSError, ValueError) as exc:  # monitoring output: the next run writes it again
        logger.warning("metrics not written: %s", exc)


class ArchiveRunExtension:
    """Records the crawl's run (see the module). Settings: RUNLOG_ENABLED, RUNLOG_RUN, SNAPSHOT_DIR,
    SNAPSHOT_REMOTE."""

    def __init__(self, crawler: Any, data: Path, command: str, run: ArchiveRun | None = None):
        self.crawler = crawler
        self.data = data
        self.command = command
        self.run = run
        self.own = run is None  # scrapy crawl: the lock and the run are this extension's
        self._lock: Any = None
        self._leases: contextlib.ExitStack | None = None
        self.remote: Any = None  # an s3:// archive's epaper.remote.RemoteArchive (own runs only)
        self.source = crawler.settings.get("EPAPER_SOURCE")  # set by the spider's paper selector, built before us
        self.ledger = Ledger.from_crawler(crawler)  # the spider has started it: its dates are known
        if self.own:
            url = crawler.settings.get("SNAPSHOT_REMOTE")
            if url:
                self.remote = self._open_remote(str(url))
            lock = archive_lock(data, command, sources=[self.source] if self.source else None)
            try:
                lock.__enter__()
            except LockError as exc:
                raise ArchiveLocked(f"scrapy crawl epaper: {exc}") from None
            self._lock = lock
            try:
                if self.remote is not None:
                    self._hold_and_pull()
                from epaper.storage.leftovers import remove_leftovers

                remove_leftovers(data, [self.source] if self.source else None)  # what a killed writer of the paper left
            except BaseException:
                self.release()
                raise
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.on_issue_done, issue_done)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)
        crawler.signals.connect(self.release, signals.engine_stopped)

    def _open_remote(self, url: str) -> Any:
        """The s3:// root's working copy (`data`, named by the add-on: epaper.addon.working_copy)."""
        from epaper.addon import config_from_settings
        from epaper.config import UsageError
        from epaper.remote import RemoteArchive

        config = config_from_settings(self.crawler.settings)
        try:
            remote = RemoteArchive(url, config.storage.cache_dir)
        except UsageError as exc:
            raise ArchiveUnavailable(f"scrapy crawl epaper: {exc}") from None
        if remote.local != self.data:  # SNAPSHOT_DIR was changed after the add-on named the copy
            raise ArchiveUnavailable(f"scrapy crawl epaper: SNAPSHOT_DIR {self.data} is not the working copy "
                                     f"{remote.local} of {url}")
        return remote

    def _hold_and_pull(self) -> None:
        """An s3:// archive, as `epaper crawl` does it (epaper.cli.run_crawl): the paper's lease
        in the store, each date published as written (SNAPSHOT_PUBLISH), the paper's state
        pulled into the working copy before anything reads it."""
        from epaper.addon import config_from_settings
        from epaper.lock import LockHeld
        from epaper.remote import publisher
        from epaper.storage.objectstore import StoreError

        remote, source = self.remote, self.source
        seconds = config_from_settings(self.crawler.settings).storage.lease_seconds
        try:
            self._leases = remote.hold([source], self.command, seconds)
        except LockHeld as exc:
            raise ArchiveLocked(f"scrapy crawl epaper: {exc}") from None
        except StoreError as exc:
            raise ArchiveUnavailable(f"scrapy crawl epaper: {exc}") from None
        self.crawler.settings.set("SNAPSHOT_PUBLISH", publisher(remote), priority="cmdline")
        try:
            remote.pull_paper(source, list(self.ledger.dates))  # --latest: no WARC file is read
        except StoreError as exc:
            raise ArchiveUnavailable(f"scrapy crawl epaper: {exc}") from None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchiveRunExtension:
        if not crawler.settings.getbool("RUNLOG_ENABLED"):
            raise NotConfigured  # no message: Scrapy logs none (a component test's crawler, the probe)
        data = Path(crawler.settings.get("SNAPSHOT_DIR"))
        run = crawler.settings.get("RUNLOG_RUN")
        if isinstance(run, ArchiveRun):
            return cls(crawler, data, run.record.command, run)
        args = sys.argv[1:]  # scrapy's command line has taken "crawl" off it by now
        args = args[1:] if args[:1] == ["crawl"] else args
        command = " ".join(["scrapy", "crawl", *map(shlex.quote, args)]) if args else "scrapy crawl epaper"
        return cls(crawler, data, command)

    def spider_opened(self, spider: Any) -> None:
        if self.own:
            from epaper.addon import config_from_settings

            self.run = ArchiveRun(self.data, self.command, list(self.ledger.dates),
                                  config_from_settings(self.crawler.settings),
                                  source=self.crawler.settings.get("EPAPER_SOURCE"))

    def on_issue_done(self, date: Any, result: Any) -> None:
        if self.run is not None and not self.run.finished:
            self.run.on_issue_done(date, result)

    def spider_closed(self, spider: Any, reason: str = "") -> None:
        run = self.run
        if run is not None and not run.finished:
            for day in self.ledger.dates:  # anything never settled (the ledger closes every date first)
                if self.ledger.results[day].status != PENDING:  # cut off with the reactor: the command says so
                    run.on_issue_done(day, self.ledger.results[day])
            if not run.record.dates:
                run.record.dates = list(self.ledger.dates)  # --latest: the issue found
            run.add_stats(self.crawler.stats.get_stats())
            if self.own:
                run.finish(run.exit_status(self.ledger))
        self._publish()
        self.release()

    def _publish(self) -> None:
        """An s3:// archive: what the crawl wrote and is not published yet (the dedupe index, the
        compacted copy, a date whose publication failed, what it removed) and the run's line,
        while the lease is held. A failure is logged: the run's line stays unpublished, so its
        job has no outcome in the store (`epaper cluster` reports it failed); the next run of
        the paper publishes what is left."""
        remote, self.remote = self.remote, None
        if remote is None or self._leases is None:
            return
        from epaper.storage.objectstore import StoreError

        try:
            remote.publish([self.source])
        except StoreError as exc:
            logger.error("scrapy crawl epaper: not published to %s: %s", remote.url, exc)

    def release(self) -> None:
        leases, self._leases = self._leases, None
        if leases is not None:
            leases.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)
