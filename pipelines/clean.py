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
from epaper.crawler.items import ArticleItem
from epaper.pipelines.authors import parse_authors

_COLUMN = re.compile(r"^【([^【】]+)】")
_DASHES = re.compile(r"^(?:——|—|--|－－|―|–)+\s*")
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?/?>")
_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,5});")
_WS_FIELDS = ("title", "intro_title", "subtitle", "author", "page_name", "column")
# C0 and C1 control characters and DEL: ESC and BEL in a title change a terminal's title or clear
# its screen when `probe` or `changes` prints it. Those Python reads as whitespace (vertical tab,
# form feed, the separators \x1c-\x1f, NEL) become a space, which the cleaners then normalise
# as before (a body line stays one paragraph for str.splitlines); tab, CR and LF are the
# cleaners' own; every other one is dropped.
_CONTROLS = {c: None for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\t\n\r"}
_CONTROLS.update({c: " " for c in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F, 0x85)})


def drop_controls(text: str | None) -> str | None:
    """The text without C0/C1 control characters (whitespace ones a space; tab, CR, LF kept)."""
    return text.translate(_CONTROLS) if text else text


def column_of(title: str | None) -> str | None:
    """Text inside a leading 【…】 of the title, whitespace normalized."""
    m = _COLUMN.match(title or "")
    return normalize_ws(m.group(1)) if m else None


def clean_subtitle(subtitle: str | None) -> str | None:
    """The subtitle without its printed leading dashes (`——`), whitespace normalized."""
    text = normalize_ws(subtitle)
    return normalize_ws(_DASHES.sub("", text)) if text else None


def _strip_tags(text: str) -> str:
    """Tags and `<!-- … -->` comments removed in one left-to-right pass; a comment opening
    without an end stays as text. (A scan, not a lazy regex: that would rescan to the end from
    each of many unclosed openings.)"""
    if "<" not in text:
        return text
    out, at, i = [], 0, text.find("<")
    comments = True  # False once an opening was found without an end: none after it has one
    while i >= 0:
        end = -1
        if comments and text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            if close < 0:
                comments = False
            else:
                end = close + 3
        if end < 0:
            m = _TAG.match(text, i)
            end = m.end() if m else -1
        if end >= 0:
            out.append(text[at:i])
            at = end
            i = text.find("<", end)
        else:
            i = text.find("<", i + 1)
    out.append(text[at:])
    return "".join(out)


def strip_markup(text: str) -> str:
    """Tags and comments removed; entities decoded only where a complete one (`&amp;`,
    `&#12288;`) occurs, so that text with a bare `&` stays as printed."""
    text = _strip_tags(text)
    return html.unescape(text) if _ENTITY.search(text) else text


def _is_chrome(line: str, longest_first: list[str]) -> bool:
    """A line made only of page-chrome strings (`安徽经济网首页 数字版首页 往期回顾`) and separators."""
    rest = line
    for c in longest_first:  # longest first: a short chrome string inside a long one must not split it
        rest = rest.replace(c, " ")
    return rest != line and not rest.strip(" \u3000\u00a0|｜·•-—/")


def clean_body(body: str, chrome: Iterable[str] = ()) -> str:
    """Paragraphs joined by \\n: no markup or entities, no indentation, no empty or chrome lines."""
    longest_first = sorted(chrome, key=len, reverse=True)
    lines = [clean_paragraph(drop_controls(strip_markup(line))) for line in drop_controls(body).split("\n")]
    return "\n".join(line for line in lines if line and not _is_chrome(line, longest_first))


def clean_article(fields: dict, chrome: Iterable[str] = ()) -> list[str]:
    """Clean an article's fields in place; return the names of the fields that changed."""
    changed = []

    def put(name, value):
        if fields.get(name) != value:
            fields[name] = value
            if name not in changed:
                changed.append(name)

    if any(drop_controls(img.get("caption")) != img.get("caption") for img in fields.get("images") or []):
        put("images", [{**img, "caption": drop_controls(img.get("caption"))} for img in fields["images"]])
    for name in _WS_FIELDS:
        if name in fields:
            put(name, normalize_ws(drop_controls(strip_markup(fields[name]))) if fields[name] is not None else None)
    put("subtitle", clean_subtitle(fields.get("subtitle")))
    if fields.get("column") is None:
        put("column", column_of(fields.get("title")))
    put("body", clean_body(fields.get("body") or "", chrome))
    images = [{"url": (img.get("url") or "").strip(), "caption": normalize_ws(img.get("caption")) or ""}
              for img in fields.get("images") or [] if (img.get("url") or "").strip()]
    put("images", images)
    return changed


def clean_page_name(name: str | None) -> str | None:
    """A page's name as its articles' `page_name` is cleaned (clean_article): no markup or
    control characters, whitespace normalized; None when nothing is left."""
    if name is None:
        return None
    return normalize_ws(drop_controls(strip_markup(name))) or None


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
        if not isinstance(item, ArticleItem):  # pages: only the name needs it
            if adapter.get("page_name") is not None:
                name = clean_page_name(adapter["page_name"])
                if name != adapter["page_name"]:
                    adapter["page_name"] = name
                    self.crawler.stats.inc_value("epaper/clean/page_name")
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
