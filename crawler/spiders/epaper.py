"""The `epaper` spider: month calendar → the day's pages (版面) → articles, for each issue date.

Arguments (`-a`): `base_url` (the e-paper root; default the EPAPER_BASE_URL setting, which
the config's `portal.base_url` sets), and `date=YYYY-MM-DD`, or `start`/`end` (inclusive), or
`dates` (a comma-separated list), or `latest=1`; `layout` (auto | pc | html) overrides the
EPAPER_LAYOUT setting. With `latest=1` an issue already archived complete under SNAPSHOT_DIR
is not fetched again (the latest page is the one request) unless the EPAPER_FORCE setting is
true (`epaper crawl --force`).
They are checked by `crawler.arguments`, as the command line checks them.

Each date's progress and result are the crawl's ledger's (`crawler.ledger`): the spider tells
it every request it sends and answers, every item it yields, every failure and every date
without an issue.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import (CannotResolveHostError, DontCloseSpider, DownloadCancelledError, DownloadConnectionRefusedError,
                               DownloadFailedError, DownloadTimeoutError, IgnoreRequest, ResponseDataLossError)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.web.client import ResponseNeverReceived

from epaper.crawler import founder, founder_article
from epaper.crawler.sites.founder import REDIRECTS, FounderSite, plausible_issue_date, read_calendar
from epaper.crawler.arguments import crawl_arguments
from epaper.crawler.items import ArticleItem, PageItem
from epaper.crawler.ledger import Ledger
from epaper.storage.parquet import archived_dates, snapshot_info
from epaper.storage.schema import ARTICLES


def article_id(source: str, url: str, root: str) -> str:
    """Stable id: the portal id and the URL's path below the e-paper root (host-independent)."""
    rel = url[len(root):] if url.startswith(root) else urlsplit(url).path.lstrip("/")
    return hashlib.sha1(f"{source}:{rel}".encode()).hexdigest()[:20]


# page_index and position are int16 columns: no real page comes near this. The caps on pages and
# article links (EPAPER_MAX_*) are at most this, so that what is requested can also be written.
ORDER_MAX = 2 ** (ARTICLES.field("position").type.bit_width - 1) - 1
CAPS = ("EPAPER_MAX_PAGES_PER_DATE", "EPAPER_MAX_ARTICLES_PER_PAGE", "EPAPER_MAX_ARTICLES_PER_DATE")


__all__ = ["EpaperSpider", "article_id", "failure_reason", "plausible_issue_date"]
_MAXSIZE = re.compile(r"(\d+) bytes which is larger than download max size \((\d+)\)")


def failure_reason(failure, maxsize: int = 0, limit: str = "DOWNLOAD_MAXSIZE") -> str:
    """One readable phrase for why a request failed (the URL is reported next to it).

    `maxsize` is the size bound the request ran under (the setting `limit`): a response without
    a length that goes past it is cancelled with no message at all, so the reason names it."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        return str(exc) or "request ignored"
    if isinstance(exc, DownloadTimeoutError):
        return "timeout"
    if isinstance(exc, ResponseDataLossError):
        return "truncated response (connection closed before the announced length)"
    if isinstance(exc, DownloadCancelledError):
        m = _MAXSIZE.search(str(exc))
        if m:
            return (f"response too large: {int(m.group(1)):,} bytes, larger than {limit} "
                    f"({int(m.group(2)):,} bytes)")
        if maxsize and not str(exc).strip():
            return (f"response too large: no length announced, cut off once larger than {limit} "
                    f"({maxsize:,} bytes)")
    if isinstance(exc, (DownloadFailedError, ResponseNeverReceived)):
        return "connection lost before a complete response"
    if isinstance(exc, DownloadConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, CannotResolveHostError):
        return "host name not found"
    lines = str(exc).strip().splitlines()
    name = type(exc).__name__
    return f"{name}: {lines[0][:200]}" if lines else name


@dataclass
class _Day:
    """The spider's own bookkeeping of one date's pages, until its articles are requested."""

    page_count: int = 0
    labels: dict[str, tuple] = field(default_factory=dict)  # page URL → (page_no, page_name) from the page list
    pages: dict[int, founder.Page | None] = field(default_factory=dict)  # page index → parsed (None: failed)


class EpaperSpider(scrapy.Spider):
    name = "epaper"

    def __init__(self, base_url: str = "", date: str | None = None, start: str | None = None,
                 end: str | None = None, latest: str | None = None, layout: str | None = None,
                 dates: str | None = None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arguments = crawl_arguments(base_url, date, start, end, latest, layout, dates)
        self.root = self.arguments.root
        self.site = FounderSite(self.root)
        self.allowed_domains = [urlsplit(self.root).hostname]
        self.days: dict[dt.date, _Day] = {}
        self.unproven: dict[dt.date, tuple[tuple[str, ...], str]] = {}  # see _unproven
        self.verified_latest = False

    @property
    def generation(self) -> str:
        """The site's generation: "auto" until the crawl has found it."""
        return self.site.generation

    @generation.setter
    def generation(self, value: str) -> None:
        self.site.generation = value

    @classmethod
    def from_crawler(cls, crawler, *args, source: str | None = None, **kwargs):
        select = crawler.settings.get("EPAPER_PAPER_SELECTOR")  # the add-on's (epaper.addon.apply_paper)
        if select:
            select(crawler.settings, source)
        elif source:
            crawler.settings.set("EPAPER_SOURCE", source, priority="spider")
        if not kwargs.get("base_url"):
            kwargs["base_url"] = crawler.settings.get("EPAPER_BASE_URL")
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.source = crawler.settings.get("EPAPER_SOURCE")
        spider.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        spider.generation = spider.arguments.layout or crawler.settings.get("EPAPER_LAYOUT")
        spider.force = crawler.settings.getbool("EPAPER_FORCE")
        spider.archive = crawler.settings.get("SNAPSHOT_DIR")
        spider.replaying = bool(crawler.settings.get("WARC_REPLAY_DIR"))
        if spider.generation not in ("auto", "pc", "html"):
            raise ValueError(f"layout must be auto, pc or html, got {spider.generation!r}")
        spider.caps = {name: crawler.settings.getint(name) for name in CAPS}
        spider.latest_earliest = dt.date.fromisoformat(str(crawler.settings.get("EPAPER_LATEST_EARLIEST")))
        spider.latest_max_behind = crawler.settings.getint("EPAPER_LATEST_MAX_BEHIND")
        for name, cap in spider.caps.items():
            if not 1 <= cap <= ORDER_MAX:
                raise ValueError(f"{name} must be between 1 and {ORDER_MAX:,}, got {cap}")
        crawler.signals.connect(spider._on_idle, signals.spider_idle)
        spider.ledger = Ledger.from_crawler(crawler)
        spider.ledger.start(spider.root, spider.source, list(spider.arguments.dates))
        return spider

    # ------------------------------------------------------------ requests

    def _request(self, url: str, handler, dates: list[dt.date], stage: int = 0, **meta) -> scrapy.Request:
        """A request for these dates, answered by `handler` (a generator method of this spider)."""
        self.ledger.sent(dates)
        first = min(dates) if dates else dt.date.max
        rank = self.ledger.dates.index(first) if first in self.ledger.dates else 0
        return scrapy.Request(
            url, callback=self._answer, errback=self._failed, priority=-rank * 10 + stage,
            meta={"issue_dates": dates, "handler": handler.__name__, "handle_httpstatus_list": [404], **meta},
        )

    def _answer(self, response: Response):
        """Every response goes through here: the handler's output, then the ledger is told. A
        handler that breaks fails its dates with the reason, instead of leaving them short."""
        dates = response.meta["issue_dates"]
        try:
            yield from getattr(self, response.meta["handler"])(response)
        except Exception as exc:
            self.logger.error("spider error on %s", response.url, exc_info=exc)
            for d in dates:
                self.ledger.fail(d, response.url, f"spider error: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            self.ledger.answered(dates)

    def _months(self) -> dict[dt.date, list[dt.date]]:
        months: dict[dt.date, list[dt.date]] = {}
        for d in self.ledger.dates:
            months.setdefault(d.replace(day=1), []).append(d)
        return months

    async def start(self):
        for req in self.start_requests():
            yield req

    def start_requests(self) -> Iterator[scrapy.Request]:
        if self.arguments.latest:
            yield self._latest_request(self.site.generations())
            return
        # The first month's calendar names the site's generation and calendar name; the other
        # months are asked for under that name only (once per site, not per month).
        months = self._months()
        first = next(iter(months))
        yield self._calendar_request(first, months[first], self.site.calendar_tries(), first=True)

    def _calendar_request(self, month: dt.date, dates: list[dt.date], tries: list[tuple[str, str]],
                          first: bool = False) -> scrapy.Request:
        gen, name = tries[0]
        return self._request(self.site.calendar_url(gen, month, name), self.parse_calendar,
                             dates, month=month, tries=tries, first=first)

    def _other_months(self) -> Iterator[scrapy.Request]:
        for month, dates in list(self._months().items())[1:]:
            yield self._calendar_request(month, dates, self.site.calendar_tries())

    def _latest_request(self, gens: list[str], dates: list[dt.date] | None = None) -> scrapy.Request:
        # Its redirect (HTTP or meta refresh) is read here rather than followed: the newest
        # issue's date is in the target's URL, so an issue archived already costs this request only.
        request = self._request(self.site.latest_url(gens[0]), self.parse_latest, dates or [], gens=gens)
        request.meta.update(dont_redirect=True, handle_httpstatus_list=[*REDIRECTS, 404])
        return request

    # ------------------------------------------------------------ calendar and latest

    def parse_calendar(self, response: Response):
        meta = response.meta
        dates, month, tries = meta["issue_dates"], meta["month"], meta["tries"]
        if response.status == 404 and len(tries) > 1:
            yield self._calendar_request(month, dates, tries[1:], first=meta["first"])
            return
        if response.status == 404:
            if meta["first"]:
                # No calendar under any known name: the latest-issue page names the generation
                # and the front pages; every day's first page is then looked for.
                yield self._latest_request(self.site.generations(), dates)
                return
            yield from self._fronts(dates)  # a month missing from a site with calendars
            return
        self.site.learn_calendar(*tries[0])
        self.logger.info("e-paper generation: %s, calendar %s", self.generation, self.site.calendar_name)
        if meta["first"]:
            yield from self._other_months()
        try:
            calendar = read_calendar(response.body)
        except (ValueError, SyntaxError) as exc:
            for d in dates:
                self.ledger.fail(d, response.url, f"calendar unreadable: {exc}")
            return
        self.site.learn_calendar(*tries[0], calendar)
        for d in dates:
            if d in calendar:
                yield self._request(self.site.front_url(d, calendar[d]), self.parse_front, [d], stage=1)
            else:
                self.ledger.no_issue(d)

    def _front_request(self, d: dt.date, tried: tuple[str, ...] = (), wide: bool = False) -> scrapy.Request | None:
        """The day's first page under the next name to try: the site's learned name, then (`wide`,
        or nothing learned) the generation's guesses. None when every such name was tried."""
        name = next((n for n in self.site.front_candidates(wide) if n not in tried), None)
        if name is None:
            return None
        return self._request(self.site.day_url(d, name), self.parse_front, [d], tried=(*tried, name), wide=wide,
                             stage=1)

    def parse_latest(self, response: Response):
        gens = response.meta["gens"]
        if response.status == 404:
            if len(gens) > 1:
                yield self._latest_request(gens[1:], response.meta["issue_dates"])
            elif self.generation == "auto" or self.arguments.latest:
                self.ledger.set_fatal(f"no Founder e-paper found at {self.root} (neither pc/layout/ nor html/)")
            else:  # no latest-issue page on a site of a known generation: its days' first pages are guessed
                yield from self._fronts(self.ledger.dates)
            return
        if self.generation == "auto":
            self.generation = gens[0]
        target = self._latest_target(response)
        if not self.arguments.latest:  # a site without calendars: go straight to each day's first page
            if target:
                self.site.latest_front = target
                self.site.learn_front(target, "the latest-issue page")
            yield from self._fronts(self.ledger.dates)
            return
        day = founder.date_from_url(target) if target else None
        if day is None and target and response.meta.get("dont_redirect") and target != response.url:
            # A redirect whose target names no date: followed, and that page is read instead.
            yield self._request(target, self.parse_latest, response.meta["issue_dates"], gens=gens)
            return
        if day is None:
            self.ledger.error = f"cannot find the latest issue at {response.url}"
            return
        if not plausible_issue_date(day):  # the date names the snapshot's folder: check it first
            self.ledger.error = f"the latest issue at {response.url} claims an impossible date {day} ({target})"
            return
        unknown = self._unknown_latest(day)
        if unknown:
            self.ledger.error = (f"the latest issue at {response.url} is dated {day} ({target}), {unknown}: not "
                                 f"trusted (crawl it with --date {day} if it is real)")
            return
        self.site.learn_front(target, "the latest-issue page")
        self.ledger.expect([day])
        if not self.force and snapshot_info(Path(self.archive), self.source, day).complete:
            # An idle run costs this one request: the issue is archived complete already.
            self.ledger.already_archived(day)
            return
        yield self._request(target, self.parse_front, [day], stage=1)

    def _unknown_latest(self, day: dt.date) -> str | None:
        """Why the latest issue's date lies far outside what the archive knows (None: it does
        not): before EPAPER_LATEST_EARLIEST, or more than EPAPER_LATEST_MAX_BEHIND days before the
        newest issue archived. A latest-issue page that names 1900-01-02 would otherwise file an
        issue there (and stretch every report over 120 years)."""
        if day < self.latest_earliest:
            return f"before any digital edition (EPAPER_LATEST_EARLIEST {self.latest_earliest})"
        archived = archived_dates(Path(self.archive), self.source)
        newest = archived[-1] if archived else None
        if newest and day < newest - dt.timedelta(days=self.latest_max_behind):
            return (f"{(newest - day).days:,} days before the newest issue archived ({newest}; "
                    f"EPAPER_LATEST_MAX_BEHIND {self.latest_max_behind})")
        return None

    def _fronts(self, dates: list[dt.date]) -> Iterator[scrapy.Request]:
        for d in dates:
            request = self._front_request(d)
            if request is not None:
                yield request

    # ------------------------------------------------------------ days without a first page

    def _unproven(self, d: dt.date, tried: tuple[str, ...], url: str) -> None:
        """Every name of the day's first page answered 404: that proves nothing by itself (a
        guessed name may be wrong). The date waits, held open, until the crawl has seen which
        names answer on other days (`_settle_unproven`, when the crawl is idle)."""
        self.ledger.sent([d])  # held: the date is not released before it is settled
        self.unproven[d] = (tried, url)

    def _on_idle(self, spider=None):
        if not self.unproven:
            return
        requests = self._settle_unproven()
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests:
            raise DontCloseSpider

    def _settle_unproven(self) -> list[scrapy.Request]:
        """Each held date: "no issue" when a name it tried is another issue's first page (its
        folder is missing, not the name wrong). Without that evidence: once, the latest issue's
        first page is fetched to see whether the name it gives works; then the generation's other
        names are tried for the date; then it fails, with the names tried."""
        unseen = [d for d, (tried, _) in self.unproven.items() if not self.site.no_issue_evidence(list(tried))]
        latest = self.site.latest_front
        if unseen and latest and not self.verified_latest:
            self.verified_latest = True
            return [scrapy.Request(latest, callback=self._verified, errback=self._verified, dont_filter=True,
                                   meta={"handle_httpstatus_list": [404]})]
        wider = [(d, r) for d in unseen if (r := self._front_request(d, self.unproven[d][0], wide=True)) is not None]
        if wider:
            for d, _ in wider:
                del self.unproven[d]
                self.ledger.answered([d])  # the hold; the new request holds the date now
            return [r for _, r in wider]
        for d, (tried, url) in sorted(self.unproven.items()):
            evidence = self.site.no_issue_evidence(list(tried))
            if evidence:
                self.logger.info("%s: no issue (first page %s not found; %s)", d, url, evidence)
                self.ledger.no_issue(d)
            else:
                self.ledger.fail(d, url, f"first page not found under any name tried ({', '.join(tried)}), and "
                                         "none of them is the first page of another issue: cannot tell whether "
                                         "there is an issue")
            self.ledger.answered([d])
        self.unproven.clear()
        return []

    def _verified(self, response_or_failure):
        response = response_or_failure if isinstance(response_or_failure, Response) else None
        if response is not None and response.status == 200:
            self.site.fronts_seen.add(response.url.rsplit("/", 1)[-1])
        return None

    def _latest_target(self, response: Response) -> str | None:
        return self.site.latest_target(response.status, response.headers.get("Location"), response.body,
                                       response.headers.get("Content-Type", b""), response.url)

    # ------------------------------------------------------------ pages

    def _html(self, response: Response) -> str:
        return founder.page_text(response.body, response.headers.get("Content-Type", b"").decode("latin-1"))

    def _parse_page(self, response: Response) -> founder.Page:
        """The 版面 of a response; ValueError when it is not an e-paper page at all.

        A maintenance or error page answered with 200 parses as an empty page: it must fail
        the date (and keep the archive as it was), never archive an issue without its pages.
        Every 版面 has at least a page list, an article, its PDF or its scan."""
        page = founder.parse_page(self._html(response), response.url, self.root)
        if not (page.pages or page.articles or page.pdf_url or page.image_url):
            raise ValueError("not an e-paper page (no page list, articles, PDF or page scan)")
        return page

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
        tried = response.meta.get("tried")  # None: the page the calendar or the latest-issue page names
        if response.status == 404:
            if tried is None:
                self.ledger.fail(d, response.url, "HTTP 404 (front page listed in the calendar)")
                return
            request = self._front_request(d, tried, response.meta.get("wide", False))
            if request is not None:
                yield request
            else:
                self._unproven(d, tried, response.url)
            return
        try:
            page = self._parse_page(response)
        except Exception as exc:  # a page the parser cannot read fails that page, never the crawl
            self.ledger.fail(d, response.url, self._unreadable(response, exc))
            return
        self.site.fronts_seen.add(response.url.rsplit("/", 1)[-1])
        links = self.site.day_links(page, response.url)
        cap = self.caps["EPAPER_MAX_PAGES_PER_DATE"]
        if len(links) > cap:  # bounded work: the first pages are archived, the date is incomplete
            self.ledger.fail(d, response.url, f"the page list names {len(links):,} pages, more than "
                                              f"EPAPER_MAX_PAGES_PER_DATE ({cap:,}): only the first {cap:,} are requested")
            self.crawler.stats.inc_value("epaper/capped/pages", len(links) - cap)
            links = links[:cap]
        self.days[d] = _Day(page_count=len(links), labels={p.url: (p.page_no, p.page_name) for p in page.pages})
        for index, url in enumerate(links):
            if url == response.url:
                yield from self._page_done(response, d, index, page)
            else:
                yield self._request(url, self.parse_page, [d], page_index=index, stage=2)

    def parse_page(self, response: Response):
        d, index = response.meta["issue_dates"][0], response.meta["page_index"]
        try:
            if response.status == 404:
                raise ValueError("HTTP 404")
            page = self._parse_page(response)
        except Exception as exc:
            self.ledger.fail(d, response.url, self._unreadable(response, exc))
            page = None
        yield from self._page_done(response, d, index, page)

    def _page_done(self, response: Response | None, d: dt.date, index: int, page: founder.Page | None):
        day = self.days[d]
        day.pages[index] = page
        if page is not None:
            label = day.labels.get(page.url)
            page.page_no = page.page_no or (label[0] if label else None) or f"{index + 1:02d}"
            page.page_name = page.page_name or (label[1] if label else None)
            self.ledger.found(d)
            yield PageItem(issue_date=d, page_no=page.page_no, page_index=index, url=page.url,
                           source=self.source, crawled_at=fetched_at(response),
                           page_name=page.page_name, pdf_url=page.pdf_url, image_url=page.image_url)
        if len(day.pages) < day.page_count:
            return
        # Every page of the day is in: request each article once, on the page that prints it.
        order = sorted(day.pages)
        placed = self.site.place([day.pages[pi] for pi in order])
        foreign = self._other_issues(placed, d)
        wanted = self._capped(d, [(day.pages[pi], [u for u in placed.get(p.url, []) if u not in foreign])
                                  for pi in order if (p := day.pages[pi]) is not None])
        for pi in order:
            p = day.pages[pi]
            if p is None:
                continue
            if not p.links and p.promise:
                self.ledger.fail(d, p.url, f"no recognisable article link, although {p.promise}")
            for position, url in enumerate(wanted.get(p.url, [])):
                yield self._request(url, self.parse_article, [d], page_index=pi, position=position,
                                    page_no=p.page_no, page_name=p.page_name, pdf_url=p.pdf_url, stage=3)
        del self.days[d]

    def _capped(self, d: dt.date, pages: list[tuple[founder.Page, list[str]]]) -> dict[str, list[str]]:
        """Each page's article links to request (page URL → URLs), within the caps: at most
        EPAPER_MAX_ARTICLES_PER_PAGE per page, EPAPER_MAX_ARTICLES_PER_DATE for the date in page
        order. What a cap leaves out fails the date, naming the page and the cap; the articles
        within the caps are archived."""
        per_page, per_date = self.caps["EPAPER_MAX_ARTICLES_PER_PAGE"], self.caps["EPAPER_MAX_ARTICLES_PER_DATE"]
        wanted: dict[str, list[str]] = {}
        budget, cut_at, left_out = per_date, None, 0
        for page, urls in pages:
            if len(urls) > per_page:
                self.ledger.fail(d, page.url, f"the page links {len(urls):,} articles, more than "
                                              f"EPAPER_MAX_ARTICLES_PER_PAGE ({per_page:,}): only its first "
                                              f"{per_page:,} are requested")
                self.crawler.stats.inc_value("epaper/capped/articles_per_page", len(urls) - per_page)
                urls = urls[:per_page]
            if len(urls) > budget:
                cut_at = cut_at or page.url
                left_out += len(urls) - budget
                urls = urls[:budget]
            budget -= len(urls)
            wanted[page.url] = urls
        if cut_at:
            self.ledger.fail(d, cut_at, f"the issue links more articles than EPAPER_MAX_ARTICLES_PER_DATE "
                                        f"({per_date:,}): the first {per_date:,} in page order are requested, "
                                        f"{left_out:,} more from this page on are not")
            self.crawler.stats.inc_value("epaper/capped/articles_per_date", left_out)
        return wanted

    def _other_issues(self, placed: dict[str, list[str]], d: dt.date) -> set[str]:
        """The day's article links whose URL names another issue's folder: that issue holds them
        (archived under it, once), not the page of this one that links them. Only while the
        site follows the convention: when most of the day's articles live in another folder,
        the folder is not the issue date there, and every article stays with this issue."""
        urls = [u for page_urls in placed.values() for u in page_urls]
        foreign = {u for u in urls if (other := founder.date_from_url(u)) is not None and other != d}
        if not foreign:
            return set()
        if 2 * len(foreign) > len(urls):
            self.logger.info("%s: most article URLs name another date's folder; all are kept with this issue", d)
            return set()
        for url in sorted(foreign):
            self.logger.info("%s: %s belongs to the issue of its folder, not filed here", d, url)
        self.crawler.stats.inc_value("epaper/skipped/other_issue", len(foreign))
        return foreign

    # ------------------------------------------------------------ articles

    def parse_article(self, response: Response):
        meta = response.meta
        d = meta["issue_dates"][0]
        if response.status == 404:
            self.ledger.fail(d, response.url, "HTTP 404")
            return
        try:
            art = founder_article.parse_article(self._html(response), response.url)
        except Exception as exc:
            self.ledger.fail(d, response.url, self._unreadable(response, exc))
            return
        self.ledger.found(d)
        yield ArticleItem(
            issue_date=d, url=response.url, page_no=meta["page_no"], page_index=meta["page_index"],
            position=meta["position"], source=self.source, crawled_at=fetched_at(response),
            title=art.title, page_name=meta["page_name"], page_pdf_url=meta["pdf_url"],
            intro_title=art.intro_title, subtitle=art.subtitle, author=art.author,
            body="\n".join(art.paragraphs), images=art.images,
            article_id=article_id(self.source, response.url, self.root),
            warc_file=meta.get("warc_file"), warc_record_id=meta.get("warc_record_id"),
            sources=art.sources,
        )

    def _failed(self, failure):
        request = failure.request
        dates = request.meta.get("issue_dates", [])
        handler = request.meta.get("handler")
        reason = failure_reason(failure, request.meta.get("download_maxsize", self.maxsize))
        url = (request.meta.get("redirect_urls") or [request.url])[0]  # the URL we asked for
        self.logger.warning("%s failed: %s", url, reason)
        if handler == "parse_latest" and not self.arguments.latest and self.generation != "auto":
            yield from self._fronts(self.ledger.dates)  # no calendar, and the latest page is down: guesses
            self.ledger.answered(dates)
            return
        if handler == "parse_latest":
            self.ledger.error = f"cannot reach {url}: {reason}"
        if handler == "parse_calendar" and self.replaying and self.generation != "auto":
            # The WARC files hold no calendar for these dates (a `--latest` run goes straight to
            # the day's first page): replay goes to each day's first page, as for a site without
            # calendars.
            tries = request.meta["tries"]
            if len(tries) > 1:  # another name of the calendar may be in the WARC files
                yield self._calendar_request(request.meta["month"], dates, tries[1:], first=request.meta["first"])
            else:
                self.logger.info("%s: replaying from each day's first page", reason)
                if request.meta["first"]:
                    yield from self._other_months()
                yield from self._fronts(dates)
            self.ledger.answered(dates)
            return
        if handler == "parse_calendar" and request.meta["first"] and self.generation != "auto":
            yield from self._other_months()  # the other months' calendars do not wait for this one
        if (handler == "parse_calendar" and self.generation == "auto") or (
                handler == "parse_latest" and not self.arguments.latest):
            extra = [d for d in self.ledger.dates if d not in dates]  # the generation is unknown: no date can go on
            self.ledger.sent(extra)
            dates = dates + extra
        what = {"parse_calendar": "calendar", "parse_article": "article"}.get(handler, "page")
        for d in dates:
            self.ledger.fail(d, url, f"{what}: {reason}")
        if handler == "parse_page":
            yield from self._page_done(None, dates[0], request.meta["page_index"], None)
        self.ledger.answered(dates)


def fetched_at(response: Response) -> dt.datetime:
    return response.meta["fetched_at"]  # crawler.middlewares.FetchedAtMiddleware
