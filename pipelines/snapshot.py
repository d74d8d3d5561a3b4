"""Snapshot pipeline: buffers each issue date's rows and writes its Parquet snapshots.

A date is written once the spider reports it finished (`issue_finished`) and every article
it yielded has come through the pipelines (kept or dropped), in ascending date order, so
that duplicates resolve against every earlier date whatever order responses arrived in.

- complete date: pages and articles snapshots replaced atomically;
- incomplete date: the rows that could be archived are merged with the previous snapshot's
  (nothing archived before is lost) and the date is marked incomplete; a previous complete
  snapshot is never replaced by an incomplete crawl.

A previous snapshot that is damaged (not valid Parquet) is replaced, never merged; every
failed URL of an unfinished date is logged with its reason.

Settings: SNAPSHOT_DIR (archive root), DEDUPE_SHINGLE_SIZE, DEDUPE_THRESHOLD,
DEDUPE_MIN_CHARS (near-duplicate rule, see pipelines.dedupe), SNAPSHOT_INDEX_COMMIT_EVERY
(dates between saves of the dedupe index, default 30; it is also saved at the end of the run
and repaired from the snapshots after a crash), SNAPSHOT_COMPACT (default true: refresh the
per-year copy of `storage.compact` at the end of the run), SNAPSHOT_PAUSE_AT and
SNAPSHOT_PAUSE_SECONDS (crash tests only: "write:N", "rename:N" or "renamed:N" holds the
Nth snapshot file of the run at that point, so that a test can kill the process there).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
from itemadapter import ItemAdapter
from scrapy import signals

from epaper.crawler.spiders.epaper import issue_finished
from epaper.pipelines.dedupe import DuplicateIndex
from epaper.pipelines.validate import InvalidArticle
from epaper.storage import compact, parquet

log = logging.getLogger(__name__)

issue_flushing = object()  # signal(date, keep: bool): the date's snapshot is (not) about to be written
issue_done = object()  # signal(date, outcome): the date is settled for this run (written or not)


def _merge(new: list[dict], old: pa.Table | None, key: str) -> list[dict]:
    if old is None:
        return new
    have = {row[key] for row in new}
    return new + [row for row in old.to_pylist() if row[key] not in have]


class SnapshotPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.root = Path(settings.get("SNAPSHOT_DIR"))
        self.index_options = dict(
            shingle_size=settings.getint("DEDUPE_SHINGLE_SIZE"),
            threshold=settings.getfloat("DEDUPE_THRESHOLD"),
            min_chars=settings.getint("DEDUPE_MIN_CHARS"),
        )
        self.index: DuplicateIndex | None = None
        # The index file is rewritten whole on commit (0.8 s at 500,000 articles), so not per date.
        self.commit_every = settings.getint("SNAPSHOT_INDEX_COMMIT_EVERY")
        self.uncommitted = 0
        self.compact = settings.getbool("SNAPSHOT_COMPACT")
        stage, _, nth = settings.get("SNAPSHOT_PAUSE_AT").partition(":")
        if stage not in ("", "write", "rename", "renamed") or (nth and not nth.isdigit()):
            raise ValueError(f"SNAPSHOT_PAUSE_AT must be write:N, rename:N or renamed:N, got {stage}:{nth}")
        self.pause_stage, self.pause_nth = stage, int(nth or 1)
        self.pause_seconds = settings.getfloat("SNAPSHOT_PAUSE_SECONDS")
        self.files_started = 0
        self.articles: dict[dt.date, list[dict]] = defaultdict(list)
        self.pages: dict[dt.date, list[dict]] = defaultdict(list)
        self.seen: dict[dt.date, int] = defaultdict(int)  # articles through the pipelines, kept or dropped
        self.finished: set[dt.date] = set()
        self.written: set[dt.date] = set()
        crawler.signals.connect(self.on_issue_finished, issue_finished)
        crawler.signals.connect(self.on_item_dropped, signals.item_dropped)
        crawler.signals.connect(self.on_item_dropped, signals.item_error)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def spider(self):
        return self.crawler.spider

    def _pause(self, stage: str, path: Path) -> None:
        if stage == "write":
            self.files_started += 1
        if stage == self.pause_stage and self.files_started == self.pause_nth:
            log.warning("SNAPSHOT_PAUSE_AT: holding snapshot file %d (%s) at %s", self.files_started, path, stage)
            for handler in logging.getLogger().handlers:
                handler.flush()
            time.sleep(self.pause_seconds)

    def process_item(self, item):
        row = dict(ItemAdapter(item).items())  # shallow: asdict() walks every value for nested items
        day = row.pop("issue_date")
        if "body" in row:
            self.articles[day].append(row)
            self.seen[day] += 1
            self._flush_ready()
        else:
            self.pages[day].append(row)
        return item

    def on_item_dropped(self, item, response=None, exception=None, spider=None, failure=None):
        adapter = ItemAdapter(item)
        if "body" not in adapter:
            return
        day = adapter["issue_date"]
        error = exception if exception is not None else getattr(failure, "value", None)
        outcome = self.spider.outcomes.get(day)
        if outcome is not None and isinstance(error, InvalidArticle):
            outcome.fail(adapter["url"], error.reason)
        elif outcome is not None and failure is not None:
            outcome.fail(adapter["url"], f"pipeline error: {error!r}")
        # other drops (a second link to an archived article) are not failures
        self.seen[day] += 1
        self._flush_ready()

    def on_issue_finished(self, date, outcome):
        self.finished.add(date)
        self._flush_ready()

    def _flush_ready(self) -> None:
        for day in self.spider.dates:
            if day in self.written:
                continue
            outcome = self.spider.outcomes[day]
            if day not in self.finished or self.seen[day] < outcome.articles:
                return
            self.written.add(day)
            try:
                self._flush(day, outcome)
            except OSError as exc:
                log.error("cannot write the snapshot of %s: %s", day, exc)
                outcome.fail(str(self.root), f"write failed: {exc}")
                outcome.status = "incomplete"
            self.articles.pop(day, None)
            self.pages.pop(day, None)
            for failure in outcome.failures:
                log.error("%s %s: %s failed: %s", day, outcome.status, failure["url"], failure["reason"])
            self.crawler.signals.send_catch_log(issue_done, date=day, outcome=outcome)

    def _flush(self, day: dt.date, outcome) -> None:
        if outcome.status == "no_issue":  # its WARC keeps the calendar that says so
            self.crawler.signals.send_catch_log(issue_flushing, date=day, keep=True)
            return
        if outcome.failures:
            outcome.status = "incomplete"
        articles = sorted(self.articles.get(day, []), key=lambda r: (r["page_index"], r["position"]))
        pages = sorted(self.pages.get(day, []), key=lambda r: r["page_index"])
        complete = outcome.status == "archived"
        if not complete:
            previous = parquet.snapshot_info(self.root, day) if day in parquet.archived_dates(self.root) else None
            if previous is not None and previous.complete and previous.error is None:
                log.warning("%s: incomplete crawl, keeping the previous complete snapshot", day)
                self.crawler.signals.send_catch_log(issue_flushing, date=day, keep=False)
                outcome.kept_previous = True
                return
            if previous is not None:
                articles = _merge(articles, self._previous("articles", day), "article_id")
                pages = _merge(pages, self._previous("pages", day), "page_no")
                articles.sort(key=lambda r: (r["page_index"], r["position"]))
                pages.sort(key=lambda r: r["page_index"])
            if not articles and not pages:  # nothing to keep: no snapshot rather than an empty one
                self.crawler.signals.send_catch_log(issue_flushing, date=day, keep=False)
                return
        per_page: dict[int, int] = defaultdict(int)
        for row in articles:
            per_page[row["page_index"]] += 1
        for page in pages:  # articles archived under the page (an article on two pages counts on the first)
            page["article_count"] = per_page[page["page_index"]]
        if self.index is None:
            self.index = DuplicateIndex.open(self.root, **self.index_options)
        self.index.resolve(day, articles)
        outcome.duplicates = sum(1 for r in articles if r.get("duplicate_of"))
        outcome.pages, outcome.written = len(pages), len(articles)
        self.crawler.signals.send_catch_log(issue_flushing, date=day, keep=True)
        crawled = max((r["crawled_at"] for r in articles), default=None)
        info = {
            "complete": complete,
            "failures": outcome.failures,
            "pages": len(pages),
            "duplicates": outcome.duplicates,
            "crawled_at": crawled.isoformat() if crawled else dt.datetime.now(dt.timezone.utc).isoformat(),
            "source": self.spider.source,
        }
        parquet.write_snapshot(self.root, "pages", day, pages, info, pause=self._pause)
        parquet.write_snapshot(self.root, "articles", day, articles, info, pause=self._pause)
        self.crawler.stats.inc_value("epaper/snapshots_written")
        self.uncommitted += 1
        if self.uncommitted >= self.commit_every:
            self._commit()

    def _commit(self) -> None:
        """Persist the dedupe index; a crash before this only costs a repair at the next open."""
        if self.index is not None and self.uncommitted:
            self.index.commit()
            parquet.write_common_metadata(self.root)
            self.uncommitted = 0

    def _previous(self, dataset: str, day: dt.date) -> pa.Table | None:
        """The date's previous snapshot to merge with, or None when absent or damaged (then replaced)."""
        try:
            return parquet.read_snapshot(self.root, dataset, day)
        except (OSError, pa.ArrowException) as exc:
            log.warning("%s: the previous %s snapshot is damaged and will be replaced: %s", day, dataset, exc)
            return None

    def close_spider(self):
        self._commit()
        pending = [d for d in self.spider.dates if d not in self.written]
        for day in pending:
            outcome = self.spider.outcomes[day]
            if outcome.status == "pending":
                outcome.status = "incomplete"
                if not outcome.failures:
                    outcome.fail(self.spider.root, "crawl stopped before the issue was finished")
            self.crawler.signals.send_catch_log(issue_flushing, date=day, keep=False)
            if not self.spider.fatal:  # no e-paper there: one usage error, not a line per date
                self.crawler.signals.send_catch_log(issue_done, date=day, outcome=outcome)
        if self.compact and not self.spider.fatal:
            try:
                compact.refresh(self.root)
            except (OSError, pa.ArrowException) as exc:  # derived data: the next run retries
                log.error("the compacted copy under %s was not refreshed: %s", self.root / compact.COMPACT, exc)

