"""Template drift: the portal changes its article template in the middle of a span.

`drift_site(out_dir, kind, since)` rewrites a built site (``out_dir/site`` with its
``truth.json``) so that every issue from ``since`` on is served in the changed template, and
the issues before it as built. The truth is left as it was: the paper prints the same
articles, only the markup around them changed (which is what makes the drift quiet).

Kinds:

- ``author``: the byline's markup renamed: the `enpproperty` comment's ``<author>`` (or
  ``<founder-author>``) becomes ``<zuozhe>``, and the visible byline leaves the article head
  for a ``<div class="zuozhe">`` at the end of the page;
- ``images``: the article's photos moved out of the article, into a ``<div class="photos">``
  at the end of the page (captions set as text stay where they were);
- ``body``: the body cut short: every paragraph after the first moved into a
  ``<script type="text/html" class="more">`` (the portal now writes the rest of the text by
  script, as some do for a "read more"), where it stays in the file but is no longer markup;
- ``links``: article files renamed (``content_ID`` → ``article_ID``, ``cID`` → ``aID``,
  ``nw.…`` → ``news_…``), on disk and in every link of those issues.
"""
from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path

from epaper.replica.layout import GB2312_TEMPLATES

KINDS = ("author", "images", "body", "links")
_DATE = re.compile(r"(?:/|^)(?:(\d{4})(\d{2})|(\d{4})-(\d{2}))/(\d{2})/[^/]+$")
_ARTICLE = re.compile(r"(?:content_[\w-]+|c\d+|nw\.[\w.-]+)\.html?$")
_BODY_END = re.compile(r"</body>", re.I)
_IMG = re.compile(r"<img\b[^>]*>", re.I)
# Article file names in links and on disk; the lookbehind keeps "c123.html" from matching
# inside another name ("doc123.html").
_RENAMES = [(re.compile(r"(?<![\w.])content_([\w-]+\.html?)"), r"article_\1"),
            (re.compile(r"(?<![\w.])c(\d+\.html)"), r"a\1"),
            (re.compile(r"(?<![\w.])nw\.([\w.-]+\.html?)"), r"news_\1")]


def file_date(rel: str) -> date | None:
    """The issue date of a page or article path (pc/…/YYYYMM/DD/x or html/YYYY-MM/DD/x)."""
    m = _DATE.search(rel)
    if not m:
        return None
    year, month = (m[1], m[2]) if m[1] else (m[3], m[4])
    try:
        return date(int(year), int(month), int(m[5]))
    except ValueError:
        return None


def _before_end(text: str, block: str) -> str:
    ends = list(_BODY_END.finditer(text))
    at = ends[-1].start() if ends else len(text)
    return text[:at] + block + "\n" + text[at:]


def drift_author(text: str, author: str | None) -> str:
    text = re.sub(r"<(founder-)?author>(.*?)</(founder-)?author>", r"<zuozhe>\2</zuozhe>", text, flags=re.S)
    if not author:
        return text
    printed = html.escape(author, quote=True)
    body = min((i for i in (text.find("<founder-content"), text.find("<!--enpcontent-->")) if i >= 0),
               default=len(text))
    for m in re.finditer(re.escape(printed), text):
        inside = text.rfind("<zuozhe>", 0, m.start()) > text.rfind("</zuozhe>", 0, m.start())
        if not inside and m.start() < body:
            text = text[:m.start()] + text[m.end():]
            break
    return _before_end(text, f'<div class="zuozhe">{printed}</div>')


def drift_images(text: str) -> str:
    moved: list[str] = []

    def take(m: re.Match) -> str:
        if "static/" in m.group(0):  # the template's icons stay
            return m.group(0)
        moved.append(m.group(0))
        return ""

    text = _IMG.sub(take, text)
    return _before_end(text, f'<div class="photos">{"".join(moved)}</div>') if moved else text


def drift_body(text: str, body: str | None) -> str:
    """Wrap the body's text from its second paragraph to the end of its last in a script."""
    paragraphs = [html.escape(p, quote=True) for p in (body or "").split("\n") if p]
    if len(paragraphs) < 2:
        return text
    last = text.rfind(paragraphs[-1])
    if last < 0:
        return text
    end = last + len(paragraphs[-1])
    start = text.rfind(paragraphs[1], 0, last) if len(paragraphs) > 2 else last
    if start < 0 or "</script" in text[start:end].lower():
        return text
    return f'{text[:start]}<script type="text/html" class="more">{text[start:end]}</script>{text[end:]}'


def drift_links(text: str) -> str:
    for pattern, repl in _RENAMES:
        text = pattern.sub(repl, text)
    return text


def drift_site(out_dir: Path, kind: str, since: date) -> int:
    """Apply the drift to every issue from `since` on; the number of files changed."""
    if kind not in KINDS:
        raise ValueError(f"unknown drift {kind!r} (one of {', '.join(KINDS)})")
    out_dir = Path(out_dir)
    site = out_dir / "site"
    truth = json.loads((out_dir / "truth.json").read_text(encoding="utf-8"))
    encoding = "gb2312" if truth["template"] in GB2312_TEMPLATES else "utf-8"
    authors = {a["url"]: a["author"] for a in truth["articles"]}
    bodies = {a["url"]: a["body"] for a in truth["articles"]}
    changed = 0
    for path in sorted(site.rglob("*.htm*")):
        rel = path.relative_to(site).as_posix()
        day = file_date(rel)
        if day is None or day < since:
            continue
        article = bool(_ARTICLE.search(rel))
        if kind != "links" and not article:
            continue
        text = path.read_bytes().decode(encoding)
        if kind == "author":
            new = drift_author(text, authors.get(rel))
        elif kind == "images":
            new = drift_images(text)
        elif kind == "body":
            new = drift_body(text, bodies.get(rel))
        else:
            new = drift_links(text)
        target = path.with_name(drift_links(path.name)) if kind == "links" and article else path
        if new != text or target != path:
            target.write_bytes(new.encode(encoding, errors="xmlcharrefreplace"))
            if target != path:
                path.unlink()
            changed += 1
    return changed
