"""Capture of the pages as printed: page PDFs, page scans and article images, into the date's WARC.

MediaCaptureMiddleware (a spider middleware next to the spider) reads the URLs from what the
parse yields, never from the markup: a page row's `pdf_url` (kind `pdf`) and `image_url`
(`scan`), an article row's `images[].url` (`images`). Each becomes one GET for the row's date,
counted in the crawl's ledger like the date's other requests, so the date is written (and its
WARC file committed) only once every media request is answered. The WARC writer keeps the
answer as it keeps pages (request + response records, or a revisit when the date holds the
payload already; a 304 to the conditional request is a revisit too).

What a media file is not: a page. Its failure (404, 5xx after the retries, a body cut short of
its Content-Length, one larger than MEDIA_MAXSIZE) does not make the date incomplete: broken
image links are common on real portals and would keep a date incomplete, and re-crawled, for
ever. It is logged with the URL and reason, counted (`epaper/media/failed`) and listed with the
date's result (`DateResult.media_failures`: the run's summary line and the run log).

A URL is requested once per crawl (Scrapy's dupe filter: a logo shared by two dates is in the
first date's WARC only), only on the portal's origin (scheme, host and port, crawler.origin:
others are not requested, counted as `epaper/media/offsite` and listed with the date's media
failures, as is a media request the portal redirects off its origin), at the crawl's pace. Nothing is requested when
replaying (`epaper reparse` rebuilds the rows from the pages; the media are not parsed) or
without WARC_ENABLED (the media have nowhere to go).

Settings: MEDIA_CAPTURE (kinds among pdf, scan, images; default [] = off), MEDIA_MAXSIZE (the
largest media body, bytes; below WARC_RECORD_MAXSIZE so that every capture replays),
WARC_ENABLED, WARC_REPLAY_DIR, WARC_RECORD_MAXSIZE.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterator

import scrapy
from scrapy.exceptions import NotConfigured

from epaper.crawler.arguments import check_media_maxsize, media_kinds
from epaper.crawler.items import ArticleItem, PageItem
from epaper.crawler.ledger import Ledger
from epaper.crawler.middlewares import incompleteness
from epaper.crawler.origin import refusal, same_origin
from epaper.crawler.spiders.epaper import failure_reason

log = logging.getLogger(__name__)


def media_urls(item, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """(kind, URL) of the media a yielded row names, in the row's order."""
    if isinstance(item, PageItem):
        named = [("pdf", item.pdf_url), ("scan", item.image_url)]
    elif isinstance(item, ArticleItem):
        named = [("images", (image or {}).get("url")) for image in item.images]
    else:
        return []
    return [(kind, url.strip()) for kind, url in named if kind in kinds and url and url.strip()]


class MediaCaptureMiddleware:
    """Spider middleware (priority 950, next to the spider): a media request for each media URL
    the parse yields. Settings: MEDIA_CAPTURE, MEDIA_MAXSIZE; off when replaying or without WARC."""

    def __init__(self, crawler):
        settings = crawler.settings
        try:
            kinds = media_kinds(settings.getlist("MEDIA_CAPTURE"))
        except ValueError as exc:
            raise ValueError(f"MEDIA_CAPTURE: {exc}") from None
        if not kinds or not settings.getbool("WARC_ENABLED") or settings.get("WARC_REPLAY_DIR"):
            raise NotConfigured
        self.kinds = kinds
        self.maxsize = settings.getint("MEDIA_MAXSIZE")
        check_media_maxsize(self.maxsize, settings.getint("WARC_RECORD_MAXSIZE"))
        self.crawler = crawler
        self.stats = crawler.stats
        self.ledger = Ledger.from_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_spider_output(self, response, result, spider=None) -> Iterator:
        for out in result:
            yield out
            yield from self._requests(out)

    async def process_spider_output_async(self, response, result, spider=None) -> AsyncIterator:
        async for out in result:
            yield out
            for request in self._requests(out):
                yield request

    def _requests(self, item) -> Iterator[scrapy.Request]:
        urls = media_urls(item, self.kinds)
        if not urls:
            return
        day = item.issue_date
        rank = self.ledger.dates.index(day) if day in self.ledger.dates else 0
        root = getattr(self.crawler.spider, "root", "")
        for kind, url in urls:
            if not same_origin(url, root):  # as the downloader's offsite rule, never requested
                self.stats.inc_value("epaper/media/offsite")
                self._record_failure([day], url, kind, refusal(url, root))
                continue
            self.ledger.sent([day])
            self.stats.inc_value("epaper/media/requested")
            # After the date's pages and articles (the spider's stages 1-3 rank above), before the next date's.
            yield scrapy.Request(url, callback=self._answered, errback=self._failed, priority=-rank * 10,
                                 meta={"issue_dates": [day], "media": kind, "download_maxsize": self.maxsize,
                                       "download_warnsize": self.maxsize})

    def _answered(self, response) -> list:
        meta = response.meta
        why = incompleteness(response.request, response)
        if why is not None:  # a short body is never kept (the WARC writer refuses it too)
            self._record_failure(meta["issue_dates"], response.url, meta["media"], why)
        else:
            self.stats.inc_value(f"epaper/media/captured/{meta['media']}")
            self.stats.inc_value("epaper/media/bytes", len(response.body))
        self.ledger.answered(meta["issue_dates"])
        return []

    def _failed(self, failure) -> list:
        request = failure.request
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        self._record_failure(request.meta["issue_dates"], url, request.meta["media"],
                             failure_reason(failure, self.maxsize, "MEDIA_MAXSIZE"))
        self.ledger.answered(request.meta["issue_dates"])
        return []

    def _record_failure(self, dates: list[dt.date], url: str, kind: str, reason: str) -> None:
        log.warning("%s: media (%s) not captured: %s: %s", ", ".join(map(str, dates)), kind, url, reason)
        self.stats.inc_value("epaper/media/failed")
        for day in dates:
            self.ledger.media_failed(day, url, f"{kind}: {reason}")
