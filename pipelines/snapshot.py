"""Snapshot pipeline: buffers each issue date's rows and writes its Parquet snapshots.

A date is written once the spider reports it finished (`issue_finished`) and every article
it yielded has come through the pipelines (kept or dropped), in ascending date order, so
that duplicates resolve against every earlier date whatever order responses arrived in.

- complete date: pages and articles snapshots replaced atomically;
- incomplete date: the rows that could be archived are merged with the previous snapshot's
  (nothing archived before is lost) and the date is marked incomplete; a previous complete
  snapshot is never replaced by an incomplete crawl.

Settings: SNAPSHOT_DIR (archive root), DEDUPE_SHINGLE_SIZE, DEDUPE_THRESHOLD,
DEDUPE_MIN_CHARS (near-duplicate rule, see pipelines.dedupe).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
from itemadapter import ItemAdapter
from scrapy import signals

from crawler.spiders.epaper import issue_finished
from pipelines.dedupe import DuplicateIndex
from pipelines.validate import InvalidArticle
from storage import parquet

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
        self.root = Path(settings.get("SNAPSHOT_DIR", "data"))
        self.index_options = dict(
            shingle_size=settings.getint("DEDUPE_SHINGLE_SIZE", 5),
            threshold=settings.getfloat("DEDUPE_THRESHOLD", 0.8),
            min_chars=settings.getint("DEDUPE_MIN_CHARS", 50),
        )
        self.index: DuplicateIndex | None = None
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

    def process_item(self, item):
        adapter = ItemAdapter(item)
        row = adapter.asdict()
        day = row.pop("issue_date")
        if "body" in adapter:
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
            if previous is not None and previous.error is None:
                articles = _merge(articles, parquet.read_snapshot(self.root, "articles", day), "article_id")
                pages = _merge(pages, parquet.read_snapshot(self.root, "pages", day), "page_no")
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
        parquet.write_snapshot(self.root, "pages", day, pages, info)
        parquet.write_snapshot(self.root, "articles", day, articles, info)
        self.index.commit()
        self.crawler.stats.inc_value("epaper/snapshots_written")

    def close_spider(self):
        pending = [d for d in self.spider.dates if d not in self.written]
        for day in pending:
            outcome = self.spider.outcomes[day]
            if outcome.status == "pending":
                outcome.status = "incomplete"
                if not outcome.failures:
                    outcome.fail(self.spider.root, "crawl stopped before the issue was finished")
            self.crawler.signals.send_catch_log(issue_flushing, date=day, keep=False)
            self.crawler.signals.send_catch_log(issue_done, date=day, outcome=outcome)

