"""The `epaper_probe` spider: what the archive would read from an unseen portal, within a small
request budget, writing nothing.

From the e-paper root alone: the latest-issue page of either generation (`pc/layout/index.html`,
`paperindex.htm`; without one, this month's and last month's `period.xml`), the calendar of the
latest issue's month, the latest issue's pages (at most `max_pages`), and a sample of its
articles (`sample`, spread over the pages), each read by the same parser as a crawl
(`crawler.founder`, `crawler.founder_article`). What it found is `spider.findings`
(`ProbeFindings`); `epaper.probe` judges and prints it.

Arguments: `base_url`, `sample` (default 6), `max_pages` (default 40), `today` (YYYY-MM-DD,
default the machine's date: which months to try without a latest page).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from epaper.crawler import founder, founder_article
from epaper.crawler.arguments import check_base_url
from epaper.crawler.sites.founder import FounderSite, plausible_issue_date, read_calendar
from epaper.crawler.spiders.epaper import failure_reason


@dataclass
class ProbedPage:
    url: str
    page_no: str | None = None
    page_name: str | None = None
    articles: list[str] = field(default_factory=list)  # filed under this page (place_articles)
    boxed: int = 0  # links to articles another page prints (今日关注, 导读, 转版)
    twins: int = 0  # article links that differ only by a display-mode query (?div=-1)
    promise: str | None = None  # why it should link articles it does not
    error: str | None = None


@dataclass
class ProbedArticle:
    url: str
    page_no: str | None
    fields: dict = field(default_factory=dict)  # as the parser reads them (not yet cleaned)
    sources: dict = field(default_factory=dict)
    error: str | None = None


@dataclass
class ProbeFindings:
    root: str
    generation: str | None = None
    latest_url: str | None = None  # the latest-issue page that answered
    front_url: str | None = None  # the latest issue's first page
    latest_date: dt.date | None = None
    calendar_url: str | None = None
    calendar: list[dt.date] = field(default_factory=list)  # issue dates of the latest issue's month
    calendar_error: str | None = None
    pages: list[ProbedPage] = field(default_factory=list)
    pages_listed: int = 0  # pages in the issue's page list (more than fetched past max_pages)
    sample: list[ProbedArticle] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # what kept the probe from going on

    @property
    def articles(self) -> int:
        return sum(len(p.articles) for p in self.pages)


class ProbeSpider(scrapy.Spider):
    name = "epaper_probe"
    # A probe writes nothing: no item reaches a pipeline, no WARC, no run log, no compaction.
    custom_settings = {"ITEM_PIPELINES": {}, "WARC_ENABLED": False, "RUNLOG_ENABLED": False,
                       "SNAPSHOT_COMPACT": False}

    def __init__(self, base_url: str = "", sample: str | int = 6, max_pages: str | int = 40,
                 today: str | None = None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root = check_base_url(base_url)
        self.site = FounderSite(self.root)
        self.allowed_domains = [urlsplit(self.root).hostname]
        self.sample_size, self.max_pages = int(sample), int(max_pages)
        self.today = dt.date.fromisoformat(today) if today else dt.date.today()
        self.findings = ProbeFindings(self.root)
        self._pages: dict[int, founder.Page | None] = {}
        self._wanted = 0

    def _request(self, url: str, callback, **meta) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self._failed, dont_filter=True,
                              meta={"handle_httpstatus_list": [404], **meta})

    async def start(self):
        gens = self.site.generations()
        yield self._request(self.site.latest_url(gens[0]), self.parse_latest, gens=gens)

    def _text(self, response: Response) -> str:
        return founder.page_text(response.body, response.headers.get("Content-Type", b"").decode("latin-1"))

    # ------------------------------------------------------------ the latest issue

    def parse_latest(self, response: Response):
        gens = response.meta["gens"]
        target = None
        if response.status != 404:
            try:
                self._text(response)  # a latest-issue page must be a page
                target = self.site.latest_target(response.status, response.headers.get("Location"), response.body,
                                                 response.headers.get("Content-Type", b""), response.url)
            except ValueError:
                target = None
        day = founder.date_from_url(target) if target else None
        if day is not None and plausible_issue_date(day):
            f = self.findings
            f.generation, f.latest_url, f.front_url, f.latest_date = gens[0], response.url, target, day
            yield from self._issue(target, day, response)
            return
        if len(gens) > 1:
            yield self._request(self.site.latest_url(gens[1]), self.parse_latest, gens=gens[1:])
            return
        # No latest-issue page of either generation: the calendars of this month and the last.
        last = (self.today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        tries = [(gen, name, month) for month in (self.today.replace(day=1), last)
                 for gen, name in self.site.calendar_tries()]
        yield self._calendar_request(tries)

    def _calendar_request(self, tries: list[tuple[str, str, dt.date]]) -> scrapy.Request:
        gen, name, month = tries[0]
        return self._request(self.site.calendar_url(gen, month, name), self.parse_calendar_search, tries=tries)

    def parse_calendar_search(self, response: Response):
        tries = response.meta["tries"]
        issues = self._calendar(response) if response.status != 404 else None
        if not issues:
            if len(tries) > 1:
                yield self._calendar_request(tries[1:])
            else:
                self.findings.errors.append("no latest-issue page (pc/layout/index.html, paperindex.htm) and no "
                                            "month calendar for this month or the last, in either generation")
            return
        gen, name, _ = tries[0]
        day, front = issues[-1]
        f = self.findings
        f.generation, f.calendar_url = gen, response.url
        self.site.learn_calendar(gen, name, dict(issues))
        f.calendar = [d for d, _ in issues]
        f.front_url = self.site.front_url(day, front)
        f.latest_date = day
        yield self._request(f.front_url, self.parse_front)

    def _calendar(self, response: Response) -> list[tuple[dt.date, str]] | None:
        try:
            return sorted(read_calendar(response.body).items())
        except (ValueError, SyntaxError) as exc:
            self.findings.calendar_error = f"{response.url}: unreadable: {exc}"
            return None

    def _issue(self, front: str, day: dt.date, response: Response):
        self.site.generation = self.findings.generation
        self.site.learn_front(front, "the latest-issue page")
        yield self._month_calendar(day.replace(day=1), self.site.calendar_tries())
        if front == response.url:  # Scrapy followed the meta refresh: this is the first page already
            yield from self.parse_front(response)
        else:
            yield self._request(front, self.parse_front)

    def _month_calendar(self, month: dt.date, tries: list[tuple[str, str]]) -> scrapy.Request:
        gen, name = tries[0]
        self.findings.calendar_url = self.site.calendar_url(gen, month, name)
        return self._request(self.findings.calendar_url, self.parse_calendar, month=month, tries=tries)

    def parse_calendar(self, response: Response):
        tries = response.meta["tries"]
        if response.status == 404 and len(tries) > 1:  # the site may name its calendar otherwise
            yield self._month_calendar(response.meta["month"], tries[1:])
            return
        if response.status == 404:
            front = self.site.front_name or self.site.front_guesses()[0]
            self.findings.calendar_error = (f"{response.url}: HTTP 404 (no calendar under any known name: each "
                                            f"day's first page is looked for as {front})")
            return
        self.site.learn_calendar(*tries[0])
        issues = self._calendar(response)
        if issues is not None:
            self.findings.calendar = [d for d, _ in issues]

    # ------------------------------------------------------------ pages and articles

    def parse_front(self, response: Response):
        if response.status == 404:
            self.findings.errors.append(f"the latest issue's first page {response.url}: HTTP 404")
            return
        try:
            page = founder.parse_page(self._text(response), response.url, self.root)
        except ValueError as exc:
            self.findings.errors.append(f"the latest issue's first page {response.url}: {exc}")
            return
        links = self.site.day_links(page, response.url)
        self.findings.pages_listed = len(links)
        self.findings.pages = [ProbedPage(url) for url in links[: self.max_pages]]
        self._wanted = len(self.findings.pages)
        for index, url in enumerate(links[: self.max_pages]):
            if url == response.url:
                yield from self._page_done(index, page, response)
            else:
                yield self._request(url, self.parse_page, page_index=index)

    def parse_page(self, response: Response):
        index = response.meta["page_index"]
        page = None
        try:
            if response.status == 404:
                raise ValueError("HTTP 404")
            page = founder.parse_page(self._text(response), response.url, self.root)
        except ValueError as exc:
            self.findings.pages[index].error = str(exc)
        yield from self._page_done(index, page, response)

    def _page_done(self, index: int, page: founder.Page | None, response: Response | None):
        self._pages[index] = page
        probed = self.findings.pages[index]
        if page is not None:
            probed.page_no, probed.page_name, probed.promise = page.page_no, page.page_name, page.promise
            probed.boxed = len(page.boxed)
            if response is not None:
                probed.twins = twin_links(response)
        if len(self._pages) < self._wanted:
            return
        order = sorted(self._pages)
        placed = self.site.place([self._pages[i] for i in order])
        for i in order:
            p = self._pages[i]
            if p is not None:
                self.findings.pages[i].articles = placed.get(p.url, [])
        for url, page_no in self._spread():
            article = ProbedArticle(url, page_no)
            self.findings.sample.append(article)
            yield self._request(url, self.parse_article, article=article)

    def _spread(self) -> list[tuple[str, str | None]]:
        """Up to `sample` articles, the first of each page, then the second of each…"""
        out: list[tuple[str, str | None]] = []
        rank = 0
        while len(out) < self.sample_size:
            row = [(p.articles[rank], p.page_no) for p in self.findings.pages if len(p.articles) > rank]
            if not row:
                break
            out += row[: self.sample_size - len(out)]
            rank += 1
        return out

    def parse_article(self, response: Response):
        article: ProbedArticle = response.meta["article"]
        try:
            if response.status == 404:
                raise ValueError("HTTP 404")
            art = founder_article.parse_article(self._text(response), response.url)
        except ValueError as exc:
            article.error = str(exc)
            return
        article.sources = art.sources
        article.fields = {"title": art.title, "intro_title": art.intro_title, "subtitle": art.subtitle,
                          "author": art.author, "body": "\n".join(art.paragraphs), "images": art.images}
        yield from ()

    def _failed(self, failure):
        request = failure.request
        reason = failure_reason(failure)
        if "article" in request.meta:
            request.meta["article"].error = reason
        elif "page_index" in request.meta:
            index = request.meta["page_index"]
            self.findings.pages[index].error = reason
            yield from self._page_done(index, None, None)
        elif request.callback == self.parse_calendar:
            self.findings.calendar_error = f"{request.url}: {reason}"
        elif "tries" in request.meta and len(request.meta["tries"]) > 1:
            yield self._calendar_request(request.meta["tries"][1:])
        else:
            self.findings.errors.append(f"{request.url}: {reason}")


def twin_links(response: Response) -> int:
    """Article links of a page that a display-mode query (`?div=-1`) makes a second URL of."""
    try:
        doc = founder.html_tree(founder.decode_html(response.body)[0])
    except ValueError:
        return 0
    hrefs = {response.urljoin(h.strip()) for h in doc.xpath("//a/@href|//area/@href")}
    return sum(1 for h in hrefs if "?" in h and founder.is_content_url(founder.canonical_url(h)))
