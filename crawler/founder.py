"""Pure parsing of Founder (方正) e-paper pages, both generations. No Scrapy imports.

Everything here leans on what all Founder sites share (the `enpproperty` comment,
`<founder-content>`, `id="pageLink"` links, content links, the PagePicMap image map,
`period.xml`) and only falls back to generic HTML structure; no template's class names.
"""
from __future__ import annotations

import codecs
import datetime as dt
import html
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

# ---------------------------------------------------------------- text helpers

_WS = re.compile(r"[\s\u3000\u00a0\u2002-\u200a\u202f\u205f]+")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
_INDENT = " \t\r\n\u3000\u00a0\u2002\u2003\u2009\u200a\u202f\u205f"
_LINE_BREAK = re.compile(r"[ \t]*[\r\n]+[ \t]*")
# Characters clean_paragraph removes entirely (indentation at the ends, zero-width anywhere):
# a text made of these only is an empty paragraph.
_BLANK = _INDENT + "\u200b\u200c\u200d\u2060\ufeff"


def normalize_ws(text: str | None) -> str | None:
    """Every whitespace run becomes one ASCII space, ends trimmed; '' becomes None."""
    if text is None:
        return None
    # Fast path: a printable text holds no whitespace but ASCII spaces and no zero-width
    # character (all of those are non-printable), so only doubled or end spaces could change.
    # (A str subclass takes the long way, which returns a plain str.)
    if type(text) is str and text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text or None
    text = _WS.sub(" ", _ZERO_WIDTH.sub("", text)).strip()
    return text or None


def clean_paragraph(text: str) -> str:
    """A body paragraph: no zero-width characters, line breaks inside it joined, no indentation."""
    stripped = text.strip(_INDENT)
    # Printable once stripped: no zero-width character anywhere (strip cannot remove one) and
    # line breaks at the ends only, where the join below would leave indentation, stripped too.
    if stripped.isprintable():
        return stripped
    text = _ZERO_WIDTH.sub("", text)
    if "\n" in text or "\r" in text:
        text = _LINE_BREAK.sub(" ", text)
    return text.strip(_INDENT)


# ---------------------------------------------------------------- decoding

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.I)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_html(body: bytes, header_encoding: str | None = None) -> tuple[str, str]:
    """Decode page bytes; return (text, encoding used).

    Bytes that are valid UTF-8 are UTF-8, whatever a header or `<meta>` claims: Chinese text
    in GBK is practically never valid UTF-8, while GB18030 decodes almost any bytes, so a
    lying gb2312 declaration can only be caught this way round. Otherwise the header
    charset, the `<meta>` charset, then GB18030, each strictly.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    header = _codec(header_encoding)  # before UTF-8 is tried: a bad name raises as it always did
    try:
        return body.decode("utf-8"), "utf-8"  # first of the candidates below: no <meta> search needed
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(body[:4096])
    candidates = ["utf-8", header, _codec(meta.group(1).decode("ascii", "ignore") if meta else None),
                  "gb18030"]
    for enc in dict.fromkeys(c for c in candidates if c and c != "utf-8"):
        try:
            return body.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return body.decode("utf-8", "replace"), "utf-8"


_XML_DECL = re.compile(r"\s*<\?xml[^>]*\?>")
# lxml.html's own parser picks each element's Python class in Python code (a call for every
# element touched); the same HtmlElement class for all, chosen in C, is all the parser needs.
_HTML_PARSER = lxml.html.HTMLParser()
_HTML_PARSER.set_element_class_lookup(lxml.etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity))


def _tree(text: str) -> lxml.html.HtmlElement:
    # lxml refuses str input carrying an XML encoding declaration; strip it.
    m = _XML_DECL.match(text)  # match, not a search: only the start can hold it
    if m:
        text = text[m.end():]
    if not text or text.isspace():
        raise ValueError("empty page")
    return lxml.html.document_fromstring(text, parser=_HTML_PARSER)


# ---------------------------------------------------------------- period.xml


def parse_period_xml(body: bytes) -> list[tuple[dt.date, str]]:
    """(issue date, front page file name) for every `<period>` of a month calendar."""
    root = lxml.etree.fromstring(body, lxml.etree.XMLParser(recover=True, resolve_entities=False,
                                                            no_network=True))
    if root is None:
        raise ValueError("period.xml is not XML")
    out = []
    for period in root.iter("period"):
        date_text = re.sub(r"\D", "", period.findtext("period_date") or "")[:8]  # 2023-08-03 or 20230803
        front = (period.findtext("front_page") or "").strip()
        try:
            day = dt.date(int(date_text[:4]), int(date_text[4:6]), int(date_text[6:8]))
        except ValueError:
            continue
        out.append((day, front))
    return out


# ---------------------------------------------------------------- URL shapes

_PC_PAGE = re.compile(r"/pc/layout/(\d{4})(\d{2})/(\d{2})/[^/]+$")
_HTML_PAGE = re.compile(r"/html/(\d{4})-(\d{2})/(\d{2})/[^/]+$")
_CONTENT = re.compile(r"/(?:content_[\w-]+|c\d+)\.html?$", re.I)
_NODE = re.compile(r"/node_[\w-]+\.html?$", re.I)


_PC_DATE = re.compile(r"/(\d{4})(\d{2})/(\d{2})/[^/]+$")
_HTML_DATE = re.compile(r"/(\d{4})-(\d{2})/(\d{2})/[^/]+$")


# A URL whose path urlsplit would return as is: scheme://host/path, nothing it strips, no
# query, fragment or bracket (urlsplit checks those); the path is what follows the host.
_PLAIN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\[\]\x00-\x20\x7f-\U0010ffff]*(/[^\x00-\x20?#]*)?\Z")


def date_from_url(url: str) -> dt.date | None:
    """Issue date of a page or article URL of either generation."""
    plain = _PLAIN_URL.match(url)
    path = plain[1] or "" if plain else urlsplit(url).path
    m = _PC_DATE.search(path) or _HTML_DATE.search(path)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def is_content_url(url: str) -> bool:
    return bool(_CONTENT.search(urlsplit(url).path))


def is_page_url(url: str) -> bool:
    return bool(_NODE.search(urlsplit(url).path))


def calendar_url(root: str, generation: str, month: dt.date) -> str:
    if generation == "pc":
        return urljoin(root, f"pc/layout/{month:%Y%m}/period.xml")
    return urljoin(root, f"html/{month:%Y-%m}/period.xml")


def day_url(root: str, generation: str, day: dt.date, file_name: str) -> str:
    if generation == "pc":
        return urljoin(root, f"pc/layout/{day:%Y%m}/{day:%d}/{file_name}")
    return urljoin(root, f"html/{day:%Y-%m}/{day:%d}/{file_name}")


LATEST_PATHS = {"pc": "pc/layout/index.html", "html": "paperindex.htm"}
FRONT_PAGE_GUESSES = {"pc": ("node_01.html", "node_1.html"), "html": ("node_2.htm", "node_1.htm")}


# ---------------------------------------------------------------- enpproperty

_ENP = re.compile(r"<!--\s*enpproperty(.*?)/enpproperty\s*-->", re.S | re.I)
# _ENP in two parts: its start where a comment starts, then the first end after it (what the
# lazy group finds, without the regex engine stepping through the comment a character at a time).
_ENP_START = re.compile(r"<!--\s*enpproperty", re.I)
_ENP_END = re.compile(r"/enpproperty\s*-->", re.I)
_ENP_FIELD = re.compile(r"<([a-z_-]+)>(.*?)</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def _search_comment(pattern: re.Pattern, text: str) -> re.Match | None:
    """pattern.search(text) for a pattern that starts with `<!--`: tried only where comments start."""
    at = text.find("<!--")
    while at >= 0:
        m = pattern.match(text, at)
        if m:
            return m
        at = text.find("<!--", at + 4)
    return None


def parse_enpproperty(text: str) -> dict[str, str]:
    """Fields of the `<!--enpproperty ... /enpproperty-->` comment; inner tags and entities removed."""
    at = text.find("<!--")
    while at >= 0:  # _search_comment(_ENP, text), the group as text[start:end]
        m = _ENP_START.match(text, at)
        if m:
            end = _ENP_END.search(text, m.end())
            if end is None:  # no end after this start: none after a later one either
                return {}
            break
        at = text.find("<!--", at + 4)
    else:
        return {}
    out: dict[str, str] = {}
    for name, value in _ENP_FIELD.findall(text[m.end():end.start()]):
        if "<" in value:
            value = _TAG.sub(" ", value)
        out.setdefault(name.lower(), html.unescape(value))
    return out


# ---------------------------------------------------------------- page labels

_LABEL = re.compile(r"第?\s*([A-Za-z]?\d{1,3})\s*版?\s*[:：]\s*(.*)", re.S)
_LABEL_BARE = re.compile(r"第?\s*([A-Za-z]?\d{1,3})\s*版")


def parse_page_label(text: str | None) -> tuple[str, str | None] | None:
    """`第01版：要闻`, `01版：要闻`, `A01： 头版`, `第A01版：头版` → (page_no, page_name)."""
    text = normalize_ws(text)
    if not text:
        return None
    m = _LABEL.search(text)
    if not m:
        m2 = _LABEL_BARE.fullmatch(text)
        return (m2[1].upper(), None) if m2 else None
    return m[1].upper(), normalize_ws(m[2])


# ---------------------------------------------------------------- page (版面)


@dataclass
class PageLink:
    url: str
    page_no: str | None
    page_name: str | None


@dataclass
class Page:
    url: str
    page_no: str | None
    page_name: str | None
    pdf_url: str | None
    image_url: str | None
    pages: list[PageLink]
    articles: list[str]
    issue_date: dt.date | None = None
    list_titles: dict[str, str] = field(default_factory=dict)


# urljoin costs ~8 µs. For a plain base (scheme://host/path, no query, fragment, parameters,
# spaces or control characters) and a plain relative href (no scheme, host, query, fragment,
# parameters, spaces or control characters), urljoin depends only on the base's folder and the
# href's folder, and ends with the href's last segment as given: join each folder pair once,
# with a placeholder segment "x", then put the real segment in its place.
_JOIN_BASE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\x00-\x20?#;]*/[^\x00-\x20?#;]*\Z")
_JOIN_HREF = re.compile(r"(?!//)[^\x00-\x20?#;:]*\Z")
_joined: dict[tuple[str, str], str] = {}


def _join(base: str, href: str) -> str:
    """urljoin(base, href)."""
    cut = href.rfind("/") + 1
    name = href[cut:]
    if name in ("", ".", "..") or not _JOIN_HREF.match(href) or not _JOIN_BASE.match(base):
        return urljoin(base, href)
    key = (base[:base.rfind("/") + 1], href[:cut])
    try:
        joined = _joined[key]
    except KeyError:
        if len(_joined) >= 4096:
            _joined.clear()
        joined = _joined[key] = urljoin(base, href[:cut] + "x")
    return joined[:-1] + name


def _abs(base: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("javascript:", "#", "mailto:")):
        return None
    return _join(base, href).split("#", 1)[0]


def _same_site(url: str, root: str) -> bool:
    return url.startswith(root)


def parse_page(text: str, url: str, root: str | None = None) -> Page:
    """Parse a page (版面): its label, PDF, scan, the day's page list and its articles in order."""
    doc = _tree(text)
    root = root or url.rsplit("/", 1)[0] + "/"
    base_el = doc.find(".//base[@href]")
    base = urljoin(url, base_el.get("href")) if base_el is not None else url
    # Every href is resolved once (urljoin is most of this function's time otherwise).
    resolved: dict[str | None, str | None] = {}

    def absolute(href: str | None) -> str | None:
        try:
            return resolved[href]
        except KeyError:
            link = resolved[href] = _abs(base, href)
            return link

    content: dict[str, bool] = {}

    def is_content(link: str) -> bool:
        try:
            return content[link]
        except KeyError:
            found = content[link] = is_content_url(link)
            return found

    anchors = [(a, absolute(a.get("href"))) for a in doc.xpath("//a[@href]")]
    areas = [absolute(area.get("href")) for area in doc.xpath("//map//area[@href]")]

    pages: list[PageLink] = []
    seen_pages: set[str] = set()
    for a in doc.xpath("//a[@id='pageLink' or @id='pagelink' or @id='PageLink']"):
        link = absolute(a.get("href"))
        if not link or link in seen_pages:
            continue
        seen_pages.add(link)
        label = parse_page_label(a.text_content())
        pages.append(PageLink(link, *(label or (None, None))))
    if not pages:  # fallback: node links of the same day folder, in document order
        folder = url.rsplit("/", 1)[0] + "/"
        for a, link in anchors:
            if link and link.startswith(folder) and is_page_url(link) and link not in seen_pages:
                seen_pages.add(link)
                label = parse_page_label(a.text_content())
                pages.append(PageLink(link, *(label or (None, None))))

    page_no = page_name = None
    own = next((p for p in pages if p.url == url), None)
    if own and own.page_no:
        page_no, page_name = own.page_no, own.page_name
    enp = parse_enpproperty(text)
    if not page_no and enp.get("founder-pagenum"):
        page_no = normalize_ws(enp["founder-pagenum"])
    if not page_no or not page_name:
        label = _find_own_label(doc, seen_pages, base)
        if label:
            page_no = page_no or label[0]
            page_name = page_name or label[1]

    articles: list[str] = []
    titles: dict[str, str] = {}
    in_map: set[str] = set()
    for link in areas:
        if link and is_content(link):
            in_map.add(link)
    for a, link in anchors:
        if link and is_content(link) and _same_site(link, root) and link not in titles:
            titles[link] = normalize_ws(a.text_content()) or ""
            articles.append(link)
    for link in areas:
        if link and is_content(link) and _same_site(link, root) and link not in titles:
            titles[link] = ""
            articles.append(link)

    pdf_url = image_url = None
    for a, link in anchors:
        if link and urlsplit(link).path.lower().endswith(".pdf"):
            pdf_url = link
            break
    img = doc.xpath("//img[@usemap]") or doc.xpath("//map/following-sibling::img")
    if img:
        image_url = _abs(base, img[0].get("src"))

    issue_date = _issue_date(url, enp.get("founder-date"))
    return Page(url, page_no, page_name, pdf_url, image_url, pages, articles, issue_date, titles)


def _issue_date(url: str, enp_date: str | None) -> dt.date | None:
    """The date in the URL, else the one in the `enpproperty` comment."""
    day = date_from_url(url)
    if day is None and enp_date:
        try:
            day = dt.date.fromisoformat(enp_date.strip()[:10])
        except ValueError:
            pass
    return day


def _find_own_label(doc: lxml.html.HtmlElement, page_links: set[str], base: str):
    """The page's own printed label: the first text outside page links that reads like one."""
    for el in doc.iter():
        if not isinstance(el.tag, str) or el.tag in ("script", "style", "a", "option", "title"):
            continue
        if el.xpath("ancestor::a"):
            continue
        text = el.text_content() if el.tag in ("p", "span", "td", "div", "strong", "b", "font") else None
        if not text or len(text) > 40 or el.xpath(".//a"):
            continue
        label = parse_page_label(text)
        if label and re.search(r"[:：]|版", text):
            return label
    return None


# ---------------------------------------------------------------- article


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
