"""Pure parsing of Founder (方正) e-paper pages, both generations. No Scrapy imports.

Everything here leans on what all Founder sites share (the `enpproperty` comment,
`<founder-content>`, `id="pageLink"` links, content links, the PagePicMap image map,
`period.xml`) and only falls back to generic HTML structure; no template's class names.
Article pages are parsed in `crawler.founder_article`, on the helpers here.
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
