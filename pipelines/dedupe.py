"""Deduplication within a crawl: content hashes and the per-crawl article_id filter.

DedupePipeline (priority 600) sets `content_hash` and drops a second item with an
`article_id` already seen in this crawl (stat `epaper/dropped/duplicate_id`). The archive-wide
near-duplicate rule (`duplicate_of`, settings DEDUPE_SHINGLE_SIZE, DEDUPE_THRESHOLD,
DEDUPE_MIN_CHARS) is `storage.dedupe.DuplicateIndex`, applied when a date is written.
"""
from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from epaper.crawler.items import ArticleItem
from epaper.storage.dedupe import content_hash


class DuplicateArticle(DropItem):
    """A second item with an article_id already seen in this crawl."""


class DedupePipeline:
    """Sets `content_hash`; drops repeated article_ids within a crawl.

    `duplicate_of` is resolved later, by the snapshot pipeline, which writes dates in archive
    order through the `DuplicateIndex` (and reads the DEDUPE_* settings).
    Stat: `epaper/dropped/duplicate_id`.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> "DedupePipeline":
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        adapter = ItemAdapter(item)
        adapter["content_hash"] = content_hash(adapter.get("body") or "")
        article_id = adapter.get("article_id")
        if article_id in self._seen:
            self.crawler.stats.inc_value("epaper/dropped/duplicate_id")
            raise DuplicateArticle(f"article {article_id} already seen in this crawl ({adapter.get('url')})")
        self._seen.add(article_id)
        return item
