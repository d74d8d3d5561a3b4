"""The Scrapy extension that gives ``scrapy crawl epaper`` what ``epaper crawl`` does around a
crawl: the archive lock and a line in the run log (``runs/runs.jsonl``).

Enabled in crawler/settings.py (``EXTENSIONS``). ``epaper crawl`` and ``epaper reparse`` take
the lock and log the run themselves and set ``RUNLOG_ENABLED`` to false, so the lock is taken
once; a child crawl of ``epaper schedule``/``epaper update`` finds the lock held by its parent
(``EPAPER_LOCK_HELD_BY_PARENT``) and does not take it again.

Settings: ``RUNLOG_ENABLED`` (false in crawler/settings.py, so that a component test's crawler
takes no lock; the add-on :class:`epaper.addon.ConfigAddon` turns it on for every crawl it
configures; false: ``NotConfigured``), ``SNAPSHOT_DIR`` (the archive). When another process holds the lock, the crawl does not start: the extension
raises :class:`ArchiveLocked` (one line naming the holder) before the engine is built, so
nothing is fetched or written, and ``scrapy crawl`` exits with status 1.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from epaper.crawler.ledger import ARCHIVED, NO_ISSUE, Ledger
from epaper.crawler.signals import issue_done
from epaper.lock import LockError, archive_lock
from epaper.runlog import RunLog, RunRecord


class ArchiveLocked(Exception):
    """Another process holds the archive lock; ``str()`` is one line."""


class ArchiveRunExtension:
    """Archive lock and run-log line for ``scrapy crawl``. Settings: RUNLOG_ENABLED, SNAPSHOT_DIR."""

    def __init__(self, crawler: Any, data: Path, command: str):
        self.crawler = crawler
        self.data = data
        self._lock: Any = archive_lock(data, command)
        try:
            self._lock.__enter__()
        except LockError as exc:
            raise ArchiveLocked(f"scrapy crawl epaper: {exc}") from None
        self.record: RunRecord | None = None
        self.command = command
        self.ledger = Ledger.from_crawler(crawler)
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.on_issue_done, issue_done)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)
        crawler.signals.connect(self.release, signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchiveRunExtension:
        if not crawler.settings.getbool("RUNLOG_ENABLED"):
            raise NotConfigured("RUNLOG_ENABLED is off (epaper crawl locks and logs the run itself)")
        args = sys.argv[1:]  # scrapy's command line has taken "crawl" off it by now
        args = args[1:] if args[:1] == ["crawl"] else args
        command = " ".join(["scrapy", "crawl", *map(shlex.quote, args)]) if args else "scrapy crawl epaper"
        return cls(crawler, Path(crawler.settings.get("SNAPSHOT_DIR")), command)

    def spider_opened(self, spider: Any) -> None:
        from epaper.addon import config_from_settings

        tz = config_from_settings(self.crawler.settings).schedule.tzinfo
        self.record = RunLog.start(self.data, self.command, list(self.ledger.dates), tz=tz)

    def on_issue_done(self, date: Any, result: Any) -> None:
        if self.record is None or date in self.record.outcomes:
            return
        if result.status == NO_ISSUE:
            self.record.date_outcome(date, "no_issue")
            return
        if result.status == ARCHIVED:
            status = "archived"
        else:
            status = "failed" if not result.articles and not result.kept_previous else "incomplete"
        self.record.date_outcome(date, status, result.articles, result.pages, result.duplicates,
                                 result.failures, health=result.health, suspect=result.suspect,
                                 media_failures=result.media_failures)

    def spider_closed(self, spider: Any, reason: str = "") -> None:
        record, self.record = self.record, None
        if record is not None:
            record.dates = list(self.ledger.dates)  # --latest: the issue found
            for day in self.ledger.dates:  # anything never settled
                if day not in record.outcomes:
                    self.record = record
                    self.on_issue_done(day, self.ledger.results[day])
                    self.record = None
            if self.ledger.fatal:
                status = 2
            elif self.ledger.error and not self.ledger.dates:
                status = 1
            else:
                status = record.exit_status()
                if status == 0 and any(o.get("suspect") for o in record.outcomes.values()):
                    status = 3  # archived, a date suspect (epaper.pipelines.health)
            record.finish(status)
            self._retain()
            from epaper.addon import config_from_settings
            from epaper.crawl import write_metrics

            write_metrics(self.data, config_from_settings(self.crawler.settings))
        self.release()

    def _retain(self) -> None:
        from epaper.addon import config_from_settings
        from epaper.crawl import retain

        retain(self.data, config_from_settings(self.crawler.settings))

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)
