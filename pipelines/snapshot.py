"""Snapshot pipeline: collects each issue date's rows and hands them to the archive.

A date is written when the crawl's ledger releases it (`issue_ready`: every request and item
of the date settled, dates in ascending order). The pipeline hands the date's rows to
`storage.archive.Archive.write`, which applies the archive's rules (never less, revisions,
removals, duplicates, health) and writes it, then settles the date in the ledger with what
was written. Every failed URL of an unfinished date is logged with its reason.

A history replay (`epaper reparse`, WARC_REPLAY_DIR with WARC_REPLAY_CRAWL k) writes
the date as its k-th crawl left it into the archive's scratch `.reparse/`, then the newest
captures into the archive (see `storage.archive`).

Settings: SNAPSHOT_DIR (archive root), DEDUPE_SHINGLE_SIZE, DEDUPE_THRESHOLD,
DEDUPE_MIN_CHARS (near-duplicate rule, see storage.dedupe), SNAPSHOT_INDEX_COMMIT_EVERY
(dates between saves of the dedupe index, default 30; it is also saved at the end of the run
and repaired from the snapshots after a crash), SNAPSHOT_COMPACT (default true: refresh the
per-year copy of `storage.compact` at the end of the run), SNAPSHOT_PAUSE_AT and
SNAPSHOT_PAUSE_SECONDS (crash tests only, `storage.archive.PauseAt`), SNAPSHOT_PUBLISH (an
s3:// archive's publisher, `epaper.remote`: each date's files are published once written, a
failure to publish fails the date). HEALTH_*
(pipelines.health.Thresholds): each snapshot's footer records the date's extraction health,
and the changes that make it suspect against the archive's recent complete issues.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from itemadapter import ItemAdapter
from twisted.python.failure import Failure

from epaper.crawler.captures import CaptureIndex, ReplaySession
from epaper.crawler.items import ArticleItem
from epaper.crawler.ledger import NO_ISSUE, Ledger
from epaper.crawler.signals import issue_ready, issue_writing
from epaper.pipelines import health
from epaper.storage.archive import Archive, Batch, PauseAt, Written

log = logging.getLogger(__name__)


class HealthCheck:
    """`storage.archive.Health` by `pipelines.health`'s rules and the HEALTH_* thresholds."""

    def __init__(self, thresholds: health.Thresholds):
        self.thresholds = thresholds
        self.history = thresholds.history

    def summarize(self, articles: Sequence[Mapping[str, Any]], sources: Sequence[Mapping[str, Any]],
                  pages: int) -> dict:
        return health.summarize(articles, sources, pages)

    def judge(self, day: dt.date, summary: Mapping[str, Any],
              recent: Sequence[tuple[dt.date, Mapping[str, Any]]]) -> list[str]:
        return health.judge(summary, health.recent_history(recent), self.thresholds, day=day)


class SnapshotPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.replay = ReplaySession.from_crawler(crawler) if settings.get("WARC_REPLAY_DIR") else None
        replayed_crawl = settings.getint("WARC_REPLAY_CRAWL") if self.replay else 0
        # A bad value stops the crawl before it starts.
        self.archive = Archive(
            settings.get("SNAPSHOT_DIR"), settings.get("EPAPER_SOURCE"),
            index_options={"shingle_size": settings.getint("DEDUPE_SHINGLE_SIZE"),
                           "threshold": settings.getfloat("DEDUPE_THRESHOLD"),
                           "min_chars": settings.getint("DEDUPE_MIN_CHARS")},
            health=HealthCheck(health.Thresholds.from_settings(settings)),
            commit_every=settings.getint("SNAPSHOT_INDEX_COMMIT_EVERY"),
            replayed_crawl=replayed_crawl, replay=self.replay is not None,
            pause=PauseAt(settings.get("SNAPSHOT_PAUSE_AT"), settings.getfloat("SNAPSHOT_PAUSE_SECONDS")))
        self.compact = settings.getbool("SNAPSHOT_COMPACT")
        self.publish = settings.get("SNAPSHOT_PUBLISH")
        self.articles: dict[dt.date, list[dict]] = defaultdict(list)
        self.pages: dict[dt.date, list[dict]] = defaultdict(list)
        self.sources: dict[dt.date, list[dict]] = defaultdict(list)  # each article's field sources
        self.ledger = Ledger.from_crawler(crawler)
        self.captures = CaptureIndex.from_crawler(crawler) if settings.getbool("WARC_ENABLED") else None
        crawler.signals.connect(self.on_issue_ready, issue_ready)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        row = dict(ItemAdapter(item).items())  # shallow: asdict() walks every value for nested items
        day = row.pop("issue_date")
        if isinstance(item, ArticleItem):
            self.sources[day].append(row.pop("sources", None) or {})  # counted, not a column
        (self.articles if isinstance(item, ArticleItem) else self.pages)[day].append(row)
        return item

    def _digest(self):
        """The payload digest of a WARC record of a date, by record id."""
        if self.replay:  # the digests of every record of the date's crawls replayed so far
            replay = self.replay
            return lambda day, record_id: replay.history(day).captures.digests.get(record_id or "")
        if self.captures is not None:
            return self.captures.digest_of
        return lambda day, record_id: None

    def on_issue_ready(self, date):
        result = self.ledger.results[date]
        batch = Batch(date, self.articles.pop(date, []), self.pages.pop(date, []), self.sources.pop(date, []),
                      failures=list(result.failures), no_issue=result.status == NO_ISSUE,
                      unchanged=result.unchanged, root_url=self.ledger.root, digest=self._digest())
        known = len(batch.failures)
        written = None
        try:
            written = self.archive.write(batch, lambda keep: self._writing(date, keep))
            if self.publish is not None and not self.archive.replayed_crawl:  # a history's scratch stays local
                self.publish(self.archive.source, date)
        except Exception as exc:  # OSError, ArrowInvalid (a value its column cannot hold), …: never "archived"
            log.error("cannot write the snapshot of %s: %s", date, exc, exc_info=not isinstance(exc, OSError))
            batch.failures.append({"url": str(self.archive.root), "reason": f"write failed: {type(exc).__name__}: {exc}"})
        found = batch.failures[known:]  # what the archive found missing, or could not write
        if result.status == NO_ISSUE and not batch.no_issue:  # an archived issue the portal no longer serves
            self.ledger.withdrawn(date, **found.pop(0))
        for failure in found:
            self.ledger.fail(date, **failure)
        if self.replay and not self.archive.replayed_crawl:  # written from its newest captures: its history is done
            self.replay.forget(date)
        if written is not None:
            self._count(date, written)
        result = self.ledger.settle(date, **(written.settled() if written else {}))
        for failure in result.failures:
            log.error("%s %s: %s failed: %s", date, result.status, failure["url"], failure["reason"])

    def _writing(self, date: dt.date, keep: bool) -> None:
        """issue_writing; a handler that failed while the snapshot is to be kept (its WARC file
        not committed: the rows would name a file that does not exist) fails the write."""
        for _receiver, result in self.crawler.signals.send_catch_log(issue_writing, date=date, keep=keep):
            if keep and isinstance(result, Failure):
                raise OSError(f"raw capture not kept: {result.getErrorMessage()}")

    def _count(self, date: dt.date, written: Written) -> None:
        stats = self.crawler.stats
        if written.bytes_written:
            stats.inc_value("epaper/bytes_written", written.bytes_written)
            stats.inc_value("epaper/snapshots_written")
        if written.suspect:
            stats.inc_value("epaper/health/suspect_dates")
            log.warning("%s suspect: %s", date, "; ".join(written.suspect))
        if written.revised:
            stats.inc_value("epaper/revised", written.revised)
        if written.unlinked:
            stats.inc_value("epaper/kept/unlinked_articles", written.unlinked)

    def close_spider(self):
        self.archive.close(refresh_compact=self.compact and not self.ledger.fatal)
