"""The Founder (方正) site family: navigation of its e-papers, for every spider that visits one.

One family, in variants: the newer "pc" generation (`pc/layout/…`) and the older "html" one
(`html/YYYY-MM/…`); file names `node_K`/`content_ID`, `nbs.`/`nw.` (人民日报's older edition),
c-numbered articles (`pc/con/…/cNNN.html`). The pure parsing lives in `crawler.founder` (pages,
calendars, URL shapes) and `crawler.founder_article` (article pages); this module decides where
a crawl goes: the latest issue, the month calendars, a day's first page and its other pages,
and which page prints each article.

`FounderSite` is one site as a crawl learns it (its generation, ...): the crawl spider and the
probe spider each hold one and ask it every navigation question.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from epaper.crawler import founder
from epaper.crawler.founder import Page, date_from_url, page_text

GENERATIONS = ("pc", "html")
# The folder each generation's pages and articles live under, below the e-paper root.
PREFIXES = {"pc": "pc/", "html": "html/"}
LATEST_PATHS = founder.LATEST_PATHS
FRONT_PAGE_GUESSES = founder.FRONT_PAGE_GUESSES
# The names a month calendar is known under, per generation, in the order to try them:
# 科技金融时报 serves `html/YYYY-MM/paper_existed.xml` (root <periodlist>) and no period.xml.
CALENDAR_NAMES = {"pc": ("period.xml",), "html": ("period.xml", "paper_existed.xml")}
REDIRECTS = (301, 302, 303, 307, 308)


def generation_of(path: str) -> str | None:
    """The generation a path below the e-paper root belongs to (`pc/…`, `html/…`), or None."""
    return next((gen for gen, prefix in PREFIXES.items() if path.startswith(prefix)), None)


def read_calendar(body: bytes) -> dict[dt.date, str]:
    """Issue date → front page file name, from a month calendar; ValueError (or SyntaxError)
    when the file is not a calendar."""
    return dict(founder.parse_period_xml(body))


def safe_file_name(name: str | None) -> str | None:
    """A front page name as a calendar gives it, when it is a plain file name of the day's folder."""
    if not name or "/" in name or not re.fullmatch(r"[\w.-]+", name):
        return None
    return name


@dataclass
class FounderSite:
    """One Founder site, as a crawl learns it, once for the whole crawl: its generation ("auto"
    until known), its calendar's name, the file name of its front pages and the names that
    answered as a day's first page (the evidence that a missing first page means no issue)."""

    root: str
    generation: str = "auto"
    calendar_name: str | None = None  # the name a month calendar answered under
    front_name: str | None = None  # the front pages' file name, as the site names it
    front_origin: str | None = None  # where front_name was learned
    fronts_seen: set[str] = field(default_factory=set)  # names that answered as a day's first page
    latest_front: str | None = None  # the latest issue's first page, as the latest-issue page names it

    # ------------------------------------------------------------ where things are

    def generations(self) -> list[str]:
        """The generations still possible, in the order to try them."""
        return list(GENERATIONS) if self.generation == "auto" else [self.generation]

    def latest_url(self, generation: str) -> str:
        return self.root + LATEST_PATHS[generation]

    def calendar_url(self, generation: str, month: dt.date, name: str = "period.xml") -> str:
        return founder.calendar_url(self.root, generation, month, name)

    def calendar_tries(self) -> list[tuple[str, str]]:
        """(generation, calendar name) pairs to try for a month, in order: the one learned, else
        every known name of every generation still possible."""
        if self.calendar_name and self.generation != "auto":
            return [(self.generation, self.calendar_name)]
        return [(gen, name) for gen in self.generations() for name in CALENDAR_NAMES[gen]]

    def learn_calendar(self, generation: str, name: str, calendar: dict[dt.date, str] | None = None) -> None:
        """A calendar answered: the site's generation and calendar name are known, and the front
        page name its latest issue lists (when it is a plain file name)."""
        self.generation, self.calendar_name = generation, name
        for day in sorted(calendar or {}, reverse=True):
            front = safe_file_name(calendar[day])
            if front:
                self.learn_front(front, f"the calendar {name}")
                break

    def learn_front(self, name_or_url: str | None, origin: str) -> None:
        """The site names its front pages so (from the latest-issue redirect, a calendar, or a day's
        page list): tried first for every day whose first page is not listed."""
        name = safe_file_name((name_or_url or "").split("?", 1)[0].rsplit("/", 1)[-1])
        if name and founder.is_page_url("/" + name):
            self.front_name, self.front_origin = name, origin

    def front_candidates(self, wide: bool = False) -> list[str]:
        """A day's first page names to try, in order: the site's own (learned) name alone, or,
        `wide` or when none is learned, the generation's guesses after it."""
        if self.front_name and not wide:
            return [self.front_name]
        return list(dict.fromkeys([n for n in (self.front_name,) if n] + list(self.front_guesses())))

    def no_issue_evidence(self, tried: list[str]) -> str | None:
        """Why a day whose first page answered 404 under every name in `tried` has no issue: one
        of those names answered as the first page of another day (the day's folder is missing,
        not the name wrong). None: no such evidence, the 404s prove nothing."""
        worked = [name for name in tried if name in self.fronts_seen]
        return f"{worked[0]} is the first page of other issues" if worked else None

    def day_url(self, day: dt.date, file_name: str, generation: str | None = None) -> str:
        return founder.day_url(self.root, generation or self.generation, day, file_name)

    def front_guesses(self, generation: str | None = None) -> tuple[str, ...]:
        """File names a day's first page may have when nothing names it, in the order to try."""
        return FRONT_PAGE_GUESSES[generation or self.generation]

    def front_url(self, day: dt.date, listed: str | None) -> str:
        """The day's first page: the name its calendar lists, else the first guess."""
        return self.day_url(day, safe_file_name(listed) or self.front_guesses()[0])

    # ------------------------------------------------------------ reading answers

    def latest_target(self, status: int, location: bytes | None, body: bytes, content_type, url: str) -> str | None:
        """The newest issue's first page, from the latest-issue page's answer: its HTTP
        redirect, its meta refresh, else the first page of its page list."""
        if status in REDIRECTS:
            return urljoin(url, location.decode("latin-1")) if location else None
        if isinstance(content_type, bytes):
            content_type = content_type.decode("latin-1")
        try:  # page_text reads the header's charset (decode_html takes an encoding, not the header)
            text = founder.page_text(body, content_type or "")
        except ValueError:  # not a page: it names no issue
            return None
        return founder.latest_target(text, url, self.root)

    def day_links(self, page: Page, url: str) -> list[str]:
        """Every page of the day, from its first page: the page list, with the first page in it.
        The list's first entry names the site's front pages (node_7, node_2697, …)."""
        if page.pages and founder.date_from_url(page.pages[0].url) == founder.date_from_url(url):
            self.learn_front(page.pages[0].url, "a day's page list")
        links = [p.url for p in page.pages] or [url]
        if url not in links:
            links.insert(0, url)
        return links

    @staticmethod
    def place(pages: list[Page | None]) -> dict[str, list[str]]:
        """Which page files each article of the day (page URL → its articles, in order)."""
        return founder.place_articles(pages)


def plausible_issue_date(day: dt.date) -> bool:
    """A date read from a page (the latest issue's URL) is only used when it could be real."""
    return dt.date(1900, 1, 1) <= day <= dt.date.today() + dt.timedelta(days=2)


__all__ = ["FounderSite", "GENERATIONS", "PREFIXES", "date_from_url", "generation_of", "plausible_issue_date",
           "read_calendar"]
