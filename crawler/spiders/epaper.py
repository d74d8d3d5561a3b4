"""The `epaper` spider: month calendar → the day's pages (版面) → articles, for each issue date.

Arguments (`-a`): `base_url` (the e-paper root), and `date=YYYY-MM-DD`, or `start`/`end`
(inclusive), or `latest=1`; `layout` (auto | pc | html) overrides the EPAPER_LAYOUT setting.

A date ends as "archived", "no_issue" or "incomplete" (with the failed URLs and reasons);
the spider sends the `issue_finished` signal once every request of the date is answered.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import TimeoutError as TxTimeoutError

from epaper.crawler import founder, founder_article
from epaper.crawler.items import ArticleItem, PageItem

issue_finished = object()  # signal(date, outcome)


def article_id(source: str, url: str, root: str) -> str:
    """Stable id: the portal id and the URL's path below the e-paper root (host-independent)."""
    rel = url[len(root):] if url.startswith(root) else urlsplit(url).path.lstrip("/")
    return hashlib.sha1(f"{source}:{rel}".encode()).hexdigest()[:20]


def parse_date_arg(text: str) -> dt.date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}")
    return dt.date.fromisoformat(text)


def plausible_issue_date(day: dt.date) -> bool:
    """A date read from a page (the latest issue's URL) is only used when it could be real."""
    return dt.date(1900, 1, 1) <= day <= dt.date.today() + dt.timedelta(days=2)


@dataclass
class Outcome:
    status: str = "pending"  # pending | archived | no_issue | incomplete
    failures: list[dict] = field(default_factory=list)
    pages: int = 0
    articles: int = 0
    duplicates: int = 0
    outstanding: int = 0
    page_results: dict[int, founder.Page | None] = field(default_factory=dict)
    page_count: int = 0
    labels: dict[str, tuple] = field(default_factory=dict)
    written: int = 0  # rows in the snapshot written
    kept_previous: bool = False  # incomplete crawl; the previous complete snapshot stays

    def fail(self, url: str, reason: str) -> None:
        self.failures.append({"url": url, "reason": reason})


_MAXSIZE = re.compile(r"(\d+) bytes which is larger than download max size \((\d+)\)")


def failure_reason(failure) -> str:
    """One readable phrase for why a request failed (the URL is reported next to it)."""
    exc = failure.value
    name = type(exc).__name__
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        return str(exc) or "request ignored"
    if isinstance(exc, TxTimeoutError) or "Timeout" in name:
        return "timeout"
    text = str(exc)
    if name == "ResponseDataLossError" or "DataLoss" in text:
        return "truncated response (connection closed before the announced length)"
    if name == "DownloadCancelledError" and _MAXSIZE.search(text):
        size, limit = _MAXSIZE.search(text).groups()
        return f"response too large ({int(size):,} bytes, limit {int(limit):,})"
    if "ConnectionLost" in text or "ConnectionLost" in name or "ConnectionDone" in name:
        return "connection lost before a complete response"
    if name in ("DownloadConnectionRefusedError", "ConnectionRefusedError"):
        return "connection refused"
    if name in ("CannotResolveHostError", "DNSLookupError"):
        return "host name not found"
    lines = text.strip().splitlines()
    return f"{name}: {lines[0][:200]}" if lines else name


class EpaperSpider(scrapy.Spider):
    name = "epaper"

    def __init__(self, base_url: str = "", date: str | None = None, start: str | None = None,
                 end: str | None = None, latest: str | None = None, layout: str | None = None,
                 *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not base_url or urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.root = base_url if base_url.endswith("/") else base_url + "/"
        self.allowed_domains = [urlsplit(self.root).hostname]
        self.latest = bool(latest) and latest not in ("0", "false", "no")
        if date:
            self.dates = [parse_date_arg(date)]
        elif start or end:
            first, last = parse_date_arg(start or end), parse_date_arg(end or start)
            if first > last:
                raise ValueError(f"start {first} is after end {last}")
            self.dates = [first + dt.timedelta(d) for d in range((last - first).days + 1)]
        elif self.latest:
            self.dates = []
        else:
            raise ValueError("give date=, start=/end= or latest=1")
        self.layout_arg = layout
        self.outcomes: dict[dt.date, Outcome] = {d: Outcome() for d in self.dates}
        self.fatal: str | None = None  # a usage error: no e-paper at base_url (exit 2)
        self.error: str | None = None  # a failure before any date was known (exit 1)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.source = crawler.settings.get("EPAPER_SOURCE", "ahjjb")
        spider.generation = spider.layout_arg or crawler.settings.get("EPAPER_LAYOUT", "auto")
        if spider.generation not in ("auto", "pc", "html"):
            raise ValueError(f"layout must be auto, pc or html, got {spider.generation!r}")
        return spider

    # ------------------------------------------------------------ requests

    def _request(self, url: str, callback, dates: list[dt.date], **meta) -> scrapy.Request:
        for d in dates:
            if d in self.outcomes:
                self.outcomes[d].outstanding += 1
        first = min(dates) if dates else dt.date.max
        rank = self.dates.index(first) if first in self.dates else 0
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, dont_filter=True,
            priority=-rank * 10 + meta.pop("stage", 0),
            meta={"issue_dates": dates, "handle_httpstatus_list": [404], **meta},
        )

    def _done(self, dates: list[dt.date]) -> None:
        if self.fatal:
            return
        for d in dates:
            outcome = self.outcomes.get(d)
            if outcome is None:
                continue
            outcome.outstanding -= 1
            if outcome.outstanding == 0 and outcome.status == "pending":
                outcome.status = "incomplete" if outcome.failures else "archived"
                self.crawler.signals.send_catch_log(issue_finished, date=d, outcome=outcome)
            elif outcome.outstanding == 0 and outcome.status == "no_issue":
                self.crawler.signals.send_catch_log(issue_finished, date=d, outcome=outcome)

    def _months(self) -> dict[dt.date, list[dt.date]]:
        months: dict[dt.date, list[dt.date]] = {}
        for d in self.dates:
            months.setdefault(d.replace(day=1), []).append(d)
        return months

    async def start(self):
        for req in self.start_requests():
            yield req

    def start_requests(self) -> Iterator[scrapy.Request]:
        if self.latest:
            gens = ["pc", "html"] if self.generation == "auto" else [self.generation]
            yield self._latest_request(gens)
            return
        months = self._months()
        first = next(iter(months))
        if self.generation == "auto":
            yield self._calendar_request(first, months[first], ["pc", "html"])
        else:
            for month, dates in months.items():
                yield self._calendar_request(month, dates, [self.generation])

    def _calendar_request(self, month: dt.date, dates: list[dt.date], gens: list[str]) -> scrapy.Request:
        return self._request(founder.calendar_url(self.root, gens[0], month), self.parse_calendar,
                             dates, month=month, gens=gens)

    def _latest_request(self, gens: list[str]) -> scrapy.Request:
        return self._request(self.root + founder.LATEST_PATHS[gens[0]], self.parse_latest, [], gens=gens)

    # ------------------------------------------------------------ calendar and latest

    def parse_calendar(self, response: Response):
        meta = response.meta
        dates, month, gens = meta["issue_dates"], meta["month"], meta["gens"]
        try:
            if response.status == 404 and len(gens) > 1:
                yield self._calendar_request(month, dates, gens[1:])
                return
            if self.generation == "auto":
                if response.status == 404:  # no calendar of either generation: look for the latest page
                    yield self._request(self.root + founder.LATEST_PATHS["pc"], self.parse_latest,
                                        dates, gens=["pc", "html"])
                    return
                self.generation = gens[0]
                self.logger.info("e-paper generation: %s", self.generation)
                for other, other_dates in list(self._months().items())[1:]:
                    yield self._calendar_request(other, other_dates, [self.generation])
            if response.status == 404:
                for d in dates:
                    yield self._front_request(d, 0)
                return
            try:
                calendar = dict(founder.parse_period_xml(response.body))
            except (ValueError, SyntaxError) as exc:
                for d in dates:
                    self.outcomes[d].fail(response.url, f"calendar unreadable: {exc}")
                return
            for d in dates:
                if d in calendar:
                    front = calendar[d] or founder.FRONT_PAGE_GUESSES[self.generation][0]
                    if "/" in front or not re.fullmatch(r"[\w.-]+", front):
                        front = founder.FRONT_PAGE_GUESSES[self.generation][0]
                    yield self._request(founder.day_url(self.root, self.generation, d, front),
                                        self.parse_front, [d], guess=None, stage=1)
                else:
                    self.outcomes[d].status = "no_issue"
        finally:
            self._done(dates)

    def _front_request(self, d: dt.date, guess: int) -> scrapy.Request:
        name = founder.FRONT_PAGE_GUESSES[self.generation][guess]
        return self._request(founder.day_url(self.root, self.generation, d, name),
                             self.parse_front, [d], guess=guess, stage=1)

    def parse_latest(self, response: Response):
        gens, dates = response.meta["gens"], response.meta["issue_dates"]
        try:
            if response.status == 404:
                if len(gens) > 1:
                    yield self._request(self.root + founder.LATEST_PATHS[gens[1]], self.parse_latest,
                                        dates, gens=gens[1:])
                else:
                    self.fatal = f"no Founder e-paper found at {self.root} (neither pc/layout/ nor html/)"
                return
            if self.generation == "auto":
                self.generation = gens[0]
            if not self.latest:  # a site without calendars: go straight to each day's first page
                for d in self.dates:
                    yield self._front_request(d, 0)
                return
            target = self._latest_target(response)
            day = founder.date_from_url(target) if target else None
            if day is None:
                self.error = f"cannot find the latest issue at {response.url}"
                return
            if not plausible_issue_date(day):  # the date names the snapshot's folder: check it first
                self.error = f"the latest issue at {response.url} claims an impossible date {day} ({target})"
                return
            self.dates = [day]
            self.outcomes = {day: Outcome()}
            yield self._request(target, self.parse_front, [day], guess=None, stage=1)
        finally:
            self._done(dates)

    def _latest_target(self, response: Response) -> str | None:
        text = founder.decode_html(response.body, response.headers.get("Content-Type", b"").decode("latin-1"))[0]
        m = re.search(r"""http-equiv=["']?refresh["']?[^>]*content=["'][^"']*url=([^"'>\s]+)""", text, re.I)
        if m:
            return response.urljoin(m.group(1))
        page = founder.parse_page(text, response.url, self.root)
        if page.pages:
            return page.pages[0].url
        return None

    # ------------------------------------------------------------ pages

    def _html(self, response: Response) -> str:
        ctype = response.headers.get("Content-Type", b"").decode("latin-1").lower()
        if ctype and not any(t in ctype for t in ("html", "xml", "text/plain")):
            raise ValueError(f"not HTML ({ctype.split(';')[0]})")
        header = re.search(r"charset=([\w-]+)", ctype)
        return founder.decode_html(response.body, header.group(1) if header else None)[0]

    def _unreadable(self, response: Response, exc: Exception) -> str:
        """Why a page cannot be used. ValueError is the parser's "not a page"; anything else is a
        parser bug meeting odd markup: logged with its traceback, and the page fails (the date
        stays incomplete) instead of the article vanishing without a trace."""
        if isinstance(exc, ValueError):
            return str(exc)
        self.logger.error("cannot parse %s", response.url, exc_info=exc)
        return f"cannot parse: {type(exc).__name__}: {str(exc)[:200]}"

    def parse_front(self, response: Response):
        d = response.meta["issue_dates"][0]
        outcome = self.outcomes[d]
        try:
            if response.status == 404:
                guess = response.meta.get("guess")
                if guess is not None and guess + 1 < len(founder.FRONT_PAGE_GUESSES[self.generation]):
                    yield self._front_request(d, guess + 1)
                elif guess is not None:
                    outcome.status = "no_issue"
                else:
                    outcome.fail(response.url, "HTTP 404 (front page listed in period.xml)")
                return
            try:
                page = founder.parse_page(self._html(response), response.url, self.root)
            except Exception as exc:  # a page the parser cannot read fails that page, never the crawl
                outcome.fail(response.url, self._unreadable(response, exc))
                return
            links = [p.url for p in page.pages] or [response.url]
            if response.url not in links:
                links.insert(0, response.url)
            outcome.page_count = len(links)
            outcome.labels = {p.url: (p.page_no, p.page_name) for p in page.pages}
            for index, url in enumerate(links):
                if url == response.url:
                    yield from self._page_done(response, d, index, page)
                else:
                    yield self._request(url, self.parse_page, [d], page_index=index, stage=2)
        finally:
            self._done([d])

    def parse_page(self, response: Response):
        d, index = response.meta["issue_dates"][0], response.meta["page_index"]
        try:
            try:
                if response.status == 404:
                    raise ValueError("HTTP 404")
                page = founder.parse_page(self._html(response), response.url, self.root)
            except Exception as exc:
                self.outcomes[d].fail(response.url, self._unreadable(response, exc))
                page = None
            yield from self._page_done(response, d, index, page)
        finally:
            self._done([d])

    def _page_done(self, response: Response, d: dt.date, index: int, page: founder.Page | None):
        outcome = self.outcomes[d]
        outcome.page_results[index] = page
        if page is not None:
            label = outcome.labels.get(page.url)
            page.page_no = page.page_no or (label[0] if label else None) or f"{index + 1:02d}"
            page.page_name = page.page_name or (label[1] if label else None)
            outcome.pages += 1
            yield PageItem(issue_date=d, page_no=page.page_no, page_index=index, url=page.url,
                           source=self.source, crawled_at=fetched_at(response),
                           page_name=page.page_name, pdf_url=page.pdf_url, image_url=page.image_url,
                           article_count=len(page.articles))
        if len(outcome.page_results) < outcome.page_count:
            return
        # Every page of the day is in: request each article once, at its first place.
        seen: set[str] = set()
        for pi in sorted(outcome.page_results):
            p = outcome.page_results[pi]
            if p is None:
                continue
            position = 0
            for url in p.articles:
                if url in seen:
                    continue
                seen.add(url)
                yield self._request(url, self.parse_article, [d], page_index=pi, position=position,
                                    page_no=p.page_no, page_name=p.page_name, pdf_url=p.pdf_url, stage=3)
                position += 1
        outcome.page_results.clear()

    # ------------------------------------------------------------ articles

    def parse_article(self, response: Response):
        meta = response.meta
        d = meta["issue_dates"][0]
        try:
            if response.status == 404:
                self.outcomes[d].fail(response.url, "HTTP 404")
                return
            try:
                art = founder_article.parse_article(self._html(response), response.url)
            except Exception as exc:
                self.outcomes[d].fail(response.url, self._unreadable(response, exc))
                return
            self.outcomes[d].articles += 1
            yield ArticleItem(
                issue_date=d, url=response.url, page_no=meta["page_no"], page_index=meta["page_index"],
                position=meta["position"], source=self.source, crawled_at=fetched_at(response),
                title=art.title, page_name=meta["page_name"], page_pdf_url=meta["pdf_url"],
                intro_title=art.intro_title, subtitle=art.subtitle, author=art.author,
                body="\n".join(art.paragraphs), images=art.images,
                article_id=article_id(self.source, response.url, self.root),
                warc_file=meta.get("warc_file"), warc_record_id=meta.get("warc_record_id"),
            )
        finally:
            self._done([d])

    def on_error(self, failure):
        request = failure.request
        dates = request.meta.get("issue_dates", [])
        reason = failure_reason(failure)
        url = (request.meta.get("redirect_urls") or [request.url])[0]  # the URL we asked for
        self.logger.warning("%s failed: %s", url, reason)
        if request.callback == self.parse_latest:
            self.error = f"cannot reach {url}: {reason}"
        if request.callback in (self.parse_calendar, self.parse_latest) and self.generation == "auto":
            extra = [d for d in self.dates if d not in dates]  # the generation is unknown: no date can go on
            for d in extra:
                self.outcomes[d].outstanding += 1
            dates = dates + extra
        for d in dates:
            if d in self.outcomes:
                what = "calendar" if request.callback == self.parse_calendar else "page"
                if request.callback == self.parse_article:
                    what = "article"
                self.outcomes[d].fail(url, f"{what}: {reason}")
        if request.callback == self.parse_page:
            d = dates[0]
            yield from self._page_done(None, d, request.meta["page_index"], None)  # type: ignore[arg-type]
        self._done(dates)


def fetched_at(response: Response | None) -> dt.datetime:
    if response is not None and response.meta.get("fetched_at"):
        return response.meta["fetched_at"]
    return dt.datetime.now(dt.timezone.utc)
