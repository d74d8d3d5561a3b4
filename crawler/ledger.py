"""The crawl's ledger: what each issue date still waits for, and how it ended.

One ledger per crawl: `Ledger.from_crawler` returns the same object to every component of a
crawler (spider, pipelines, middlewares, the CLI's reporter), so a date's progress and result
live in one place and no component touches another's attributes.

- The spider reports its requests (`sent`, `answered`), the items it yields (`found`), what
  failed (`fail`) and dates without an issue (`no_issue`: final once the date is over in the
  portal's zone, EPAPER_TIMEZONE; see crawler.outcome); the media capture its requests and
  the media it could not capture (`media_failed`, which leaves the date complete).
- Items settle through Scrapy's item signals: a date is *ready* once every request is
  answered and every item it yielded went through the pipelines (kept or dropped). Ready
  dates are released in ascending order (`issue_ready`), so that duplicates resolve against
  every earlier date whatever order responses arrived in.
- The snapshot pipeline closes a date with `settle` (what it wrote), which sends `issue_done`.
- At `spider_closed` every date still open ends incomplete: "crawl stopped before the issue
  was finished".
"""
from __future__ import annotations

import datetime as dt
import weakref
from pathlib import Path
from dataclasses import dataclass, field

from scrapy import signals

from epaper.crawler import signals as epaper_signals

from epaper.crawler.outcome import (ARCHIVED, INCOMPLETE, NO_ISSUE, NO_ISSUE_YET, NO_ISSUES,  # noqa: F401
                                    NOT_YET_PUBLISHED, PENDING)


@dataclass
class DateResult:
    """How one issue date ended in this run."""

    date: dt.date
    status: str = PENDING  # pending | archived | no_issue | no_issue_yet | not_yet_published | incomplete (crawler.outcome)
    failures: list[dict] = field(default_factory=list)  # {"url", "reason"}, in the order they happened
    pages: int = 0  # page rows in the snapshot written
    articles: int = 0  # article rows in the snapshot written
    duplicates: int = 0
    kept_previous: bool = False  # incomplete crawl: the previous complete snapshot stays
    health: dict | None = None  # the snapshot's extraction health (pipelines.health)
    suspect: list[str] = field(default_factory=list)  # its sharp changes against the archive's history
    unchanged: bool = False  # --latest: the issue is archived complete already; nothing fetched
    revised: int = 0  # articles whose archived fields changed (earlier versions kept in revisions/)
    gone: int = 0  # articles this complete crawl no longer found (kept, marked gone_since)
    # {"url", "reason"} of page PDFs, scans and images not captured (crawler.media): reported,
    # but the date is not incomplete for them
    media_failures: list[dict] = field(default_factory=list)


@dataclass
class _Progress:
    requests: int = 0  # sent, not yet answered
    items: int = 0  # yielded by the spider, not yet through the pipelines
    crawled: bool = False  # every request answered once
    released: bool = False  # issue_ready sent
    done: bool = False  # issue_done sent


_LEDGERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _zone(name: object) -> dt.tzinfo:
    """EPAPER_TIMEZONE as a zone (the add-on sets it from schedule.timezone)."""
    from zoneinfo import ZoneInfo

    return ZoneInfo(str(name or "Asia/Shanghai"))


class Ledger:
    def __init__(self, crawler):
        self.crawler = crawler
        self.root = ""  # the e-paper root and the portal id of this crawl (set by the spider)
        self.source = ""
        self.dates: list[dt.date] = []  # asked for, ascending (--latest: once the issue is known)
        self.results: dict[dt.date, DateResult] = {}
        self._progress: dict[dt.date, _Progress] = {}
        self.fatal: str | None = None  # no e-paper at the root: a usage error (exit 2), no date reported
        self.error: str | None = None  # a failure before any date was known (--latest)
        self.tz = _zone(crawler.settings.get("EPAPER_TIMEZONE"))  # where the portal's day ends
        self.archive = crawler.settings.get("SNAPSHOT_DIR")
        crawler.signals.connect(self._item_settled, signals.item_scraped)
        crawler.signals.connect(self._item_dropped, signals.item_dropped)
        crawler.signals.connect(self._item_error, signals.item_error)
        crawler.signals.connect(self._request_dropped, signals.request_dropped)
        crawler.signals.connect(self._closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler) -> Ledger:
        ledger = _LEDGERS.get(crawler)
        if ledger is None:
            ledger = _LEDGERS[crawler] = cls(crawler)
        return ledger

    # ------------------------------------------------------------ the spider's side

    def start(self, root: str, source: str, dates: list[dt.date]) -> None:
        self.root, self.source = root, source
        self.expect(dates)

    def expect(self, dates: list[dt.date]) -> None:
        for d in dates:
            if d not in self.results:
                self.results[d] = DateResult(d)
                self._progress[d] = _Progress()
        self.dates = sorted(self.results)

    def sent(self, dates: list[dt.date]) -> None:
        for d in dates:
            if d in self._progress:
                self._progress[d].requests += 1

    def answered(self, dates: list[dt.date]) -> None:
        for d in dates:
            progress = self._progress.get(d)
            if progress is None:
                continue
            progress.requests -= 1
            if progress.requests == 0:
                progress.crawled = True
        self._release()

    def found(self, date: dt.date) -> None:
        """The spider yielded an item of this date: its snapshot waits for it."""
        self._progress[date].items += 1

    def fail(self, date: dt.date, url: str, reason: str) -> None:
        self.results[date].failures.append({"url": url, "reason": reason})

    def media_failed(self, date: dt.date, url: str, reason: str) -> None:
        """A page PDF, scan or image was not captured: listed with the date, not a failure of it."""
        self.results[date].media_failures.append({"url": url, "reason": reason})

    def no_issue(self, date: dt.date) -> None:
        """The portal has no issue of this date: final once the date is over in the portal's
        zone; before that (today, or a date to come) not final, and so nothing of it is kept
        (crawler.outcome) — unless the archive holds the date, which is then withdrawn."""
        today = dt.datetime.now(self.tz).date()
        status = NO_ISSUE if date < today else NO_ISSUE_YET if date == today else NOT_YET_PUBLISHED
        if status != NO_ISSUE and self._archived(date):
            status = NO_ISSUE  # the snapshot pipeline reports it as withdrawn, with its calendar kept
        self.results[date].status = status

    def _archived(self, date: dt.date) -> bool:
        from epaper.storage.parquet import has_snapshot

        try:
            return bool(self.archive) and has_snapshot(Path(self.archive), self.source, date)
        except OSError:
            return True  # unsure: the snapshot pipeline's way, which never empties a date

    def already_archived(self, date: dt.date) -> None:
        """--latest found an issue archived complete: nothing of it is fetched (its snapshot
        stays as it is), and the date is released at once."""
        self.results[date].unchanged = True
        self._progress[date].crawled = True
        self._release()

    def withdrawn(self, date: dt.date, url: str, reason: str) -> None:
        """The portal no longer serves a date the archive holds: not "no issue" (the snapshot
        stays untouched), a failure with the reason."""
        result = self.results[date]
        if result.status in NO_ISSUES:
            result.status = PENDING
        self.fail(date, url, reason)

    def set_fatal(self, message: str) -> None:
        self.fatal = message

    # ------------------------------------------------------------ the snapshot pipeline's side

    def settle(self, date: dt.date, *, pages: int = 0, articles: int = 0, duplicates: int = 0,
               kept_previous: bool = False, health: dict | None = None, suspect: list[str] | None = None,
               revised: int = 0, gone: int = 0) -> DateResult:
        """The date's snapshot is written (or not): record what was written, send issue_done."""
        result = self.results[date]
        if result.status not in NO_ISSUES or (result.failures and result.status != NO_ISSUE):
            result.status = INCOMPLETE if result.failures else ARCHIVED
        result.pages, result.articles, result.duplicates = pages, articles, duplicates
        result.kept_previous = kept_previous
        result.health, result.suspect = health, list(suspect or [])
        result.revised, result.gone = revised, gone
        self._finish(date)
        return result

    def open_dates(self) -> list[dt.date]:
        return [d for d in self.dates if not self._progress[d].done]

    # ------------------------------------------------------------ internals

    def _finish(self, date: dt.date) -> None:
        self._progress[date].done = True
        if not self.fatal:  # no e-paper there: one usage error, not a line per date
            self.crawler.signals.send_catch_log(epaper_signals.issue_done, date=date, result=self.results[date])

    def _release(self) -> None:
        if self.fatal:
            return
        for d in self.dates:
            progress = self._progress[d]
            if progress.released:
                continue
            if not progress.crawled or progress.items:
                return
            progress.released = True
            self.crawler.signals.send_catch_log(epaper_signals.issue_ready, date=d)

    def _settle_item(self, item) -> None:
        date = getattr(item, "issue_date", None)
        if date in self._progress:
            self._progress[date].items -= 1
            self._release()

    def _item_settled(self, item, response=None, spider=None) -> None:
        self._settle_item(item)

    def _item_dropped(self, item, response=None, exception=None, spider=None) -> None:
        # A pipeline that drops an item as a failure records it with `fail` itself.
        self._settle_item(item)

    def _item_error(self, item, response=None, spider=None, failure=None) -> None:
        self.fail(item.issue_date, item.url, f"pipeline error: {failure.value!r}")
        self._settle_item(item)

    def _request_dropped(self, request, spider=None) -> None:
        # The dupe filter's: the same URL was asked for already in this crawl (and is archived
        # with the date that asked first), so the date does not wait for it. Unless a redirect
        # led there: then what was asked for (a page, an article) was never served.
        chain = request.meta.get("redirect_urls")
        if chain:
            hops = " -> ".join([*chain, request.url])
            for d in request.meta.get("issue_dates", []):
                if d in self.results:
                    self.fail(d, chain[0], f"redirected to a URL this crawl already asked for ({hops}): "
                                           "a redirect loop, or another page served in its place")
        self.answered(request.meta.get("issue_dates", []))

    def _closed(self, spider=None, reason=None) -> None:
        for d in self.open_dates():
            result = self.results[d]
            if result.status == PENDING:
                result.status = INCOMPLETE
                if not result.failures:
                    self.fail(d, self.root, "crawl stopped before the issue was finished")
            self._finish(d)
