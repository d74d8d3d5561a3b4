"""Cleaning of article fields to the contract's rules: pure functions and a thin pipeline.

Settings: CLEAN_CHROME_LINES (list of page-chrome strings removed when a body line consists
of them only; default in crawler/settings.py); CLEAN_DROP_FIELDS (optional fields not to
keep, e.g. `author` where bylines must not be stored; default none).
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable

from itemadapter import ItemAdapter

from epaper.crawler.founder import clean_paragraph, normalize_ws
from epaper.pipelines.authors import parse_authors

_COLUMN = re.compile(r"^【([^【】]+)】")
_DASHES = re.compile(r"^(?:——|—|--|－－|―|–)+\s*")
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?/?>|<!--.*?-->", re.S)
_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,5});")
_WS_FIELDS = ("title", "intro_title", "subtitle", "author", "page_name", "column")


def column_of(title: str | None) -> str | None:
    """Text inside a leading 【…】 of the title, whitespace normalized."""
    m = _COLUMN.match(title or "")
    return normalize_ws(m.group(1)) if m else None


def clean_subtitle(subtitle: str | None) -> str | None:
    text = normalize_ws(subtitle)
    return normalize_ws(_DASHES.sub("", text)) if text else None


def _strip_markup(text: str) -> str:
    if "<" in text:  # every _TAG match starts with "<"
        text = _TAG.sub("", text)
    return html.unescape(text) if "&" in text and _ENTITY.search(text) else text


def is_chrome(line: str, chrome: Iterable[str]) -> bool:
    """A line made only of page-chrome strings (`安徽经济网首页 数字版首页 往期回顾`)."""
    return _is_chrome(line, sorted(chrome, key=len, reverse=True))


def _is_chrome(line: str, longest_first: list[str]) -> bool:
    rest = line
    for c in longest_first:
        rest = rest.replace(c, " ")
    return rest != line and not rest.strip(" \u3000\u00a0|｜·•-—/")


def clean_body(body: str, chrome: Iterable[str] = ()) -> str:
    """Paragraphs joined by \\n: no markup or entities, no indentation, no empty or chrome lines."""
    chrome = sorted(chrome, key=len, reverse=True)  # once, not once a line
    lines = body.split("\n")
    if "<" in body or "&" in body:  # else _strip_markup has nothing to do in any line
        lines = map(_strip_markup, lines)
    lines = [line for line in map(clean_paragraph, lines) if line]
    out = "\n".join(lines)
    if any(c in out for c in chrome):  # a chrome string in none of the lines: no chrome line
        out = "\n".join(line for line in lines if not _is_chrome(line, chrome))
    return out


def clean_article(fields: dict, chrome: Iterable[str] = ()) -> list[str]:
    """Clean an article's fields in place; return the names of the fields that changed."""
    changed = []

    def put(name, value):
        if fields.get(name) != value:
            fields[name] = value
            changed.append(name)

    for name in _WS_FIELDS:
        if name in fields:
            put(name, normalize_ws(_strip_markup(fields[name])) if fields[name] is not None else None)
    put("subtitle", clean_subtitle(fields.get("subtitle")))
    if fields.get("column") is None:
        put("column", column_of(fields.get("title")))
    put("body", clean_body(fields.get("body") or "", chrome))
    images = [{"url": (img.get("url") or "").strip(), "caption": normalize_ws(img.get("caption")) or ""}
              for img in fields.get("images") or [] if (img.get("url") or "").strip()]
    put("images", images)
    return changed


class CleanPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.chrome = tuple(crawler.settings.getlist("CLEAN_CHROME_LINES"))
        self.drop = [f for f in crawler.settings.getlist("CLEAN_DROP_FIELDS") if f in _WS_FIELDS]

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        if "body" not in adapter:  # pages: only the name needs it
            if adapter.get("page_name") is not None:
                adapter["page_name"] = normalize_ws(adapter["page_name"])
            return item
        for name in self.drop:
            adapter[name] = None
        fields = dict(adapter.items())  # shallow: clean_article replaces values, never edits them
        for name in clean_article(fields, self.chrome):
            adapter[name] = fields[name]
            if name != "column":
                self.crawler.stats.inc_value(f"epaper/clean/{name}")
        adapter["authors"] = parse_authors(adapter.get("author"))
        return item
