"""Pure parsing of a Founder (方正) e-paper article page, both generations. No Scrapy imports.

Fields come from the `enpproperty` comment first (template-independent), then from the
visible head lines of the article's container; the body from `<founder-content>` (or the
`enpcontent` comment), falling back to the element holding the most paragraph text.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.etree
import lxml.html

from epaper.crawler.founder import (_BLANK, _INDENT, _abs, _issue_date, _search_comment, _tree, clean_paragraph,
                             normalize_ws, parse_enpproperty, parse_page_label)


@dataclass
class Article:
    url: str
    title: str | None
    intro_title: str | None
    subtitle: str | None
    author: str | None
    paragraphs: list[str]
    images: list[dict[str, str]]
    issue_date: dt.date | None
    page_label: tuple[str, str | None] | None = None


_BLOCK_TAGS = {
    "p", "div", "br", "tr", "table", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "section", "article", "center", "dd", "dt", "dl", "pre", "hr", "figure",
    "figcaption", "tbody", "thead", "founder-content",
}
_SKIP_TAGS = {"script", "style", "noscript", "iframe", "object", "embed", "select", "button", "form"}
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "founder-title", "founder-subtitle",
                 "founder-introtitle", "founder-leadtitle"}
_ENPCONTENT = re.compile(r"<!--\s*enpcontent\s*-->(.*?)<!--\s*/enpcontent\s*-->", re.S | re.I)
_CAPTION_START = re.compile(r"^(图为|图：|图:|上图|下图|左图|右图|▲|△|图片说明)")
_CAPTION_END = re.compile(r"(摄|供图|资料图|图片来源[^，。]*)[）)]?$")
_BYLINE = re.compile(r"^(□|■|◎)?\s*(本报(?:记者|通讯员|特约记者|见习记者)|记者|通讯员|特约记者|见习记者|"
                     r"作者|文[/／]|文[:：]|撰稿|本报讯)")
# The date and page line that shares the byline's line: （2023年08月03日  01版）
_DATELINE = re.compile(r"[（(]\s*\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日[^）)]*[）)]")
_CAPTION_ATTRS = ("data-original-title", "title", "alt")


def _heading_text(el: lxml.html.HtmlElement) -> str | None:
    if not len(el):  # no children: what the walk below gives for a leaf
        tag = el.tag
        if isinstance(tag, str) and tag != "br" and tag not in _SKIP_TAGS:
            return normalize_ws(el.text or "")
        return None
    parts: list[str] = []
    _heading_walk(el, el, parts)
    return normalize_ws("".join(parts))


def _heading_walk(node, top, parts: list[str]) -> None:
    # Not a closure: a recursive closure is a reference cycle, which would keep the whole
    # tree alive until the garbage collector runs.
    if node.tag == "br":
        parts.append(" ")
    elif isinstance(node.tag, str) and node.tag not in _SKIP_TAGS:
        parts.append(node.text or "")
        for child in node:
            _heading_walk(child, top, parts)
    if node is not top:
        parts.append(node.tail or "")


def _is_centered(el) -> bool:
    if not el.attrib:
        return False
    style = (el.get("style") or "").replace(" ", "").lower()
    return (el.get("align") or "").lower() == "center" or "text-align:center" in style


def body_parts(container: lxml.html.HtmlElement, base: str) -> tuple[list[str], list[dict[str, str]]]:
    """The body's paragraphs and images, in order.

    The text between block boundaries (block elements, images) is a paragraph, cleaned; a
    short caption-like paragraph right after a captionless image is that image's caption.
    """
    paragraphs: list[str] = []
    images: list[dict[str, str]] = []
    pending: dict[str, str] | None = None  # last image, still waiting for a caption
    buf: list[str] = []  # the text of the paragraph being collected
    push = buf.append
    centered = False  # whether that paragraph is centred

    def text_block(value: str, centered: bool, el=None) -> None:
        """One paragraph's text; `el` given: the paragraph is that element's, its centring unread yet."""
        nonlocal pending
        if not value.strip(_BLANK):
            return  # clean_paragraph would make it "" (fast path for the text between blocks)
        text = clean_paragraph(value)
        if not text:
            return
        if pending is not None and _is_caption(text, centered if el is None else _is_centered(el)):
            pending["caption"] = normalize_ws(text) or ""
        else:
            paragraphs.append(text)
        pending = None

    def flush() -> None:
        if buf:
            text_block("".join(buf), centered)
            buf.clear()

    def walk(node, in_center: bool) -> None:
        nonlocal centered, pending
        tag = node.tag
        if not isinstance(tag, str):  # comment or processing instruction: its tail still counts
            push(node.tail or "")
            return
        tag = tag.lower()
        if tag in _SKIP_TAGS:
            push(node.tail or "")
            return
        here = in_center or _is_centered(node)
        if tag == "img":
            flush()
            url = _abs(base, node.get("src") or node.get("data-src"))
            if url:
                caption = next((normalize_ws(node.get(a)) for a in _CAPTION_ATTRS
                                if normalize_ws(node.get(a))), None)
                image = {"url": url, "caption": caption or ""}
                images.append(image)
                pending = image if not image["caption"] else None
            push(node.tail or "")
            return
        block = tag in _BLOCK_TAGS
        if block:
            flush()
            centered = here
        elif not buf:
            centered = here
        push(node.text or "")
        for child in node:
            walk(child, here)
        if block:
            flush()
            centered = in_center
        push(node.tail or "")

    push(container.text or "")
    try:
        for child in container:
            if child.tag in _BLOCK_TAGS and not len(child):
                # The common shape (a <p> with text only): what walk(child, False) does for it,
                # with flush() and text_block() inlined for their usual cases.
                if buf:
                    value = buf[0] if len(buf) == 1 else "".join(buf)
                    buf.clear()
                    if value.strip(_BLANK):  # the text between blocks is mostly blank
                        text_block(value, centered)
                value = child.text
                if value:
                    text = value.strip(_INDENT)
                    if text.isprintable():  # clean_paragraph's own fast path
                        if text:
                            if pending is not None and _is_caption(text, _is_centered(child)):
                                pending["caption"] = normalize_ws(text) or ""
                            else:
                                paragraphs.append(text)
                            pending = None
                    else:
                        text_block(value, False, child)
                centered = False
                push(child.tail or "")
            else:
                walk(child, False)
        flush()
    finally:
        del walk  # a recursive closure is a reference cycle: the tree would live until the next GC
    return paragraphs, images


def _is_caption(text: str, centered: bool) -> bool:
    if len(text) > 80:
        return False
    return bool(_CAPTION_START.search(text) or _CAPTION_END.search(text) or (centered and len(text) <= 60))


_FIRST_FOUNDER_CONTENT = lxml.etree.XPath("descendant-or-self::founder-content[1]")


def _body_container(doc: lxml.html.HtmlElement, text: str):
    found = _FIRST_FOUNDER_CONTENT(doc)  # the first in document order, as next(doc.iter(...))
    if found:
        return found[0]
    m = _search_comment(_ENPCONTENT, text)
    if m and m.group(1).strip():
        return lxml.html.fragment_fromstring(m.group(1), create_parent="div")
    for xp in ("//*[@id='ozoom']", "//*[@id='articleContent']", "//*[@id='content']"):
        found = doc.xpath(xp)
        if found:
            return found[0]
    # Generic fallback: the element holding the most paragraph text.
    best, score = None, 0
    for el in doc.xpath("//div|//td"):
        s = sum(len(p.text_content()) for p in el.xpath("./p"))
        if s > score:
            best, score = el, s
    return best


_LINE_TAGS = {"p", "div", "td", "th", "li", "span", "font", "center", "strong", "b", "h1", "h2", "h3",
              "h4", "h5", "h6", "founder-title", "founder-subtitle", "founder-introtitle",
              "founder-leadtitle", "founder-author"}
_BLOCKISH = ("p", "div", "td", "table", "h1", "h2", "h3", "h4", "li", "founder-title", "founder-subtitle")
_DATE_TEXT = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{2}-\d{2}")


def _lines_before(doc, body) -> tuple[list[tuple[lxml.html.HtmlElement, str]], lxml.html.HtmlElement | None]:
    """Text lines (leaf blocks and headings) of the article's container, in order, up to the
    body; and that container.

    The container is the nearest ancestor of the body holding a heading-like element, so the
    lines are the article's own head (引题, 标题, 副题, byline), not the page's chrome.
    """
    if body is None or body.getroottree().getroot() is not doc:
        scope, stop = doc, None
    else:
        scope, stop = body.getparent(), body
        while scope is not None and not _has_heading(scope, stop):
            scope = scope.getparent()
        if scope is None:
            return [], None
    lines = []
    holds_stop = set(stop.iterancestors()) if stop is not None else set()
    covered: dict = {}  # element -> whether it or an ancestor is a link or a heading
    for el in scope.iter():
        if el is stop:
            break
        tag = el.tag
        if not isinstance(tag, str):
            continue
        tag = tag.lower()
        if tag not in _LINE_TAGS or el in holds_stop:
            continue
        if tag not in _HEADING_TAGS and len(el) and next(el.iterdescendants(*_BLOCKISH), None) is not None:
            continue
        if _in_link_or_heading(el, covered):
            continue
        if tag in ("span", "font", "strong", "b") and el.getparent() is not None and \
                el.getparent().tag.lower() in _LINE_TAGS:
            continue  # inline inside a line: the line itself counts
        text = _heading_text(el)
        if text:
            lines.append((el, text))
    return lines, scope


def _in_link_or_heading(el, covered: dict) -> bool:
    """Whether an ancestor of el is an <a> or a heading; `covered` remembers it per ancestor."""
    chain = []
    node = el.getparent()
    found = False
    while node is not None:
        known = covered.get(node)
        if known is not None:
            found = known
            break
        chain.append(node)
        if node.tag == "a" or node.tag in _HEADING_TAGS:
            found = True
            break
        node = node.getparent()
    for node in chain:  # each is below the one that decided, none a link or heading but that one
        covered[node] = found
    return found


def _has_heading(scope, stop) -> bool:
    for el in scope.iter():
        if el is stop:
            return False
        if isinstance(el.tag, str) and (el.tag.lower() in _HEADING_TAGS or _role(el)):
            return True
    return False


def _role(el) -> str | None:
    tag = el.tag.lower()
    marker = ((el.get("id") or "") + " " + (el.get("class") or "")).lower()
    if tag == "founder-subtitle" or "subtitle" in marker or "fubiaoti" in marker:
        return "subtitle"
    if tag in ("founder-introtitle", "founder-leadtitle") or "yinti" in marker or "introtitle" in marker:
        return "intro_title"
    if tag == "founder-title":
        return "title"
    if tag == "founder-author":
        return "author"
    return None


def _is_head_line(text: str) -> bool:
    """Could be a 引题 or 副题: not a date, page label, byline or chrome line."""
    return (len(text) <= 80 and not _DATE_TEXT.search(text) and not _BYLINE.search(text)
            and parse_page_label(text) is None and "版面" not in text)


def _title_index(lines, enp_title: str | None, roles: list[str | None]) -> int | None:
    """The title's line; `roles` are the lines' _role()."""
    if "title" in roles:
        return roles.index("title")
    if enp_title:
        for i, (_, t) in enumerate(lines):
            if t == enp_title:
                return i
    for level in ("h1", "h2", "h3", "h4"):
        for i, (el, t) in enumerate(lines):
            if el.tag.lower() == level and not roles[i] and _is_head_line(t):
                return i
    return None


def parse_article(text: str, url: str) -> Article:
    """Fields of an article page: `enpproperty` first, visible headings next, `founder-content` body."""
    doc = _tree(text)
    enp = parse_enpproperty(text)
    body = _body_container(doc, text)
    lines, scope = _lines_before(doc, body)
    roles = [_role(el) for el, _ in lines]

    visible: dict[str, str | None] = {"intro_title": None, "title": None, "subtitle": None, "author": None}
    for role, (_, t) in zip(roles, lines):
        if role and role != "title" and not visible[role]:
            visible[role] = t
    idx = _title_index(lines, normalize_ws(enp.get("title")), roles)
    if idx is not None:
        visible["title"] = lines[idx][1]
        before = lines[idx - 1] if idx > 0 else None
        after = lines[idx + 1] if idx + 1 < len(lines) else None
        if not visible["intro_title"] and before and not roles[idx - 1] and _is_head_line(before[1]):
            visible["intro_title"] = before[1]
        if not visible["subtitle"] and after and not roles[idx + 1] and _is_head_line(after[1]):
            visible["subtitle"] = after[1]
        if not visible["author"]:
            for el, t in lines[idx + 1:]:
                t = normalize_ws(_DATELINE.sub("", t))
                if t and len(t) <= 40 and _BYLINE.search(t):
                    visible["author"] = t
                    break

    def pick(enp_key: str, key: str) -> str | None:
        return normalize_ws(enp.get(enp_key)) or visible[key]

    paragraphs, images = body_parts(body, url) if body is not None else ([], [])
    if idx is not None and body is not None:
        images = _images_between(scope, lines[idx][0], body, url) + images
    return Article(url, visible["title"] or normalize_ws(enp.get("title")), pick("introtitle", "intro_title"),
                   pick("subtitle", "subtitle"), pick("author", "author"), paragraphs, images,
                   _issue_date(url, enp.get("date")))


_IN_LINK = lxml.etree.XPath("ancestor::a")


def _images_between(scope, title, body, base: str) -> list[dict[str, str]]:
    """Article images set between the headings and the body (some templates keep them there,
    in a table with the caption in the next row); icons and linked images are not the article's.

    `scope` holds the title (and the body, if in the same tree): what lies between two of its
    descendants in document order lies inside it."""
    out: list[dict[str, str]] = []
    started = False
    for el in scope.iter("img", title.tag, body.tag):  # document order, only the tags that matter
        if el is body:
            break
        if el is title:
            started = True
            continue
        if not started or el.tag != "img" or title in el.iterancestors() or _IN_LINK(el):
            continue
        url = _abs(base, el.get("src"))
        small = any((el.get(a) or "").isdigit() and int(el.get(a)) < 60 for a in ("width", "height"))
        if not url or small or urlsplit(url).path.lower().endswith(".gif"):
            continue
        caption = next((normalize_ws(el.get(a)) for a in _CAPTION_ATTRS if normalize_ws(el.get(a))), None)
        holder = next((a for a in el.iterancestors() if a.tag == "table"), None)
        if caption is None and holder is not None:
            text = normalize_ws(holder.text_content())
            caption = text if text and len(text) <= 100 else None
        out.append({"url": url, "caption": caption or ""})
    return out
