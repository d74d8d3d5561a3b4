"""Pure parsing of a Founder (方正) e-paper article page, both generations. No Scrapy imports.

`parse_article` lists where each field comes from; one function per field states its order.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import lxml.etree
import lxml.html

from epaper.crawler.founder import (absolute_url, clean_paragraph, date_from_url, html_tree, normalize_ws,
                                    parse_enpproperty, parse_page_label)


@dataclass
class Article:
    url: str
    title: str | None
    intro_title: str | None
    subtitle: str | None
    author: str | None
    paragraphs: list[str]
    images: list[dict[str, str]]  # {"url", "caption"}, in print order
    issue_date: dt.date | None
    # Where each field came from (`field_sources`): what the archive's extraction health counts.
    sources: dict[str, str | None] = field(default_factory=dict)


@dataclass
class HeadLine:
    """One text line of the article's head: a leaf block or a heading, before the body."""

    el: lxml.html.HtmlElement
    text: str
    role: str | None  # "title", "intro_title", "subtitle" or "author" when its tag, id or class says so


def parse_article(text: str, url: str) -> Article:
    """The fields of an article page. Each field's sources, first found wins (the function of
    the same name below has the details):

    - title: the visible title line, then the comment's `<title>`;
    - intro_title, subtitle, author: the `enpproperty` comment's `<introtitle>`, `<subtitle>`,
      `<author>`; then the head line marked as such; then the unmarked line right above the
      title (引题), right below it (副题), or the first byline below it (author);
    - paragraphs, images: the body (`body_container`), after the images set between the title
      and the body;
    - issue_date: the URL, then the comment's `<date>`.

    The title is the one head field where the visible line comes before the comment. It always
    has; the replica and the real samples never have the two disagree, so the order only
    matters on a page where they do.
    """
    doc = html_tree(text)
    enp = article_enpproperty(text)
    body, body_from = body_source(doc, text)
    lines = head_lines(doc, body, enp)
    at = title_line(lines, enp)
    paragraphs, images = body_parts(body, url) if body is not None else ([], [])
    lead: list[dict[str, str]] = []
    if at is not None and body is not None:
        lead = _images_between(doc, lines[at].el, body, url)
    art = Article(url, title(enp, lines, at), intro_title(enp, lines, at), subtitle(enp, lines, at),
                  author(enp, lines, at), paragraphs, lead + images, issue_date(url, enp))
    art.sources = field_sources(art, enp, lines, at, body_from if paragraphs else None, len(lead), len(images))
    return art


def article_enpproperty(text: str) -> dict[str, str]:
    """The article's `enpproperty` comment (`parse_enpproperty`), its `founder-`-prefixed
    fields read as the plain ones (older pages write `<founder-title>`, `<founder-introtitle>`
    … after `</html>`; a plain field of the same name wins unless it is empty). A comment
    whose `<founder-type>` is 2 describes a page, not an article: its prefixed fields are left
    out."""
    enp = parse_enpproperty(text)
    if normalize_ws(enp.get("founder-type")) == "2":
        return enp
    out = dict(enp)
    for name, value in enp.items():
        plain = name[len("founder-"):]
        if name.startswith("founder-") and not normalize_ws(out.get(plain)):  # an empty plain one hides nothing
            out[plain] = value
    return out


# Coarse names of the body's sources (`body_source`), for counting.
_BODY_SOURCES = {"<founder-content>": "founder-content", "enpcontent comments": "enpcontent",
                 "#ozoom": "container", "#articleContent": "container", "#content": "container",
                 "the largest block of paragraphs": "fallback"}


def field_sources(art: Article, enp: dict[str, str], lines: list[HeadLine], at: int | None,
                  body_from: str | None, lead_images: int, body_images: int) -> dict[str, str | None]:
    """Which source gave each field, None when the field is empty: title "heading" (the visible
    line) or "comment"; intro_title, subtitle, author "comment", "marked" (a line marked as the
    field) or "fallback" (the line next to the title, the first byline); body "founder-content",
    "enpcontent", "container" (#ozoom, #articleContent, #content) or "fallback" (the largest
    block of paragraphs); images "head" (between the title and the body), "body" or "head+body".
    The same order as the field functions above, so the names follow them."""
    def head(value: str | None, comment: str | None, marked: str | None) -> str | None:
        if value is None:
            return None
        return "comment" if normalize_ws(comment) else "marked" if marked else "fallback"

    visible = at is not None and art.title == lines[at].text
    return {
        "title": None if art.title is None else "heading" if visible else "comment",
        "intro_title": head(art.intro_title, enp.get("introtitle"), _marked(lines, "intro_title")),
        "subtitle": head(art.subtitle, enp.get("subtitle"), _marked(lines, "subtitle")),
        "author": head(art.author, enp.get("author"), _marked_author(lines)),
        "body": _BODY_SOURCES.get(body_from or "", body_from) if body_from else None,
        "images": "+".join(k for k, n in (("head", lead_images), ("body", body_images)) if n) or None,
    }


# ---------------------------------------------------------------- one function per field


def title(enp: dict[str, str], lines: list[HeadLine], at: int | None) -> str | None:
    """标题: the visible title line (`title_line`: the first `<founder-title>`, else the line
    equal to the comment's `<title>`, else the first unmarked h1, h2, h3 or h4 that reads as a
    head line); then the comment's `<title>`. A visible line holding undecodable bytes (a
    title in another encoding than the page's) gives way to a readable comment title."""
    comment = normalize_ws(enp.get("title"))
    if at is not None and not ("\ufffd" in lines[at].text and comment and "\ufffd" not in comment):
        return lines[at].text
    return comment


def intro_title(enp: dict[str, str], lines: list[HeadLine], at: int | None) -> str | None:
    """引题: the comment's `<introtitle>`; then the first line marked as 引题 (`<founder-introtitle>`,
    `<founder-leadtitle>`, an id or class holding `yinti` or `introtitle`); then the unmarked
    head line right above the title."""
    return (normalize_ws(enp.get("introtitle")) or _marked(lines, "intro_title")
            or _unmarked_head_line(lines, at, -1))


def subtitle(enp: dict[str, str], lines: list[HeadLine], at: int | None) -> str | None:
    """副题 (as printed, dashes kept: cleaning removes them): the comment's `<subtitle>`; then the
    first line marked as 副题 (`<founder-subtitle>`, an id or class holding `subtitle` or
    `fubiaoti`); then the unmarked head line right below the title."""
    return (normalize_ws(enp.get("subtitle")) or _marked(lines, "subtitle")
            or _unmarked_head_line(lines, at, +1))


def author(enp: dict[str, str], lines: list[HeadLine], at: int | None) -> str | None:
    """Author: the comment's `<author>`; then the first line marked as author (`<founder-author>`,
    an id or class `author`) unless it holds only a date; then the first line below the title
    that reads as a byline (本报记者 …) once its date-and-page part is cut."""
    return normalize_ws(enp.get("author")) or _marked_author(lines) or _byline(lines, at)


def _marked_author(lines: list[HeadLine]) -> str | None:
    marked = _marked(lines, "author")
    if marked and not normalize_ws(_DATELINE.sub("", _DATE_TEXT.sub("", marked))):
        marked = None  # a date in the author's place (湖北日报's font#author), not a byline
    return marked


def issue_date(url: str, enp: dict[str, str]) -> dt.date | None:
    """The date in the URL, then the comment's `<date>` (`2023-08-03 00:00:00:0`)."""
    day = date_from_url(url)
    if day is None and enp.get("date"):
        try:
            day = dt.date.fromisoformat(enp["date"].strip()[:10])
        except ValueError:
            pass
    return day


# ---------------------------------------------------------------- the head lines

_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "founder-title", "founder-subtitle",
                 "founder-introtitle", "founder-leadtitle"}
_LINE_TAGS = _HEADING_TAGS | {"p", "div", "td", "th", "li", "span", "font", "center", "strong", "b",
                              "founder-author"}
_INLINE_TAGS = ("span", "font", "strong", "b")
_BLOCKISH = ("p", "div", "td", "table", "h1", "h2", "h3", "h4", "li", "founder-title", "founder-subtitle")
_SKIP_TAGS = {"script", "style", "noscript", "iframe", "object", "embed", "select", "button", "form"}
_DATE_TEXT = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{2}-\d{2}")
_BYLINE = re.compile(r"^(□|■|◎)?\s*(本报(?:记者|通讯员|特约记者|见习记者)|记者|通讯员|特约记者|见习记者|"
                     r"作者|文[/／]|文[:：]|撰稿|本报讯)")
_WORD = re.compile(r"[^\W\d_]")
_PAGE_NO = re.compile(r"[A-Za-z]?\d{1,3}")
# The date and page line that shares the byline's line: （2023年08月03日  01版）
# ([^）)（(]: a run of openings without a closing must not rescan to the end each time.)
_DATELINE = re.compile(r"[（(]\s*\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日[^）)（(]*[）)]")


def head_lines(doc: lxml.html.HtmlElement, body: lxml.html.HtmlElement | None,
               enp: dict[str, str] | None = None) -> list[HeadLine]:
    """The text lines of the article's own container, in order, up to the body.

    The container is the nearest ancestor of the body holding a heading-like element, so the
    lines are the article's head (引题, 标题, 副题, byline), not the page's chrome. Without one
    (heads in plain table cells), it is the nearest ancestor of the body holding the line
    that reads as the comment's `<title>` (a line outside links, before the body). A body read
    from the enpcontent comments is outside the tree: then the whole document is searched, up
    to the `<!--enpcontent-->` comment.
    """
    if body is None or body.getroottree().getroot() is not doc:
        return _lines(doc, _enpcontent_mark(doc))
    scope = body.getparent()
    while scope is not None and not _has_heading(scope, body):
        scope = scope.getparent()
    if scope is None:
        scope = _title_scope(doc, body, normalize_ws((enp or {}).get("title")))
        if scope is None:
            return []
    return _lines(scope, body)


def _title_scope(doc: lxml.html.HtmlElement, body: lxml.html.HtmlElement,
                 title: str | None) -> lxml.html.HtmlElement | None:
    """The nearest ancestor of the body that holds the first line before it reading `title`."""
    if not title:
        return None
    line = next((ln for ln in _lines(doc, body) if ln.text == title), None)
    if line is None:
        return None
    holds_body = set(body.iterancestors())
    return next((a for a in line.el.iterancestors() if a in holds_body), None)


def _lines(scope: lxml.html.HtmlElement, stop) -> list[HeadLine]:
    """The head lines of `scope` (see `head_lines`), up to `stop`."""
    holds_body = set(stop.iterancestors()) if stop is not None else set()
    lines: list[HeadLine] = []
    for el in scope.iter():
        if el is stop:
            break
        tag = el.tag.lower() if isinstance(el.tag, str) else None  # None: a comment
        if (tag == "img" and next(el.iterancestors("a"), None) is None
                and any(line.role == "title" or line.el.tag.lower() in _HEADING_TAGS for line in lines)):
            break  # the article's photo: its caption and what follows are not head lines
        if tag not in _LINE_TAGS or el in holds_body or _hidden(el):
            continue
        if tag not in _HEADING_TAGS and next(el.iterdescendants(*_BLOCKISH), None) is not None:
            continue  # not a line but a box of lines
        if any(a.tag == "a" or a.tag in _HEADING_TAGS for a in el.iterancestors()):
            continue  # a link is navigation; inside a heading, the heading is the line
        parent = el.getparent()
        if (tag in _INLINE_TAGS and parent is not None and parent.tag.lower() in _LINE_TAGS
                and next(parent.iterdescendants(*_BLOCKISH), None) is None):
            continue  # inline inside a line: the line itself counts (in a box of lines, it is one)
        text = line_text(el)
        if text:
            lines.append(HeadLine(el, text, _role(el)))
    return lines


def _hidden(el: lxml.html.HtmlElement) -> bool:
    """Not shown: class hide or hidden, or display:none (a page number kept for scripts)."""
    classes = (el.get("class") or "").lower().split()
    return ("hide" in classes or "hidden" in classes
            or "display:none" in (el.get("style") or "").replace(" ", "").lower())


def _enpcontent_mark(doc: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The `<!--enpcontent-->` comment in the tree: where a body read from the comments begins."""
    for node in doc.iter(lxml.etree.Comment):
        if (node.text or "").strip().lower() == "enpcontent":
            return node
    return None


def _has_heading(scope: lxml.html.HtmlElement, stop: lxml.html.HtmlElement) -> bool:
    for el in scope.iter():
        if el is stop:
            return False
        if isinstance(el.tag, str) and (el.tag.lower() in _HEADING_TAGS or _role(el)):
            return True
    return False


def line_text(el: lxml.html.HtmlElement) -> str | None:
    """An element's text, `<br>` read as a space, scripts and the like skipped, whitespace normalized."""
    parts: list[str] = []
    _collect_text(el, el, parts)
    return normalize_ws("".join(parts))


def _collect_text(node, top, parts: list[str]) -> None:
    # A module function, not a closure: a recursive closure is a reference cycle, which would
    # keep the whole tree alive until the garbage collector runs.
    if node.tag == "br":
        parts.append(" ")
    elif isinstance(node.tag, str) and node.tag not in _SKIP_TAGS:
        parts.append(node.text or "")
        for child in node:
            _collect_text(child, top, parts)
    if node is not top:
        parts.append(node.tail or "")


def _role(el: lxml.html.HtmlElement) -> str | None:
    """The head field an element's tag, id or class names, if any."""
    tag = el.tag.lower()
    # intro-title, sub_title, main-title: the separators do not matter
    marker = ((el.get("id") or "") + " " + (el.get("class") or "")).lower().replace("-", "").replace("_", "")
    if tag == "founder-subtitle" or "subtitle" in marker or "fubiaoti" in marker:
        return "subtitle"
    if tag in ("founder-introtitle", "founder-leadtitle") or "yinti" in marker or "introtitle" in marker:
        return "intro_title"
    # font01: the 标题 cell of Founder's older article template (its 引题 and 副题 cells,
    # font02, are told apart by where they sit: above or below the title)
    if tag == "founder-title" or "maintitle" in marker or "font01" in marker.split():
        return "title"
    if tag == "founder-author" or re.search(r"(?:^|\s)author(?:\s|$)", marker):
        return "author"
    return None


def _is_head_line(text: str) -> bool:
    """Could be a 引题, 标题 or 副题: words (not a bare number such as a hidden page number), not
    a date, page label, byline or chrome line."""
    return (len(text) <= 80 and _WORD.search(text) is not None and not _PAGE_NO.fullmatch(text) and not _DATE_TEXT.search(text) and not _BYLINE.search(text)
            and parse_page_label(text) is None and "版面" not in text)


def title_line(lines: list[HeadLine], enp: dict[str, str]) -> int | None:
    """Which head line is the 标题: the first marked as title (`<founder-title>`); else the one
    equal to the comment's `<title>`; else the first unmarked head line in an h1, then h2, h3, h4."""
    for i, line in enumerate(lines):
        if line.role == "title":
            return i
    enp_title = normalize_ws(enp.get("title"))
    if enp_title:
        for i, line in enumerate(lines):
            if line.text == enp_title:
                return i
    for level in ("h1", "h2", "h3", "h4"):
        for i, line in enumerate(lines):
            if line.el.tag.lower() == level and not line.role and _is_head_line(line.text):
                return i
    return None


def _marked(lines: list[HeadLine], role: str) -> str | None:
    return next((line.text for line in lines if line.role == role), None)


def _unmarked_head_line(lines: list[HeadLine], at: int | None, step: int) -> str | None:
    """The line `step` away from the title, if unmarked and could be a head line."""
    if at is None or not 0 <= at + step < len(lines):
        return None
    line = lines[at + step]
    return line.text if not line.role and _is_head_line(line.text) else None


def _byline(lines: list[HeadLine], at: int | None) -> str | None:
    if at is None:
        return None
    for line in lines[at + 1:]:
        text = normalize_ws(_DATELINE.sub("", line.text))
        if text and len(text) <= 40 and _BYLINE.search(text):
            return text
    return None


# ---------------------------------------------------------------- the body

_ENPCONTENT_START = re.compile(r"<!--\s*enpcontent\s*-->", re.I)
_ENPCONTENT_END = re.compile(r"<!--\s*/enpcontent\s*-->", re.I)


def enpcontent_text(text: str) -> str | None:
    """What the first `<!--enpcontent-->` … `<!--/enpcontent-->` pair encloses, or None. (One
    search for the end from the first opening: no end there means none after any opening.)"""
    start = _ENPCONTENT_START.search(text)
    end = _ENPCONTENT_END.search(text, start.end()) if start else None
    return text[start.end():end.start()] if end else None


def body_container(doc: lxml.html.HtmlElement, text: str) -> lxml.html.HtmlElement | None:
    """The element holding the body: the first `<founder-content>`; else what the `enpcontent`
    comments enclose; else #ozoom, #articleContent or #content; else the div or td holding the
    most text in its own `<p>` children."""
    return body_source(doc, text)[0]


def body_source(doc: lxml.html.HtmlElement, text: str) -> tuple[lxml.html.HtmlElement | None, str | None]:
    """`body_container` and which of its sources gave it."""
    found = next(doc.iter("founder-content"), None)
    if found is not None:
        return found, "<founder-content>"
    inner = enpcontent_text(text)
    if inner and inner.strip():
        return html_tree(f"<html><body><div>{inner}</div></body></html>").find("body/div"), "enpcontent comments"
    for name in ("ozoom", "articleContent", "content"):
        found = doc.xpath(f"//*[@id='{name}']")
        if found:
            return found[0], f"#{name}"
    best, score = None, 0
    for el in doc.xpath("//div|//td"):
        s = sum(len(p.text_content()) for p in el.xpath("./p"))
        if s > score:
            best, score = el, s
    return best, "the largest block of paragraphs" if best is not None else None


_BLOCK_TAGS = {
    "p", "div", "br", "tr", "table", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "section", "article", "center", "dd", "dt", "dl", "pre", "hr", "figure",
    "figcaption", "tbody", "thead", "founder-content",
}
# What opens a caption printed as the paragraph after its image (图：, half-width 图: too).
_CAPTION_START = re.compile(r"^(图为|图：|图:|上图|下图|左图|右图|▲)")
_CAPTION_ATTRS = ("data-original-title", "title", "alt")


def body_parts(container: lxml.html.HtmlElement, base: str) -> tuple[list[str], list[dict[str, str]]]:
    """The body's paragraphs and images, in order.

    The text between block boundaries (block elements, images) is a paragraph, cleaned. The
    first paragraph after a captionless image is its caption when it sits beside the image
    (in the image's own block element, or in the table or figure that holds the image), or
    when it opens with a caption marker (图为, 图：, 上图, 下图, 左图, 右图, ▲), centred or not:
    `<p><img></p><p>图为……（本报记者 某某 摄）</p>`. Body stays body: a centred sub-heading,
    a sentence that merely ends in 摄 or 拍摄, caption-like text that does not follow an image,
    any paragraph after an image that already has its caption.
    """
    paragraphs: list[str] = []
    images: list[dict[str, str]] = []
    pending: dict[str, str] | None = None  # the last image, while it waits for a caption
    img_owner = img_box = None
    for value, owner in _BodyBlocks(base).read(container):
        if isinstance(value, dict):  # an image
            images.append(value)
            pending = value if not value["caption"] else None
            img_owner = owner if owner is not container else None
            img_box = next((a for a in value.pop("_el").iterancestors("table", "figure")
                            if container in a.iterancestors()), None)
            continue
        text = clean_paragraph(value)
        if not text:
            continue
        beside = owner is not None and (owner is img_owner or (
            img_box is not None and (owner is img_box or img_box in owner.iterancestors())))
        if pending is not None and _is_caption(text, beside):
            pending["caption"] = normalize_ws(text) or ""
        else:
            paragraphs.append(text)
        pending = None
    return paragraphs, images


class _BodyBlocks:
    """The body as a flat list of blocks: (raw text, owner) and ({url, caption}, owner), where
    the owner is the innermost block element holding the block. A text block is everything
    between two block boundaries."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.blocks: list[tuple[str | dict, lxml.html.HtmlElement]] = []
        self.buf: list[str] = []  # the text block being collected
        self.open: list[lxml.html.HtmlElement] = []  # block elements being read, innermost last

    def read(self, container: lxml.html.HtmlElement) -> list[tuple[str | dict, lxml.html.HtmlElement]]:
        self.open.append(container)
        self.buf.append(container.text or "")
        for child in container:
            self.walk(child)
        self.flush()
        return self.blocks

    def flush(self) -> None:
        if self.buf:
            self.blocks.append(("".join(self.buf), self.open[-1]))
            self.buf.clear()

    def walk(self, node) -> None:
        if not isinstance(node.tag, str) or node.tag.lower() in _SKIP_TAGS:
            self.buf.append(node.tail or "")  # a comment's or a script's tail is still text
            return
        tag = node.tag.lower()
        if tag == "img":
            self.flush()
            url = absolute_url(self.base, node.get("src") or node.get("data-src"))
            if url:
                self.blocks.append(({"url": url, "caption": _attr_caption(node) or "", "_el": node},
                                    self.open[-1]))
            self.buf.append(node.tail or "")
            return
        block = tag in _BLOCK_TAGS
        if block:
            self.flush()
            if tag != "br":
                self.open.append(node)
        self.buf.append(node.text or "")
        for child in node:
            self.walk(child)
        if block:
            self.flush()
            if tag != "br":
                self.open.pop()
        self.buf.append(node.tail or "")


def _is_caption(text: str, beside: bool) -> bool:
    """The paragraph after a captionless image is its caption: beside it and short, or opening
    with a caption marker (wherever it sits, centred or not)."""
    return (beside and len(text) <= 150) or _CAPTION_START.match(text) is not None


def _attr_caption(img: lxml.html.HtmlElement) -> str | None:
    return next((normalize_ws(img.get(a)) for a in _CAPTION_ATTRS if normalize_ws(img.get(a))), None)


def _images_between(doc: lxml.html.HtmlElement, title_el: lxml.html.HtmlElement,
                    body: lxml.html.HtmlElement, base: str) -> list[dict[str, str]]:
    """Article images set between the title and the body (some templates keep them there: in a
    table with the caption in another row, or with the caption in the next paragraph, as
    湖北日报 does); icons and linked images are not the article's."""
    out: list[dict[str, str]] = []
    started = False
    stop = body if body.getroottree().getroot() is doc else _enpcontent_mark(doc)
    for el in doc.iter():
        if el is stop:
            break
        if el is title_el:
            started = True
            continue
        if (not started or el.tag != "img" or title_el in el.iterancestors()
                or next(el.iterancestors("a"), None) is not None):
            continue
        url = absolute_url(base, el.get("src"))
        small = any((el.get(a) or "").isdigit() and int(el.get(a)) < 60 for a in ("width", "height"))
        if not url or small or urlsplit(url).path.lower().endswith(".gif"):
            continue
        caption = _attr_caption(el)
        holder = next(el.iterancestors("table"), None)
        if caption is None and holder is not None:
            text = normalize_ws(holder.text_content())
            caption = text if text and len(text) <= 100 else None
        if caption is None:
            caption = _text_after(el, body, stop)
        out.append({"url": url, "caption": caption or ""})
    return out


def _text_after(img: lxml.html.HtmlElement, body: lxml.html.HtmlElement, stop) -> str | None:
    """The short text right after an image outside the body (its tail, else the next element
    with text before the body, its `<!--enpcontent-->` mark `stop`, or another image): that
    image's caption."""
    tail = normalize_ws(img.tail)
    if tail:
        return tail if len(tail) <= 150 else None
    holders = set(body.iterancestors()) | {body}
    node = img
    while node is not None and node not in holders:
        for sibling in node.itersiblings():
            if sibling is stop or (stop is not None and sibling in stop.iterancestors()):
                return None
            if not isinstance(sibling.tag, str) or sibling.tag.lower() in _SKIP_TAGS:
                continue
            if sibling in holders or next(sibling.iter("img"), None) is not None:
                return None
            text = line_text(sibling)
            if text:
                return text if len(text) <= 150 else None
        node = node.getparent()
    return None
