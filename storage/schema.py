"""The one explicit Arrow schema of each dataset, with the meaning of every column.

`source` and `issue_date` are the Hive partition keys (`source=ID/issue_date=D`): they live in
the folder names, not in the files.
"""
from __future__ import annotations

import pyarrow as pa

IMAGE = pa.struct([("url", pa.string()), ("caption", pa.string())])

# (name, type, nullable, meaning): the contract's table, in file order.
ARTICLE_COLUMNS: list[tuple[str, pa.DataType, bool, str]] = [
    ("article_id", pa.string(), False, "stable id of the article; the same on every re-crawl"),
    ("page_no", pa.string(), False, "page number as printed: 01, A01"),
    ("page_name", pa.string(), True, "page name, e.g. 要闻"),
    ("page_pdf_url", pa.string(), True, "absolute URL of the page PDF"),
    ("url", pa.string(), False, "absolute article URL"),
    ("column", pa.string(), True, "text inside a leading 【…】 of the title, without the brackets"),
    ("intro_title", pa.string(), True, "引题 (kicker above the title)"),
    ("title", pa.string(), False, "title as printed (a leading 【…】 stays), whitespace normalized"),
    ("subtitle", pa.string(), True, "副题, printed leading dashes removed, whitespace normalized"),
    ("author", pa.string(), True, "byline as printed, whitespace normalized"),
    ("body", pa.string(), False, "paragraphs joined by \\n; no markup, no indentation, text untouched"),
    ("images", pa.list_(IMAGE), False, "images in body order: absolute url, caption ('' when none)"),
    ("content_hash", pa.string(), False, "SHA-256 hex digest of body; equal bodies give equal hashes"),
    ("duplicate_of", pa.string(), True,
     "article_id of the earliest archived article with the same or nearly the same body; "
     "null for the first occurrence"),
    ("crawled_at", pa.timestamp("us", tz="UTC"), False, "when this row's page was fetched"),
    ("page_index", pa.int16(), False, "0-based order of the page in the issue"),
    ("position", pa.int16(), False, "0-based order of the article on its page"),
    ("warc_file", pa.string(), True, "WARC file (relative to the data directory) holding the raw page"),
    ("warc_record_id", pa.string(), True, "WARC-Record-ID of the response record of the raw page"),
    ("authors", pa.list_(pa.string()), True,
     "names in the byline without roles (本报记者, 通讯员, 实习生, …), in byline order; [] when none; "
     "null in snapshots written before the column"),
    ("gone_since", pa.timestamp("us", tz="UTC"), True,
     "when a complete re-crawl first no longer found the article on its date's pages (the row is kept); "
     "null while it is online, and in snapshots written before the column"),
]

# The `revisions` dataset: earlier versions of corrected articles, the articles' columns plus these.
REVISION_EXTRA: list[tuple[str, pa.DataType, bool, str]] = [
    ("superseded_at", pa.timestamp("us", tz="UTC"), False,
     "when the newer version was fetched (crawled_at is when this version was captured)"),
    ("changed_fields", pa.list_(pa.string()), False, "the archived fields that differ in the newer version"),
]

PAGE_COLUMNS: list[tuple[str, pa.DataType, bool, str]] = [
    ("page_no", pa.string(), False, "page number as printed: 01, A01"),
    ("page_name", pa.string(), True, "page name, e.g. 要闻"),
    ("page_index", pa.int16(), False, "0-based order of the page in the issue"),
    ("url", pa.string(), False, "absolute URL of the page (版面)"),
    ("pdf_url", pa.string(), True, "absolute URL of the page PDF"),
    ("image_url", pa.string(), True, "absolute URL of the page scan"),
    ("article_count", pa.int32(), False,
     "articles archived under the page (an article printed on two pages counts on the first)"),
    ("crawled_at", pa.timestamp("us", tz="UTC"), False, "when the page was fetched"),
]


def _schema(columns: list[tuple[str, pa.DataType, bool, str]]) -> pa.Schema:
    return pa.schema(
        [pa.field(n, t, nullable=nl, metadata={"description": d}) for n, t, nl, d in columns]
    )


ARTICLES = _schema(ARTICLE_COLUMNS)
PAGES = _schema(PAGE_COLUMNS)
REVISIONS = _schema(ARTICLE_COLUMNS + REVISION_EXTRA)
PARTITION = pa.schema([("source", pa.string()), ("issue_date", pa.date32())])
