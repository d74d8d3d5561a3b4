"""What a paper prints: the publishing schedule, the issues, their pages and articles.

The plan is independent of markup; templates only decide how it looks.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from epaper.replica.content import Article, Image, TextGen, load_seed

SEED_DATE = date(2023, 8, 3)
#: Real public holidays on which the paper takes a break (weekdays only matter).
HOLIDAYS = {date(2023, 6, 22), date(2023, 6, 23), date(2023, 9, 29)} | {
    date(2023, 10, d) for d in range(1, 7)} | {date(2024, 2, d) for d in range(9, 18)} | {
    date(2024, 5, d) for d in range(1, 6)} | {date(2024, 10, d) for d in range(1, 8)}
PAGE_NAMES = ["综合", "经济", "产业", "县域", "金融", "文化", "民生", "专版", "副刊", "市场"]
#: Page link modes; see Page.mode.
MODES = ["both"] * 12 + ["list_only", "map_only", "hotspot_extra", "twice", "cross"]


@dataclass
class Page:
    index: int
    page_no: str
    page_name: str
    node_id: int
    mode: str = "both"  # both | list_only | map_only | hotspot_extra | twice | cross | ad
    articles: list[Article] = field(default_factory=list)  # printed on this page, in order
    list_links: list[Article] = field(default_factory=list)
    map_links: list[Article] = field(default_factory=list)


@dataclass
class Issue:
    date: date
    pages: list[Page]


def issue_dates(start: date, end: date) -> tuple[list[date], list[date]]:
    """Mon–Fri, minus real holidays, minus a several-day summer-style break in long spans."""
    days = [start + timedelta(n) for n in range((end - start).days + 1)]
    off = {d for d in days if d.weekday() >= 5} | (HOLIDAYS & set(days))
    if len(days) >= 30:
        b = start + timedelta(20)
        while b <= SEED_DATE < b + timedelta(5) or b - timedelta(3) <= SEED_DATE < b:
            b += timedelta(7)
        off |= {b + timedelta(k) for k in range(5)}
    issues = [d for d in days if d not in off]
    return issues, [d for d in days if d in off]


def _page_labels(rng: random.Random, n: int, letters: bool) -> list[tuple[str, str]]:
    names = rng.sample(PAGE_NAMES, n - 1)
    if letters:
        a = (n + 1) // 2
        nos = [f"A{i + 1:02d}" for i in range(a)] + [f"B{i + 1:02d}" for i in range(n - a)]
        return list(zip(nos, ["头版"] + names))
    return [(f"{i + 1:02d}", name) for i, name in enumerate(["要闻"] + names)]


def plan_issues(rng: random.Random, dates: list[date], generation: str) -> list[Issue]:
    gen = TextGen(rng)
    issues: list[Issue] = []
    for i, d in enumerate(dates):
        n = rng.randint(6, 8)
        letters = i % 9 == 1 or rng.random() < (0.3 if generation == "html" else 0.15)
        node = rng.choice([2, 2, 187, rng.randint(20, 900)])
        pages = []
        for j, (no, name) in enumerate(_page_labels(rng, n, letters)):
            pages.append(Page(j, no, name, node_id=node))
            node += rng.randint(1, 4)
        ad = pages[-1 - (i % 3)] if (i % 5 == 2 or rng.random() < 0.15) else None
        for p in pages:
            if p is ad:
                p.mode, p.page_name = "ad", "广告"
                continue
            forced = {(0, 1): "list_only", (0, 2): "map_only", (0, 3): "hotspot_extra",
                      (1, 1): "twice", (1, 2): "cross"}.get((i % 20, p.index))
            p.mode = forced or (rng.choice(MODES) if p.index else "both")
            count = rng.randint(4, 7) if p.index == 0 else rng.randint(5, 10)
            p.articles = [gen.article(None, short=rng.random() < 0.07) for _ in range(count)]
        issues.append(Issue(d, pages))
    _place_specials(rng, gen, issues)
    for issue in issues:
        for k, p in enumerate(issue.pages):
            _link(rng, p, issue.pages[k - 1] if k else None)
    return issues


def _long_articles(issue: Issue, n: int = 8) -> list[Article]:
    return [a for p in issue.pages for a in p.articles if len(a.paragraphs) >= n and not a.key]


def _copy_images(a: Article) -> Article:
    blocks = [(k, replace(b) if isinstance(b, Image) else b) for k, b in a.blocks]
    return replace(a, blocks=blocks)


def _place_specials(rng: random.Random, gen: TextGen, issues: list[Issue]) -> None:
    """The seed article, a reprint, a near-duplicate and a stock-opening pair."""
    def slot(issue: Issue, at: int) -> Page:
        return [p for p in issue.pages if p.mode != "ad"][min(at, 2)]

    for issue in issues:
        if issue.date == SEED_DATE:
            slot(issue, 0).articles.insert(0, load_seed())
    if not issues:
        return
    a, b = gen.stock_pair(None)
    slot(issues[0], 1).articles.insert(1, a)
    slot(issues[min(1, len(issues) - 1)], 2).articles.insert(0, b)
    if len(issues) >= 3:
        src = _long_articles(issues[0])[0]
        dup = replace(_copy_images(src), key="reprint")
        slot(issues[len(issues) // 3], 2).articles.insert(1, dup)
        src2 = _long_articles(issues[0], 10)[-1]
        slot(issues[len(issues) // 2], 1).articles.insert(2, gen.near_duplicate(_copy_images(src2)))


def _link(rng: random.Random, p: Page, prev: Page | None) -> None:
    """Derive the list links and hotspots of a page from its mode."""
    arts = p.articles
    if p.mode == "ad" or not arts:
        return
    if p.mode == "map_only":
        p.map_links = list(arts)
        return
    p.list_links = list(arts)
    p.map_links = list(arts)
    if rng.random() < 0.2:  # hotspots in layout order, not list order
        p.map_links = rng.sample(arts, len(arts))
    if p.mode == "list_only":
        p.map_links = []
    elif p.mode == "hotspot_extra" and len(arts) > 1:
        p.list_links = arts[:-1]  # the last is reachable by its hotspot only
        p.map_links = [a for a in p.map_links if a is not arts[-1]] + [arts[-1]]
    elif p.mode == "twice":
        k = rng.randrange(len(arts))
        p.list_links.insert(rng.randint(k + 1, len(arts)), arts[k])
    elif p.mode == "cross" and prev is not None and prev.articles:
        p.list_links.append(prev.articles[-1])  # a 转版 link to the previous page's story
