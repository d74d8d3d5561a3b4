"""Validation: an article needs a URL, issue date, page number, title, and a body or an image.

An invalid article is dropped (InvalidArticle, a DropItem), counted under
`epaper/dropped/invalid_<field>`, and recorded in the crawl's ledger as a failure of its date,
so the date is incomplete and a later run retries it. Settings: VALIDATE_REQUIRED (field list).
"""
from __future__ import annotations

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from epaper.crawler.items import ArticleItem
from epaper.crawler.ledger import Ledger
from epaper.crawler.settings import VALIDATE_REQUIRED


class InvalidArticle(DropItem):
    def __init__(self, url: str, reason: str):
        super().__init__(f"invalid article {url}: {reason}")
        self.url, self.reason = url, reason


def article_problems(fields, required=tuple(VALIDATE_REQUIRED)) -> list[str]:
    """What makes an article invalid; `fields` is any mapping (a dict or an ItemAdapter)."""
    problems = [f"no {name}" for name in required if not fields.get(name)]
    if not fields.get("body") and not fields.get("images"):
        problems.append("no body or image")
    return problems


class ValidatePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.ledger = Ledger.from_crawler(crawler)
        self.required = tuple(crawler.settings.getlist("VALIDATE_REQUIRED"))

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        if not isinstance(item, ArticleItem):
            return item
        adapter = ItemAdapter(item)
        problems = article_problems(adapter, self.required)  # reads a few fields: no copy of the item
        if problems:
            self.crawler.stats.inc_value(f"epaper/dropped/invalid_{problems[0].split()[-1]}")
            error = InvalidArticle(adapter.get("url") or "?", ", ".join(problems))
            self.ledger.fail(item.issue_date, error.url, error.reason)
            raise error
        return item
