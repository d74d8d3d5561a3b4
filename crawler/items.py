"""Items the spider yields: one ArticleItem per article, one PageItem per page (版面)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class ArticleItem:
    issue_date: dt.date
    url: str
    page_no: str
    page_index: int
    position: int
    source: str
    crawled_at: dt.datetime
    title: str | None = None
    page_name: str | None = None
    page_pdf_url: str | None = None
    column: str | None = None
    intro_title: str | None = None
    subtitle: str | None = None
    author: str | None = None
    authors: list[str] = field(default_factory=list)  # names in the byline (pipelines.authors)
    body: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    article_id: str = ""
    content_hash: str = ""
    duplicate_of: str | None = None
    warc_file: str | None = None
    warc_record_id: str | None = None
    # Where the parser found each field (founder_article.field_sources): not a column; the
    # snapshot pipeline counts them into the date's extraction health.
    sources: dict[str, str | None] = field(default_factory=dict)


@dataclass
class PageItem:
    issue_date: dt.date
    page_no: str
    page_index: int
    url: str
    source: str
    crawled_at: dt.datetime
    page_name: str | None = None
    pdf_url: str | None = None
    image_url: str | None = None
    article_count: int = 0  # articles archived under the page: the snapshot pipeline counts them
